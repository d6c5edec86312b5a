package pipes

import (
	"sync"
	"time"
)

// DefaultStdioInterval is how often captured stdout/stderr text is sent, as
// in the reference's log writer.
const DefaultStdioInterval = time.Second

// CaptureStdio wraps ch so that, when the orchestrator asked for it
// (messages param "include_stdio_in_messages" is true), everything the
// process writes to its stdout and stderr file descriptors — including the
// output of child processes — is forwarded to Dagster as
// log_external_stream messages, while still reaching the real stdout and
// stderr. Capture stops, and the last text is sent, just before the closed
// message, so none of it arrives after closed. Stopping waits at most one
// second (for all streams together) for a child process that still holds
// them; what such a child writes later still reaches the console. A
// multibyte character is never split across two messages, and the
// descriptors capture keeps for itself are not inherited by child
// processes.
//
// [Open], [New] and [Run] apply it to the channel of every [MessageWriter],
// so a writer never calls it itself; it is exported for programs that build
// a channel by hand. When the flag is not set, capture is not supported on
// this platform, ch already captures, or ch writes the messages to a stream
// itself ([StreamChannel], [BufferedStreamChannel]: capturing would send the
// messages back into themselves, and such readers see the output anyway), ch
// is returned as is.
func CaptureStdio(ch MessageWriterChannel, params Params) MessageWriterChannel {
	if !params.Truthy(IncludeStdioInMessages) {
		return ch
	}
	switch ch.(type) {
	case *capturingChannel, *StreamChannel, *BufferedStreamChannel:
		return ch
	}
	c := &capturingChannel{MessageWriterChannel: ch}
	for _, s := range []struct {
		fd   int
		name string
	}{{1, StreamStdout}, {2, StreamStderr}} {
		cap, err := startCapture(s.fd, s.name, DefaultStdioInterval, c.sendStream)
		if err != nil {
			// Capture is a convenience: without it the job still runs and
			// its output still reaches the console.
			continue
		}
		c.captures = append(c.captures, cap)
	}
	return c
}

// capturingChannel is a channel with stdio capture running.
type capturingChannel struct {
	MessageWriterChannel
	once     sync.Once
	captures []*capture
}

func (c *capturingChannel) sendStream(stream string, text []byte) {
	// Captured bytes and a known stream name: encoding cannot fail.
	b, _ := appendExternalStreamParams(make([]byte, 0, len(text)+64), stream, text, nil)
	_ = c.MessageWriterChannel.WriteMessage(Message{Method: MethodLogExternalStream, Params: b})
}

// stop stops every capture at once, so that Close waits at most eofWait
// however many streams a lingering child holds.
func (c *capturingChannel) stop() {
	c.once.Do(func() {
		var wg sync.WaitGroup
		for _, cap := range c.captures {
			wg.Go(cap.stop)
		}
		wg.Wait()
	})
}

// WriteMessage stops capture before the closed message goes out.
func (c *capturingChannel) WriteMessage(msg Message) error {
	if msg.Method == MethodClosed {
		c.stop()
	}
	return c.MessageWriterChannel.WriteMessage(msg)
}

// Close stops capture (if the closed message did not) and closes the
// channel.
func (c *capturingChannel) Close() error {
	c.stop()
	return c.MessageWriterChannel.Close()
}
