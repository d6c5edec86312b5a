package pipes

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
)

// Params keys of Dagster's Prefect logs reader (dagster-prefect).
const (
	PrefectLogsKey     = "prefect_logs"
	MaxMessageBytesKey = "max_message_bytes"
)

// DefaultMaxPrefectMessageBytes is the reference's limit for one message
// sent through Prefect's logs (Prefect's own limit is 1 MB per log,
// including its fields).
const DefaultMaxPrefectMessageBytes = 900_000

// PrefectLogsMessageWriter sends every message as one INFO record of a
// logger that ships to Prefect's API, where Dagster's Prefect logs reader
// finds it (params "prefect_logs": true and optional "max_message_bytes").
// A message over the size limit, which Prefect would truncate into invalid
// JSON, is replaced by an ERROR log message naming it (a closed message by a
// closed message whose exception says it was dropped).
type PrefectLogsMessageWriter struct {
	// Logger receives one Info record per message, the message's JSON as
	// the record's text. It must be a logger whose records reach Prefect's
	// API; nil means slog.Default().
	Logger *slog.Logger
}

// Open implements [MessageWriter].
func (w PrefectLogsMessageWriter) Open(_ context.Context, params Params) (MessageWriterChannel, error) {
	const component = "PipesPrefectLogsMessageWriter"
	if _, ok := params[PrefectLogsKey].(bool); !ok {
		return nil, newError(ErrInvalidParams,
			"Invalid type for parameter `%s` passed from orchestration side to `%s`. Expected `<class 'bool'>`, got `%s`.",
			PrefectLogsKey, component, pyTypeRepr(params[PrefectLogsKey]))
	}
	limit := DefaultMaxPrefectMessageBytes
	if v, present := params[MaxMessageBytesKey]; present && v != nil {
		n, ok := v.(json.Number)
		i, err := strconv.Atoi(string(n))
		if !ok || err != nil {
			return nil, newError(ErrInvalidParams,
				"Invalid type for parameter `%s` passed from orchestration side to `%s`. Expected `Optional[<class 'int'>]`, got `%s`.",
				MaxMessageBytesKey, component, pyTypeRepr(v))
		}
		if i > 0 {
			limit = i
		}
	}
	logger := w.Logger
	if logger == nil {
		logger = slog.Default()
	}
	return &loggerChannel{logger: logger, limit: limit}, nil
}

// ErrLoggerLoop is returned by the Prefect writer's channel when its logger
// sends its records back into the Pipes Context it writes for (as after
// slog.SetDefault(p.Log()) with a nil Logger): such messages can never reach
// Prefect, and forwarding them would loop.
var ErrLoggerLoop = errors.New("pipes: the Prefect writer's logger sends its records back into this Pipes context (after slog.SetDefault(p.Log())?): messages cannot reach Prefect; give PrefectLogsMessageWriter a Logger that ships to Prefect's API")

type loggerChannel struct {
	logger *slog.Logger
	limit  int

	// shipping is the message being handed to the logger now, escaped as
	// it appears inside a log message's text. A log message that contains
	// it, arriving while it ships, is the logger's own record coming back
	// (the Context no longer holds its lock while a channel writes, so the
	// record reaches this channel instead of deadlocking).
	shipping atomic.Pointer[[]byte]
	looped   atomic.Bool

	mu     sync.Mutex // serialises the logger calls, so messages keep their order
	line   []byte
	closed bool
}

func (c *loggerChannel) WriteMessage(msg Message) error {
	if s := c.shipping.Load(); s != nil && msg.Method == MethodLog && bytes.Contains(msg.Params, *s) {
		c.looped.Store(true)
		return ErrLoggerLoop
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return ErrClosed
	}
	c.line = msg.AppendJSON(c.line[:0])
	if len(c.line) > c.limit {
		c.line = oversizeReplacement(msg, len(c.line), c.limit).AppendJSON(c.line[:0])
	}
	text := string(c.line)
	escaped := appendStringContent(nil, text)
	c.looped.Store(false)
	c.shipping.Store(&escaped)
	c.logger.Info(text)
	c.shipping.Store(nil)
	if c.looped.Load() {
		return ErrLoggerLoop
	}
	return nil
}

func (c *loggerChannel) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	return nil
}

// oversizeReplacement is what is sent instead of a message too large for
// the logs: a closed message stays a closed message, so that Dagster still
// sees the end of the session.
func oversizeReplacement(msg Message, size, limit int) Message {
	text := fmt.Sprintf("Dropped a `%s` Pipes message of %d bytes, over the %d-byte limit for Prefect logs. Use a blob store message writer for large payloads.",
		msg.Method, size, limit)
	if msg.Method == MethodClosed {
		var params struct {
			Exception *struct {
				Name *string `json:"name"`
			} `json:"exception"`
		}
		_ = json.Unmarshal(msg.Params, &params)
		var name *string
		if params.Exception != nil {
			name = params.Exception.Name
		}
		return Message{Method: MethodClosed, Params: appendDroppedClosedParams(nil, name, text)}
	}
	return Message{Method: MethodLog, Params: appendLogParams(nil, "ERROR", text, "", nil)}
}
