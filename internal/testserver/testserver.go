// Package testserver runs the local servers that tests start (moto,
// Azurite): a process on a free port of 127.0.0.1 with its output kept,
// a readiness poll, a stop that always reaps it, and (with [Kind]) a server
// per test or one shared by a test binary, with the skip-or-fail rule for a server that is not
// installed. It uses only the standard library, like the rest of the root
// module.
package testserver

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"testing"
	"time"
)

// ErrExited is wrapped by the error of [Process.WaitReady] when the
// process exits before it answers; [Process.Output] says why.
var ErrExited = errors.New("exited before answering")

// Process is a running server process.
type Process struct {
	cmd    *exec.Cmd
	out    *lockedBuffer
	exited chan struct{}
	once   sync.Once
}

// FreePort returns a port of 127.0.0.1 that was free a moment ago (the
// server may lose it to another process before it binds: see [Launch]).
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// Start starts cmd with its stdout and stderr kept (the tail of them) and,
// on Linux, killed when the test process dies. Its error is cmd.Start's.
func Start(cmd *exec.Cmd) (*Process, error) {
	p := &Process{cmd: cmd, out: &lockedBuffer{}, exited: make(chan struct{})}
	cmd.Stdout = p.out
	cmd.Stderr = p.out
	setDeathSignal(cmd)
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	go func() {
		_ = cmd.Wait()
		close(p.exited)
	}()
	return p, nil
}

// WaitReady polls url until it gives any HTTP answer (nil), the process
// exits (an error wrapping [ErrExited]) or timeout passes.
func (p *Process) WaitReady(url string, timeout time.Duration) error {
	client := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		select {
		case <-p.exited:
			return fmt.Errorf("%w: %s", ErrExited, p.Output())
		default:
		}
		resp, err := client.Get(url)
		if err == nil {
			resp.Body.Close()
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("did not answer on %s within %v: %s", url, timeout, p.Output())
}

// Stop stops the process and waits for it: at once (grace 0), or with
// SIGTERM first and a kill after grace. It may be called more than once.
func (p *Process) Stop(grace time.Duration) {
	p.once.Do(func() {
		if grace > 0 {
			_ = p.cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-p.exited:
				return
			case <-time.After(grace):
			}
		}
		_ = p.cmd.Process.Kill()
		<-p.exited
	})
}

// Output returns what the process printed so far (the last half MiB at
// least), for error messages and debugging.
func (p *Process) Output() string { return p.out.String() }

// Launch calls launch up to three times, as the free port can be taken
// between the probe and the server's bind; it stops at an error that wraps
// unavailable (nothing to retry).
func Launch[S any](unavailable error, launch func() (S, error)) (S, error) {
	var srv S
	var err error
	for range 3 {
		if srv, err = launch(); err == nil || errors.Is(err, unavailable) {
			break
		}
	}
	return srv, err
}

// Kind is a kind of server (moto, Azurite) and what the tests of a test
// binary do with it: start one per test, or share one, skipping the test
// when the server is not installed.
type Kind[S interface{ Stop() }] struct {
	// Name prefixes the failures ("moto: ...").
	Name string
	// Launch starts a server; its error wraps Unavailable when the server
	// is not installed.
	Launch      func() (S, error)
	Unavailable error
	// Hint says how to install the server, in the skip message.
	Hint string

	mu      sync.Mutex
	started bool
	shared  S
	err     error
}

// Start launches a server for t and stops it when t and its subtests have
// finished. It skips t when the server is not installed (fails instead
// when PIPES_E2E=1).
func (k *Kind[S]) Start(t testing.TB) S {
	t.Helper()
	srv, err := k.Launch()
	if err != nil {
		k.skipOrFail(t, err)
	}
	t.Cleanup(srv.Stop)
	return srv
}

// Shared returns the server shared by the tests of the test binary,
// launching it on first use (a failed launch is not retried); it skips or
// fails t as Start does.
func (k *Kind[S]) Shared(t testing.TB) S {
	t.Helper()
	k.mu.Lock()
	if !k.started {
		k.started = true
		k.shared, k.err = k.Launch()
	}
	srv, err := k.shared, k.err
	k.mu.Unlock()
	if err != nil {
		k.skipOrFail(t, err)
	}
	return srv
}

// StopShared stops the server that Shared launched, if any.
func (k *Kind[S]) StopShared() {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.started && k.err == nil {
		k.shared.Stop()
	}
}

// RunTests runs the tests of m and then stops the shared server, if any.
func (k *Kind[S]) RunTests(m *testing.M) int {
	code := m.Run()
	k.StopShared()
	return code
}

// skipOrFail skips t when err wraps Unavailable (the server is not
// installed), unless PIPES_E2E=1 is set; otherwise it fails t with err.
func (k *Kind[S]) skipOrFail(t testing.TB, err error) {
	t.Helper()
	if errors.Is(err, k.Unavailable) && os.Getenv("PIPES_E2E") != "1" {
		t.Skipf("%v (%s; set PIPES_E2E=1 to make this a failure)", err, k.Hint)
	}
	t.Fatalf("%s: %v", k.Name, err)
}

type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	// Keep the tail only: servers may log every request.
	if b.buf.Len() > 1<<20 {
		tail := append([]byte(nil), b.buf.Bytes()[b.buf.Len()-1<<19:]...)
		b.buf.Reset()
		b.buf.Write(tail)
	}
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
