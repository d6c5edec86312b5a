package orchestrator

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/dagster-pipes-go/pipes"
)

// RawMessage is one message as it arrived.
type RawMessage struct {
	// Index is the message's position, from 1, among the messages of the
	// session.
	Index int
	// Method is the message's method ("" if it had none).
	Method pipes.Method
	// Params is the params object as sent (may be "null").
	Params json.RawMessage
	// JSON is the whole message as sent, without the newline.
	JSON json.RawMessage
}

// MetadataEntry is one metadata value as Dagster receives it.
type MetadataEntry struct {
	// Type is the type string that was sent, e.g. "int" or "__infer__".
	Type pipes.MetadataType
	// Raw is the decoded raw_value: string, bool, nil, json.Number,
	// []any or map[string]any (numbers inside are json.Number).
	Raw any
	// RawJSON is the raw_value exactly as sent.
	RawJSON json.RawMessage
}

// Metadata maps metadata labels to their entries.
type Metadata map[string]MetadataEntry

// Materialization is a report_asset_materialization message.
type Materialization struct {
	AssetKey string
	// DataVersion is "" when none was sent (null).
	DataVersion string
	Metadata    Metadata
}

// Check is a report_asset_check message.
type Check struct {
	AssetKey  string
	CheckName string
	Passed    bool
	Severity  pipes.Severity
	Metadata  Metadata
}

// Log is a log message.
type Log struct {
	// Level is the level name as sent ("INFO", "WARNING", …); "INFO" when
	// the message had none, as Dagster defaults it.
	Level   string
	Message string
}

// StreamText is a log_external_stream message.
type StreamText struct {
	Stream string
	Text   string
}

// Result is everything the external process reported.
type Result struct {
	// Opened is true once the opened message arrived; OpenedExtras are its
	// extras.
	Opened       bool
	OpenedExtras map[string]any
	// Materializations, Checks, Logs, CustomMessages and ExternalStreams
	// are the reports, in the order they arrived.
	Materializations []Materialization
	Checks           []Check
	Logs             []Log
	// CustomMessages are the payloads of report_custom_message, decoded
	// with numbers as json.Number.
	CustomMessages  []any
	ExternalStreams []StreamText
	// Closed is true once the closed message arrived; Exception is the
	// error it carried, if any.
	Closed    bool
	Exception *pipes.Exception
	// Messages are all messages, in order, as they arrived.
	Messages []RawMessage
	// ProtocolErrors lists every way the messages broke the protocol:
	// what Dagster would reject, and a missing opened or closed message.
	ProtocolErrors []error

	// Err is how the code under test ended: the error a job returned, or
	// the error from running a program (an *exec.ExitError for a non-zero
	// exit status); nil on success.
	Err error
	// Stdout and Stderr are what the program wrote to those streams,
	// without the message lines, when they were captured.
	Stdout, Stderr string
}

// Materialization returns the materialization reported for assetKey.
func (r *Result) Materialization(assetKey string) (Materialization, bool) {
	for _, m := range r.Materializations {
		if m.AssetKey == assetKey {
			return m, true
		}
	}
	return Materialization{}, false
}

// Check returns the last result reported for the check named checkName
// on assetKey.
func (r *Result) Check(assetKey, checkName string) (Check, bool) {
	for i := len(r.Checks) - 1; i >= 0; i-- {
		if c := r.Checks[i]; c.AssetKey == assetKey && c.CheckName == checkName {
			return c, true
		}
	}
	return Check{}, false
}

// LogMessages returns the text of the logs at level ("INFO", "WARNING",
// …, compared case-insensitively, with WARN and FATAL as aliases), or of
// all logs when level is "".
func (r *Result) LogMessages(level string) []string {
	want := NormalizeLevel(level)
	var out []string
	for _, l := range r.Logs {
		if level == "" || NormalizeLevel(l.Level) == want {
			out = append(out, l.Message)
		}
	}
	return out
}

// Failed reports whether the session failed as Dagster would see it: the
// code under test returned an error or exited non-zero, the closed message
// carried an exception or never came, or a message broke the protocol.
func (r *Result) Failed() bool {
	return r.Err != nil || r.Exception != nil || !r.Closed || len(r.ProtocolErrors) > 0
}

// NormalizeLevel maps a level name to the upper-case name Dagster logs it
// at ("warn" is "WARNING", "fatal" is "CRITICAL"); an unknown name is
// returned upper-cased.
func NormalizeLevel(level string) string {
	l := strings.ToUpper(level)
	switch l {
	case "WARN":
		return "WARNING"
	case "FATAL":
		return "CRITICAL"
	}
	return l
}

// Effective returns the type Dagster gives the value: Type itself, or for
// "__infer__" the type Dagster infers from the JSON value (text, float, int,
// bool, json or null).
func (e MetadataEntry) Effective() pipes.MetadataType {
	if e.Type != pipes.MetadataInfer {
		return e.Type
	}
	switch v := e.Raw.(type) {
	case string:
		return pipes.MetadataText
	case bool:
		return pipes.MetadataBool
	case json.Number:
		if isIntSpelling(string(v)) {
			return pipes.MetadataInt
		}
		return pipes.MetadataFloat
	case []any, map[string]any:
		return pipes.MetadataJSON
	}
	return pipes.MetadataNull
}

// Text returns the value if it is a string.
func (e MetadataEntry) Text() (string, bool) {
	s, ok := e.Raw.(string)
	return s, ok
}

// Int returns the value if it is a JSON integer.
func (e MetadataEntry) Int() (int64, bool) {
	n, ok := e.Raw.(json.Number)
	if !ok || !isIntSpelling(string(n)) {
		return 0, false
	}
	i, err := n.Int64()
	return i, err == nil
}

// Float returns the value if it is a JSON number.
func (e MetadataEntry) Float() (float64, bool) {
	n, ok := e.Raw.(json.Number)
	if !ok {
		return 0, false
	}
	f, err := n.Float64()
	return f, err == nil
}

// Bool returns the value if it is a JSON boolean.
func (e MetadataEntry) Bool() (bool, bool) {
	b, ok := e.Raw.(bool)
	return b, ok
}

// String formats the value for people: strings as they are, anything else
// as its JSON.
func (e MetadataEntry) String() string {
	if s, ok := e.Raw.(string); ok {
		return s
	}
	return string(e.RawJSON)
}

// isIntSpelling reports whether a JSON number is written as an integer,
// which is how Python's json module tells int from float.
func isIntSpelling(s string) bool {
	return !strings.ContainsAny(s, ".eE")
}

// ProtocolError is a message that Dagster would reject or that breaks the
// protocol's rules.
type ProtocolError struct {
	// Index is the message's position, from 1; 0 for an error about the
	// session as a whole (a missing closed message).
	Index int
	// Method is the message's method, if known.
	Method string
	// Msg says what is wrong.
	Msg string
}

// Error implements error.
func (e *ProtocolError) Error() string {
	switch {
	case e.Index == 0:
		return "pipes protocol: " + e.Msg
	case e.Method == "":
		return "pipes protocol: message " + strconv.Itoa(e.Index) + ": " + e.Msg
	}
	return fmt.Sprintf("pipes protocol: message %d (%s): %s", e.Index, e.Method, e.Msg)
}
