package orchestrator

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"time"
)

func readFile(path string) ([]byte, error) { return os.ReadFile(path) }

// TailFile follows a messages file as it grows, calling fn with each
// complete line (without its newline), until done is closed; then it reads
// what is left, including a last line without a newline, and returns.
// It polls every interval (0 means 50ms).
func TailFile(ctx context.Context, path string, interval time.Duration, done <-chan struct{}, fn func(line []byte)) error {
	if interval <= 0 {
		interval = 50 * time.Millisecond
	}
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	var pending []byte
	buf := make([]byte, 64<<10)
	drain := func() error {
		for {
			n, err := f.Read(buf)
			pending = append(pending, buf[:n]...)
			for {
				i := bytes.IndexByte(pending, '\n')
				if i < 0 {
					break
				}
				fn(pending[:i])
				pending = pending[i+1:]
			}
			if errors.Is(err, io.EOF) || n == 0 {
				return nil
			}
			if err != nil {
				return err
			}
		}
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if err := drain(); err != nil {
			return err
		}
		select {
		case <-done:
			if err := drain(); err != nil {
				return err
			}
			if len(pending) > 0 {
				fn(pending)
			}
			return nil
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}
