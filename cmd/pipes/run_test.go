package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dagster-pipes-go/pipes"
)

// helperEnv makes the test binary act as the program under the runner.
const helperEnv = "PIPES_RUN_HELPER"

// helper is a Pipes program whose behaviour depends on mode.
func helper(mode string) int {
	fmt.Println("program stdout")
	fmt.Fprintln(os.Stderr, "program stderr")
	var opts []pipes.Option
	if mode == "args" {
		opts = append(opts, pipes.WithParamsLoader(pipes.CLIArgsParamsLoader{}))
	}
	if mode == "no-close" {
		p, err := pipes.Open(context.Background())
		if err != nil {
			return 5
		}
		p.Log().Info("leaving without closing")
		return 0
	}
	if mode == "bad-message" {
		w := &rawWriter{}
		p, err := pipes.Open(context.Background(), pipes.WithMessageWriter(w))
		if err != nil {
			return 5
		}
		_ = w.ch.WriteMessage(pipes.Message{Method: pipes.MethodReportAssetCheck,
			Params: []byte(`{"asset_key":"a","check_name":"c","passed":true,"metadata":null,"severity":"INFO"}`)})
		_ = p.Close()
		return 0
	}
	err := pipes.Run(context.Background(), func(ctx context.Context, p *pipes.Context) error {
		d := p.Data()
		echo, _ := json.Marshal(d)
		p.Log().Warn("context", "data", string(echo))
		if mode == "fail" {
			return errors.New("the job failed")
		}
		if err := p.ReportAssetMaterialization(pipes.Materialization{AssetKey: "a", DataVersion: "v1", Metadata: pipes.Metadata{
			"rows": 3, "note": pipes.Text("hello"),
		}}); err != nil {
			return err
		}
		if err := p.ReportAssetCheck(pipes.AssetCheck{AssetKey: "a", CheckName: "fresh", Passed: false, Severity: pipes.SeverityWarn}); err != nil {
			return err
		}
		return p.ReportCustomMessage(map[string]any{"k": 1})
	}, opts...)
	if err != nil {
		return 4
	}
	return 0
}

type rawWriter struct{ ch pipes.MessageWriterChannel }

func (w *rawWriter) Open(ctx context.Context, params pipes.Params) (pipes.MessageWriterChannel, error) {
	ch, err := pipes.DefaultMessageWriter{}.Open(ctx, params)
	w.ch = ch
	return ch, err
}

// runHelper runs the command with the test binary as the program.
func runHelper(t *testing.T, mode string, flags ...string) (code int, stdout, stderr string) {
	t.Helper()
	t.Setenv(helperEnv, mode)
	var out, errOut bytes.Buffer
	args := append(flags, "--", os.Args[0])
	code = runCmd(args, &out, &errOut, false)
	return code, out.String(), errOut.String()
}

// contextEcho returns the context data the helper logged.
func contextEcho(t *testing.T, stderr string) pipes.ContextData {
	t.Helper()
	m := regexp.MustCompile(`WARNING  context data="(.*)"\n`).FindStringSubmatch(stderr)
	require.NotNil(t, m, stderr)
	var s string
	require.NoError(t, json.Unmarshal([]byte(`"`+m[1]+`"`), &s))
	var d pipes.ContextData
	require.NoError(t, json.Unmarshal([]byte(s), &d))
	return d
}

func TestSuccessfulRunShowsEverything(t *testing.T) {
	code, stdout, stderr := runHelper(t, "ok", "--asset", "a", "--asset", "b/c", "--run-id", "r-1", "--job", "daily")
	assert.Equal(t, 0, code, stderr)
	assert.Equal(t, "program stdout\n", stdout, "the program's stdout passes through untouched")
	for _, want := range []string{
		"program stderr\n",
		"[pipes] opened\n",
		"[pipes] MATERIALIZED a (data version v1)\n",
		"[pipes]     note  text             hello\n",
		"[pipes]     rows  int (inferred)   3\n",
		"[pipes] CHECK fresh FAILED on a (severity WARN)\n",
		`[pipes] CUSTOM {"k":1}` + "\n",
		"[pipes] closed\n",
		"[pipes] materialized     1: a (2 metadata)\n",
		"[pipes] checks           0 passed, 1 failed: fresh on a [WARN]\n",
		"[pipes] result: SUCCESS\n",
	} {
		assert.Contains(t, stderr, want)
	}
	d := contextEcho(t, stderr)
	assert.Equal(t, []string{"a", "b/c"}, d.AssetKeys)
	assert.Equal(t, "r-1", d.RunID)
	assert.Equal(t, "daily", *d.JobName)
}

func TestContextFlags(t *testing.T) {
	extrasFile := filepath.Join(t.TempDir(), "extras.json")
	require.NoError(t, os.WriteFile(extrasFile, []byte(`{"from_file": {"n": 1}}`), 0o600))
	code, _, stderr := runHelper(t, "ok",
		"--asset", "a", "--code-version", "a=v7", "--partition", "2024-01-01",
		"--time-window", "2024-01-01T00:00:00Z,2024-01-02T00:00:00Z", "--retry", "2",
		"--extras", "@"+extrasFile, "--extra", "limit=10", "--extra", "name=plain text",
		"--inject", "env")
	require.Equal(t, 0, code, stderr)
	d := contextEcho(t, stderr)
	assert.Equal(t, "v7", *d.CodeVersionByAssetKey["a"])
	assert.Equal(t, "2024-01-01", *d.PartitionKey)
	assert.Equal(t, pipes.PartitionKeyRange{Start: "2024-01-01", End: "2024-01-01"}, *d.PartitionKeyRange)
	assert.Equal(t, "2024-01-01T00:00:00+00:00", d.PartitionTimeWindow.Start)
	assert.Equal(t, 2, d.RetryNumber)
	assert.Equal(t, map[string]any{"from_file": map[string]any{"n": float64(1)}, "limit": float64(10), "name": "plain text"}, d.Extras)

	ctxFile := filepath.Join(t.TempDir(), "context.json")
	require.NoError(t, os.WriteFile(ctxFile, []byte(`{"asset_keys":["x"],"run_id":"from-file","extras":{"a":1}}`), 0o600))
	code, _, stderr = runHelper(t, "ok", "--context", "@"+ctxFile)
	require.Equal(t, 4, code, "the library refuses asset a, which the context does not target")
	d = contextEcho(t, stderr)
	assert.Equal(t, "from-file", d.RunID)
	assert.Equal(t, []string{"x"}, d.AssetKeys)
	assert.Contains(t, stderr, "closed with exception: ")
	assert.Contains(t, stderr, "Invalid asset key. Expected one of `['x']`, got `a`.")
}

func TestTransportsAndBootstraps(t *testing.T) {
	for _, tc := range []struct {
		name, mode string
		flags      []string
		stdout     string
	}{
		{"stdout messages", "ok", []string{"--messages", "stdout"}, "program stdout\n"},
		{"stderr messages", "ok", []string{"--messages", "stderr"}, "program stdout\n"},
		{"cli args", "args", []string{"--bootstrap", "args", "--inject", "env"}, "program stdout\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := runHelper(t, tc.mode, tc.flags...)
			assert.Equal(t, 0, code, stderr)
			assert.Equal(t, tc.stdout, stdout, "messages are taken out of the stream")
			assert.Contains(t, stderr, "program stderr\n")
			assert.Contains(t, stderr, "[pipes] MATERIALIZED a (data version v1)\n")
			assert.NotContains(t, stderr, `"__dagster_pipes_version"`)
			assert.Contains(t, stderr, "[pipes] result: SUCCESS\n")
		})
	}
}

func TestFailures(t *testing.T) {
	code, _, stderr := runHelper(t, "fail")
	assert.Equal(t, 4, code, "the program's exit status is the runner's")
	assert.Contains(t, stderr, "[pipes] closed with exception: error: the job failed\n")
	assert.Contains(t, stderr, "result: FAILURE (exit status 4, closed with an exception)")

	code, _, stderr = runHelper(t, "no-close")
	assert.Equal(t, 1, code, "exit 0 without closed is a failure")
	assert.Contains(t, stderr, "NO: the program never sent the closed message")
	assert.Contains(t, stderr, "did not receive the closed message")

	code, _, stderr = runHelper(t, "bad-message")
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr, `PROTOCOL ERROR pipes protocol: message 2 (report_asset_check): severity must be "WARN" or "ERROR", got "INFO"`)

	var out, errOut bytes.Buffer
	code = runCmd([]string{"--", filepath.Join(t.TempDir(), "does-not-exist")}, &out, &errOut, false)
	assert.Equal(t, 127, code)
	assert.Contains(t, errOut.String(), "cannot start")
}

func TestBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{},
		{"--extras", "[1]", "--", "true"},
		{"--extra", "novalue", "--", "true"},
		{"--partition-range", "a", "--", "true"},
		{"--time-window", "yesterday,today", "--", "true"},
		{"--context", "{}", "--asset", "a", "--", "true"},
		{"--messages", "pigeon", "--", "true"},
		{"--no-such-flag", "--", "true"},
	} {
		var out, errOut bytes.Buffer
		code := runCmd(args, &out, &errOut, false)
		if code != 2 && !(len(args) > 0 && args[0] == "--messages") {
			t.Errorf("run(%q) = %d, want 2; stderr:\n%s", args, code, errOut.String())
		}
		if len(args) > 0 && args[0] == "--messages" {
			assert.Equal(t, 1, code, "unknown transport")
			assert.Contains(t, errOut.String(), `unknown message transport "pigeon"`)
		}
	}
	var out, errOut bytes.Buffer
	assert.Equal(t, 0, runCmd([]string{"-help"}, &out, &errOut, false))
	assert.Contains(t, errOut.String(), "Usage: pipes run")
}

// TestQuickstart runs the README's command: the quickstart example under
// the runner, with no Python anywhere.
func TestQuickstart(t *testing.T) {
	if testing.Short() {
		t.Skip("builds examples/quickstart")
	}
	bin := filepath.Join(t.TempDir(), "quickstart")
	build := exec.Command("go", "build", "-o", bin, "../../examples/quickstart")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	var out, errOut bytes.Buffer
	code := runCmd([]string{"--asset", "orders", "--extra", "limit=3", "--", bin}, &out, &errOut, false)
	require.Equal(t, 0, code, errOut.String())
	s := errOut.String()
	assert.Contains(t, s, "[pipes] INFO     computing orders limit=3")
	assert.Contains(t, s, "[pipes] MATERIALIZED orders (data version rows-3)\n")
	assert.Contains(t, s, "[pipes] CHECK non_negative_totals PASSED on orders (severity ERROR)\n")
	assert.Contains(t, s, "[pipes] result: SUCCESS\n")
	assert.True(t, strings.HasSuffix(s, "[pipes] result: SUCCESS\n"), s)
}
