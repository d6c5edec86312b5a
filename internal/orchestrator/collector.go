package orchestrator

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/dagster-pipes-go/pipes"
)

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

func validLevel(level string) bool {
	switch NormalizeLevel(level) {
	case "CRITICAL", "ERROR", "WARNING", "INFO", "DEBUG":
		return true
	}
	return false
}

func decodeJSON(b []byte) (any, error) {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, err
	}
	if _, err := d.Token(); err != io.EOF {
		return nil, fmt.Errorf("data after the JSON value")
	}
	return v, nil
}

func jsonText(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return truncate(string(b), 200)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// paramChecker validates a params object, recording problems with fail.
type paramChecker struct {
	params map[string]any
	fail   func(string, ...any)
	bad    bool
}

func (p *paramChecker) requireObject() {
	if p.params == nil {
		p.fail("params must be an object, got null")
		p.bad = true
	}
}

// exactKeys checks that every required key is there and nothing else but
// the optional ones, as Dagster calls its handlers with **params.
func (p *paramChecker) exactKeys(required, optional []string) {
	if p.bad {
		return
	}
	for _, k := range required {
		if _, ok := p.params[k]; !ok {
			p.fail("missing param %q (Dagster needs exactly %s)", k, strings.Join(required, ", "))
		}
	}
	for k := range p.params {
		if !slices.Contains(required, k) && !slices.Contains(optional, k) {
			p.fail("unexpected param %q", k)
		}
	}
}

// str returns a string param; with nullable, null (or missing) gives "".
func (p *paramChecker) str(key string, nullable bool) string {
	if p.bad {
		return ""
	}
	v, ok := p.params[key]
	if !ok {
		return ""
	}
	if v == nil && nullable {
		return ""
	}
	s, ok := v.(string)
	if !ok {
		what := "a string"
		if nullable {
			what = "a string or null"
		}
		p.fail("%s must be %s, got %s", key, what, jsonText(v))
	}
	return s
}

// metadata returns the metadata param (null gives nil), checking each
// entry as Dagster will read it.
func (p *paramChecker) metadata(key string) Metadata {
	if p.bad {
		return nil
	}
	v := p.params[key]
	if v == nil {
		return nil
	}
	m, ok := v.(map[string]any)
	if !ok {
		p.fail("%s must be an object or null, got %s", key, jsonText(v))
		return nil
	}
	out := make(Metadata, len(m))
	for label, ev := range m {
		entry, ok := ev.(map[string]any)
		if !ok {
			p.fail("metadata %q must be {\"raw_value\": …, \"type\": …}, got %s", label, jsonText(ev))
			continue
		}
		for k := range entry {
			if k != "raw_value" && k != "type" {
				p.fail("metadata %q has unexpected key %q (only raw_value and type)", label, k)
			}
		}
		raw, hasRaw := entry["raw_value"]
		typ, ok := entry["type"].(string)
		if !hasRaw {
			p.fail("metadata %q has no raw_value", label)
		}
		if !ok {
			p.fail("metadata %q: type must be a string, got %s", label, jsonText(entry["type"]))
			continue
		}
		rawJSON, _ := json.Marshal(raw)
		out[label] = MetadataEntry{Type: pipes.MetadataType(typ), Raw: raw, RawJSON: rawJSON}
		if msg := checkMetadataValue(pipes.MetadataType(typ), raw); msg != "" {
			p.fail("metadata %q (type %q): %s", label, typ, msg)
		}
	}
	return out
}

// checkMetadataValue returns what is wrong with raw as a value of type t
// for Dagster, or "".
func checkMetadataValue(t pipes.MetadataType, raw any) string {
	switch t {
	case pipes.MetadataInfer, pipes.MetadataNull:
		return ""
	case pipes.MetadataText, pipes.MetadataURL, pipes.MetadataPath, pipes.MetadataNotebook, pipes.MetadataMarkdown:
		if _, ok := raw.(string); !ok && raw != nil {
			return "raw_value must be a string, got " + jsonText(raw)
		}
	case pipes.MetadataDagsterRun, pipes.MetadataAsset:
		if _, ok := raw.(string); !ok {
			return "raw_value must be a string, got " + jsonText(raw)
		}
	case pipes.MetadataJSON:
		// Dagster's MetadataValue.json takes a mapping, a sequence (a str
		// is one) or None.
		switch raw.(type) {
		case map[string]any, []any, string, nil:
		default:
			return "raw_value must be a JSON object, array, string or null, got " + jsonText(raw)
		}
	case pipes.MetadataInt:
		// Python's bool is an int, so Dagster's int check takes true.
		if _, isBool := raw.(bool); isBool {
			return ""
		}
		if n, ok := raw.(json.Number); raw != nil && (!ok || !isIntSpelling(string(n))) {
			return "raw_value must be an integer (no decimal point), got " + jsonText(raw)
		}
	case pipes.MetadataFloat:
		if n, ok := raw.(json.Number); raw != nil && (!ok || isIntSpelling(string(n))) {
			return "raw_value must be a number with a decimal point (Python reads 1 as an int), got " + jsonText(raw)
		}
	case pipes.MetadataBool:
		if _, ok := raw.(bool); !ok && raw != nil {
			return "raw_value must be a bool, got " + jsonText(raw)
		}
	case pipes.MetadataTimestamp:
		if _, isBool := raw.(bool); isBool {
			return ""
		}
		if n, ok := raw.(json.Number); ok {
			if f, err := strconv.ParseFloat(string(n), 64); err != nil || math.IsInf(f, 0) {
				return "raw_value must be a number of seconds that fits a float, got " + jsonText(raw)
			}
		}
		if _, ok := raw.(json.Number); !ok {
			return "raw_value must be a number of seconds since the Unix epoch, got " + jsonText(raw)
		}
	case pipes.MetadataTable:
		m, ok := raw.(map[string]any)
		if !ok {
			return "raw_value must be an object {records, schema}, got " + jsonText(raw)
		}
		recs, ok := m["records"].([]any)
		if !ok {
			return "records must be an array"
		}
		for i, r := range recs {
			rec, ok := r.(map[string]any)
			if !ok {
				return fmt.Sprintf("records[%d] must be an object", i)
			}
			for col, v := range rec {
				switch v.(type) {
				case string, json.Number, bool, nil:
				default:
					return fmt.Sprintf("records[%d].%s must be a string, number, bool or null, got %s", i, col, jsonText(v))
				}
			}
		}
		return checkColumns(m["schema"], "schema")
	case pipes.MetadataTableSchema:
		m, ok := raw.(map[string]any)
		if !ok {
			return "raw_value must be an object {columns}, got " + jsonText(raw)
		}
		return checkColumns(m["columns"], "columns")
	case pipes.MetadataTableColumnLineage:
		m, ok := raw.(map[string]any)
		if !ok {
			return "raw_value must be an object {deps_by_column}, got " + jsonText(raw)
		}
		deps, ok := m["deps_by_column"].(map[string]any)
		if !ok {
			return "deps_by_column must be an object"
		}
		for col, l := range deps {
			list, ok := l.([]any)
			if !ok {
				return fmt.Sprintf("deps_by_column.%s must be an array", col)
			}
			for i, d := range list {
				dep, ok := d.(map[string]any)
				_, k1 := dep["asset_key"].(string)
				_, k2 := dep["column_name"].(string)
				if !ok || len(dep) != 2 || !k1 || !k2 {
					return fmt.Sprintf("deps_by_column.%s[%d] must be {\"asset_key\": string, \"column_name\": string}, got %s", col, i, jsonText(d))
				}
			}
		}
	default:
		return "unknown metadata type (Dagster: Unexpected metadata type)"
	}
	return ""
}

func checkColumns(v any, name string) string {
	cols, ok := v.([]any)
	if !ok {
		return name + " must be an array of columns"
	}
	for i, c := range cols {
		col, ok := c.(map[string]any)
		if !ok {
			return fmt.Sprintf("%s[%d] must be an object", name, i)
		}
		if _, ok := col["name"].(string); !ok {
			return fmt.Sprintf("%s[%d].name must be a string", name, i)
		}
		if _, ok := col["type"].(string); !ok {
			return fmt.Sprintf("%s[%d].type must be a string", name, i)
		}
		if d, ok := col["description"]; ok && d != nil {
			if _, ok := d.(string); !ok {
				return fmt.Sprintf("%s[%d].description must be a string", name, i)
			}
		}
		if tags, ok := col["tags"]; ok && tags != nil {
			tm, ok := tags.(map[string]any)
			if !ok {
				return fmt.Sprintf("%s[%d].tags must be an object of strings", name, i)
			}
			for _, tv := range tm {
				if _, ok := tv.(string); !ok {
					return fmt.Sprintf("%s[%d].tags must be an object of strings", name, i)
				}
			}
		}
		if cons, ok := col["constraints"]; ok && cons != nil {
			cm, ok := cons.(map[string]any)
			if !ok {
				return fmt.Sprintf("%s[%d].constraints must be an object", name, i)
			}
			for k, cv := range cm {
				switch k {
				case "nullable", "unique":
					if _, ok := cv.(bool); !ok {
						return fmt.Sprintf("%s[%d].constraints.%s must be a bool", name, i, k)
					}
				case "other":
					if _, ok := cv.([]any); !ok {
						return fmt.Sprintf("%s[%d].constraints.other must be an array of strings", name, i)
					}
				default:
					return fmt.Sprintf("%s[%d].constraints has unexpected key %q", name, i, k)
				}
			}
		}
	}
	return ""
}

// checkException checks a PipesException object: exactly the five keys,
// as Dagster reads them all by index.
func checkException(v any, path string, fail func(string, ...any), depth int) bool {
	e, ok := v.(map[string]any)
	if !ok {
		fail("%s must be an object {message, stack, name, cause, context}, got %s", path, jsonText(v))
		return false
	}
	good := true
	for _, k := range []string{"message", "stack", "name", "cause", "context"} {
		if _, ok := e[k]; !ok {
			fail("%s is missing %q (Dagster reads all five keys)", path, k)
			good = false
		}
	}
	for k := range e {
		switch k {
		case "message", "stack", "name", "cause", "context":
		default:
			fail("%s has unexpected key %q", path, k)
			good = false
		}
	}
	if _, ok := e["message"].(string); !ok {
		fail("%s.message must be a string", path)
		good = false
	}
	if n, ok := e["name"]; ok && n != nil {
		if _, ok := n.(string); !ok {
			fail("%s.name must be a string or null", path)
			good = false
		}
	}
	st, ok := e["stack"].([]any)
	if !ok {
		fail("%s.stack must be an array of strings", path)
		good = false
	}
	for _, s := range st {
		if _, ok := s.(string); !ok {
			fail("%s.stack must be an array of strings", path)
			good = false
			break
		}
	}
	if depth < 64 {
		for _, k := range []string{"cause", "context"} {
			if sub := e[k]; sub != nil {
				good = checkException(sub, path+"."+k, fail, depth+1) && good
			}
		}
	}
	return good
}
