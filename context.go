package pipes

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"time"
)

// Context is the external process's view of a Pipes session: the context
// Dagster injected, and the methods that report back to it. Get one with
// [Open] or [Run]. All methods are safe for concurrent use; each message is
// written whole.
//
// When the process was not launched by Dagster, Open returns a no-op
// Context: accessors return zero values, reports succeed and write nothing.
type Context struct {
	data *ContextData
	noop bool

	mu           sync.Mutex
	channel      MessageWriterChannel
	closed       bool
	materialized map[string]struct{}
	buf          []byte // scratch buffer for message params, guarded by mu

	logger   *slog.Logger
	logLevel slog.Leveler // WithLogLevel's threshold; nil sends every level
}

// Severity is the severity of a failed asset check.
type Severity string

// The severities Dagster accepts.
const (
	SeverityError Severity = "ERROR"
	SeverityWarn  Severity = "WARN"
)

// Materialization is what [Context.ReportAssetMaterialization] reports.
type Materialization struct {
	// AssetKey is the asset materialized; "" means the step's only asset.
	AssetKey string
	// DataVersion is the data version of the new value; "" means none.
	DataVersion string
	// Metadata is attached to the materialization.
	Metadata Metadata
}

// AssetCheck is what [Context.ReportAssetCheck] reports.
type AssetCheck struct {
	// AssetKey is the asset checked; "" means the step's only asset.
	AssetKey string
	// CheckName is the check's name, as declared on the Dagster side.
	CheckName string
	// Passed says whether the check passed.
	Passed bool
	// Severity of a failure; "" means SeverityError.
	Severity Severity
	// Metadata is attached to the check's evaluation.
	Metadata Metadata
}

// TimeWindow is the time window of a time-partitioned step.
type TimeWindow struct {
	Start, End time.Time
}

func newNoopContext() *Context {
	p := &Context{data: &ContextData{Extras: map[string]any{}}, noop: true}
	p.logger = slog.New(discardHandler{})
	return p
}

// IsOrchestrated reports whether this process was launched by Dagster; it
// is false for the no-op Context.
func (p *Context) IsOrchestrated() bool { return !p.noop }

// Data returns the context data Dagster injected. The struct is a copy; its
// maps and slices are shared with the Context and must not be modified.
func (p *Context) Data() ContextData { return *p.data }

// IsAssetStep reports whether the step targets assets.
func (p *Context) IsAssetStep() bool { return p.data.AssetKeys != nil }

func (p *Context) undefined(format string, args ...any) error {
	if p.noop {
		return nil
	}
	return newError(ErrUndefined, format, args...)
}

func notAsset(name string) string {
	return "Missing required property: `" + name + "` is undefined. Current step does not target an asset."
}

func multiAsset(name string) string {
	return "`" + name + "` is undefined. Current step targets multiple assets."
}

// AssetKey returns the key of the asset the step targets. It is an error
// when the step targets no asset or several.
func (p *Context) AssetKey() (string, error) {
	keys := p.data.AssetKeys
	if keys == nil {
		return "", p.undefined("%s", notAsset("asset_key"))
	}
	if len(keys) != 1 {
		return "", p.undefined("%s", multiAsset("asset_key"))
	}
	return keys[0], nil
}

// AssetKeys returns the keys of the assets the step targets, each an escaped
// user string ("a/b" for the key ["a", "b"]; see [AssetKeyPath]).
func (p *Context) AssetKeys() ([]string, error) {
	if p.data.AssetKeys == nil {
		return nil, p.undefined("%s", notAsset("asset_keys"))
	}
	return slices.Clone(p.data.AssetKeys), nil
}

// singleAssetValue implements the shared rule of CodeVersion and Provenance.
func singleAssetValue[V any](p *Context, m map[string]V, name string) (V, error) {
	var zero V
	if m == nil {
		return zero, p.undefined("%s", notAsset(name))
	}
	if len(p.data.AssetKeys) != 1 {
		return zero, p.undefined("%s", multiAsset(name))
	}
	return m[p.data.AssetKeys[0]], nil
}

// CodeVersion returns the code version of the asset the step targets; ""
// when the asset has none.
func (p *Context) CodeVersion() (string, error) {
	v, err := singleAssetValue(p, p.data.CodeVersionByAssetKey, "code_version")
	if v == nil {
		return "", err
	}
	return *v, err
}

// CodeVersionByAssetKey returns the code version of each targeted asset; ""
// for an asset that has none.
func (p *Context) CodeVersionByAssetKey() (map[string]string, error) {
	m := p.data.CodeVersionByAssetKey
	if m == nil {
		return nil, p.undefined("%s", notAsset("code_version_by_asset_key"))
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		if v != nil {
			out[k] = *v
		} else {
			out[k] = ""
		}
	}
	return out, nil
}

// Provenance returns the provenance of the last materialization of the asset
// the step targets; nil when there is none.
func (p *Context) Provenance() (*DataProvenance, error) {
	return singleAssetValue(p, p.data.ProvenanceByAssetKey, "provenance")
}

// ProvenanceByAssetKey returns the provenance of each targeted asset (nil
// values for assets never materialized).
func (p *Context) ProvenanceByAssetKey() (map[string]*DataProvenance, error) {
	m := p.data.ProvenanceByAssetKey
	if m == nil {
		return nil, p.undefined("%s", notAsset("provenance_by_asset_key"))
	}
	return maps.Clone(m), nil
}

// IsPartitionStep reports whether the step targets partitions.
func (p *Context) IsPartitionStep() bool { return p.data.PartitionKeyRange != nil }

func notPartitioned(name string) string {
	return "Missing required property: `" + name + "` is undefined. Current step does not target any partitions."
}

// PartitionKey returns the partition key of the step.
func (p *Context) PartitionKey() (string, error) {
	if p.data.PartitionKey == nil {
		return "", p.undefined("%s", notPartitioned("partition_key"))
	}
	return *p.data.PartitionKey, nil
}

// PartitionKeyRange returns the range of partition keys of the step.
func (p *Context) PartitionKeyRange() (PartitionKeyRange, error) {
	if p.data.PartitionKeyRange == nil {
		return PartitionKeyRange{}, p.undefined("%s", notPartitioned("partition_key_range"))
	}
	return *p.data.PartitionKeyRange, nil
}

// PartitionTimeWindow returns the time window of a time-partitioned step,
// parsed. It is nil, with no error, for a step whose partitions are not
// time windows, and an error for a step that targets no partitions.
func (p *Context) PartitionTimeWindow() (*TimeWindow, error) {
	if p.data.PartitionKeyRange == nil {
		return nil, p.undefined("%s", notPartitioned("partition_time_window"))
	}
	w := p.data.PartitionTimeWindow
	if w == nil {
		return nil, nil
	}
	start, err := parseISOTime(w.Start)
	if err != nil {
		return nil, wrapError(ErrInvalidContext, err, "partition_time_window.start %q is not an ISO-8601 time", w.Start)
	}
	end, err := parseISOTime(w.End)
	if err != nil {
		return nil, wrapError(ErrInvalidContext, err, "partition_time_window.end %q is not an ISO-8601 time", w.End)
	}
	return &TimeWindow{Start: start, End: end}, nil
}

// parseISOTime parses what Python's datetime.isoformat writes: RFC 3339 with
// an offset, or a naive time (taken as UTC), with or without fractions.
func parseISOTime(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	for _, layout := range []string{"2006-01-02T15:04:05.999999999", "2006-01-02 15:04:05.999999999Z07:00", "2006-01-02 15:04:05.999999999", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	_, err := time.Parse(time.RFC3339Nano, s)
	return time.Time{}, err
}

// RunID returns the id of the Dagster run.
func (p *Context) RunID() string { return p.data.RunID }

// JobName returns the name of the Dagster job; "" when there is none.
func (p *Context) JobName() string {
	if p.data.JobName == nil {
		return ""
	}
	return *p.data.JobName
}

// RetryNumber returns the retry number of the run (0 for the first try).
func (p *Context) RetryNumber() int { return p.data.RetryNumber }

// Extras returns the extras the Dagster side passed (a copy of the map).
// Numbers are [json.Number], objects map[string]any, arrays []any.
func (p *Context) Extras() map[string]any { return maps.Clone(p.data.Extras) }

// Extra returns one extra. It is an error, matching [ErrUndefined], when
// the extra was not passed.
func (p *Context) Extra(key string) (any, error) {
	v, ok := p.data.Extras[key]
	if !ok {
		return nil, p.undefined("Extra `%s` is undefined. Extras must be provided by user.", key)
	}
	return v, nil
}

// DecodeExtra decodes the extra named key into target, a pointer, as
// encoding/json would: p.DecodeExtra("limit", &limit). Numbers decoded
// into fields of type any are [json.Number].
func (p *Context) DecodeExtra(key string, target any) error {
	v, err := p.Extra(key)
	if err != nil || p.noop {
		return err
	}
	raw, err := appendJSON(nil, v)
	if err != nil {
		return wrapError(ErrInvalidContext, err, "extra `%s`", key)
	}
	// UseNumber: numbers landing in `any` fields stay json.Number, exact
	// and still an int or a float as Dagster sent them.
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(target); err != nil {
		return wrapError(ErrInvalidValue, err, "extra `%s` cannot be decoded into %T", key, target)
	}
	return nil
}

// Log returns the logger whose records Dagster shows in its log, at the
// matching level: DEBUG, INFO, WARNING, ERROR, and CRITICAL for
// [LevelCritical] and above. Attributes are appended to the message as
// key=value pairs. Records logged after Close are dropped.
func (p *Context) Log() *slog.Logger { return p.logger }

// LogMessage sends msg to Dagster's log at level (DEBUG, INFO, WARNING,
// ERROR or CRITICAL, as for [Context.Log]) without going through slog: no
// attributes, and none of slog's per-record work (caller and time capture).
// It is the fastest way to log from a hot loop and, unlike a
// *slog.Logger, it returns the error: [ErrClosed] after Close. A level
// below WithLogLevel's threshold is dropped.
func (p *Context) LogMessage(level slog.Level, msg string) error {
	if p.logLevel != nil && level < p.logLevel.Level() {
		return nil
	}
	return logText(p, levelName(level), msg, "")
}

// IsClosed reports whether the Context has been closed.
func (p *Context) IsClosed() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.closed
}

// resolveAssetKey applies the reference's rules to the key passed to a
// report method.
func (p *Context) resolveAssetKey(key, method string) (string, error) {
	keys := p.data.AssetKeys
	if len(keys) > 0 {
		if key != "" && !slices.Contains(keys, key) {
			return "", newError(ErrInvalidAssetKey, "Invalid asset key. Expected one of `%s`, got `%s`.", pyStrListRepr(keys), key)
		}
		if key == "" {
			if len(keys) != 1 {
				return "", newError(ErrInvalidAssetKey,
					"Calling `%s` without passing an asset key is undefined. Current step targets multiple assets.", method)
			}
			key = keys[0]
		}
	}
	if key == "" {
		return "", newError(ErrInvalidAssetKey,
			"Calling `%s` without passing an asset key is undefined. Current step does not target a specific asset.", method)
	}
	return key, nil
}

// send writes one message whose params are in p.buf. The caller holds p.mu.
func (p *Context) send(method Method) error {
	return p.channel.WriteMessage(Message{Method: method, Params: p.buf})
}

func (p *Context) closedError() error {
	return &Error{Kind: ErrClosed, Msg: "Cannot send message after pipes context is closed."}
}

// lockOpen locks p for writing a message; once p is closed it does not
// lock and returns the reference's closed error.
func (p *Context) lockOpen() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return p.closedError()
	}
	return nil
}

// ReportAssetMaterialization tells Dagster that an asset was materialized.
// An asset can be reported once per step; a second report for the same key
// is refused with [ErrAlreadyMaterialized]. Invalid metadata (NaN, an
// unknown type, a value that is not JSON) is refused with
// [ErrInvalidMetadata] and nothing is written.
func (p *Context) ReportAssetMaterialization(m Materialization) error {
	const method = "report_asset_materialization"
	if p.noop {
		return nil
	}
	if err := p.lockOpen(); err != nil {
		return err
	}
	defer p.mu.Unlock()
	key, err := p.resolveAssetKey(m.AssetKey, method)
	if err != nil {
		return err
	}
	if _, done := p.materialized[key]; done {
		return newError(ErrAlreadyMaterialized,
			"Calling `%s` with asset key `%s` is undefined. Asset has already been materialized, so no additional data can be reported for it.", method, key)
	}
	b := append(p.buf[:0], `{"asset_key":`...)
	b = appendString(b, key)
	b = append(b, `,"data_version":`...)
	if m.DataVersion == "" {
		b = append(b, "null"...)
	} else {
		b = appendString(b, m.DataVersion)
	}
	b = append(b, `,"metadata":`...)
	b, err = appendMetadata(b, m.Metadata, method)
	p.buf = b
	if err != nil {
		return err
	}
	p.buf = append(p.buf, '}')
	if err := p.send(MethodReportAssetMaterialization); err != nil {
		return err
	}
	p.materialized[key] = struct{}{}
	return nil
}

// ReportAssetCheck tells Dagster the result of an asset check.
func (p *Context) ReportAssetCheck(c AssetCheck) error {
	const method = "report_asset_check"
	if p.noop {
		return nil
	}
	severity := c.Severity
	if severity == "" {
		severity = SeverityError
	}
	if severity != SeverityError && severity != SeverityWarn {
		return newError(ErrInvalidValue,
			"Invalid value for parameter `severity` of `%s`. Expected one of `['ERROR', 'WARN']`, got `%s`.", method, severity)
	}
	if c.CheckName == "" {
		return newError(ErrInvalidValue, "Invalid value for parameter `check_name` of `%s`: the check name is required.", method)
	}
	if err := p.lockOpen(); err != nil {
		return err
	}
	defer p.mu.Unlock()
	key, err := p.resolveAssetKey(c.AssetKey, method)
	if err != nil {
		return err
	}
	b := append(p.buf[:0], `{"asset_key":`...)
	b = appendString(b, key)
	b = append(b, `,"check_name":`...)
	b = appendString(b, c.CheckName)
	b = append(b, `,"passed":`...)
	b = appendBool(b, c.Passed)
	b = append(b, `,"metadata":`...)
	b, err = appendMetadata(b, c.Metadata, method)
	p.buf = b
	if err != nil {
		return err
	}
	p.buf = append(p.buf, `,"severity":`...)
	p.buf = appendString(p.buf, string(severity))
	p.buf = append(p.buf, '}')
	return p.send(MethodReportAssetCheck)
}

// ReportCustomMessage sends any JSON value to Dagster, where it is returned
// by get_custom_messages() on the Dagster side. Go floats keep a decimal
// point so that Python reads them as floats; a payload that cannot be JSON
// (NaN, channels, functions) is refused with [ErrInvalidValue].
func (p *Context) ReportCustomMessage(payload any) error {
	if p.noop {
		return nil
	}
	if err := p.lockOpen(); err != nil {
		return err
	}
	defer p.mu.Unlock()
	b, err := appendJSON(append(p.buf[:0], `{"payload":`...), payload)
	p.buf = b
	if err != nil {
		return wrapError(ErrInvalidValue, err, "Invalid payload for `report_custom_message`: it cannot be sent as JSON")
	}
	p.buf = append(p.buf, '}')
	return p.send(MethodReportCustomMessage)
}

// LogExternalStream forwards text written to the process's stdout or
// stderr (stream is [StreamStdout] or [StreamStderr]); Dagster writes it to
// its own stream verbatim.
func (p *Context) LogExternalStream(stream, text string, extras map[string]any) error {
	if p.noop {
		return nil
	}
	if stream != StreamStdout && stream != StreamStderr {
		return newError(ErrInvalidValue,
			"Invalid value for parameter `stream` of `log_external_stream`. Expected one of `['stderr', 'stdout']`, got `%s`.", stream)
	}
	if err := p.lockOpen(); err != nil {
		return err
	}
	defer p.mu.Unlock()
	b := append(p.buf[:0], `{"stream":`...)
	b = appendString(b, stream)
	b = append(b, `,"text":`...)
	b = appendString(b, text)
	b = append(b, `,"extras":`...)
	if extras == nil {
		b = append(b, "{}"...)
	} else {
		var err error
		if b, err = appendStringMap(b, extras); err != nil {
			p.buf = b
			return wrapError(ErrInvalidValue, err, "Invalid extras for `log_external_stream`: they cannot be sent as JSON")
		}
	}
	p.buf = append(b, '}')
	return p.send(MethodLogExternalStream)
}

// logText writes a log message whose text is msg followed by suffix
// (already escaped for the inside of a JSON string: the handler's formatted
// attributes), encoded straight into the Context's buffer.
func logText[S ~string | ~[]byte](p *Context, level, msg string, suffix S) error {
	if p.noop {
		return nil
	}
	if err := p.lockOpen(); err != nil {
		return err
	}
	defer p.mu.Unlock()
	b := append(p.buf[:0], `{"message":"`...)
	b = appendStringContent(b, msg)
	b = append(b, suffix...)
	b = append(b, `","level":"`...)
	b = append(b, level...)
	p.buf = append(b, '"', '}')
	return p.send(MethodLog)
}

// Close sends the closed message and closes the channel. It is idempotent:
// later calls do nothing and return nil. Reports after Close fail with
// [ErrClosed].
func (p *Context) Close() error { return p.CloseWithError(nil) }

// CloseWithError is Close for a job that failed: the closed message carries
// err as a Dagster exception (see [NewException]), which Dagster records
// with the run. A nil err is a plain Close.
func (p *Context) CloseWithError(err error) error {
	return p.closeWith(exceptionAt(err, 0))
}

func (p *Context) closeWith(exc *Exception) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil
	}
	p.closed = true
	if p.noop {
		return nil
	}
	var writeErr error
	if exc == nil {
		p.buf = append(p.buf[:0], "{}"...)
	} else {
		raw, err := json.Marshal(struct {
			Exception *Exception `json:"exception"`
		}{exc})
		if err != nil {
			// Cannot happen: Exception holds only strings.
			raw = []byte("{}")
		}
		p.buf = append(p.buf[:0], raw...)
	}
	writeErr = p.send(MethodClosed)
	closeErr := p.channel.Close()
	if writeErr != nil {
		writeErr = fmt.Errorf("pipes: sending the closed message: %w", writeErr)
	}
	if closeErr != nil {
		closeErr = fmt.Errorf("pipes: closing the message channel: %w", closeErr)
	}
	return errors.Join(writeErr, closeErr)
}

type discardHandler struct{}

func (discardHandler) Enabled(context.Context, slog.Level) bool  { return false }
func (discardHandler) Handle(context.Context, slog.Record) error { return nil }
func (h discardHandler) WithAttrs([]slog.Attr) slog.Handler      { return h }
func (h discardHandler) WithGroup(string) slog.Handler           { return h }
