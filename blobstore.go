package pipes

import (
	"bytes"
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

// This file holds what every blob-store backend shares: the channel that
// uploads numbered chunks (write side), the chunk naming, and the reading
// of a context object (load side). A cloud package (s3pipes, gcspipes,
// azurepipes, databrickspipes) is a client adapter on these.

// ChunkKey returns the name of message chunk index under keyPrefix, as
// Dagster's blob-store readers look for it: "<keyPrefix>/<index>.json", or
// "<index>.json" when keyPrefix is empty.
func ChunkKey(keyPrefix string, index int) string {
	name := strconv.Itoa(index) + ".json"
	if keyPrefix == "" {
		return name
	}
	return keyPrefix + "/" + name
}

// MaxContextSize bounds the size of a context object or file that a loader
// reads: the context Dagster writes is a few kilobytes, so anything near
// this is not a context.
const MaxContextSize = 64 << 20

// DefaultContextLoadTimeout bounds the download of a context object when
// the ctx given to the loader has no deadline: a store that never answers
// must not hang the job's start for ever. A loader's own timeout option (or
// a ctx with a deadline) replaces it.
const DefaultContextLoadTimeout = 2 * time.Minute

// ReadContextBlob reads a context object that a blob-store loader opened
// with open, and parses it. location names the object in errors (such as
// "s3://bucket/key"). A failed open or read is an error matching
// [ErrInvalidContext] that also wraps the store's error; an object larger
// than [MaxContextSize] is refused. Without a deadline on ctx, the download
// is bounded by [DefaultContextLoadTimeout].
func ReadContextBlob(ctx context.Context, location string, open func(ctx context.Context) (io.ReadCloser, error)) (*ContextData, error) {
	if _, has := ctx.Deadline(); !has {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, DefaultContextLoadTimeout)
		defer cancel()
	}
	body, err := open(ctx)
	if err != nil {
		return nil, wrapError(ErrInvalidContext, readErr(ctx, err), "cannot read the context object Dagster named (%s)", location)
	}
	defer body.Close()
	raw, err := io.ReadAll(io.LimitReader(body, MaxContextSize+1))
	if err != nil {
		return nil, wrapError(ErrInvalidContext, readErr(ctx, err), "cannot read the context object Dagster named (%s)", location)
	}
	if len(raw) > MaxContextSize {
		return nil, newError(ErrInvalidContext, "the context object Dagster named (%s) is larger than %d bytes: it is not a Pipes context", location, MaxContextSize)
	}
	data, err := ParseContextData(raw)
	if err != nil {
		return nil, fmt.Errorf("context object %s: %w", location, err)
	}
	return data, nil
}

// readErr says so when a download failed because its time ran out.
func readErr(ctx context.Context, err error) error {
	if !errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return err
	}
	const hint = "the store did not answer before the load deadline (a loader's Timeout option sets it; without one, the ctx's deadline or DefaultContextLoadTimeout)"
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%s: %w", hint, err)
	}
	return fmt.Errorf("%s: %w: %w", hint, context.DeadlineExceeded, err)
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
	// MaxChunkSize, if positive, bounds the size of a chunk: the messages
	// of one interval are split, at message boundaries, into as many
	// chunks as needed (a single larger message goes alone). For readers
	// that read a bounded amount per chunk, such as Dagster's DBFS reader.
	MaxChunkSize int
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
	// A chunk left from a failed attempt first, then the messages queued
	// since (in several chunks when MaxChunkSize asks for it). What is
	// written during the flush waits for the next one, so that a busy
	// writer cannot keep a flush going.
	c.mu.Lock()
	budget := len(c.buf)
	c.mu.Unlock()
	for {
		if c.pending == nil {
			if budget <= 0 {
				return nil
			}
			c.pending = c.take()
			budget -= len(c.pending) + 1
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
}

// take removes the next chunk's messages from the buffer.
func (c *BlobStoreChannel) take() []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	if max := c.opts.MaxChunkSize; max > 0 && len(c.buf) > max {
		// Cut after the last whole message that fits (messages hold no
		// raw newline), or after the first message if it alone is larger.
		cut := bytes.LastIndexByte(c.buf[:max+1], '\n')
		if cut < 0 {
			cut = bytes.IndexByte(c.buf, '\n')
		}
		if cut >= 0 {
			chunk := bytes.Clone(c.buf[:cut])
			c.buf = append(c.buf[:0], c.buf[cut+1:]...)
			return chunk
		}
	}
	// The next interval's buffer starts at about the size of the last
	// chunk, so that it does not grow by doubling (which leaves as much
	// garbage again behind it).
	var next []byte
	if c.lastLen > 0 {
		next = make([]byte, 0, c.lastLen+c.lastLen/8)
	}
	chunk := c.buf
	c.buf = next
	c.lastLen = len(chunk)
	return chunk
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
//
// Each chunk is written under a temporary name and renamed into place, so
// that a reader polling for "<index>.json" never sees it empty or partly
// written (Dagster's reader takes a chunk as soon as it exists and does not
// read it again).
func NewBufferedFilesystemChannel(dir string, opts BlobStoreOptions) *BlobStoreChannel {
	return NewBlobStoreChannel(func(_ context.Context, chunk []byte, index int) error {
		return writeFileAtomic(filepath.Join(dir, ChunkKey("", index)), chunk)
	}, opts)
}

// writeFileAtomic writes data to a temporary file next to path and renames
// it to path.
func writeFileAtomic(path string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, err = f.Write(data)
	if err == nil {
		err = f.Chmod(0o644)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}
