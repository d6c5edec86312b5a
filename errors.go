package pipes

import (
	"errors"
	"fmt"
)

// Sentinel errors. Every error returned by this package that belongs to one of
// these conditions matches it with [errors.Is]; the error's text is the exact
// text of the Python reference where the reference has one.
var (
	// ErrClosed is returned by every report method, and by the logger's
	// handler, once the Context has been closed.
	ErrClosed = errors.New("pipes: context is closed")

	// ErrNotInitialized is returned by [Get] before [Open] (or [Set]) was called.
	ErrNotInitialized = errors.New("pipes: context has not been initialized")

	// ErrUndefined is returned by an accessor whose value Dagster did not
	// provide for this step: asset_key on a step that targets no asset or
	// several, partition_key on an unpartitioned step, an unknown extra.
	ErrUndefined = errors.New("pipes: property is undefined for the current step")

	// ErrInvalidAssetKey is returned by a report method when the asset key
	// passed is not one the step targets, or when none is passed and the step
	// does not target exactly one asset.
	ErrInvalidAssetKey = errors.New("pipes: invalid asset key")

	// ErrAlreadyMaterialized is returned when a second materialization is
	// reported for the same asset key in one step.
	ErrAlreadyMaterialized = errors.New("pipes: asset already materialized")

	// ErrInvalidMetadata is returned when a metadata value cannot be sent:
	// an unknown metadata type, NaN or an infinity, or a value that cannot be
	// encoded as JSON.
	ErrInvalidMetadata = errors.New("pipes: invalid metadata")

	// ErrInvalidValue is returned when a value passed to a report method
	// cannot be sent (a payload that is not JSON, an unknown severity or
	// stream name).
	ErrInvalidValue = errors.New("pipes: invalid value")

	// ErrInvalidParams is returned when the bootstrap values Dagster passed
	// (DAGSTER_PIPES_CONTEXT, DAGSTER_PIPES_MESSAGES or their CLI forms) are
	// missing, cannot be decoded, or lack what a loader or writer needs.
	ErrInvalidParams = errors.New("pipes: invalid bootstrap params")

	// ErrInvalidContext is returned when the context data cannot be loaded
	// or does not have the shape the protocol defines.
	ErrInvalidContext = errors.New("pipes: invalid context data")
)

// Error is the error type of this package. Its text says what went wrong and,
// where the Python reference raises DagsterPipesError, it is the reference's
// text byte for byte. It matches its Kind (one of the sentinel errors above)
// with [errors.Is], and also any underlying error it wraps.
type Error struct {
	// Kind is the sentinel error this error belongs to.
	Kind error
	// Msg is the human-readable text.
	Msg string
	// Err is the underlying error, if any (a file-system or JSON error).
	Err error
}

// Error returns the message, followed by the underlying error if any.
func (e *Error) Error() string {
	if e.Err != nil {
		return e.Msg + ": " + e.Err.Error()
	}
	return e.Msg
}

// Unwrap returns the sentinel kind and the underlying error.
func (e *Error) Unwrap() []error {
	if e.Err != nil {
		return []error{e.Kind, e.Err}
	}
	return []error{e.Kind}
}

func newError(kind error, format string, args ...any) *Error {
	return &Error{Kind: kind, Msg: fmt.Sprintf(format, args...)}
}

func wrapError(kind error, err error, format string, args ...any) *Error {
	return &Error{Kind: kind, Msg: fmt.Sprintf(format, args...), Err: err}
}
