package orchestrator

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"sync"

	"github.com/dagster-pipes-go/pipes"
)

// This file turns messages into a Result: the Collector, one message at a
// time (validate.go checks each; stream.go reads them from a file or stream).

// Opened is the Event value of an opened message.
type Opened struct{ Extras map[string]any }

// Closed is the Event value of a closed message.
type Closed struct{ Exception *pipes.Exception }

// CustomMessage is the Event value of a report_custom_message message.
type CustomMessage struct{ Payload any }

// Event is what one message turned into.
type Event struct {
	Message RawMessage
	// Value is the typed message: Opened, Closed, Log, Materialization,
	// Check, CustomMessage or StreamText; nil when the message was too
	// broken to be read.
	Value any
	// Errors are the protocol errors found in this message.
	Errors []error
}

// Collector turns messages into a Result, validating each one. It is safe
// for concurrent use.
type Collector struct {
	mu           sync.Mutex
	assetKeys    []string
	res          Result
	materialized map[string]bool
}

// NewCollector returns a Collector for a session whose context targets
// assetKeys (nil for a step that targets no asset): reports for other
// assets, and a second materialization of one asset, are protocol errors.
func NewCollector(assetKeys []string) *Collector {
	return &Collector{assetKeys: slices.Clone(assetKeys), materialized: map[string]bool{}}
}

// MaxReadableNesting is how deeply a message may nest and still be read by
// Dagster: its reader decodes and resolves messages with Python, whose
// recursion limit fails at about 490 levels from the top of a thread, less
// inside Dagster's reader (measured with Dagster 1.13). The library itself
// refuses values nested deeper than pipes.MaxNestingDepth, well below.
const MaxReadableNesting = 400

// nesting returns how deeply objects and arrays nest in a JSON text.
func nesting(raw []byte) int {
	depth, deepest := 0, 0
	inString := false
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		switch {
		case inString:
			if c == '\\' {
				i++
			} else if c == '"' {
				inString = false
			}
		case c == '"':
			inString = true
		case c == '{' || c == '[':
			depth++
			deepest = max(deepest, depth)
		case c == '}' || c == ']':
			depth--
		}
	}
	return deepest
}

// Add handles one line (without its newline) of a messages file or one
// message line of a stream.
func (c *Collector) Add(line []byte) Event {
	c.mu.Lock()
	defer c.mu.Unlock()
	ev := Event{Message: RawMessage{Index: len(c.res.Messages) + 1, JSON: json.RawMessage(bytes.Clone(line))}}
	fail := func(format string, args ...any) {
		ev.Errors = append(ev.Errors, &ProtocolError{Index: ev.Message.Index, Method: string(ev.Message.Method), Msg: fmt.Sprintf(format, args...)})
	}
	defer func() {
		c.res.Messages = append(c.res.Messages, ev.Message)
		c.res.ProtocolErrors = append(c.res.ProtocolErrors, ev.Errors...)
	}()

	if d := nesting(line); d > MaxReadableNesting {
		fail("the message nests objects and arrays %d levels deep: Dagster's reader (Python) fails past about %d (its recursion limit) and loses every later message", d, MaxReadableNesting)
		return ev
	}
	v, err := decodeJSON(line)
	if err != nil {
		fail("not a JSON message: %v: %q", err, truncate(string(line), 200))
		return ev
	}
	env, ok := v.(map[string]any)
	if !ok {
		fail("not a JSON object: %s", truncate(string(line), 200))
		return ev
	}
	var envRaw map[string]json.RawMessage
	_ = json.Unmarshal(line, &envRaw)
	method, _ := env["method"].(string)
	ev.Message.Method = pipes.Method(method)
	ev.Message.Params = envRaw["params"]
	for k := range env {
		if k != "__dagster_pipes_version" && k != "method" && k != "params" {
			fail("unexpected key %q in the message (only __dagster_pipes_version, method and params)", k)
		}
	}
	switch ver, ok := env["__dagster_pipes_version"]; {
	case !ok:
		fail("missing __dagster_pipes_version")
	case ver != pipes.ProtocolVersion:
		fail("__dagster_pipes_version is %s, want %q", jsonText(ver), pipes.ProtocolVersion)
	}
	if _, ok := env["method"].(string); !ok {
		fail("method must be a string, got %s", jsonText(env["method"]))
		return ev
	}
	rawParams, ok := env["params"]
	if !ok {
		fail("missing params")
		return ev
	}
	params, isObj := rawParams.(map[string]any)
	if rawParams != nil && !isObj {
		fail("params must be an object or null, got %s", jsonText(rawParams))
		return ev
	}
	if c.res.Closed && ev.Message.Method != pipes.MethodLogExternalStream {
		fail("message received after closed")
	}
	if !c.res.Opened && ev.Message.Method != pipes.MethodOpened {
		fail("message received before opened")
	}

	p := &paramChecker{params: params, fail: fail}
	switch ev.Message.Method {
	case pipes.MethodOpened:
		if c.res.Opened {
			fail("opened sent twice")
		}
		p.requireObject()
		p.exactKeys([]string{"extras"}, nil)
		extras, ok := params["extras"].(map[string]any)
		if params != nil && !ok {
			fail("extras must be an object, got %s", jsonText(params["extras"]))
		}
		c.res.Opened = true
		c.res.OpenedExtras = extras
		ev.Value = Opened{Extras: extras}
	case pipes.MethodClosed:
		if c.res.Closed {
			fail("closed sent twice")
		}
		var exc *pipes.Exception
		if params != nil {
			p.exactKeys(nil, []string{"exception"})
			if e, ok := params["exception"]; ok {
				if checkException(e, "exception", fail, 0) {
					raw, _ := json.Marshal(e)
					exc = new(pipes.Exception)
					_ = json.Unmarshal(raw, exc)
				}
			}
		}
		c.res.Closed = true
		c.res.Exception = exc
		ev.Value = Closed{Exception: exc}
	case pipes.MethodLog:
		p.requireObject()
		p.exactKeys([]string{"message"}, []string{"level"})
		msg := p.str("message", false)
		level := "INFO"
		if _, ok := params["level"]; ok {
			level = p.str("level", false)
			if !validLevel(level) {
				fail("level %q is not one of CRITICAL, ERROR, WARNING, INFO, DEBUG (or WARN, FATAL)", level)
			}
		}
		l := Log{Level: level, Message: msg}
		c.res.Logs = append(c.res.Logs, l)
		ev.Value = l
	case pipes.MethodReportAssetMaterialization:
		p.requireObject()
		p.exactKeys([]string{"asset_key", "data_version", "metadata"}, nil)
		m := Materialization{
			AssetKey:    p.str("asset_key", false),
			DataVersion: p.str("data_version", true),
			Metadata:    p.metadata("metadata"),
		}
		if params != nil {
			c.checkAssetKey(m.AssetKey, fail)
			if len(c.assetKeys) > 0 && c.materialized[m.AssetKey] {
				fail("asset %q materialized twice", m.AssetKey)
			}
			c.materialized[m.AssetKey] = true
		}
		c.res.Materializations = append(c.res.Materializations, m)
		ev.Value = m
	case pipes.MethodReportAssetCheck:
		p.requireObject()
		p.exactKeys([]string{"asset_key", "check_name", "passed", "metadata", "severity"}, nil)
		ch := Check{
			AssetKey:  p.str("asset_key", false),
			CheckName: p.str("check_name", false),
			Severity:  pipes.Severity(p.str("severity", false)),
			Metadata:  p.metadata("metadata"),
		}
		if b, ok := params["passed"].(bool); ok {
			ch.Passed = b
		} else if params != nil {
			fail("passed must be a bool, got %s", jsonText(params["passed"]))
		}
		if params != nil {
			if ch.Severity != pipes.SeverityError && ch.Severity != pipes.SeverityWarn {
				fail("severity must be %q or %q, got %s", pipes.SeverityWarn, pipes.SeverityError, jsonText(params["severity"]))
			}
			c.checkAssetKey(ch.AssetKey, fail)
		}
		c.res.Checks = append(c.res.Checks, ch)
		ev.Value = ch
	case pipes.MethodReportCustomMessage:
		p.requireObject()
		p.exactKeys([]string{"payload"}, nil)
		c.res.CustomMessages = append(c.res.CustomMessages, params["payload"])
		ev.Value = CustomMessage{Payload: params["payload"]}
	case pipes.MethodLogExternalStream:
		p.requireObject()
		p.exactKeys([]string{"stream", "text"}, []string{"extras"})
		st := StreamText{Stream: p.str("stream", false), Text: p.str("text", false)}
		if params != nil && st.Stream != pipes.StreamStdout && st.Stream != pipes.StreamStderr {
			fail("Unexpected stream: %s", st.Stream)
		}
		if e, ok := params["extras"]; ok && e != nil {
			if _, ok := e.(map[string]any); !ok {
				fail("extras must be an object or null, got %s", jsonText(e))
			}
		}
		c.res.ExternalStreams = append(c.res.ExternalStreams, st)
		ev.Value = st
	default:
		fail("Unknown message method: %s", method)
	}
	return ev
}

// checkAssetKey reports a key the step does not target.
func (c *Collector) checkAssetKey(key string, fail func(string, ...any)) {
	if key == "" {
		fail("asset_key is empty")
		return
	}
	if len(c.assetKeys) > 0 && !slices.Contains(c.assetKeys, key) {
		fail("asset key %q is not one of the step's asset keys %q", key, c.assetKeys)
	}
}

// Result returns a copy of what was collected so far. Its ProtocolErrors
// also say whether the opened or closed message is missing, so call it once
// the external process is done.
func (c *Collector) Result() *Result {
	c.mu.Lock()
	defer c.mu.Unlock()
	r := c.res
	r.Materializations = slices.Clone(r.Materializations)
	r.Checks = slices.Clone(r.Checks)
	r.Logs = slices.Clone(r.Logs)
	r.CustomMessages = slices.Clone(r.CustomMessages)
	r.ExternalStreams = slices.Clone(r.ExternalStreams)
	r.Messages = slices.Clone(r.Messages)
	r.ProtocolErrors = slices.Clone(r.ProtocolErrors)
	if !r.Opened && len(r.Messages) == 0 {
		r.ProtocolErrors = append(r.ProtocolErrors, &ProtocolError{Msg: "did not receive any messages from the external process (was pipes.Open or pipes.Run called?)"})
	} else if !r.Closed {
		r.ProtocolErrors = append(r.ProtocolErrors, &ProtocolError{Msg: "did not receive the closed message (call Close on the pipes.Context, or use pipes.Run)"})
	}
	return &r
}
