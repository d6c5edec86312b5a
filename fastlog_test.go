package pipes

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// logEveryWay logs through each path that reaches logText.
func logEveryWay(t *testing.T, p *Context) {
	t.Helper()
	log := p.Log()
	log.Info(benchMessage)
	log.Debug("débug \"quoted\"\n\x00")
	log.Warn("with attrs", "batch", 1234, "table", "a b")
	log.With("run", 7).WithGroup("g").Error("grouped", "k", "v")
	log.Log(context.Background(), LevelCritical, "critical")
	require.NoError(t, p.LogMessage(slog.LevelInfo, "direct \u2028"))
	require.NoError(t, p.LogMessage(slog.LevelError, ""))
}

// TestFileChannelLogPathMatchesWriteMessage checks that the in-place log
// encoding of FileChannel writes exactly the bytes that the general path
// (emit, then Message.AppendJSON) writes to a stream channel.
func TestFileChannelLogPathMatchesWriteMessage(t *testing.T) {
	dir := t.TempDir()
	msgPath := filepath.Join(dir, "messages")
	params := MappingParamsLoader{Mapping: benchBootstrap(t, dir, msgPath)}

	pf, err := New(context.Background(), WithParamsLoader(params), WithLogLevel(slog.LevelDebug))
	require.NoError(t, err)
	_, isLogWriter := pf.channel.(logWriter)
	require.True(t, isLogWriter, "the default file channel takes the in-place path")
	assert.Equal(t, pf.channel.(*FileChannel).raw, pf.file != nil,
		"a regular file written with write(2) takes FileChannel.logFast")
	logEveryWay(t, pf)
	require.NoError(t, pf.Close())

	var buf bytes.Buffer
	ps, err := New(context.Background(), WithParamsLoader(params), WithLogLevel(slog.LevelDebug),
		WithMessageWriter(channelWriter{NewStreamChannel(&buf)}))
	require.NoError(t, err)
	_, isLogWriter = ps.channel.(logWriter)
	require.False(t, isLogWriter)
	logEveryWay(t, ps)
	require.NoError(t, ps.Close())

	raw, err := os.ReadFile(msgPath)
	require.NoError(t, err)
	assert.Equal(t, buf.String(), string(raw))
	assert.Equal(t, 9, strings.Count(string(raw), "\n"), "opened, 7 logs, closed")
}

// TestLogRacingClose logs from several goroutines while the Context
// closes: every line is whole, closed is the last one, and a log after
// Close returns ErrClosed.
func TestLogRacingClose(t *testing.T) {
	for range 20 {
		dir := t.TempDir()
		msgPath := filepath.Join(dir, "messages")
		p, err := New(context.Background(), WithParamsLoader(MappingParamsLoader{Mapping: benchBootstrap(t, dir, msgPath)}))
		require.NoError(t, err)
		var wg sync.WaitGroup
		for range 4 {
			wg.Go(func() {
				for range 200 {
					if err := p.LogMessage(slog.LevelInfo, benchMessage); err != nil {
						require.ErrorIs(t, err, ErrClosed)
						return
					}
				}
			})
		}
		require.NoError(t, p.Close())
		wg.Wait()
		require.ErrorIs(t, p.LogMessage(slog.LevelInfo, "late"), ErrClosed)
		msgs := readMessages(t, msgPath)
		got := methods(msgs)
		require.Equal(t, "opened", string(got[0]))
		require.Equal(t, "closed", string(got[len(got)-1]))
		for _, m := range got[1 : len(got)-1] {
			require.Equal(t, "log", string(m))
		}
	}
}
