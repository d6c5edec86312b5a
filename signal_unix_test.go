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
	"os/signal"
	"path/filepath"
	"strings"
	"sync/atomic"
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
	opts = append(opts, WithSignals(syscall.SIGUSR1), WithSignalDelay(0))
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

// With the default delay, the handling is installed while a job that runs
// longer is running, and a signal then cancels its ctx.
func TestRunSignalHandlingInstalledAfterDelay(t *testing.T) {
	installed := make(chan struct{})
	savedNotify := signalNotify
	t.Cleanup(func() { signalNotify = savedNotify })
	signalNotify = func(c chan<- os.Signal, sig ...os.Signal) { signal.Notify(c, sig...); close(installed) }
	opts, read := runOpts(t, testData())
	opts = append(opts, WithSignals(syscall.SIGUSR1))
	start := time.Now()
	err := Run(context.Background(), func(ctx context.Context, p *Context) error {
		select {
		case <-installed:
		case <-time.After(time.Minute):
			return errors.New("the signal handling was never installed")
		}
		// One signal only: a second one would end the test binary.
		_ = syscall.Kill(os.Getpid(), syscall.SIGUSR1)
		select {
		case <-ctx.Done():
			return context.Cause(ctx)
		case <-time.After(time.Minute):
			return errors.New("the signal did not cancel the job's ctx")
		}
	}, opts...)
	var se *SignalError
	require.ErrorAs(t, err, &se)
	assert.Equal(t, syscall.SIGUSR1, se.Signal)
	assert.GreaterOrEqual(t, time.Since(start), DefaultSignalDelay)
	assert.Equal(t, "*pipes.SignalError", closedException(t, read())["name"])
}

// A job that ends within the delay never pays for os/signal: Run neither
// installs nor removes its handling. With no delay it does both.
func TestRunShortJobInstallsNoSignalHandling(t *testing.T) {
	var notifies, stops atomic.Int32
	savedNotify, savedStop := signalNotify, signalStop
	t.Cleanup(func() { signalNotify, signalStop = savedNotify, savedStop })
	signalNotify = func(c chan<- os.Signal, sig ...os.Signal) { notifies.Add(1); signal.Notify(c, sig...) }
	signalStop = func(c chan<- os.Signal) { stops.Add(1); signal.Stop(c) }
	quick := func(context.Context, *Context) error { return nil }

	opts, _ := runOpts(t, testData())
	require.NoError(t, Run(context.Background(), quick, append(opts, WithSignalDelay(time.Hour))...))
	assert.Zero(t, notifies.Load())
	assert.Zero(t, stops.Load())

	opts, _ = runOpts(t, testData())
	require.NoError(t, Run(context.Background(), quick, append(opts, WithSignalDelay(0))...))
	assert.Equal(t, int32(1), notifies.Load())
	assert.Equal(t, int32(1), stops.Load())

	opts, _ = runOpts(t, testData())
	require.NoError(t, Run(context.Background(), quick, append(opts, WithoutSignalHandling())...))
	assert.Equal(t, int32(1), notifies.Load(), "no handling at all")
}
