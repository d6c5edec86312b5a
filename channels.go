package pipes

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"
)

// Method is the method name of a Pipes message.
type Method string

// The message methods of the protocol.
const (
	MethodOpened                     Method = "opened"
	MethodClosed                     Method = "closed"
	MethodLog                        Method = "log"
	MethodReportAssetMaterialization Method = "report_asset_materialization"
	MethodReportAssetCheck           Method = "report_asset_check"
	MethodReportCustomMessage        Method = "report_custom_message"
	MethodLogExternalStream          Method = "log_external_stream"
)

// Message is one Pipes message on its way to a channel.
type Message struct {
	Method Method
	// Params is the encoded JSON params object (or "null"). It may point
	// into a buffer that is reused once WriteMessage returns: a channel that
	// keeps the message must copy it (AppendJSON does).
	Params []byte
}

// AppendJSON appends the message's wire form, without a newline:
// {"__dagster_pipes_version":"0.1","method":…,"params":…}.
func (m Message) AppendJSON(dst []byte) []byte {
	dst = append(dst, `{"__dagster_pipes_version":"`+ProtocolVersion+`","method":`...)
	dst = appendString(dst, string(m.Method))
	dst = append(dst, `,"params":`...)
	if len(m.Params) == 0 {
		dst = append(dst, "null"...)
	} else {
		dst = append(dst, m.Params...)
	}
	return append(dst, '}')
}

// MessageWriterChannel is where messages go: a file, a stream, a blob store.
//
// WriteMessage must write (or durably queue) the whole message before it
// returns and must be safe for concurrent use; messages are never
// interleaved. Close flushes what is queued and releases the channel; it is
// called once, after the closed message, and later writes fail with an error
// matching [ErrClosed]. The pipestest package checks an implementation
// against these rules.
type MessageWriterChannel interface {
	WriteMessage(msg Message) error
	Close() error
}

// FileChannel appends one message per line to a file, with one write call per
// message, so a message is in the file when WriteMessage returns.
type FileChannel struct {
	mu   sync.Mutex
	f    *os.File
	line []byte
}

// NewFileChannel opens (creating it if needed) the file at path for appending.
func NewFileChannel(path string) (*FileChannel, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return nil, wrapError(ErrInvalidParams, err, "cannot open the messages file Dagster named (%s)", path)
	}
	return &FileChannel{f: f}, nil
}

// WriteMessage implements [MessageWriterChannel].
func (c *FileChannel) WriteMessage(msg Message) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.f == nil {
		return ErrClosed
	}
	c.line = append(msg.AppendJSON(c.line[:0]), '\n')
	_, err := c.f.Write(c.line)
	return err
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
	c.line = append(msg.AppendJSON(c.line[:0]), '\n')
	_, err := c.w.Write(c.line)
	return err
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
	_, err := c.w.Write(c.buf)
	if err == nil {
		c.buf = c.buf[:0]
	}
	return err
}

// Close flushes; the stream stays open.
func (c *BufferedStreamChannel) Close() error {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	return c.Flush()
}

// UploadFunc stores one chunk of a blob-store channel: the messages written
// in one interval, joined by "\n" with no trailing newline, under number
// index (1, 2, 3, … with no gaps). A cloud package supplies it; the chunk
// must be readable under "<prefix>/<index>.json" by Dagster's reader.
type UploadFunc func(ctx context.Context, chunk []byte, index int) error

// DefaultUploadInterval is the reference's interval between chunk uploads.
const DefaultUploadInterval = 10 * time.Second

// BlobStoreOptions tune a [BlobStoreChannel]. The zero value is the
// reference's behaviour.
type BlobStoreOptions struct {
	// Interval between uploads; 0 means DefaultUploadInterval.
	Interval time.Duration
	// CloseTimeout bounds each upload made at an interval, and the final
	// flush in Close; 0 means one minute.
	CloseTimeout time.Duration
	// FinalAttempts is how many times Close tries to deliver what is left
	// (with backoff) before it gives up and reports it; 0 means 5.
	FinalAttempts int
	// OnError, if set, is told of each failed upload. The chunk stays
	// queued and is retried, under the same number, at the next interval.
	OnError func(err error, index int)
}

// BlobStoreChannel buffers messages in memory and uploads them as numbered
// chunks at a fixed interval, plus a final flush on Close that includes the
// closed message. It is the base of every blob-store channel (S3, GCS,
// Azure, DBFS, Unity Catalog volumes): they only supply an [UploadFunc].
//
// A failed upload loses nothing: the chunk keeps its number and is retried
// first, before any newer messages, so Dagster's reader sees 1..N with no
// gap. Memory holds the messages of one interval (plus any chunk waiting for
// a retry).
type BlobStoreChannel struct {
	upload UploadFunc
	opts   BlobStoreOptions

	mu     sync.Mutex
	buf    []byte // messages since the last upload, "\n"-joined
	closed bool

	uploadMu sync.Mutex
	next     int    // number of the next chunk
	pending  []byte // a chunk whose upload failed, to retry under number next
	lastLen  int    // size of the last chunk taken, to size the next buffer

	stop       chan struct{}
	done       chan struct{}
	loopCtx    context.Context // cancelled by Close, so that it never waits on a hung periodic upload
	cancelLoop context.CancelFunc
}

// NewBlobStoreChannel starts a channel that uploads with upload.
func NewBlobStoreChannel(upload UploadFunc, opts BlobStoreOptions) *BlobStoreChannel {
	if opts.Interval <= 0 {
		opts.Interval = DefaultUploadInterval
	}
	if opts.CloseTimeout <= 0 {
		opts.CloseTimeout = time.Minute
	}
	if opts.FinalAttempts <= 0 {
		opts.FinalAttempts = 5
	}
	c := &BlobStoreChannel{
		upload: upload,
		opts:   opts,
		next:   1,
		stop:   make(chan struct{}),
		done:   make(chan struct{}),
	}
	c.loopCtx, c.cancelLoop = context.WithCancel(context.Background())
	go c.loop()
	return c
}

// WriteMessage queues the message for the next upload.
func (c *BlobStoreChannel) WriteMessage(msg Message) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return ErrClosed
	}
	if len(c.buf) > 0 {
		c.buf = append(c.buf, '\n')
	}
	c.buf = msg.AppendJSON(c.buf)
	return nil
}

func (c *BlobStoreChannel) loop() {
	defer close(c.done)
	ticker := time.NewTicker(c.opts.Interval)
	defer ticker.Stop()
	for {
		select {
		case <-c.stop:
			return
		case <-ticker.C:
			ctx, cancel := context.WithTimeout(c.loopCtx, c.opts.CloseTimeout)
			_ = c.flush(ctx)
			cancel()
		}
	}
}

// flush uploads the chunk waiting for a retry, if any, then what was written
// since the last upload. Chunks are numbered in upload order, so a retried
// chunk keeps its number and newer messages come after it.
func (c *BlobStoreChannel) flush(ctx context.Context) error {
	c.uploadMu.Lock()
	defer c.uploadMu.Unlock()
	// At most two uploads: a chunk left from a failed attempt, then the
	// messages queued since.
	for range 2 {
		if c.pending == nil {
			// The next interval's buffer starts at about the size of the
			// last chunk, so that it does not grow by doubling (which
			// leaves as much garbage again behind it).
			var next []byte
			if c.lastLen > 0 {
				next = make([]byte, 0, c.lastLen+c.lastLen/8)
			}
			c.mu.Lock()
			c.pending, c.buf = c.buf, next
			c.mu.Unlock()
			c.lastLen = len(c.pending)
			if len(c.pending) == 0 {
				c.pending = nil
				return nil
			}
		}
		if err := c.upload(ctx, c.pending, c.next); err != nil {
			if c.opts.OnError != nil {
				c.opts.OnError(err, c.next)
			}
			return fmt.Errorf("upload of chunk %d: %w", c.next, err)
		}
		c.pending = nil
		c.next++
	}
	return nil
}

// Flush uploads what is queued now, without waiting for the interval.
func (c *BlobStoreChannel) Flush(ctx context.Context) error { return c.flush(ctx) }

// Close stops the periodic uploads and delivers everything still queued,
// retrying a few times with backoff. It returns an error if some messages
// could not be delivered.
func (c *BlobStoreChannel) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	c.mu.Unlock()
	// An upload in progress is abandoned; its chunk keeps its number and is
	// sent again by the final flush below.
	c.cancelLoop()
	close(c.stop)
	<-c.done

	ctx, cancel := context.WithTimeout(context.Background(), c.opts.CloseTimeout)
	defer cancel()
	var err error
	backoff := 100 * time.Millisecond
	for attempt := 0; attempt < c.opts.FinalAttempts; attempt++ {
		if err = c.flush(ctx); err == nil {
			return nil
		}
		if attempt == c.opts.FinalAttempts-1 {
			break
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("pipes: blob store channel: messages not delivered before the close timeout: %w", errors.Join(err, ctx.Err()))
		case <-time.After(backoff):
		}
		backoff *= 2
	}
	return fmt.Errorf("pipes: blob store channel: messages not delivered after %d attempts: %w", c.opts.FinalAttempts, err)
}

// NewBufferedFilesystemChannel returns a blob-store channel whose chunks are
// the files "<dir>/<index>.json". It does not create dir. DBFS and Unity
// Catalog volumes channels are built on it.
func NewBufferedFilesystemChannel(dir string, opts BlobStoreOptions) *BlobStoreChannel {
	return NewBlobStoreChannel(func(_ context.Context, chunk []byte, index int) error {
		return os.WriteFile(filepath.Join(dir, strconv.Itoa(index)+".json"), chunk, 0o644)
	}, opts)
}
