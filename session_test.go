package pipes

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// sessionOpts returns options for one session with its own message file.
func sessionOpts(t *testing.T, data map[string]any) ([]Option, func() []wireMessage) {
	t.Helper()
	msgPath := filepath.Join(t.TempDir(), "messages")
	boot := bootstrap(t, map[string]any{"data": data}, map[string]any{"path": msgPath})
	return []Option{WithParamsLoader(MappingParamsLoader{Mapping: boot}), WithoutSignalHandling()},
		func() []wireMessage { return readMessages(t, msgPath) }
}

func withRunID(data map[string]any, id string) map[string]any {
	data["run_id"] = id
	return data
}

// A warm process serves one step after another: each Run after the
// previous session closed is a session of its own, with its own context
// and channel, and its reports reach its own reader.
func TestRunSequentialSessions(t *testing.T) {
	Set(nil)
	t.Cleanup(func() { Set(nil) })
	var seen []*Context
	for i := range 3 {
		opts, read := sessionOpts(t, withRunID(testData("a"), fmt.Sprint("run-", i)))
		err := Run(context.Background(), func(ctx context.Context, p *Context) error {
			seen = append(seen, p)
			p.Log().Info(fmt.Sprint("session ", i, " of ", p.RunID()))
			return p.ReportAssetMaterialization(Materialization{})
		}, opts...)
		require.NoError(t, err, "session %d", i)
		msgs := read()
		require.Equal(t, []string{"opened", "log", "report_asset_materialization", "closed"}, methods(msgs), "session %d", i)
		assert.Equal(t, fmt.Sprintf("session %d of run-%d", i, i), msgs[1].Params["message"])
		assert.Equal(t, map[string]any{}, msgs[3].Params)
	}
	assert.NotSame(t, seen[0], seen[1])
	assert.NotSame(t, seen[1], seen[2])
	got, err := Get()
	require.NoError(t, err)
	assert.Same(t, seen[2], got, "the last session is the stored Context")
}

// Open, like Run, starts a new session once the stored Context is closed,
// and returns the stored one while it is open.
func TestOpenAfterCloseStartsNewSession(t *testing.T) {
	Set(nil)
	t.Cleanup(func() { Set(nil) })
	opts1, read1 := sessionOpts(t, withRunID(testData("a"), "first"))
	p1, err := Open(context.Background(), opts1...)
	require.NoError(t, err)
	require.NoError(t, p1.ReportAssetMaterialization(Materialization{}))
	require.NoError(t, p1.Close())
	require.ErrorIs(t, p1.ReportCustomMessage("late"), ErrClosed)

	opts2, read2 := sessionOpts(t, withRunID(testData("a"), "second"))
	p2, err := Open(context.Background(), opts2...)
	require.NoError(t, err)
	assert.NotSame(t, p1, p2)
	assert.Equal(t, "second", p2.RunID())
	again, err := Open(context.Background(), opts1...) // open: options ignored
	require.NoError(t, err)
	assert.Same(t, p2, again)
	require.NoError(t, p2.ReportAssetMaterialization(Materialization{}), "the asset of the first session does not count")
	require.NoError(t, p2.Close())

	assert.Equal(t, []string{"opened", "report_asset_materialization", "closed"}, methods(read1()))
	assert.Equal(t, []string{"opened", "report_asset_materialization", "closed"}, methods(read2()))
}

// A closed no-op Context (an invocation not launched by Dagster) does not
// stop a later invocation that Dagster launched from reporting.
func TestRunAfterNotLaunchedSession(t *testing.T) {
	Set(nil)
	t.Cleanup(func() { Set(nil) })
	var warn strings.Builder
	require.NoError(t, Run(context.Background(), func(_ context.Context, p *Context) error {
		assert.False(t, p.IsOrchestrated())
		return nil
	}, WithParamsLoader(MappingParamsLoader{}), WithWarningOutput(&warn), WithoutSignalHandling()))
	assert.Contains(t, warn.String(), NotLaunchedWarning)

	opts, read := sessionOpts(t, testData("a"))
	require.NoError(t, Run(context.Background(), func(_ context.Context, p *Context) error {
		assert.True(t, p.IsOrchestrated())
		return p.ReportAssetMaterialization(Materialization{})
	}, opts...))
	assert.Equal(t, []string{"opened", "report_asset_materialization", "closed"}, methods(read()))
}

// Concurrent sessions in one process: each has its Context from New and
// runs with Context.Run; none sees another's messages, and the process's
// stored Context is not involved.
func TestConcurrentSessionsWithNew(t *testing.T) {
	Set(nil)
	t.Cleanup(func() { Set(nil) })
	const sessions, perSession = 8, 50
	reads := make([]func() []wireMessage, sessions)
	var wg sync.WaitGroup
	errs := make([]error, sessions)
	for i := range sessions {
		opts, read := sessionOpts(t, withRunID(testData(fmt.Sprint("asset-", i)), fmt.Sprint("run-", i)))
		reads[i] = read
		wg.Add(1)
		go func() {
			defer wg.Done()
			p, err := New(context.Background(), opts...)
			if err != nil {
				errs[i] = err
				return
			}
			errs[i] = p.Run(context.Background(), func(_ context.Context, p *Context) error {
				for j := range perSession {
					if err := p.ReportCustomMessage(map[string]any{"run": p.RunID(), "j": j}); err != nil {
						return err
					}
				}
				return p.ReportAssetMaterialization(Materialization{})
			})
		}()
	}
	wg.Wait()
	for i := range sessions {
		require.NoError(t, errs[i], "session %d", i)
		msgs := reads[i]()
		require.Len(t, msgs, perSession+3, "session %d", i)
		assert.Equal(t, "opened", msgs[0].Method)
		for j, m := range msgs[1 : perSession+1] {
			assert.Equal(t, map[string]any{"payload": map[string]any{"run": fmt.Sprint("run-", i), "j": num(j)}}, m.Params)
		}
		assert.Equal(t, fmt.Sprint("asset-", i), msgs[perSession+1].Params["asset_key"])
		assert.Equal(t, "closed", msgs[perSession+2].Method)
	}
	assert.False(t, IsInitialized(), "New never stores")
}

func TestContextRunReturnsJobErrorUnwrapped(t *testing.T) {
	opts, read := sessionOpts(t, testData())
	p, err := New(context.Background(), opts...)
	require.NoError(t, err)
	base := &codeError{3}
	err = p.Run(context.Background(), func(context.Context, *Context) error { return base })
	assert.Same(t, base, err, "the job's own error, so that callers (and Lambda's errorType) see its type")
	exc := closedException(t, read())
	assert.Equal(t, "*pipes.codeError", exc["name"])
	assert.NotEmpty(t, exc["stack"])
	assert.True(t, p.IsClosed())
}

func TestContextRunPanic(t *testing.T) {
	opts, read := sessionOpts(t, testData())
	p, err := New(context.Background(), opts...)
	require.NoError(t, err)
	err = p.Run(context.Background(), func(context.Context, *Context) error { panic("boom") })
	var pe *PanicError
	require.ErrorAs(t, err, &pe)
	assert.Equal(t, "boom", pe.Value)
	exc := closedException(t, read())
	assert.Equal(t, "panic: boom", exc["message"])
}

func TestContextRunInterrupted(t *testing.T) {
	opts, read := sessionOpts(t, testData())
	p, err := New(context.Background(), opts...)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	err = p.Run(ctx, func(context.Context, *Context) error { cancel(); return nil })
	require.ErrorIs(t, err, context.Canceled)
	assert.Contains(t, closedException(t, read())["message"], "pipes: job interrupted")
}

// Closing fails (the channel cannot be written): Run reports it, joined
// with the job's error when there is one.
func TestContextRunCloseError(t *testing.T) {
	failing := errors.New("disk gone")
	p, err := New(context.Background(),
		WithParamsLoader(MappingParamsLoader{Mapping: bootstrap(t, map[string]any{"data": testData()}, map[string]any{})}),
		WithMessageWriter(writerFunc(func(context.Context, Params) (MessageWriterChannel, error) {
			return &failAfterChannel{ok: 1, err: failing}, nil
		})))
	require.NoError(t, err)
	err = p.Run(context.Background(), func(context.Context, *Context) error { return nil })
	require.ErrorIs(t, err, failing)
	assert.Contains(t, err.Error(), "sending the closed message")
}

func num(i int) json.Number { return json.Number(fmt.Sprint(i)) }

type writerFunc func(context.Context, Params) (MessageWriterChannel, error)

func (f writerFunc) Open(ctx context.Context, p Params) (MessageWriterChannel, error) {
	return f(ctx, p)
}

// failAfterChannel accepts ok messages, then fails every write.
type failAfterChannel struct {
	mu  sync.Mutex
	ok  int
	err error
}

func (c *failAfterChannel) WriteMessage(Message) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ok == 0 {
		return c.err
	}
	c.ok--
	return nil
}

func (c *failAfterChannel) Close() error { return nil }
