//go:build unix

package pipes

import (
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// captureOnPipe starts a capture of a fresh descriptor whose original
// output is a pipe (read with console), as stdout would be; sent collects
// what is sent to Dagster.
func captureOnPipe(t *testing.T, stream string) (c *capture, fd int, console *os.File, sent func() string) {
	t.Helper()
	r, w, err := os.Pipe()
	require.NoError(t, err)
	fd, err = syscall.Dup(int(w.Fd()))
	require.NoError(t, err)
	w.Close()
	var mu sync.Mutex
	var text strings.Builder
	c, err = startCapture(fd, stream, time.Hour, func(_ string, b []byte) {
		mu.Lock()
		defer mu.Unlock()
		text.Write(b)
	})
	require.NoError(t, err)
	t.Cleanup(func() { r.Close() })
	return c, fd, r, func() string { mu.Lock(); defer mu.Unlock(); return text.String() }
}

// Regression (issue 10): the duplicated original descriptors leaked into
// child processes (no close-on-exec).
func TestCaptureSavedDescriptorIsCloseOnExec(t *testing.T) {
	c, fd, _, _ := captureOnPipe(t, StreamStdout)
	flags, _, errno := syscall.Syscall(syscall.SYS_FCNTL, uintptr(c.saved), syscall.F_GETFD, 0)
	require.Zero(t, errno)
	assert.NotZero(t, flags&syscall.FD_CLOEXEC, "the saved descriptor must not reach child processes")
	flags, _, errno = syscall.Syscall(syscall.SYS_FCNTL, uintptr(fd), syscall.F_GETFD, 0)
	require.Zero(t, errno)
	assert.Zero(t, flags&syscall.FD_CLOEXEC, "the captured descriptor itself is inherited, as stdout is")
	c.stop()
	syscall.Close(fd)
}

// Regression (issue 10): a multibyte character split across two sends
// reached Dagster as U+FFFD.
func TestCaptureKeepsMultibyteCharactersWhole(t *testing.T) {
	var sent []string
	c := &capture{stream: StreamStdout, send: func(_ string, b []byte) { sent = append(sent, string(b)) }}
	euro := "€" // three bytes
	c.pending = []byte("price: " + euro[:2])
	c.flush(false)
	c.pending = append(c.pending, euro[2:]+" and "+"\U0001F600"[:1]...)
	c.flush(false)
	c.pending = append(c.pending, "\U0001F600"[1:]...)
	c.flush(false)
	c.pending = append(c.pending, "\xff"...)
	c.flush(true)
	assert.Equal(t, []string{"price: ", euro + " and ", "\U0001F600", "\xff"}, sent)
	for i := range 4 {
		assert.Equal(t, len("ab"), incompleteTail([]byte("ab"+"\U0001F600"[:i])), i)
	}
	assert.Equal(t, 6, incompleteTail([]byte("ab\U0001F600")))
}

// Regression (issue 10): a child's output written after Close was lost to
// both Dagster and the console, and Close waited about 1 s per stream in
// turn.
func TestCaptureChildOutputAfterClose(t *testing.T) {
	outCap, outFD, outConsole, outSent := captureOnPipe(t, StreamStdout)
	errCap, errFD, errConsole, _ := captureOnPipe(t, StreamStderr)
	out, errf := os.NewFile(uintptr(outFD), "out"), os.NewFile(uintptr(errFD), "err")
	// A child that outlives the job, holding both captured streams.
	child := exec.Command("sh", "-c", "echo early; sleep 2; echo late; echo late err >&2")
	child.Stdout, child.Stderr = out, errf
	require.NoError(t, child.Start())

	ch := &capturingChannel{MessageWriterChannel: NewStreamChannel(io.Discard), captures: []*capture{outCap, errCap}}
	start := time.Now()
	ch.stop()
	// Both streams wait together: well under two waits, whatever the load.
	assert.Less(t, time.Since(start), 2*eofWait-200*time.Millisecond, "streams are stopped in parallel")
	// stop restored the descriptors to the console, as it does stdout.
	out.Close()
	errf.Close()
	require.NoError(t, child.Wait())
	assert.Equal(t, "early\n", outSent(), "what came before Close went to Dagster")
	<-outCap.done
	<-errCap.done
	all, err := io.ReadAll(outConsole)
	require.NoError(t, err)
	assert.Equal(t, "early\nlate\n", string(all), "the console still gets the child's later output")
	all, err = io.ReadAll(errConsole)
	require.NoError(t, err)
	assert.Equal(t, "late err\n", string(all))
}
