//go:build unix

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
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

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
