//go:build unix

package pipes

import (
	"os"
	"sync"
	"syscall"
	"time"
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

	quit chan struct{}
	done chan struct{}
}

// eofWait bounds how long stop waits for the pipe to drain: a child process
// that inherited the descriptor can keep it open after the job is done.
const eofWait = time.Second

func startCapture(fd int, stream string, interval time.Duration, send func(string, []byte)) (*capture, error) {
	saved, err := syscall.Dup(fd)
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
			c.mu.Lock()
			c.pending = append(c.pending, buf[:n]...)
			c.mu.Unlock()
		}
		if err != nil {
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
			c.flush()
		}
	}
}

func (c *capture) flush() {
	c.sendMu.Lock()
	defer c.sendMu.Unlock()
	c.mu.Lock()
	text := c.pending
	c.pending = nil
	c.mu.Unlock()
	if len(text) > 0 {
		c.send(c.stream, text)
	}
}

// stop restores the descriptor, waits for the pipe to drain, and sends what
// is left.
func (c *capture) stop() {
	_ = dup2(c.saved, c.fd) // drops this process's write end of the pipe
	select {
	case <-c.done:
	case <-time.After(eofWait):
		// A child still holds the pipe: stop reading, keep what arrived.
		c.reader.SetReadDeadline(time.Now())
		<-c.done
	}
	close(c.quit)
	c.reader.Close()
	syscall.Close(c.saved)
	c.flush()
}
