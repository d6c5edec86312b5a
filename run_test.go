package pipes

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// runOpts returns options for a Run against a fresh message file, and
// resets the process's Context around the test.
func runOpts(t *testing.T, data map[string]any) ([]Option, func() []wireMessage) {
	t.Helper()
	Set(nil)
	t.Cleanup(func() { Set(nil) })
	msgPath := filepath.Join(t.TempDir(), "messages")
	boot := bootstrap(t, map[string]any{"data": data}, map[string]any{"path": msgPath})
	return []Option{WithParamsLoader(MappingParamsLoader{Mapping: boot})}, func() []wireMessage { return readMessages(t, msgPath) }
}

func closedException(t *testing.T, msgs []wireMessage) map[string]any {
	t.Helper()
	last := msgs[len(msgs)-1]
	require.Equal(t, "closed", last.Method)
	exc, ok := last.Params["exception"].(map[string]any)
	require.True(t, ok, "closed params: %v", last.Params)
	for _, k := range []string{"name", "message", "stack", "cause", "context"} {
		assert.Contains(t, exc, k)
	}
	return exc
}

func TestOpenIsASingleton(t *testing.T) {
	opts, _ := runOpts(t, testData())
	assert.False(t, IsInitialized())
	_, err := Get()
	require.ErrorIs(t, err, ErrNotInitialized)
	assert.EqualError(t, err, "PipesContext has not been initialized. You must call `open_dagster_pipes()`.")

	p1, err := Open(context.Background(), opts...)
	require.NoError(t, err)
	p2, err := Open(context.Background()) // options ignored, as in the reference
	require.NoError(t, err)
	assert.Same(t, p1, p2)
	got, err := Get()
	require.NoError(t, err)
	assert.Same(t, p1, got)
	assert.True(t, IsInitialized())
	require.NoError(t, p1.Close())
	got, err = Get()
	require.NoError(t, err)
	assert.Same(t, p1, got, "Get returns the stored Context, closed or not")
	assert.True(t, IsInitialized())
}

func TestRunSuccess(t *testing.T) {
	opts, read := runOpts(t, testData("a"))
	err := Run(context.Background(), func(ctx context.Context, p *Context) error {
		p.Log().Info("working")
		return p.ReportAssetMaterialization(Materialization{})
	}, opts...)
	require.NoError(t, err)
	msgs := read()
	assert.Equal(t, []string{"opened", "log", "report_asset_materialization", "closed"}, methods(msgs))
	assert.Equal(t, map[string]any{}, msgs[3].Params)
}

type codeError struct{ code int }

func (e *codeError) Error() string { return fmt.Sprintf("code %d", e.code) }

func TestRunReturnedError(t *testing.T) {
	opts, read := runOpts(t, testData())
	base := &codeError{7}
	err := Run(context.Background(), func(ctx context.Context, p *Context) error {
		return WithStack(fmt.Errorf("step failed: %w", base))
	}, opts...)
	require.ErrorIs(t, err, base)
	exc := closedException(t, read())
	assert.Equal(t, "*pipes.codeError", exc["name"], "WithStack is transparent; fmt.Errorf is named by what it wraps")
	assert.Equal(t, "step failed: code 7", exc["message"])
	stack := exc["stack"].([]any)
	require.NotEmpty(t, stack)
	assert.Regexp(t, `^  File ".*run_test.go", line \d+, in github.com/dagster-pipes-go/pipes.TestRunReturnedError.func1\n$`, stack[len(stack)-1])
	cause := exc["cause"].(map[string]any)
	assert.Equal(t, "*pipes.codeError", cause["name"])
	assert.Equal(t, "code 7", cause["message"])
}

func TestRunJoinedErrors(t *testing.T) {
	opts, read := runOpts(t, testData())
	err := Run(context.Background(), func(context.Context, *Context) error {
		return errors.Join(errors.New("first"), errors.New("second"), errors.New("third"))
	}, opts...)
	require.Error(t, err)
	exc := closedException(t, read())
	assert.Equal(t, "first\nsecond\nthird", exc["message"])
	assert.Equal(t, "first", exc["cause"].(map[string]any)["message"])
	rest := exc["context"].(map[string]any)
	assert.Equal(t, "second\nthird", rest["message"])
	assert.Equal(t, "second", rest["cause"].(map[string]any)["message"])
	assert.Equal(t, "third", rest["context"].(map[string]any)["message"])
	assert.NotEmpty(t, exc["stack"], "a returned error without a recorded stack gets the stack where Run received it")
}

func TestRunPanic(t *testing.T) {
	opts, read := runOpts(t, testData())
	err := Run(context.Background(), func(context.Context, *Context) error {
		rows := []int{1}
		_ = rows[len(os.Args)+1] // panics: index out of range
		return nil
	}, opts...)
	var pe *PanicError
	require.ErrorAs(t, err, &pe)
	exc := closedException(t, read())
	assert.Equal(t, "runtime.boundsError", exc["name"])
	assert.Contains(t, exc["message"], "panic: runtime error: index out of range")
	stack := exc["stack"].([]any)
	require.NotEmpty(t, stack)
	assert.Regexp(t, `run_test.go", line \d+, in github.com/dagster-pipes-go/pipes.TestRunPanic.func1`, stack[len(stack)-1], "innermost frame is the panicking line")
	for _, f := range stack {
		assert.NotContains(t, f, "runtime.gopanic")
	}
}

func TestRunPanicWithValue(t *testing.T) {
	opts, read := runOpts(t, testData())
	err := Run(context.Background(), func(context.Context, *Context) error { panic(fmt.Sprintf("bad %d", 1)) }, opts...)
	require.Error(t, err)
	assert.Equal(t, "panic: bad 1", err.Error())
	exc := closedException(t, read())
	assert.Equal(t, "panic", exc["name"])
	assert.Equal(t, "panic: bad 1", exc["message"])
}

func TestRunSignalCancelsJobAndStillCloses(t *testing.T) {
	opts, read := runOpts(t, testData())
	opts = append(opts, WithSignals(syscall.SIGUSR1), WithSignalDelay(0))
	started := make(chan struct{})
	go func() {
		<-started
		_ = syscall.Kill(os.Getpid(), syscall.SIGUSR1)
	}()
	err := Run(context.Background(), func(ctx context.Context, p *Context) error {
		close(started)
		select {
		case <-ctx.Done():
			return context.Cause(ctx)
		case <-time.After(time.Minute):
			return errors.New("signal never arrived")
		}
	}, opts...)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "user defined signal 1")
	exc := closedException(t, read())
	assert.Contains(t, exc["message"], "user defined signal 1")
}

func TestRunCancelledContextIgnoredByJob(t *testing.T) {
	opts, read := runOpts(t, testData())
	ctx, cancel := context.WithCancel(context.Background())
	err := Run(ctx, func(context.Context, *Context) error { cancel(); return nil }, opts...)
	require.ErrorIs(t, err, context.Canceled)
	exc := closedException(t, read())
	assert.True(t, strings.HasPrefix(exc["message"].(string), "pipes: job interrupted"))
}

func TestRunOpenError(t *testing.T) {
	Set(nil)
	t.Cleanup(func() { Set(nil) })
	called := false
	err := Run(context.Background(), func(context.Context, *Context) error { called = true; return nil },
		WithParamsLoader(MappingParamsLoader{Mapping: map[string]string{ContextEnvVar: "!"}}))
	require.ErrorIs(t, err, ErrInvalidParams)
	assert.False(t, called)
	assert.False(t, IsInitialized())
}

func TestRunOutsideDagster(t *testing.T) {
	Set(nil)
	t.Cleanup(func() { Set(nil) })
	var warn strings.Builder
	ran := false
	err := Run(context.Background(), func(ctx context.Context, p *Context) error {
		ran = true
		p.Log().Info("nowhere")
		return p.ReportAssetMaterialization(Materialization{})
	}, WithParamsLoader(MappingParamsLoader{}), WithWarningOutput(&warn))
	require.NoError(t, err)
	assert.True(t, ran)
	assert.Equal(t, 1, strings.Count(warn.String(), NotLaunchedWarning))
}

func TestRunStackFromWrappedWithStack(t *testing.T) {
	opts, read := runOpts(t, testData())
	err := Run(context.Background(), func(context.Context, *Context) error {
		return fmt.Errorf("loading: %w", WithStack(errors.New("disk full")))
	}, opts...)
	require.Error(t, err)
	exc := closedException(t, read())
	stack := exc["stack"].([]any)
	require.NotEmpty(t, stack)
	assert.Contains(t, stack[len(stack)-1], "TestRunStackFromWrappedWithStack.func1", "the top-level exception shows where the error was made")
	assert.Empty(t, exc["cause"].(map[string]any)["stack"], "each stack is shown once")
}

func TestSignalOptions(t *testing.T) {
	assert.Equal(t, []os.Signal{os.Interrupt, syscall.SIGTERM}, newConfig(nil).signals, "the default: what Dagster sends to stop a step")
	assert.Empty(t, newConfig([]Option{WithoutSignalHandling()}).signals)
	assert.Equal(t, []os.Signal{syscall.SIGUSR1, syscall.SIGHUP}, newConfig([]Option{WithSignals(syscall.SIGUSR1, syscall.SIGHUP)}).signals)
}
