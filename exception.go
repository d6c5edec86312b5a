package pipes

import (
	"errors"
	"fmt"
	"reflect"
	"runtime"
	"strings"
)

// Exception is an error as Dagster records it: the payload of the closed
// message of a failed job (the reference's PipesException). All five fields
// are always sent.
type Exception struct {
	// Name names the error by what a program can match it with: its Go
	// type ("*fs.PathError"), the first specific type in its chain for the
	// standard library's anonymous wrappers (fmt.Errorf with %w: the name of
	// what it wraps; "error" for errors.New or a wrapper of nothing
	// specific; "errors.Join" for a join), "pipes.ErrXxx" for this
	// package's errors, "panic" for a panic with a non-error value.
	Name string `json:"name"`
	// Message is the error's text.
	Message string `json:"message"`
	// Stack has one entry per frame, innermost last, in the layout Python
	// uses: `  File "/src/main.go", line 42, in main.run` + "\n".
	Stack []string `json:"stack"`
	// Cause is the error this one wraps ([errors.Unwrap]); for an error
	// that wraps several ([errors.Join]), the first of them.
	Cause *Exception `json:"cause"`
	// Context holds, for an error that wraps several, the others.
	Context *Exception `json:"context"`
}

// maxExceptionDepth bounds how deep a chain of wrapped errors is followed.
const maxExceptionDepth = 32

// NewException converts err, with the chain of errors it wraps, into the
// form Dagster records. The stack is the one recorded by [WithStack] or,
// for a [*PanicError], where the panic happened; when only an error deeper
// in the chain has one (fmt.Errorf("…: %w", pipes.WithStack(err))), it
// moves to the top-level exception, since that is where the failure began
// (Dagster shows each stack once). Without any recorded stack it is empty
// (Run and CloseWithError then fill in where the error was received).
//
// An error of this package shows the underlying error as its cause. An
// error whose Error or Unwrap method panics (a nil pointer returned as an
// error) is described, never followed.
func NewException(err error) *Exception {
	exc := newException(err, 0)
	if exc != nil && len(exc.Stack) == 0 {
		for c := exc.Cause; c != nil; c = c.Cause {
			if len(c.Stack) > 0 {
				exc.Stack, c.Stack = c.Stack, []string{}
				break
			}
		}
	}
	return exc
}

// exceptionAt is NewException for an error received by a caller of the
// caller of exceptionAt: when err carries no stack, the exception gets the
// stack of where it was received (skip counts frames above that caller).
func exceptionAt(err error, skip int) *Exception {
	if err == nil {
		return nil
	}
	exc := NewException(err)
	if len(exc.Stack) == 0 {
		exc.Stack = callerStack(skip + 3)
	}
	return exc
}

func newException(err error, depth int) *Exception {
	if err == nil {
		return nil
	}
	if se, ok := err.(*stackError); ok {
		// WithStack is transparent: the exception is the wrapped error's,
		// with the recorded stack.
		exc := newException(se.err, depth)
		if exc == nil {
			exc = &Exception{Name: "error", Message: "<nil>"}
		}
		exc.Stack = formatStack(se.stack)
		return exc
	}
	exc := &Exception{Name: errorName(err, 0), Message: errorText(err), Stack: []string{}}
	if pcs := stackOf(err); pcs != nil {
		exc.Stack = formatStack(pcs)
	}
	if depth >= maxExceptionDepth {
		return exc
	}
	if pe, ok := err.(*Error); ok && pe != nil {
		// The kind is in the name; the cause is what went wrong.
		exc.Cause = newException(pe.Err, depth+1)
		return exc
	}
	many, one := unwrap(err)
	if one != nil {
		exc.Cause = newException(one, depth+1)
	}
	if len(many) > 0 {
		exc.Cause = newException(many[0], depth+1)
		switch rest := many[1:]; len(rest) {
		case 0:
		case 1:
			exc.Context = newException(rest[0], depth+1)
		default:
			exc.Context = newException(errors.Join(rest...), depth+1)
		}
	}
	return exc
}

// isNilPointer reports whether err is a nil pointer (or other nil value)
// of a concrete type: an interface holding it is not nil, and its methods
// may panic.
func isNilPointer(err error) bool {
	rv := reflect.ValueOf(err)
	switch rv.Kind() {
	case reflect.Pointer, reflect.Map, reflect.Slice, reflect.Func, reflect.Chan, reflect.Interface:
		return rv.IsNil()
	}
	return false
}

// errorText returns err.Error(), or a description when it panics.
func errorText(err error) (text string) {
	defer func() {
		if v := recover(); v != nil {
			if isNilPointer(err) {
				text = fmt.Sprintf("<nil %T returned as an error: its Error method panics: %v>", err, v)
			} else {
				text = fmt.Sprintf("<%T: its Error method panics: %v>", err, v)
			}
		}
	}()
	return err.Error()
}

// unwrap calls err's Unwrap method, if any; one that panics counts as none.
func unwrap(err error) (many []error, one error) {
	defer func() {
		if recover() != nil {
			one, many = nil, nil
		}
	}()
	switch u := err.(type) {
	case interface{ Unwrap() error }:
		return nil, u.Unwrap()
	case interface{ Unwrap() []error }:
		return u.Unwrap(), nil
	}
	return nil, nil
}

// kindName names this package's sentinel errors in exceptions. A switch,
// not a map: a map would be built at every process's start.
func kindName(err error) (string, bool) {
	switch err {
	case ErrClosed:
		return "pipes.ErrClosed", true
	case ErrNotInitialized:
		return "pipes.ErrNotInitialized", true
	case ErrUndefined:
		return "pipes.ErrUndefined", true
	case ErrInvalidAssetKey:
		return "pipes.ErrInvalidAssetKey", true
	case ErrAlreadyMaterialized:
		return "pipes.ErrAlreadyMaterialized", true
	case ErrInvalidMetadata:
		return "pipes.ErrInvalidMetadata", true
	case ErrInvalidValue:
		return "pipes.ErrInvalidValue", true
	case ErrInvalidParams:
		return "pipes.ErrInvalidParams", true
	case ErrInvalidContext:
		return "pipes.ErrInvalidContext", true
	}
	return "", false
}

// errorName names err for an exception (see [Exception.Name]).
func errorName(err error, depth int) string {
	if pe, ok := err.(*PanicError); ok && pe != nil {
		if inner, ok := pe.Value.(error); ok && inner != nil {
			return errorName(inner, depth+1)
		}
		return "panic"
	}
	if pe, ok := err.(*Error); ok && pe != nil {
		if name, known := kindName(pe.Kind); known {
			return name
		}
		return "*pipes.Error"
	}
	if name, known := kindName(err); known {
		return name
	}
	name := reflect.TypeOf(err).String()
	switch name {
	case "*errors.errorString":
		return "error"
	case "*errors.joinError":
		return "errors.Join"
	case "*fmt.wrapError", "*fmt.wrapErrors", "*pipes.stackError":
		// An anonymous wrapper: name it by what it wraps.
		if depth >= maxExceptionDepth || isNilPointer(err) {
			return "error"
		}
		many, one := unwrap(err)
		if one == nil && len(many) > 0 {
			one = many[0]
		}
		if one == nil {
			return "error"
		}
		return errorName(one, depth+1)
	}
	return name
}

// PanicError is the error [Run] returns when the job panicked. Value is what
// was passed to panic; the stack is where the panic happened.
type PanicError struct {
	Value any
	stack []uintptr
}

// Error returns "panic: " and the panic value.
func (e *PanicError) Error() string { return fmt.Sprintf("panic: %v", e.Value) }

// Unwrap returns the panic value if it is an error.
func (e *PanicError) Unwrap() error {
	err, _ := e.Value.(error)
	return err
}

// StackCallers returns the program counters of the panicking goroutine.
func (e *PanicError) StackCallers() []uintptr { return e.stack }

// newPanicError is called from the deferred function that recovered; the
// stack then still holds the frames that led to the panic.
func newPanicError(v any) *PanicError {
	pcs := make([]uintptr, 64)
	n := runtime.Callers(3, pcs)
	pcs = pcs[:n]
	// Drop the runtime's panic machinery: start after runtime.gopanic.
	frames := runtime.CallersFrames(pcs)
	for i := 0; ; i++ {
		f, more := frames.Next()
		if f.Function == "runtime.gopanic" {
			pcs = pcs[i+1:]
			break
		}
		if !more {
			break
		}
	}
	return &PanicError{Value: v, stack: pcs}
}

// stackError carries the stack recorded by WithStack.
type stackError struct {
	err   error
	stack []uintptr
}

func (e *stackError) Error() string              { return e.err.Error() }
func (e *stackError) Unwrap() error              { return e.err }
func (e *stackError) StackCallers() []uintptr    { return e.stack }
func (e *stackError) Format(s fmt.State, v rune) { fmt.Fprintf(s, fmt.FormatString(s, v), e.err) }

// WithStack records the caller's stack on err, so that the exception Dagster
// shows for it points where the error was made rather than where it was
// returned. It returns nil for a nil err. The result matches err with
// [errors.Is] and [errors.As].
func WithStack(err error) error {
	if err == nil {
		return nil
	}
	pcs := make([]uintptr, 64)
	n := runtime.Callers(2, pcs)
	return &stackError{err: err, stack: pcs[:n]}
}

type stackCaller interface{ StackCallers() []uintptr }

// stackOf returns the stack recorded on err itself (not on errors it wraps:
// those get their own entry in the cause chain).
func stackOf(err error) []uintptr {
	if s, ok := err.(stackCaller); ok {
		return s.StackCallers()
	}
	return nil
}

func callerStack(skip int) []string {
	pcs := make([]uintptr, 64)
	n := runtime.Callers(skip+1, pcs)
	return formatStack(pcs[:n])
}

// formatStack writes frames outermost first, as Python tracebacks do, and
// leaves out the Go runtime's own frames.
func formatStack(pcs []uintptr) []string {
	var out []string
	frames := runtime.CallersFrames(pcs)
	for {
		f, more := frames.Next()
		// The job is called by runJob (from Run or Context.Run): what
		// called Run is not where the job went wrong, so the stack ends
		// there, as a Python traceback starts inside the with block.
		if f.Function == "github.com/dagster-pipes-go/pipes.runJob" {
			break
		}
		// Leave out the Go runtime and Run's own deferred calls (which
		// report a Goexit): not where the user's code went wrong either.
		if f.Function != "" && !strings.HasPrefix(f.Function, "runtime.") &&
			!strings.HasPrefix(f.Function, "github.com/dagster-pipes-go/pipes.Run.func") &&
			!strings.HasPrefix(f.Function, "github.com/dagster-pipes-go/pipes.(*Context).Run.func") {
			out = append(out, fmt.Sprintf("  File \"%s\", line %d, in %s\n", f.File, f.Line, f.Function))
		}
		if !more {
			break
		}
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	if out == nil {
		out = []string{}
	}
	return out
}
