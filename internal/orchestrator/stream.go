package orchestrator

import (
	"bytes"
	"encoding/json"
	"io"
	"sync"
)

// This file reads messages where the external process writes them: a
// messages file, or a stream that mixes messages with other output.

// IsMessageLine reports whether a line of a stream is a Pipes message: a
// JSON object with the protocol-version key, the test Dagster's log-scraping
// readers apply. Other lines are the program's own output.
func IsMessageLine(line []byte) bool {
	line = bytes.TrimSpace(line)
	if len(line) == 0 || line[0] != '{' {
		return false
	}
	var env map[string]json.RawMessage
	if json.Unmarshal(line, &env) != nil {
		return false
	}
	_, ok := env["__dagster_pipes_version"]
	return ok
}

// ReadFile adds every line of a messages file.
func (c *Collector) ReadFile(path string) error {
	data, err := readFile(path)
	if err != nil {
		return err
	}
	for len(data) > 0 {
		line, rest, found := bytes.Cut(data, []byte("\n"))
		if !found {
			c.Add(line)
			break
		}
		c.Add(line)
		data = rest
	}
	return nil
}

// ReadStream reads a stream that mixes messages with other output, as the
// stdio transport does: message lines are added, other lines are copied to
// passthrough (if not nil). It returns at EOF.
func (c *Collector) ReadStream(r io.Reader, passthrough io.Writer, onEvent func(Event)) error {
	w := c.StreamWriter(passthrough, onEvent)
	_, err := io.Copy(w, r)
	w.Flush()
	return err
}

// StreamWriter returns an io.Writer for a stream that mixes messages with
// other output (the stdio transport): each complete line that is a message
// is added (and passed to onEvent, if not nil); other lines are written to
// passthrough (if not nil) with their newline. Call Flush at the end for a
// last line without a newline.
func (c *Collector) StreamWriter(passthrough io.Writer, onEvent func(Event)) *StreamWriter {
	return &StreamWriter{c: c, pass: passthrough, onEvent: onEvent}
}

// StreamWriter splits a stream into messages and other output; see
// Collector.StreamWriter. It is safe for concurrent use.
type StreamWriter struct {
	mu      sync.Mutex
	c       *Collector
	pass    io.Writer
	onEvent func(Event)
	buf     []byte
}

// Write implements io.Writer.
func (w *StreamWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, p...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			break
		}
		w.line(w.buf[:i+1])
		w.buf = w.buf[i+1:]
	}
	if len(w.buf) == 0 {
		w.buf = nil
	}
	return len(p), nil
}

// Flush handles a last line that has no newline.
func (w *StreamWriter) Flush() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.buf) > 0 {
		w.line(w.buf)
		w.buf = nil
	}
}

func (w *StreamWriter) line(l []byte) {
	content := bytes.TrimRight(l, "\r\n")
	if IsMessageLine(content) {
		ev := w.c.Add(content)
		if w.onEvent != nil {
			w.onEvent(ev)
		}
		return
	}
	if w.pass != nil {
		_, _ = w.pass.Write(l)
	}
}
