package pipes

import (
	"context"
	"log/slog"
	"reflect"
	"strconv"
	"sync"
	"time"
)

// LevelCritical is the slog level that Dagster shows as CRITICAL; slog has
// no such level of its own. Log at it with
// p.Log().Log(ctx, pipes.LevelCritical, msg).
const LevelCritical = slog.Level(12)

// levelNames are the Pipes level names, by levelIndex; logTails end a log
// line at each level, after the message: the level field, the end of the
// params and of the message, and the newline (one constant, one copy).
var (
	levelNames = [...]string{"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}
	logTails   = [...]string{
		`","level":"DEBUG"}}` + "\n", `","level":"INFO"}}` + "\n", `","level":"WARNING"}}` + "\n",
		`","level":"ERROR"}}` + "\n", `","level":"CRITICAL"}}` + "\n",
	}
)

// levelIndex maps an slog level to its Pipes level, as an index of
// levelNames.
func levelIndex(l slog.Level) int {
	switch {
	case l < slog.LevelInfo:
		return 0
	case l < slog.LevelWarn:
		return 1
	case l < slog.LevelError:
		return 2
	case l < LevelCritical:
		return 3
	}
	return 4
}

// levelName maps an slog level to the Pipes level names.
func levelName(l slog.Level) string { return levelNames[levelIndex(l)] }

// logTail ends a log line at level l (see logTails).
func logTail(l slog.Level) string { return logTails[levelIndex(l)] }

// handler is the slog.Handler behind Context.Log: each record becomes one
// log message. Attributes follow the message as key=value pairs, grouped
// attributes as group.key=value.
type handler struct {
	p        *Context
	minLevel slog.Leveler
	// time adds the record's time after the message (WithLogTime).
	time bool
	// attrs is the text of the attributes from WithAttrs, each with its
	// leading space, already escaped for the inside of a JSON string.
	attrs string
	// group is the group prefix ("a.b.") from WithGroup.
	group string
}

var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

func (h *handler) Enabled(_ context.Context, l slog.Level) bool {
	return h.minLevel == nil || l >= h.minLevel.Level()
}

func (h *handler) Handle(_ context.Context, r slog.Record) error {
	withTime := h.time && !r.Time.IsZero()
	if r.NumAttrs() == 0 && !withTime {
		if h.p.file != nil {
			return h.p.file.logFast(h.p, r.Level, r.Message, h.attrs, nil)
		}
		return logText(h.p, r.Level, r.Message, h.attrs, nil)
	}
	// The record's attributes are formatted before the Context is locked:
	// resolving a LogValuer runs user code, which must not run under it.
	bp := bufPool.Get().(*[]byte)
	b := (*bp)[:0]
	if withTime {
		b = append(b, " time="...)
		b = r.Time.AppendFormat(b, time.RFC3339Nano)
	}
	b = append(b, h.attrs...)
	r.Attrs(func(a slog.Attr) bool {
		b = appendAttr(b, h.group, a)
		return true
	})
	err := logText(h.p, r.Level, r.Message, "", b)
	*bp = b
	bufPool.Put(bp)
	return err
}

func (h *handler) WithAttrs(attrs []slog.Attr) slog.Handler {
	if len(attrs) == 0 {
		return h
	}
	h2 := *h
	var b []byte
	for _, a := range attrs {
		b = appendAttr(b, h.group, a)
	}
	h2.attrs = h.attrs + string(b)
	return &h2
}

func (h *handler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	h2 := *h
	h2.group = h.group + name + "."
	return &h2
}

// appendAttr appends " key=value", JSON-escaped, for the inside of the
// message string.
func appendAttr(b []byte, group string, a slog.Attr) []byte {
	a.Value = a.Value.Resolve()
	if a.Equal(slog.Attr{}) {
		return b
	}
	if a.Value.Kind() == slog.KindGroup {
		attrs := a.Value.Group()
		prefix := group
		if a.Key != "" {
			prefix = group + a.Key + "."
		}
		for _, ga := range attrs {
			b = appendAttr(b, prefix, ga)
		}
		return b
	}
	b = append(b, ' ')
	b = appendStringContent(b, group)
	b = appendStringContent(b, a.Key)
	b = append(b, '=')
	v := a.Value
	switch v.Kind() {
	case slog.KindString:
		s := v.String()
		if needsQuoting(s) {
			var tmp [64]byte
			b = appendStringContent(b, strconv.AppendQuote(tmp[:0], s))
		} else {
			b = appendStringContent(b, s)
		}
	case slog.KindInt64:
		b = strconv.AppendInt(b, v.Int64(), 10)
	case slog.KindUint64:
		b = strconv.AppendUint(b, v.Uint64(), 10)
	case slog.KindFloat64:
		b = strconv.AppendFloat(b, v.Float64(), 'g', -1, 64)
	case slog.KindBool:
		b = strconv.AppendBool(b, v.Bool())
	case slog.KindDuration:
		b = appendStringContent(b, v.Duration().String())
	case slog.KindTime:
		var tmp [64]byte
		b = appendStringContent(b, v.Time().AppendFormat(tmp[:0], time.RFC3339Nano))
	default:
		// fmt (behind Value.String) recurses for ever on a map, slice or
		// pointer that contains itself: the process would die.
		if rv := reflect.ValueOf(v.Any()); v.Kind() == slog.KindAny && isContainer(rv.Kind()) && hasCycle(rv) {
			return appendStringContent(b, strconv.Quote("<"+rv.Type().String()+" that contains itself>"))
		}
		s := v.String()
		if needsQuoting(s) {
			s = strconv.Quote(s)
		}
		b = appendStringContent(b, s)
	}
	return b
}

func isContainer(k reflect.Kind) bool {
	switch k {
	case reflect.Map, reflect.Slice, reflect.Pointer, reflect.Struct, reflect.Array, reflect.Interface:
		return true
	}
	return false
}

// needsQuoting reports whether a value must be quoted to be read back as
// one key=value pair, as slog's TextHandler decides.
func needsQuoting(s string) bool {
	if s == "" {
		return true
	}
	for _, r := range s {
		if r <= ' ' || r == '=' || r == '"' || r == 0x7f || r == '\uFFFD' {
			return true
		}
	}
	return false
}
