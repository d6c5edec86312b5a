package pipes

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
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

	channel MessageWriterChannel
	// mu guards materialized and drained, and orders Close. It is never
	// held while a channel method, user code or slog runs (see emit), so
	// that any of them can log through this Context. closed and inflight
	// are atomics so that a log message takes no lock of the Context's: it
	// is set under mu, and read without it (see emit and closeWith).
	mu           sync.Mutex
	closed       atomic.Bool
	inflight     atomic.Int64  // messages being written to the channel now
	drained      chan struct{} // closed when inflight drops to 0 after Close
	materialized map[string]struct{}

	// file is channel when it is a FileChannel on a regular file, which
	// logs take straight to write(2) (FileChannel.logFast); nil otherwise.
	file *FileChannel

	logger   *slog.Logger
	logLevel slog.Leveler // WithLogLevel's threshold; nil sends every level
}

// TimeWindow is the time window of a time-partitioned step.
type TimeWindow struct {
	Start, End time.Time
}

func newNoopContext() *Context {
	p := &Context{data: &ContextData{Extras: map[string]any{}}, noop: true}
	p.logger = slog.New(slog.DiscardHandler)
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
