package pipes

import (
	"context"
	"io"
	"log/slog"
	"testing"
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
