package pipestest

import (
	"bytes"
	"os"
	"sync"

	"github.com/dagster-pipes-go/pipes/internal/orchestrator"
)

// capturedStream replaces os.Stdout or os.Stderr with a pipe while the code
// under test runs, and splits what it writes into messages and other
// output.
type capturedStream struct {
	target *(*os.File)
	old    *os.File
	w      *os.File
	done   chan struct{}
	mu     sync.Mutex
	other  bytes.Buffer
}

func (c *capturedStream) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.other.Write(p)
}

func (c *capturedStream) start(t orchestrator.Transport, col *orchestrator.Collector) error {
	c.target = &os.Stdout
	if t == orchestrator.TransportStderr {
		c.target = &os.Stderr
	}
	r, w, err := os.Pipe()
	if err != nil {
		return err
	}
	c.old, c.w, c.done = *c.target, w, make(chan struct{})
	*c.target = w
	go func() {
		defer close(c.done)
		defer r.Close()
		_ = col.ReadStream(r, c, nil)
	}()
	return nil
}

// stop restores the stream and waits until everything written was read.
func (c *capturedStream) stop() {
	if c.w == nil {
		return
	}
	*c.target = c.old
	c.w.Close()
	<-c.done
	c.w = nil
}
