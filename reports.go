package pipes

import (
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
)

// This file is the write side of a Context: the report methods, the log,
// and Close. Every message goes through emit; the params are encoded by the
// encoders of messages.go.

// Severity is the severity of a failed asset check.
type Severity string

// The severities Dagster accepts.
const (
	SeverityError Severity = "ERROR"
	SeverityWarn  Severity = "WARN"
)

// Materialization is what [Context.ReportAssetMaterialization] reports.
type Materialization struct {
	// AssetKey is the asset materialized; "" means the step's only asset.
	AssetKey string
	// DataVersion is the data version of the new value; "" means none.
	DataVersion string
	// Metadata is attached to the materialization.
	Metadata Metadata
}

// AssetCheck is what [Context.ReportAssetCheck] reports.
type AssetCheck struct {
	// AssetKey is the asset checked; "" means the step's only asset.
	AssetKey string
	// CheckName is the check's name, as declared on the Dagster side.
	CheckName string
	// Passed says whether the check passed.
	Passed bool
	// Severity of a failure; "" means SeverityError.
	Severity Severity
	// Metadata is attached to the check's evaluation.
	Metadata Metadata
}

// Log returns the logger whose records Dagster shows in its log, at the
// matching level: DEBUG, INFO, WARNING, ERROR, and CRITICAL for
// [LevelCritical] and above. Attributes are appended to the message as
// key=value pairs. Records logged after Close are dropped.
func (p *Context) Log() *slog.Logger { return p.logger }

// LogMessage sends msg to Dagster's log at level (DEBUG, INFO, WARNING,
// ERROR or CRITICAL, as for [Context.Log]) without going through slog: no
// attributes, and none of slog's per-record work (caller and time capture).
// It is the fastest way to log from a hot loop and, unlike a
// *slog.Logger, it returns the error: [ErrClosed] after Close. A level
// below WithLogLevel's threshold is dropped.
func (p *Context) LogMessage(level slog.Level, msg string) error {
	if p.logLevel != nil && level < p.logLevel.Level() {
		return nil
	}
	if p.file != nil {
		return p.file.logFast(p, level, msg, "", nil)
	}
	return logText(p, level, msg, "", nil)
}

// IsClosed reports whether the Context has been closed.
func (p *Context) IsClosed() bool { return p.closed.Load() }

// resolveAssetKey applies the reference's rules to the key passed to a
// report method.
func (p *Context) resolveAssetKey(key, method string) (string, error) {
	keys := p.data.AssetKeys
	if len(keys) > 0 {
		if key != "" && !slices.Contains(keys, key) {
			return "", newError(ErrInvalidAssetKey, "Invalid asset key. Expected one of `%s`, got `%s`.", pyStrListRepr(keys), key)
		}
		if key == "" {
			if len(keys) != 1 {
				return "", newError(ErrInvalidAssetKey,
					"Calling `%s` without passing an asset key is undefined. Current step targets multiple assets.", method)
			}
			key = keys[0]
		}
	}
	if key == "" {
		return "", newError(ErrInvalidAssetKey,
			"Calling `%s` without passing an asset key is undefined. Current step does not target a specific asset.", method)
	}
	return key, nil
}

func (p *Context) closedError() error {
	return &Error{Kind: ErrClosed, Msg: "Cannot send message after pipes context is closed."}
}

func alreadyMaterialized(key string) error {
	return newError(ErrAlreadyMaterialized,
		"Calling `%s` with asset key `%s` is undefined. Asset has already been materialized, so no additional data can be reported for it.",
		MethodReportAssetMaterialization, key)
}

// paramsPool holds the buffers that message params are encoded into.
var paramsPool = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

// maxPooledParams keeps one huge message from pinning its buffer for ever.
const maxPooledParams = 1 << 20

// emit is the one path by which a report method sends a message:
//   - on the no-op Context it does nothing;
//   - once the Context is closed it returns the reference's closed error
//     (checked before encoding, and again before sending);
//   - encode writes the params with no lock held, since it may run user
//     code (a MarshalJSON) that logs through this Context;
//   - the channel write runs with no lock held either (a channel may call
//     user code, such as the Prefect writer's logger); it is counted in
//     inflight, so that Close sends closed only after it.
//
// If *claim is not "" once encode returns, it is the asset key of a
// materialization: it is refused if that key was already materialized, and
// recorded, under the lock, so that two reports of one key cannot both go
// out.
func (p *Context) emit(method Method, claim *string, encode func(dst []byte) ([]byte, error)) error {
	if p.noop {
		return nil
	}
	if p.closed.Load() {
		return p.closedError()
	}
	bp := paramsPool.Get().(*[]byte)
	defer func() {
		if cap(*bp) <= maxPooledParams {
			paramsPool.Put(bp)
		}
	}()
	params, err := encode((*bp)[:0])
	*bp = params[:0]
	if err != nil {
		return err
	}
	key := ""
	if claim != nil {
		key = *claim
	}
	if key != "" {
		p.mu.Lock()
		if p.closed.Load() {
			p.mu.Unlock()
			return p.closedError()
		}
		if _, done := p.materialized[key]; done {
			p.mu.Unlock()
			return alreadyMaterialized(key)
		}
		p.materialized[key] = struct{}{}
		p.mu.Unlock()
	}
	if !p.acquire() {
		if key != "" {
			p.unclaim(key)
		}
		return p.closedError()
	}
	err = p.channel.WriteMessage(Message{Method: method, Params: params})
	if err != nil && key != "" {
		p.unclaim(key) // not sent: the asset can be reported again
	}
	p.release()
	return err
}

// unclaim forgets the materialization of key, which was not sent.
func (p *Context) unclaim(key string) {
	p.mu.Lock()
	delete(p.materialized, key)
	p.mu.Unlock()
}

// acquire counts a channel write in inflight, unless the Context is
// closed: then it counts nothing and returns false. It takes no lock, so
// that a log message costs two atomic adds here and no mutex. The atomics
// are sequentially consistent: either this sees closed, or closeWith sees
// this write in inflight and waits for its release.
func (p *Context) acquire() bool {
	p.inflight.Add(1)
	if p.closed.Load() {
		p.release()
		return false
	}
	return true
}

// release ends a write counted by acquire; the last one after Close wakes
// closeWith.
func (p *Context) release() {
	if p.inflight.Add(-1) == 0 && p.closed.Load() {
		p.mu.Lock()
		if p.drained != nil {
			close(p.drained)
			p.drained = nil
		}
		p.mu.Unlock()
	}
}

// ReportAssetMaterialization tells Dagster that an asset was materialized.
// An asset can be reported once per step; a second report for the same key
// is refused with [ErrAlreadyMaterialized]. Invalid metadata (NaN, an
// unknown type, a value that is not JSON) is refused with
// [ErrInvalidMetadata] and nothing is written.
func (p *Context) ReportAssetMaterialization(m Materialization) error {
	var key string
	return p.emit(MethodReportAssetMaterialization, &key, func(dst []byte) ([]byte, error) {
		k, err := p.resolveAssetKey(m.AssetKey, string(MethodReportAssetMaterialization))
		if err != nil {
			return dst, err
		}
		// Checked here too (emit checks again before sending) so that a
		// second report says so even when its metadata is also invalid.
		p.mu.Lock()
		_, done := p.materialized[k]
		p.mu.Unlock()
		if done {
			return dst, alreadyMaterialized(k)
		}
		key = k
		return appendMaterializationParams(dst, k, m.DataVersion, m.Metadata)
	})
}

// ReportAssetCheck tells Dagster the result of an asset check.
func (p *Context) ReportAssetCheck(c AssetCheck) error {
	const method = string(MethodReportAssetCheck)
	return p.emit(MethodReportAssetCheck, nil, func(dst []byte) ([]byte, error) {
		severity := c.Severity
		if severity == "" {
			severity = SeverityError
		}
		if severity != SeverityError && severity != SeverityWarn {
			return dst, newError(ErrInvalidValue,
				"Invalid value for parameter `severity` of `%s`. Expected one of `['ERROR', 'WARN']`, got `%s`.", method, severity)
		}
		if c.CheckName == "" {
			return dst, newError(ErrInvalidValue, "Invalid value for parameter `check_name` of `%s`: the check name is required.", method)
		}
		key, err := p.resolveAssetKey(c.AssetKey, method)
		if err != nil {
			return dst, err
		}
		return appendAssetCheckParams(dst, key, c.CheckName, c.Passed, severity, c.Metadata)
	})
}

// ReportCustomMessage sends any JSON value to Dagster, where it is returned
// by get_custom_messages() on the Dagster side. Go floats keep a decimal
// point so that Python reads them as floats; a payload that cannot be JSON
// (NaN, channels, functions) is refused with [ErrInvalidValue].
func (p *Context) ReportCustomMessage(payload any) error {
	return p.emit(MethodReportCustomMessage, nil, func(dst []byte) ([]byte, error) {
		return appendCustomMessageParams(dst, payload)
	})
}

// LogExternalStream forwards text written to the process's stdout or
// stderr (stream is [StreamStdout] or [StreamStderr]); Dagster writes it to
// its own stream verbatim.
func (p *Context) LogExternalStream(stream, text string, extras map[string]any) error {
	return p.emit(MethodLogExternalStream, nil, func(dst []byte) ([]byte, error) {
		if stream != StreamStdout && stream != StreamStderr {
			return dst, newError(ErrInvalidValue,
				"Invalid value for parameter `stream` of `log_external_stream`. Expected one of `['stderr', 'stdout']`, got `%s`.", stream)
		}
		return appendExternalStreamParams(dst, stream, text, extras)
	})
}

// logText writes a log message whose text is msg followed by attrs and
// then extra (both already escaped for the inside of a JSON string: the
// handler's formatted attributes). A log message runs no user code, so a
// channel that can encode it in place under its own lock (a [FileChannel])
// gets it that way: no params buffer, no copy, no lock of the Context's.
func logText(p *Context, level slog.Level, msg, attrs string, extra []byte) error {
	if p.file != nil {
		return p.file.logFast(p, level, msg, attrs, extra)
	}
	if p.noop {
		return nil
	}
	if lw, ok := p.channel.(logWriter); ok {
		return logSlow(p, lw, levelName(level), msg, attrs, extra)
	}
	return p.emit(MethodLog, nil, func(dst []byte) ([]byte, error) {
		return appendLogParams(dst, levelName(level), msg, attrs, extra), nil
	})
}

// logSlow writes a log message through a logWriter, counted as a write in
// flight so that Close waits for it.
func logSlow(p *Context, lw logWriter, level, msg, attrs string, extra []byte) error {
	if !p.acquire() {
		return p.closedError()
	}
	err := lw.writeLog(level, msg, attrs, extra)
	p.release()
	return err
}

// Close sends the closed message and closes the channel. It is idempotent:
// later calls do nothing and return nil. Reports after Close fail with
// [ErrClosed].
func (p *Context) Close() error { return p.CloseWithError(nil) }

// CloseWithError is Close for a job that failed: the closed message carries
// err as a Dagster exception (see [NewException]), which Dagster records
// with the run. A nil err is a plain Close.
func (p *Context) CloseWithError(err error) error {
	return p.closeWith(exceptionAt(err, 0))
}

// closeWith marks p closed, waits for the messages being written, then
// sends closed and closes the channel, with no lock held: a channel's
// Close may run user code (a blob store's OnError) that logs through p,
// which then finds p closed and drops the record.
func (p *Context) closeWith(exc *Exception) error {
	p.mu.Lock()
	if p.closed.Load() {
		p.mu.Unlock()
		return nil
	}
	if p.noop {
		p.closed.Store(true)
		p.mu.Unlock()
		return nil
	}
	// drained is in place before closed is set: the write that brings
	// inflight to 0 after this closes it (see release).
	drained := make(chan struct{})
	p.drained = drained
	p.closed.Store(true)
	p.mu.Unlock()
	if p.inflight.Load() > 0 {
		<-drained
	}
	writeErr := p.channel.WriteMessage(Message{Method: MethodClosed, Params: appendClosedParams(nil, exc)})
	closeErr := p.channel.Close()
	if writeErr != nil {
		writeErr = fmt.Errorf("pipes: sending the closed message: %w", writeErr)
	}
	if closeErr != nil {
		closeErr = fmt.Errorf("pipes: closing the message channel: %w", closeErr)
	}
	return errors.Join(writeErr, closeErr)
}
