package pipes

import (
	"context"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"testing"
	"testing/slogtest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func logParams(msgs []wireMessage) [][2]any {
	var out [][2]any
	for _, m := range msgs {
		if m.Method == "log" {
			require.Len(nil, m.Params, 2)
			out = append(out, [2]any{m.Params["level"], m.Params["message"]})
		}
	}
	return out
}

func TestLogLevels(t *testing.T) {
	p, read := newTestContext(t, testData())
	ctx := context.Background()
	log := p.Log()
	log.Debug("d")
	log.Info("i")
	log.Warn("w")
	log.Error("e")
	log.Log(ctx, LevelCritical, "c")
	log.Log(ctx, slog.Level(-8), "trace")
	log.Log(ctx, slog.LevelInfo+2, "between info and warn")
	log.Log(ctx, LevelCritical+4, "above critical")
	assert.Equal(t, [][2]any{
		{"DEBUG", "d"}, {"INFO", "i"}, {"WARNING", "w"}, {"ERROR", "e"}, {"CRITICAL", "c"},
		{"DEBUG", "trace"}, {"INFO", "between info and warn"}, {"CRITICAL", "above critical"},
	}, logParams(read()))
}

func TestLogAttributes(t *testing.T) {
	p, read := newTestContext(t, testData())
	log := p.Log().With("job", "etl", "n", 1).WithGroup("db")
	log.Info("loaded \"rows\"\n", "rows", 42, "table", "my table", "ok", true, "took", 1500*time.Millisecond,
		slog.Group("conn", "host", "h", "port", 5432), "f", 0.25, "empty", "")
	p.Log().Info("when", "t", time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC))
	assert.Equal(t, [][2]any{
		{"INFO", "loaded \"rows\"\n job=etl n=1 db.rows=42 db.table=\"my table\" db.ok=true db.took=1.5s db.conn.host=h db.conn.port=5432 db.f=0.25 db.empty=\"\""},
		{"INFO", "when t=2024-01-02T03:04:05Z"},
	}, logParams(read()))
}

func TestLogLevelOption(t *testing.T) {
	p, read := newTestContext(t, testData(), WithLogLevel(slog.LevelWarn))
	p.Log().Info("skipped")
	p.Log().Warn("kept")
	assert.Equal(t, [][2]any{{"WARNING", "kept"}}, logParams(read()))
}

func TestLogHandlerReportsClosed(t *testing.T) {
	p, _ := newTestContext(t, testData())
	require.NoError(t, p.Close())
	err := p.Log().Handler().Handle(context.Background(), slog.NewRecord(time.Now(), slog.LevelInfo, "late", 0))
	require.ErrorIs(t, err, ErrClosed)
}

func TestLogMessage(t *testing.T) {
	p, read := newTestContext(t, testData(), WithLogLevel(slog.LevelInfo))
	require.NoError(t, p.LogMessage(slog.LevelDebug, "below the threshold"))
	require.NoError(t, p.LogMessage(slog.LevelWarn, `direct "quoted"`))
	require.NoError(t, p.LogMessage(LevelCritical, "critical"))
	assert.Equal(t, [][2]any{{"WARNING", `direct "quoted"`}, {"CRITICAL", "critical"}}, logParams(read()))
	require.NoError(t, p.Close())
	require.ErrorIs(t, p.LogMessage(slog.LevelInfo, "late"), ErrClosed)

	noop, err := New(context.Background(), WithParamsLoader(MappingParamsLoader{}), WithWarningOutput(io.Discard))
	require.NoError(t, err)
	assert.NoError(t, noop.LogMessage(slog.LevelInfo, "nowhere"))
}

// The handler behind Context.Log passes the standard library's conformance
// test for slog handlers. Each record is read back from the message Dagster
// receives: the level from its params, the text parsed as
// "msg time=… key=value group.key=value".
func TestHandlerPassesSlogtest(t *testing.T) {
	var read func() []wireMessage
	slogtest.Run(t, func(t *testing.T) slog.Handler {
		var p *Context
		p, read = newTestContext(t, testData(), WithLogTime())
		t.Cleanup(func() { _ = p.Close() })
		return p.Log().Handler()
	}, func(t *testing.T) map[string]any {
		msgs := read()
		require.Len(t, msgs, 2, "opened and one log message")
		require.Equal(t, "log", msgs[1].Method)
		m := parseLogText(t, msgs[1].Params["message"].(string))
		m[slog.LevelKey] = msgs[1].Params["level"]
		return m
	})
}

// parseLogText parses the text of a log message back into slogtest's map.
func parseLogText(t *testing.T, text string) map[string]any {
	t.Helper()
	out := map[string]any{}
	fields := splitLogFields(text)
	out[slog.MessageKey] = fields[0]
	for _, f := range fields[1:] {
		k, v, ok := strings.Cut(f, "=")
		require.True(t, ok, "field %q of %q", f, text)
		if uq, err := strconv.Unquote(v); err == nil {
			v = uq
		}
		m := out
		parts := strings.Split(k, ".")
		for _, g := range parts[:len(parts)-1] {
			sub, ok := m[g].(map[string]any)
			if !ok {
				sub = map[string]any{}
				m[g] = sub
			}
			m = sub
		}
		m[parts[len(parts)-1]] = v
	}
	return out
}

// splitLogFields splits on spaces outside double quotes.
func splitLogFields(s string) []string {
	var out []string
	var cur strings.Builder
	quoted, escaped := false, false
	for _, r := range s {
		switch {
		case escaped:
			escaped = false
		case quoted && r == '\\':
			escaped = true
		case r == '"':
			quoted = !quoted
		case r == ' ' && !quoted:
			out = append(out, cur.String())
			cur.Reset()
			continue
		}
		cur.WriteRune(r)
	}
	return append(out, cur.String())
}

func TestLogTimeOption(t *testing.T) {
	p, read := newTestContext(t, testData())
	p.Log().Info("no time by default")
	require.NoError(t, p.Close())
	assert.Equal(t, "no time by default", read()[1].Params["message"])

	p, read = newTestContext(t, testData(), WithLogTime())
	at := time.Date(2024, 3, 1, 12, 0, 0, 5, time.UTC)
	r := slog.NewRecord(at, slog.LevelInfo, "timed", 0)
	r.AddAttrs(slog.Int("n", 1))
	require.NoError(t, p.Log().Handler().Handle(context.Background(), r))
	require.NoError(t, p.Log().Handler().Handle(context.Background(), slog.NewRecord(time.Time{}, slog.LevelInfo, "zero time", 0)))
	require.NoError(t, p.Close())
	msgs := read()
	assert.Equal(t, "timed time=2024-03-01T12:00:00.000000005Z n=1", msgs[1].Params["message"])
	assert.Equal(t, "zero time", msgs[2].Params["message"])
}
