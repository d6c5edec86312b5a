package pipes

import (
	"context"
	"errors"
	"log"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// These tests hung before the Context stopped holding its lock while user
// code, a channel or slog runs. The timeout only turns a deadlock into a
// failure; it asserts nothing about speed.

// finishes runs f and fails the test if it has not returned after a long
// while (a deadlock).
func finishes(t *testing.T, what string, f func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		f()
	}()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatalf("%s: deadlocked", what)
	}
}

// loggingMarshaler logs through the Context while it is encoded.
type loggingMarshaler struct{ p **Context }

func (m loggingMarshaler) MarshalJSON() ([]byte, error) {
	(*m.p).Log().Info("encoding the payload")
	return []byte(`{"ok":true}`), nil
}

func TestNoDeadlockWhenMarshalJSONLogs(t *testing.T) {
	var p *Context
	p, read := newTestContext(t, testData("a"))
	v := loggingMarshaler{&p}
	finishes(t, "ReportCustomMessage", func() { require.NoError(t, p.ReportCustomMessage(v)) })
	finishes(t, "ReportAssetMaterialization", func() {
		require.NoError(t, p.ReportAssetMaterialization(Materialization{Metadata: Metadata{"m": JSON(v)}}))
	})
	finishes(t, "ReportAssetCheck", func() {
		require.NoError(t, p.ReportAssetCheck(AssetCheck{CheckName: "c", Passed: true, Metadata: Metadata{"m": v}}))
	})
	require.NoError(t, p.Close())
	msgs := read()
	assert.Equal(t, []string{"opened", "log", "report_custom_message", "log", "report_asset_materialization", "log", "report_asset_check", "closed"}, methods(msgs))
	assert.Equal(t, map[string]any{"ok": true}, msgs[2].Params["payload"])
}

func TestNoDeadlockWhenBlobStoreOnErrorLogsOnClose(t *testing.T) {
	var p *Context
	uploadErr := errors.New("store unavailable")
	ch := NewBlobStoreChannel(func(context.Context, []byte, int) error { return uploadErr }, BlobStoreOptions{
		Interval:      time.Hour,
		FinalAttempts: 1,
		OnError: func(err error, index int) {
			p.Log().Error("upload failed", "chunk", index, "err", err)
		},
	})
	boot := bootstrap(t, map[string]any{"data": testData("a")}, map[string]any{"anything": true})
	p, err := New(context.Background(), WithParamsLoader(MappingParamsLoader{Mapping: boot}), WithMessageWriter(channelWriter{ch}))
	require.NoError(t, err)
	require.NoError(t, p.LogMessage(slog.LevelInfo, "queued"))
	var closeErr error
	finishes(t, "Close", func() { closeErr = p.Close() })
	require.ErrorIs(t, closeErr, uploadErr, "what could not be delivered is reported")
	assert.ErrorIs(t, p.LogMessage(slog.LevelInfo, "after"), ErrClosed)
}

func TestNoDeadlockWithPrefectWriterAfterSetDefault(t *testing.T) {
	// slog.SetDefault also redirects the log package: restore both.
	oldDefault, oldOut, oldFlags := slog.Default(), log.Writer(), log.Flags()
	t.Cleanup(func() {
		slog.SetDefault(oldDefault)
		log.SetOutput(oldOut)
		log.SetFlags(oldFlags)
	})
	boot := bootstrap(t, map[string]any{"data": testData("a")}, map[string]any{"prefect_logs": true})
	p, err := New(context.Background(), WithParamsLoader(MappingParamsLoader{Mapping: boot}), WithMessageWriter(PrefectLogsMessageWriter{}))
	require.NoError(t, err)
	slog.SetDefault(p.Log())

	finishes(t, "a log record", func() { p.Log().Info("hello") })
	finishes(t, "a report", func() {
		err := p.ReportCustomMessage("payload")
		require.ErrorIs(t, err, ErrLoggerLoop, "the report says why it cannot reach Prefect")
	})
	finishes(t, "Close", func() { _ = p.Close() })
	assert.True(t, p.IsClosed())
}

// The channel is written with no lock held; Close must still send closed
// after every message that was accepted, and nothing after it.
func TestClosedIsLastWhileOthersWrite(t *testing.T) {
	p, read := newTestContext(t, testData("a"))
	start := make(chan struct{})
	accepted := make(chan int, 8)
	for range 8 {
		go func() {
			<-start
			n := 0
			for i := range 500 {
				if p.LogMessage(slog.LevelInfo, "m") != nil {
					break
				}
				n = i + 1
			}
			accepted <- n
		}()
	}
	close(start)
	require.NoError(t, p.Close())
	total := 0
	for range 8 {
		total += <-accepted
	}
	msgs := read()
	got := methods(msgs)
	assert.Equal(t, "opened", got[0])
	assert.Equal(t, "closed", got[len(got)-1])
	assert.Len(t, got, total+2, "every accepted message, and closed once")
}
