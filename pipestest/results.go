package pipestest

import (
	"encoding/json"

	"github.com/dagster-pipes-go/pipes"
	"github.com/dagster-pipes-go/pipes/internal/orchestrator"
)

// Result is what the code under test reported in one session, decoded as
// Dagster decodes it.
type Result struct {
	// Opened is true once the opened message arrived; OpenedExtras are its
	// extras.
	Opened       bool
	OpenedExtras map[string]any
	// Materializations are the asset materializations, in the order they
	// arrived.
	Materializations []Materialization
	// Checks are the asset-check results, in the order they arrived.
	Checks []Check
	// Logs are the log messages, in the order they arrived.
	Logs []Log
	// CustomMessages are the payloads of report_custom_message, decoded
	// with numbers as json.Number.
	CustomMessages []any
	// ExternalStreams are the log_external_stream messages (forwarded
	// stdout and stderr), in order.
	ExternalStreams []StreamText
	// Closed is true once the closed message arrived; Exception is the
	// error it carried, if any.
	Closed    bool
	Exception *pipes.Exception
	// Messages are all messages, in order, as they arrived.
	Messages []RawMessage
	// ProtocolErrors lists every way the messages broke the protocol (what
	// Dagster would reject, a missing opened or closed message), each a
	// *ProtocolError.
	ProtocolErrors []error

	// Err is how the code under test ended: the error pipes.Run returned
	// (RunJob), or the error of running the program (RunCommand: an
	// *exec.ExitError for a non-zero exit status); nil on success.
	Err error
	// Stdout and Stderr are what the program wrote to those streams,
	// without the message lines, when they were captured.
	Stdout, Stderr string
}

// Materialization is a reported asset materialization.
type Materialization struct {
	// AssetKey is the asset's key as an escaped user string ("a/b").
	AssetKey string
	// DataVersion is "" when none was sent (null).
	DataVersion string
	// Metadata is what was attached; nil when none was sent.
	Metadata Metadata
}

// Check is a reported asset-check result.
type Check struct {
	// AssetKey is the key of the asset checked.
	AssetKey string
	// CheckName is the check's name.
	CheckName string
	// Passed says whether the check passed.
	Passed bool
	// Severity is the severity sent (ERROR or WARN).
	Severity pipes.Severity
	// Metadata is what was attached; nil when none was sent.
	Metadata Metadata
}

// Log is a log message.
type Log struct {
	// Level is the level name as sent: "DEBUG", "INFO", "WARNING", "ERROR"
	// or "CRITICAL" ("INFO" when the message had none, as Dagster defaults
	// it).
	Level string
	// Message is the text.
	Message string
}

// StreamText is a log_external_stream message: text the process wrote to
// its stdout or stderr.
type StreamText struct {
	// Stream is "stdout" or "stderr".
	Stream string
	// Text is the text, as forwarded.
	Text string
}

// Metadata maps metadata labels to their entries.
type Metadata map[string]MetadataEntry

// MetadataEntry is one metadata value as Dagster receives it.
type MetadataEntry struct {
	// Type is the type string that was sent, such as "int" or "__infer__".
	Type pipes.MetadataType
	// Raw is the decoded raw_value: string, bool, nil, json.Number, []any
	// or map[string]any (numbers inside are json.Number).
	Raw any
	// RawJSON is the raw_value exactly as sent.
	RawJSON json.RawMessage
}

// Effective returns the type Dagster gives the value: Type itself or, for
// "__infer__", the type Dagster infers from the JSON value (text, float,
// int, bool, json or null).
func (e MetadataEntry) Effective() pipes.MetadataType {
	return orchestrator.MetadataEntry(e).Effective()
}

// Text returns the value if it is a string.
func (e MetadataEntry) Text() (string, bool) { return orchestrator.MetadataEntry(e).Text() }

// Int returns the value if it is a JSON integer (written without a decimal
// point or exponent, as Python's json module tells an int).
func (e MetadataEntry) Int() (int64, bool) { return orchestrator.MetadataEntry(e).Int() }

// Float returns the value if it is a JSON number.
func (e MetadataEntry) Float() (float64, bool) { return orchestrator.MetadataEntry(e).Float() }

// Bool returns the value if it is a JSON boolean.
func (e MetadataEntry) Bool() (bool, bool) { return orchestrator.MetadataEntry(e).Bool() }

// String formats the value for people: a string as it is, anything else as
// its JSON.
func (e MetadataEntry) String() string { return orchestrator.MetadataEntry(e).String() }

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

// ProtocolError is a message that Dagster would reject, or a break of the
// protocol's rules by the session as a whole.
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
func (e *ProtocolError) Error() string { return (*orchestrator.ProtocolError)(e).Error() }

// Materialization returns the materialization reported for assetKey.
func (r *Result) Materialization(assetKey string) (Materialization, bool) {
	for _, m := range r.Materializations {
		if m.AssetKey == assetKey {
			return m, true
		}
	}
	return Materialization{}, false
}

// Check returns the last result reported for the check named checkName on
// assetKey.
func (r *Result) Check(assetKey, checkName string) (Check, bool) {
	for i := len(r.Checks) - 1; i >= 0; i-- {
		if c := r.Checks[i]; c.AssetKey == assetKey && c.CheckName == checkName {
			return c, true
		}
	}
	return Check{}, false
}

// LogMessages returns the text of the logs at level ("INFO", "WARNING", …,
// compared case-insensitively, with WARN and FATAL as aliases), or of all
// logs when level is "".
func (r *Result) LogMessages(level string) []string {
	want := orchestrator.NormalizeLevel(level)
	var out []string
	for _, l := range r.Logs {
		if level == "" || orchestrator.NormalizeLevel(l.Level) == want {
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

// newResult converts what the collector gathered.
func newResult(o *orchestrator.Result) *Result {
	r := &Result{
		Opened:         o.Opened,
		OpenedExtras:   o.OpenedExtras,
		CustomMessages: o.CustomMessages,
		Closed:         o.Closed,
		Exception:      o.Exception,
		Err:            o.Err,
		Stdout:         o.Stdout,
		Stderr:         o.Stderr,
	}
	for _, m := range o.Materializations {
		r.Materializations = append(r.Materializations, Materialization{AssetKey: m.AssetKey, DataVersion: m.DataVersion, Metadata: newMetadata(m.Metadata)})
	}
	for _, c := range o.Checks {
		r.Checks = append(r.Checks, Check{AssetKey: c.AssetKey, CheckName: c.CheckName, Passed: c.Passed, Severity: c.Severity, Metadata: newMetadata(c.Metadata)})
	}
	for _, l := range o.Logs {
		r.Logs = append(r.Logs, Log(l))
	}
	for _, s := range o.ExternalStreams {
		r.ExternalStreams = append(r.ExternalStreams, StreamText(s))
	}
	for _, m := range o.Messages {
		r.Messages = append(r.Messages, RawMessage(m))
	}
	for _, err := range o.ProtocolErrors {
		if pe, ok := err.(*orchestrator.ProtocolError); ok {
			err = (*ProtocolError)(pe)
		}
		r.ProtocolErrors = append(r.ProtocolErrors, err)
	}
	return r
}

func newMetadata(m orchestrator.Metadata) Metadata {
	if m == nil {
		return nil
	}
	out := make(Metadata, len(m))
	for k, e := range m {
		out[k] = MetadataEntry(e)
	}
	return out
}
