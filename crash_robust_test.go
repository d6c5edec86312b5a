package pipes

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

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
// skipped the close: no closed message.
func TestRunJobGoexit(t *testing.T) {
	opts, read := runOpts(t, testData())
	err := Run(context.Background(), func(ctx context.Context, p *Context) error {
		p.Log().Info("before")
		runtime.Goexit()
		return nil
	}, opts...)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "runtime.Goexit")
	msgs := read()
	assert.Equal(t, []string{"opened", "log", "closed"}, methods(msgs))
	assert.Contains(t, closedException(t, msgs)["message"], "runtime.Goexit")
}

// Regression (issue 10): the closed message of a job stopped by a signal
// said "context canceled"; it names the signal.
func TestRunSignalNamedInClosed(t *testing.T) {
	opts, read := runOpts(t, testData())
	opts = append(opts, WithSignals(syscall.SIGUSR1))
	err := Run(context.Background(), func(ctx context.Context, p *Context) error {
		_ = syscall.Kill(os.Getpid(), syscall.SIGUSR1)
		<-ctx.Done()
		return ctx.Err()
	}, opts...)
	var se *SignalError
	require.ErrorAs(t, err, &se)
	assert.Equal(t, syscall.SIGUSR1, se.Signal)
	require.ErrorIs(t, err, context.Canceled)
	exc := closedException(t, read())
	assert.Equal(t, "*pipes.SignalError", exc["name"])
	assert.Equal(t, "pipes: job stopped by signal user defined signal 1: context canceled", exc["message"])
}

// Regression (issue 10): after the first SIGTERM, Run swallowed every later
// one; a job ignoring its ctx could only be SIGKILLed, with no closed
// message. A second signal sends closed and ends the process.
func TestRunSecondSignalEndsProcess(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		t.Run(sig.String(), func(t *testing.T) {
			msgPath := filepath.Join(t.TempDir(), "messages")
			boot := bootstrap(t, map[string]any{"data": testData()}, map[string]any{"path": msgPath})
			cmd := exec.Command(os.Args[0], "-test.run=^$")
			cmd.Env = append(os.Environ(), childEnv+"=ignore-signals", ContextEnvVar+"="+boot[ContextEnvVar], MessagesEnvVar+"="+boot[MessagesEnvVar])
			stdout, err := cmd.StdoutPipe()
			require.NoError(t, err)
			var stderr strings.Builder
			cmd.Stderr = &stderr
			require.NoError(t, cmd.Start())
			line, err := bufio.NewReader(stdout).ReadString('\n')
			require.NoError(t, err)
			require.Equal(t, "job started\n", line)
			go func() { _, _ = io.Copy(io.Discard, stdout) }()
			require.NoError(t, cmd.Process.Signal(sig))
			// The first signal only cancels the ctx: the job goes on.
			time.Sleep(200 * time.Millisecond)
			require.NoError(t, cmd.Process.Signal(sig))
			waited := make(chan error, 1)
			go func() { waited <- cmd.Wait() }()
			var werr error
			select {
			case werr = <-waited:
			case <-time.After(30 * time.Second):
				_ = cmd.Process.Kill()
				<-waited
				t.Fatal("the second signal did not end the process")
			}
			var exitErr *exec.ExitError
			require.True(t, errors.As(werr, &exitErr), "%v; stderr: %s", werr, stderr.String())
			assert.Equal(t, 128+int(sig), exitErr.ExitCode(), stderr.String())
			msgs := readMessages(t, msgPath)
			assert.Equal(t, []string{"opened", "closed"}, methods(msgs))
			exc := closedException(t, msgs)
			assert.Equal(t, fmt.Sprintf("pipes: job did not stop after signal %v and was ended by a second signal %v", sig, sig), exc["message"])
		})
	}
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
