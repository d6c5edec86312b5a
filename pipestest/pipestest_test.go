package pipestest_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dagster-pipes-go/pipes"
	"github.com/dagster-pipes-go/pipes/pipestest"

	"go.uber.org/goleak"
)

// helperEnv makes the test binary act as a Pipes program (for RunCommand).
const helperEnv = "PIPESTEST_HELPER"

func TestMain(m *testing.M) {
	if mode := os.Getenv(helperEnv); mode != "" {
		os.Exit(helperMain(mode))
	}
	goleak.VerifyTestMain(m)
}

func helperMain(mode string) int {
	var opts []pipes.Option
	if mode == "args" {
		opts = append(opts, pipes.WithParamsLoader(pipes.CLIArgsParamsLoader{}))
	}
	fmt.Println("helper stdout line")
	fmt.Fprintln(os.Stderr, "helper stderr line")
	err := pipes.Run(context.Background(), func(ctx context.Context, p *pipes.Context) error {
		p.Log().Info("from a program", "run", p.RunID())
		if mode == "fail" {
			return errors.New("program failed")
		}
		return p.ReportAssetMaterialization(pipes.Materialization{Metadata: pipes.Metadata{"mode": mode}})
	}, opts...)
	if err != nil {
		return 3
	}
	return 0
}

// job is a typical job under test.
func job(ctx context.Context, p *pipes.Context) error {
	key, err := p.AssetKey()
	if err != nil {
		return err
	}
	var limit int
	if err := p.DecodeExtra("limit", &limit); err != nil {
		return err
	}
	part, err := p.PartitionKey()
	if err != nil {
		return err
	}
	p.Log().Debug("debugging")
	p.Log().Info("loading", "limit", limit)
	p.Log().Warn("careful")
	p.Log().Error("bad")
	p.Log().Log(ctx, pipes.LevelCritical, "worse")
	if err := p.ReportAssetMaterialization(pipes.Materialization{
		DataVersion: "v-" + part,
		Metadata: pipes.Metadata{
			"rows":      limit,
			"ratio":     0.5,
			"name":      key,
			"url":       pipes.URL("https://example.com"),
			"ok":        pipes.Bool(true),
			"partition": part,
			"job":       p.JobName(),
		},
	}); err != nil {
		return err
	}
	if err := p.ReportAssetCheck(pipes.AssetCheck{CheckName: "positive", Passed: limit > 0, Severity: pipes.SeverityWarn}); err != nil {
		return err
	}
	return p.ReportCustomMessage(map[string]any{"retry": p.RetryNumber()})
}

func TestRunJobReportsEverything(t *testing.T) {
	res := pipestest.RunJob(t, pipestest.Context{
		AssetKeys:    []string{"orders"},
		CodeVersions: map[string]string{"orders": "v1"},
		PartitionKey: "2024-01-01",
		JobName:      "daily",
		RetryNumber:  2,
		Extras:       map[string]any{"limit": 7},
	}, job)

	require.NoError(t, res.Err)
	assert.True(t, res.Opened)
	assert.True(t, res.Closed)
	assert.Nil(t, res.Exception)
	assert.Empty(t, res.ProtocolErrors)
	assert.False(t, res.Failed())

	assert.Equal(t, []pipestest.Log{
		{Level: "DEBUG", Message: "debugging"},
		{Level: "INFO", Message: "loading limit=7"},
		{Level: "WARNING", Message: "careful"},
		{Level: "ERROR", Message: "bad"},
		{Level: "CRITICAL", Message: "worse"},
	}, res.Logs)
	assert.Equal(t, []string{"careful"}, res.LogMessages("warn"))

	m, ok := res.Materialization("orders")
	require.True(t, ok)
	assert.Equal(t, "v-2024-01-01", m.DataVersion)
	rows, ok := m.Metadata["rows"].Int()
	assert.True(t, ok)
	assert.EqualValues(t, 7, rows)
	assert.Equal(t, pipes.MetadataInt, m.Metadata["rows"].Effective())
	assert.Equal(t, pipes.MetadataFloat, m.Metadata["ratio"].Effective())
	assert.Equal(t, pipes.MetadataURL, m.Metadata["url"].Type)
	assert.Equal(t, "https://example.com", m.Metadata["url"].String())
	b, _ := m.Metadata["ok"].Bool()
	assert.True(t, b)
	assert.Equal(t, "2024-01-01", m.Metadata["partition"].Raw)
	assert.Equal(t, "daily", m.Metadata["job"].Raw)

	c, ok := res.Check("orders", "positive")
	require.True(t, ok)
	assert.True(t, c.Passed)
	assert.Equal(t, pipes.SeverityWarn, c.Severity)

	assert.Equal(t, []any{map[string]any{"retry": json.Number("2")}}, res.CustomMessages)
	var methods []pipes.Method
	for _, m := range res.Messages {
		methods = append(methods, m.Method)
	}
	assert.Equal(t, pipes.MethodOpened, methods[0])
	assert.Equal(t, pipes.MethodClosed, methods[len(methods)-1])
	assert.Len(t, methods, 10)
}

func TestInjectionsTransportsAndBootstraps(t *testing.T) {
	type variant struct {
		name   string
		opts   []pipestest.Option
		args   bool
		stream string
	}
	variants := []variant{
		{"file context, file messages", nil, false, ""},
		{"env context", []pipestest.Option{pipestest.InjectContextByEnv()}, false, ""},
		{"stdout messages", []pipestest.Option{pipestest.MessagesToStdout()}, false, "stdout"},
		{"stderr messages", []pipestest.Option{pipestest.MessagesToStderr(), pipestest.InjectContextByEnv()}, false, "stderr"},
		{"cli args", []pipestest.Option{pipestest.BootstrapWithArgs()}, true, ""},
	}
	for _, v := range variants {
		t.Run(v.name, func(t *testing.T) {
			s := pipestest.NewSession(t, pipestest.Context{AssetKeys: []string{"a"}, RunID: "run-" + v.name}, v.opts...)
			res := s.Run(func() {
				var opts []pipes.Option
				if v.args {
					opts = append(opts, pipes.WithParamsLoader(pipes.CLIArgsParamsLoader{}))
				}
				p, err := pipes.Open(context.Background(), opts...)
				require.NoError(t, err)
				require.True(t, p.IsOrchestrated())
				fmt.Println("plain output on stdout")
				fmt.Fprintln(os.Stderr, "plain output on stderr")
				p.Log().Info(p.RunID())
				require.NoError(t, p.Close())
			})
			assert.Equal(t, []string{"run-" + v.name}, res.LogMessages("INFO"))
			assert.True(t, res.Closed)
			switch {
			case v.stream == "stdout":
				assert.Equal(t, "plain output on stdout\n", res.Stdout)
			case v.stream == "stderr":
				assert.Equal(t, "plain output on stderr\n", res.Stderr)
			default:
				assert.Empty(t, res.Stdout)
			}
			_, set := os.LookupEnv(pipes.ContextEnvVar)
			assert.Equal(t, !v.args, set, "env vars set only for the env bootstrap")
		})
	}
}

func TestJobErrorAndPanic(t *testing.T) {
	boom := errors.New("boom")
	res := pipestest.RunJob(t, pipestest.Context{}, func(ctx context.Context, p *pipes.Context) error {
		return fmt.Errorf("loading: %w", boom)
	})
	require.ErrorIs(t, res.Err, boom)
	require.NotNil(t, res.Exception)
	assert.Equal(t, "loading: boom", res.Exception.Message)
	require.NotNil(t, res.Exception.Cause)
	assert.Equal(t, "boom", res.Exception.Cause.Message)
	assert.True(t, res.Failed())
	assert.Empty(t, res.ProtocolErrors, "a failed job is not a protocol error")

	res = pipestest.RunJob(t, pipestest.Context{}, func(ctx context.Context, p *pipes.Context) error {
		rows := []int{1}
		_ = rows[len(os.Args)+1] // panics: index out of range
		return nil
	})
	var pe *pipes.PanicError
	require.ErrorAs(t, res.Err, &pe)
	require.NotNil(t, res.Exception)
	assert.Contains(t, res.Exception.Message, "index out of range")
	assert.NotEmpty(t, res.Exception.Stack)
}

func TestSingletonIsResetBetweenRuns(t *testing.T) {
	s := pipestest.NewSession(t, pipestest.Context{RunID: "first"})
	var ids []string
	code := func() {
		p, err := pipes.Open(context.Background())
		require.NoError(t, err)
		ids = append(ids, p.RunID())
		require.NoError(t, p.Close())
	}
	s.Run(code)
	s.Run(code) // a second session with the same context gets a fresh Context
	pipestest.Run(t, pipestest.Context{RunID: "second"}, code)
	assert.Equal(t, []string{"first", "first", "second"}, ids)
	assert.False(t, pipes.IsInitialized(), "the singleton is cleared after a run")
}

// recorder is a TB that records failures instead of failing the test.
type recorder struct {
	*testing.T
	mu     sync.Mutex
	errors []string
}

func (r *recorder) Errorf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errors = append(r.errors, fmt.Sprintf(format, args...))
}

func (r *recorder) text() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return strings.Join(r.errors, "\n")
}

// rawWriter is a MessageWriter that lets the test write any message, as
// a buggy hand-written writer or another language's library might.
type rawWriter struct{ ch pipes.MessageWriterChannel }

func (w *rawWriter) Open(ctx context.Context, params pipes.Params) (pipes.MessageWriterChannel, error) {
	ch, err := pipes.DefaultMessageWriter{}.Open(ctx, params)
	w.ch = ch
	return ch, err
}

func TestMalformedMessagesFailTheTest(t *testing.T) {
	rec := &recorder{T: t}
	res := pipestest.Run(rec, pipestest.Context{AssetKeys: []string{"a"}}, func() {
		w := &rawWriter{}
		p, err := pipes.Open(context.Background(), pipes.WithMessageWriter(w))
		require.NoError(t, err)
		require.NoError(t, w.ch.WriteMessage(pipes.Message{Method: pipes.MethodReportAssetCheck,
			Params: []byte(`{"asset_key":"a","check_name":"c","passed":true,"metadata":null,"severity":"INFO"}`)}))
		require.NoError(t, w.ch.WriteMessage(pipes.Message{Method: pipes.MethodReportAssetMaterialization,
			Params: []byte(`{"asset_key":"a","metadata":{"rows":3}}`)}))
		require.NoError(t, w.ch.WriteMessage(pipes.Message{Method: "report_asset_observation", Params: []byte(`{}`)}))
		require.NoError(t, p.Close())
	})
	got := rec.text()
	assert.Contains(t, got, `message 2 (report_asset_check): severity must be "WARN" or "ERROR", got "INFO"`)
	assert.Contains(t, got, `message 3 (report_asset_materialization): missing param "data_version"`)
	assert.Contains(t, got, `metadata "rows" must be {"raw_value"`)
	assert.Contains(t, got, "Unknown message method: report_asset_observation")
	assert.Len(t, res.ProtocolErrors, len(rec.errors))

	// With AllowProtocolErrors the test does not fail; the errors are still there.
	rec2 := &recorder{T: t}
	res = pipestest.Run(rec2, pipestest.Context{}, func() {
		w := &rawWriter{}
		p, _ := pipes.Open(context.Background(), pipes.WithMessageWriter(w))
		_ = w.ch.WriteMessage(pipes.Message{Method: pipes.MethodLog, Params: []byte(`{"msg":"x"}`)})
		_ = p.Close()
	}, pipestest.AllowProtocolErrors())
	assert.Empty(t, rec2.errors)
	assert.Len(t, res.ProtocolErrors, 2) // missing "message", unexpected "msg"
}

func TestUnclosedContextIsReportedAndClosed(t *testing.T) {
	rec := &recorder{T: t}
	var p *pipes.Context
	res := pipestest.Run(rec, pipestest.Context{}, func() {
		var err error
		p, err = pipes.Open(context.Background())
		require.NoError(t, err)
		p.Log().Info("forgot to close")
	})
	assert.Contains(t, rec.text(), "did not receive the closed message")
	assert.False(t, res.Closed)
	assert.True(t, res.Failed())
	assert.True(t, p.IsClosed(), "pipestest closes what the code left open")
}

func TestNoSessionOpenedIsReported(t *testing.T) {
	rec := &recorder{T: t}
	pipestest.Run(rec, pipestest.Context{}, func() {})
	assert.Contains(t, rec.text(), "did not receive any messages")
}

func TestRunCommand(t *testing.T) {
	t.Parallel() // RunCommand touches neither env nor singleton
	for _, tc := range []struct {
		mode string
		opts []pipestest.Option
	}{
		{"file", nil},
		{"stdout", []pipestest.Option{pipestest.MessagesToStdout()}},
		{"args", []pipestest.Option{pipestest.BootstrapWithArgs(), pipestest.InjectContextByEnv()}},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			t.Parallel()
			cmd := exec.Command(os.Args[0])
			cmd.Env = append(os.Environ(), helperEnv+"="+tc.mode)
			res := pipestest.NewSession(t, pipestest.Context{AssetKeys: []string{"a"}, RunID: "r1"}, tc.opts...).RunCommand(cmd)
			require.NoError(t, res.Err)
			assert.Equal(t, []string{"from a program run=r1"}, res.LogMessages(""))
			m, ok := res.Materialization("a")
			require.True(t, ok)
			assert.Equal(t, tc.mode, m.Metadata["mode"].Raw)
			assert.Equal(t, "helper stdout line\n", res.Stdout, "only non-message lines")
			assert.Equal(t, "helper stderr line\n", res.Stderr)
		})
	}
	t.Run("failing program", func(t *testing.T) {
		t.Parallel()
		cmd := exec.Command(os.Args[0])
		cmd.Env = append(os.Environ(), helperEnv+"=fail")
		res := pipestest.NewSession(t, pipestest.Context{}).RunCommand(cmd)
		var exitErr *exec.ExitError
		require.ErrorAs(t, res.Err, &exitErr)
		assert.Equal(t, 3, exitErr.ExitCode())
		require.NotNil(t, res.Exception)
		assert.Equal(t, "program failed", res.Exception.Message)
	})
}

func TestContextData(t *testing.T) {
	start := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	d := pipestest.Context{
		AssetKeys:           []string{"a", "b"},
		CodeVersions:        map[string]string{"a": "v1"},
		PartitionKey:        "2024-01-01",
		PartitionTimeWindow: &pipes.TimeWindow{Start: start, End: start.Add(24*time.Hour + 1500*time.Microsecond)},
	}.Data()
	raw, err := json.Marshal(d)
	require.NoError(t, err)
	assert.JSONEq(t, `{"asset_keys":["a","b"],"code_version_by_asset_key":{"a":"v1","b":null},
		"provenance_by_asset_key":{"a":null,"b":null},"partition_key":"2024-01-01",
		"partition_key_range":{"start":"2024-01-01","end":"2024-01-01"},
		"partition_time_window":{"start":"2024-01-01T00:00:00+00:00","end":"2024-01-02T00:00:00.001500+00:00"},
		"run_id":"`+d.RunID+`","job_name":null,"retry_number":0,"extras":{}}`, string(raw))
	assert.Len(t, d.RunID, 36)

	// The job reads back what the test set, including the parsed window.
	pipestest.Run(t, pipestest.Context{PartitionKey: "2024-01-01", PartitionTimeWindow: &pipes.TimeWindow{Start: start, End: start.Add(24 * time.Hour)}}, func() {
		p, err := pipes.Open(context.Background())
		require.NoError(t, err)
		w, err := p.PartitionTimeWindow()
		require.NoError(t, err)
		assert.True(t, w.Start.Equal(start))
		assert.True(t, w.End.Equal(start.Add(24*time.Hour)))
		require.NoError(t, p.Close())
	})

	// WithContextData sends exactly what it is given.
	s := pipestest.NewSession(t, pipestest.Context{RunID: "ignored"}, pipestest.WithContextData(pipes.ContextData{RunID: "exact"}))
	assert.Equal(t, "exact", s.Data().RunID)
}

// A job that calls t.Fatal stops the test there (the job runs on the
// test's goroutine), after the session was closed: in a child test
// process, which must fail with the job's message and never get past
// RunJob.
func TestRunJobFatalStopsTheTest(t *testing.T) {
	if os.Getenv("PIPESTEST_FATAL_CHILD") == "1" {
		pipestest.RunJob(t, pipestest.Context{AssetKeys: []string{"a"}}, func(ctx context.Context, p *pipes.Context) error {
			p.Log().Info("before")
			t.Fatal("the job gave up")
			return nil
		})
		fmt.Println("RunJob returned")
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestRunJobFatalStopsTheTest$", "-test.v")
	cmd.Env = append(os.Environ(), "PIPESTEST_FATAL_CHILD=1")
	out, err := cmd.CombinedOutput()
	require.Error(t, err, "%s", out)
	assert.Contains(t, string(out), "the job gave up")
	assert.Contains(t, string(out), "--- FAIL: TestRunJobFatalStopsTheTest")
	assert.NotContains(t, string(out), "RunJob returned")
	assert.NotContains(t, string(out), "panic")
}
