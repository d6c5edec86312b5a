package pipes

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
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

type loggerChannel struct {
	mu     sync.Mutex
	logger *slog.Logger
	limit  int
	line   []byte
	closed bool
}

func (c *loggerChannel) WriteMessage(msg Message) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return ErrClosed
	}
	c.line = msg.AppendJSON(c.line[:0])
	if len(c.line) > c.limit {
		c.line = oversizeReplacement(msg, len(c.line), c.limit).AppendJSON(c.line[:0])
	}
	c.logger.Info(string(c.line))
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
		var name any
		if params.Exception != nil && params.Exception.Name != nil {
			name = *params.Exception.Name
		}
		b, _ := appendJSON(nil, map[string]any{"exception": map[string]any{
			"message": text, "stack": []any{}, "name": name, "cause": nil, "context": nil,
		}})
		return Message{Method: MethodClosed, Params: b}
	}
	b := append(appendString([]byte(`{"message":`), text), `,"level":"ERROR"}`...)
	return Message{Method: MethodLog, Params: b}
}
