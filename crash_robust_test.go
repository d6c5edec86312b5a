package pipes

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// nilErr's Error dereferences its receiver: a nil *nilErr returned as an
// error panics when printed by anything but fmt.
type nilErr struct{ msg string }

func (e *nilErr) Error() string { return e.msg }

// Regression (issue 10): an error whose Error method panics (a typed nil
// pointer) crashed Run with SIGSEGV and no closed message.
func TestErrorMethodPanics(t *testing.T) {
	var typedNil *nilErr
	t.Run("returned", func(t *testing.T) {
		opts, read := runOpts(t, testData())
		err := Run(context.Background(), func(context.Context, *Context) error { return typedNil }, opts...)
		require.Error(t, err)
		exc := closedException(t, read())
		assert.Equal(t, "*pipes.nilErr", exc["name"])
		assert.Contains(t, exc["message"], "<nil *pipes.nilErr returned as an error")
	})
	t.Run("wrapped", func(t *testing.T) {
		opts, read := runOpts(t, testData())
		err := Run(context.Background(), func(context.Context, *Context) error { return fmt.Errorf("x: %w", typedNil) }, opts...)
		require.Error(t, err)
		exc := closedException(t, read())
		assert.Equal(t, "*pipes.nilErr", exc["name"])
		assert.Contains(t, exc["cause"].(map[string]any)["message"], "returned as an error")
	})
	t.Run("panicked", func(t *testing.T) {
		opts, read := runOpts(t, testData())
		err := Run(context.Background(), func(context.Context, *Context) error { panic(error(typedNil)) }, opts...)
		var pe *PanicError
		require.ErrorAs(t, err, &pe)
		exc := closedException(t, read())
		assert.Equal(t, "*pipes.nilErr", exc["name"])
		assert.Contains(t, exc["cause"].(map[string]any)["message"], "returned as an error")
	})
	t.Run("CloseWithError", func(t *testing.T) {
		p, read := newTestContext(t, testData())
		require.NoError(t, p.CloseWithError(typedNil))
		exc := closedException(t, read())
		assert.Contains(t, exc["message"], "returned as an error")
	})
}

// Regression (issue 10): runtime.Goexit in the job (what t.Fatal does)
// skipped the close: no closed message. The job runs on the caller's
// goroutine, which Goexit ends after the close, without Run returning;
// Context.Run closes the same way.
func TestRunJobGoexit(t *testing.T) {
	goexitJob := func(ctx context.Context, p *Context) error {
		p.Log().Info("before")
		runtime.Goexit()
		return nil
	}
	for _, tc := range []struct {
		name string
		run  func(t *testing.T) func() []wireMessage
	}{
		{"Run", func(t *testing.T) func() []wireMessage {
			opts, read := runOpts(t, testData())
			// With the handling installed at once, Goexit also stops the
			// signal watch (goleak checks that its goroutine ended).
			returned := runOnOwnGoroutine(func() { _ = Run(context.Background(), goexitJob, append(opts, WithSignalDelay(0))...) })
			assert.False(t, returned, "Run returned although the job called Goexit")
			return read
		}},
		{"Context.Run", func(t *testing.T) func() []wireMessage {
			p, read := newTestContext(t, testData())
			returned := runOnOwnGoroutine(func() { _ = p.Run(context.Background(), goexitJob) })
			assert.False(t, returned, "Context.Run returned although the job called Goexit")
			return read
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			msgs := tc.run(t)()
			assert.Equal(t, []string{"opened", "log", "closed"}, methods(msgs))
			exc := closedException(t, msgs)
			assert.Contains(t, exc["message"], "runtime.Goexit")
			// The stack is the job's: it ends where the job called Goexit
			// and holds nothing of Run or of the test that called it.
			stack := fmt.Sprint(exc["stack"])
			assert.Contains(t, stack, "TestRunJobGoexit.func1")
			assert.NotContains(t, stack, "runOnOwnGoroutine")
			assert.NotContains(t, stack, "pipes.Run")
		})
	}
}

// runOnOwnGoroutine calls f on a new goroutine, waits for that goroutine to
// end, and reports whether f returned (false: it called runtime.Goexit).
func runOnOwnGoroutine(f func()) (returned bool) {
	ended := make(chan struct{})
	go func() {
		defer close(ended)
		f()
		returned = true
	}()
	<-ended
	return returned
}

// Regression (issue 10): in Dagster a Go error's exception was named
// *fmt.wrapError or *errors.errorString, this package's sentinel was the
// cause and the real error hid under context.
func TestExceptionReadsWell(t *testing.T) {
	_, err := DecodeParam("eJw=")
	perr := wrapError(ErrInvalidParams, fmt.Errorf("decode: %w", err), "bootstrap value")
	exc := NewException(fmt.Errorf("starting: %w", perr))
	assert.Equal(t, "pipes.ErrInvalidParams", exc.Name)
	require.NotNil(t, exc.Cause)
	assert.Equal(t, "pipes.ErrInvalidParams", exc.Cause.Name)
	require.NotNil(t, exc.Cause.Cause, "the real error is the cause")
	assert.Nil(t, exc.Cause.Context, "the sentinel is not shown as a second error")
	assert.NotContains(t, exc.Cause.Cause.Message, "pipes: invalid bootstrap params")
	assert.Equal(t, "error", NewException(errors.New("x")).Name)
	assert.Equal(t, "errors.Join", NewException(errors.Join(errors.New("a"), errors.New("b"))).Name)
	var pathErr *os.PathError
	_, openErr := os.Open("/nonexistent/x")
	require.ErrorAs(t, openErr, &pathErr)
	assert.Equal(t, "*fs.PathError", NewException(fmt.Errorf("a: %w", fmt.Errorf("b: %w", openErr))).Name)
}
