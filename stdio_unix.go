//go:build unix

package pipes

import (
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unicode/utf8"
)

// capture redirects one file descriptor into a pipe. A goroutine copies what
// arrives to the original descriptor (so the console still shows it) and
// hands it, every interval, to send.
type capture struct {
	fd     int
	saved  int      // duplicate of the original descriptor
	reader *os.File // read end of the pipe
	send   func(stream string, text []byte)
	stream string

	mu      sync.Mutex // guards pending
	pending []byte
	sendMu  sync.Mutex // keeps chunks in order between the ticker and stop

	// detached is set when stop gave up waiting for the pipe to drain (a
	// child still holds it): copy then only forwards to the console, until
	// the child is done, and releases the descriptors itself.
	detached atomic.Bool

	quit chan struct{}
	done chan struct{}
}

// eofWait bounds how long stop waits for the pipe to drain: a child process
// that inherited the descriptor can keep it open after the job is done.
const eofWait = time.Second

// dupCloexec duplicates fd with close-on-exec set, so that child processes
// do not inherit the copy of the original stdout/stderr (under ForkLock, as
// package os does, so that no fork sees it before the flag is set).
func dupCloexec(fd int) (int, error) {
	syscall.ForkLock.RLock()
	defer syscall.ForkLock.RUnlock()
	nfd, err := syscall.Dup(fd)
	if err != nil {
		return -1, err
	}
	syscall.CloseOnExec(nfd)
	return nfd, nil
}

func startCapture(fd int, stream string, interval time.Duration, send func(string, []byte)) (*capture, error) {
	saved, err := dupCloexec(fd)
	if err != nil {
		return nil, err
	}
	r, w, err := os.Pipe()
	if err != nil {
		syscall.Close(saved)
		return nil, err
	}
	if err := dup2(int(w.Fd()), fd); err != nil {
		r.Close()
		w.Close()
		syscall.Close(saved)
		return nil, err
	}
	w.Close() // fd now holds the write end
	c := &capture{fd: fd, saved: saved, reader: r, send: send, stream: stream,
		quit: make(chan struct{}), done: make(chan struct{})}
	go c.copy()
	go c.tick(interval)
	return c, nil
}

// copy tees the pipe to the original descriptor and the pending buffer.
func (c *capture) copy() {
	defer close(c.done)
	buf := make([]byte, 32<<10)
	for {
		n, err := c.reader.Read(buf)
		if n > 0 {
			writeAll(c.saved, buf[:n])
			if !c.detached.Load() {
				c.mu.Lock()
				c.pending = append(c.pending, buf[:n]...)
				c.mu.Unlock()
			}
		}
		if err != nil {
			if c.detached.Load() {
				c.reader.Close()
				syscall.Close(c.saved)
			}
			return
		}
	}
}

func writeAll(fd int, b []byte) {
	for len(b) > 0 {
		n, err := syscall.Write(fd, b)
		if err != nil && err != syscall.EINTR {
			return
		}
		if n > 0 {
			b = b[n:]
		}
	}
}

func (c *capture) tick(interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-c.quit:
			return
		case <-t.C:
			c.flush(false)
		}
	}
}

// flush sends the pending text. Unless final, an incomplete UTF-8 sequence
// at the end is kept for the next send: split across two messages, a
// multibyte character would reach Dagster as two U+FFFD.
func (c *capture) flush(final bool) {
	c.sendMu.Lock()
	defer c.sendMu.Unlock()
	c.mu.Lock()
	text := c.pending
	c.pending = nil
	if !final {
		if cut := incompleteTail(text); cut < len(text) {
			c.pending = append([]byte(nil), text[cut:]...)
			text = text[:cut]
		}
	}
	c.mu.Unlock()
	if len(text) > 0 {
		c.send(c.stream, text)
	}
}

// incompleteTail returns where an incomplete UTF-8 sequence at the end of b
// starts (len(b) when there is none).
func incompleteTail(b []byte) int {
	for i := len(b) - 1; i >= 0 && i >= len(b)-utf8.UTFMax; i-- {
		if utf8.RuneStart(b[i]) {
			if !utf8.FullRune(b[i:]) {
				return i
			}
			break
		}
	}
	return len(b)
}

// stop restores the descriptor, waits for the pipe to drain, and sends what
// is left. A child that still holds the pipe after eofWait keeps writing to
// the console: its later output is no longer sent to Dagster (the closed
// message follows), but it is not lost.
func (c *capture) stop() {
	_ = dup2(c.saved, c.fd) // drops this process's write end of the pipe
	select {
	case <-c.done:
		close(c.quit)
		c.reader.Close()
		syscall.Close(c.saved)
	case <-time.After(eofWait):
		close(c.quit)
		c.mu.Lock()
		c.detached.Store(true)
		c.mu.Unlock()
	}
	c.flush(true)
}
