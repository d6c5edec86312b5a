package pipes

import (
	"fmt"
	"io"
	"os"
	"sync"
)

// MessageWriterChannel is where messages go: a file, a stream, a blob store.
//
// WriteMessage must write (or durably queue) the whole message before it
// returns, since the caller may reuse msg.Params then, and must be safe for
// concurrent use: a Context calls it from several goroutines at once,
// holding no lock of its own, and messages must never be interleaved. Close
// flushes what is queued and releases the channel; the Context calls it
// once, after the closed message and after every other write has returned,
// and later writes fail with an error matching [ErrClosed]. WriteMessage
// and Close may log through the Context (the Context holds no lock while
// they run). pipestest.TestChannel checks an implementation against each of
// these rules.
type MessageWriterChannel interface {
	WriteMessage(msg Message) error
	Close() error
}

// FileChannel appends one message per line to a file, with one write call per
// message, so a message is in the file when WriteMessage returns.
type FileChannel struct {
	mu     sync.Mutex
	f      *os.File
	line   []byte
	broken bool // a partial line is in the file: start the next on a new line
	// fd is f's descriptor when f is a regular file (raw), written with
	// write(2) directly: issue 16's log path.
	fd  int
	raw bool
	// logLine is logFast's buffer, which keeps logLinePrefix at its start
	// from one log message to the next.
	logLine []byte
}

// NewFileChannel opens (creating it if needed) the file at path for appending.
func NewFileChannel(path string) (*FileChannel, error) {
	f, fd, raw, err := openAppend(path)
	if err != nil {
		return nil, wrapError(ErrInvalidParams, err, "cannot open the messages file Dagster named (%s)", path)
	}
	return &FileChannel{f: f, fd: fd, raw: raw}, nil
}

// WriteMessage implements [MessageWriterChannel].
func (c *FileChannel) WriteMessage(msg Message) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.f == nil {
		return ErrClosed
	}
	c.line = append(msg.AppendJSON(c.startLine()), '\n')
	return c.writeLine(msg.Method)
}

// startLine returns c.line emptied, beginning with a newline when a partial
// line was left in the file.
func (c *FileChannel) startLine() []byte {
	if c.line == nil {
		// Room for most messages at once, in the allocator's size class
		// of the report methods' params buffers (paramsPool): a small job
		// starts one span of that class, not two.
		c.line = make([]byte, 0, 1024)
	}
	line := c.line[:0]
	if c.broken {
		line = append(line, '\n')
		c.broken = false
	}
	return line
}

// writeLine writes c.line, one whole message with its newline, in one
// write call (write(2) itself on a regular file, see openAppend). The caller
// holds c.mu and has checked that c.f is open.
func (c *FileChannel) writeLine(method Method) error {
	n, err := c.write(c.line)
	return c.lineWritten(method, n, err)
}

// lineWritten handles the result of writing c.line: n bytes written, then
// err.
func (c *FileChannel) lineWritten(method Method, n int, err error) error {
	if err != nil && n > 0 {
		// A short write (the disk full for a moment) left part of the
		// line: cut it off, or the next message would be glued to it and
		// Dagster's reader would fail on the line and stop reading.
		if end, serr := c.f.Seek(0, io.SeekEnd); serr == nil && c.f.Truncate(end-int64(n)) == nil {
			return fmt.Errorf("pipes: the %s message was not written (%d of %d bytes written, then cut off again): %w", method, n, len(c.line), err)
		}
		c.broken = true
		return fmt.Errorf("pipes: the %s message was only partly written and could not be cut off; the next message starts on a new line: %w", method, err)
	}
	if err != nil {
		return fmt.Errorf("pipes: the %s message was not written: %w", method, err)
	}
	return nil
}

// write writes b to the file: with write(2) itself on a regular file,
// through os.File otherwise.
func (c *FileChannel) write(b []byte) (int, error) {
	if c.raw {
		return writeRaw(c.fd, c.f.Name(), b)
	}
	return c.f.Write(b)
}

// Close implements [MessageWriterChannel].
func (c *FileChannel) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.f == nil {
		return nil
	}
	err := c.f.Close()
	c.f = nil
	return err
}

// StreamChannel writes one message per line to a stream such as os.Stdout,
// one Write call per message. Close does not close the stream.
type StreamChannel struct {
	mu     sync.Mutex
	w      io.Writer
	line   []byte
	closed bool
	broken bool // a partial line went out: start the next on a new line
}

// NewStreamChannel returns a channel that writes to w.
func NewStreamChannel(w io.Writer) *StreamChannel { return &StreamChannel{w: w} }

// WriteMessage implements [MessageWriterChannel].
func (c *StreamChannel) WriteMessage(msg Message) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return ErrClosed
	}
	c.line = c.line[:0]
	if c.broken {
		// A stream cannot be cut back: end the partial line, which
		// Dagster's stream readers skip as not a message.
		c.line = append(c.line, '\n')
		c.broken = false
	}
	c.line = append(msg.AppendJSON(c.line), '\n')
	n, err := c.w.Write(c.line)
	if err == nil && n < len(c.line) {
		err = io.ErrShortWrite
	}
	if err != nil {
		if n > 0 {
			c.broken = true
			return fmt.Errorf("pipes: the %s message was only partly written (%d of %d bytes); the next message starts on a new line: %w", msg.Method, n, len(c.line), err)
		}
		return fmt.Errorf("pipes: the %s message was not written: %w", msg.Method, err)
	}
	return nil
}

// Close implements [MessageWriterChannel]; the stream stays open.
func (c *StreamChannel) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	return nil
}

// BufferedStreamChannel keeps messages in memory and writes them, one per
// line, to a stream when flushed or closed. Dagster's Lambda reader uses it
// (param "buffered_stdio"), since only the tail of a Lambda's log comes back.
type BufferedStreamChannel struct {
	mu     sync.Mutex
	w      io.Writer
	buf    []byte
	closed bool
}

// NewBufferedStreamChannel returns a channel that buffers for w.
func NewBufferedStreamChannel(w io.Writer) *BufferedStreamChannel {
	return &BufferedStreamChannel{w: w}
}

// WriteMessage implements [MessageWriterChannel].
func (c *BufferedStreamChannel) WriteMessage(msg Message) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return ErrClosed
	}
	c.buf = append(msg.AppendJSON(c.buf), '\n')
	return nil
}

// Flush writes the buffered messages and empties the buffer.
func (c *BufferedStreamChannel) Flush() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.buf) == 0 {
		return nil
	}
	n, err := c.w.Write(c.buf)
	if err == nil && n < len(c.buf) {
		err = io.ErrShortWrite
	}
	if err != nil {
		// Keep only what was not written: the next flush goes on where
		// this one stopped, so that no line is repeated or broken.
		c.buf = c.buf[:copy(c.buf, c.buf[n:])]
		return fmt.Errorf("pipes: flushing buffered messages (%d bytes left for the next flush): %w", len(c.buf), err)
	}
	c.buf = c.buf[:0]
	return nil
}

// Close flushes; the stream stays open.
func (c *BufferedStreamChannel) Close() error {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	return c.Flush()
}
