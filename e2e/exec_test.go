package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dagster-pipes-go/pipes/internal/moto"
)

// The `pipes exec` tests: Dagster's PipesSubprocessClient launches
// `pipes exec -- bash e2e/jobs/shell/job.sh MODE`, a script that knows
// nothing of Pipes but the pipes verbs, and the tests assert on what Dagster
// recorded.

var (
	pipesBinOnce sync.Once
	pipesBinDir  string
	pipesBinErr  error
)

// pipesBinary compiles cmd/pipes once per test run (with -race when the
// tests have it) and returns its path.
func pipesBinary(t *testing.T) string {
	t.Helper()
	pipesBinOnce.Do(func() {
		// go test's cache does not see the sources a subprocess builds.
		_ = filepath.WalkDir(filepath.Join(repoRoot, "cmd", "pipes"), func(path string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				_, _ = os.ReadFile(path)
			}
			return nil
		})
		pipesBinDir = filepath.Join(tmpDir, "pipes-bin")
		pipesBinErr = buildAll(pipesBinDir, "./cmd/pipes")
	})
	require.NoError(t, pipesBinErr, "compiling cmd/pipes")
	return binaryPath(pipesBinDir, "pipes")
}

// shellScenario is the shell job in mode, under `pipes exec [execFlags]`,
// with the pipes binary first on the script's PATH.
func shellScenario(t *testing.T, mode string, execFlags ...string) Scenario {
	t.Helper()
	bin := pipesBinary(t)
	cmd := append([]string{bin, "exec"}, execFlags...)
	cmd = append(cmd, "--", "bash", filepath.Join(repoRoot, "e2e", "jobs", "shell", "job.sh"), mode)
	return Scenario{
		Command: cmd,
		Env:     map[string]string{"PATH": filepath.Dir(bin) + string(os.PathListSeparator) + os.Getenv("PATH")},
		Assets:  []AssetDef{{Key: []string{"shell_asset"}, Checks: []string{"row_count", "freshness"}}},
		Extras:  json.RawMessage(`{"limit": 7}`),
	}
}

// runCommandScenario is runScenario for a scenario whose Command is set.
// It also returns the probe's console output since the request, where the
// launched program's stdout and stderr go.
func runCommandScenario(t *testing.T, sc Scenario) (*Result, string) {
	t.Helper()
	if sc.Name == "" {
		sc.Name = t.Name()
	}
	return runRequest(t, sc.Name, sc)
}

// runRequest sends any request to the probe (a Scenario, an exampleRun).
func runRequest(t *testing.T, name string, request any) (*Result, string) {
	t.Helper()
	p := requireDagster(t)
	req, err := json.Marshal(request)
	require.NoError(t, err)
	start := time.Now()
	raw, stderr, err := p.run(req)
	elapsed := time.Since(start)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("scenario %s took %v\nrequest: %s\nanswer: %s\nprobe stderr (Dagster console, program output):\n%s",
				name, elapsed, req, truncate(raw, 64<<10), truncate([]byte(stderr), 64<<10))
		}
	})
	require.NoError(t, err, "running scenario %s", name)
	res := &Result{Raw: raw}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	require.NoError(t, dec.Decode(res), "decoding the probe's answer")
	if res.ProbeError != "" {
		lines := strings.Split(strings.TrimSpace(res.ProbeError), "\n")
		t.Fatalf("the probe failed to run the scenario: %s", lines[len(lines)-1])
	}
	return res, stderr
}

func TestExecShellJob(t *testing.T) {
	res, console := runCommandScenario(t, shellScenario(t, "report"))
	require.True(t, res.Success, "Dagster's run failed: %+v", res.StepFailures)
	requireNoSessionWarnings(t, res)
	assert.Empty(t, res.PipesWarnings())

	assert.Equal(t, []LogRecord{
		{"INFO", "shell job starting: asset=shell_asset limit=7 run=" + res.RunID},
		{"WARNING", "a warning from bash"},
		{"DEBUG", "child reported"},
	}, res.UserLogs())
	assert.Equal(t, []any{map[string]any{"from": "child", "limit": json.Number("7")}}, res.Custom(t))

	mats := res.Materialized("shell_asset")
	require.Len(t, mats, 1, "materializations: %+v", res.Materializations)
	md := mats[0].Metadata
	got := map[string]string{}
	for k, v := range md {
		got[k] = v.Type
	}
	assert.Equal(t, map[string]string{
		"rows": "IntMetadataValue", "ratio": "FloatMetadataValue", "ok": "BoolMetadataValue",
		"note": "TextMetadataValue", "page": "UrlMetadataValue", "cfg": "JsonMetadataValue",
	}, got)
	assert.Equal(t, json.Number("7"), md["rows"].Value)
	assert.Equal(t, json.Number("0.5"), md["ratio"].Value)
	assert.Equal(t, true, md["ok"].Value)
	assert.Equal(t, "hello world", md["note"].Value)
	assert.Equal(t, "https://example.com/shell", md["page"].Value)
	assert.Equal(t, decodeJSON(t, `{"a": [1, 2]}`), md["cfg"].Value)
	assert.Equal(t, "v-7", mats[0].Tags["dagster/data_version"])

	require.Len(t, res.Checks, 2, "checks: %+v", res.Checks)
	byName := map[string]CheckEvaluation{}
	for _, c := range res.Checks {
		byName[c.CheckName] = c
	}
	assert.True(t, byName["row_count"].Passed)
	assert.Equal(t, "ERROR", byName["row_count"].Severity)
	assert.Equal(t, json.Number("7"), byName["row_count"].Metadata["rows"].Value)
	assert.False(t, byName["freshness"].Passed)
	assert.Equal(t, "WARN", byName["freshness"].Severity)
	assert.Equal(t, json.Number("30"), byName["freshness"].Metadata["lag_hours"].Value)

	// The script's own output passed through pipes exec to the console of
	// Dagster's process.
	assert.Contains(t, console, "shell stdout line\n")
	assert.Contains(t, console, "shell stderr line\n")
	assert.Contains(t, console, "done\n")
}

// A failing script fails the step; the exception Dagster shows names the
// command, its exit status and its last stderr lines.
func TestExecShellJobFails(t *testing.T) {
	sc := shellScenario(t, "fail")
	res, _ := runCommandScenario(t, sc)
	assert.False(t, res.Success, "Dagster's run should fail")
	require.Len(t, res.StepFailures, 1)
	assert.True(t, chainHas(res.StepFailures[0], "External execution process failed with code 3"),
		"step failure: %+v", res.StepFailures[0])
	requireNoSessionWarnings(t, res)
	assert.True(t, res.HasLog("WARNING", "a warning from bash"), "logs before the failure arrive: %+v", res.Logs)

	exc := closedError(t, res)
	require.NotNil(t, exc.ClsName)
	assert.Equal(t, "*main.CommandError", *exc.ClsName)
	script := filepath.Join(repoRoot, "e2e", "jobs", "shell", "job.sh")
	assert.Equal(t, fmt.Sprintf("command `bash %s fail` exited with status 3\nlast lines of stderr:\nshell stderr line\nabout to fail: disk full", script),
		exc.Message)
}

// include_stdio_in_messages on Dagster's S3 reader: what the script and its
// child print comes back as log_external_stream, with context and messages
// through S3 on moto (--context-loader s3 --message-writer s3).
func TestExecShellStdioS3(t *testing.T) {
	requireDagster(t)
	srv := moto.Shared(t)
	bucket := fmt.Sprintf("e2e-exec-%d", s3BucketSeq.Add(1))
	srv.CreateBucket(t, bucket)

	run := func(t *testing.T, reader string) *Result {
		sc := shellScenario(t, "stdio", "--context-loader", "s3", "--message-writer", "s3")
		sc.Injector, sc.Reader = "s3", reader
		sc.Assets = []AssetDef{{Key: []string{"shell_asset"}}}
		sc.Env["PIPES_E2E_S3_BUCKET"] = bucket
		sc.Env["PIPES_E2E_S3_INTERVAL"] = "1"
		for _, kv := range srv.Env() {
			k, v, _ := strings.Cut(kv, "=")
			sc.Env[k] = v
		}
		res, _ := runCommandScenario(t, sc)
		require.True(t, res.Success, "Dagster's run failed: %+v", res.StepFailures)
		requireNoSessionWarnings(t, res)
		assert.Empty(t, res.PipesWarnings(), "no message after closed")
		m := res.Materialized("shell_asset")
		require.Len(t, m, 1)
		assert.Equal(t, json.Number("7"), m[0].Metadata["rows"].Value)
		return res
	}

	t.Run("include", func(t *testing.T) {
		res := run(t, "s3:stdio")
		out, errText := res.DagsterStdout, res.DagsterStderr
		assert.Contains(t, out, "shell stdout line\n")
		assert.Contains(t, out, "child stdout line\n")
		assert.Contains(t, errText, "shell stderr line\n")
		assert.Contains(t, errText, "child stderr line\n")
		assert.NotContains(t, out, "stderr line", "each stream is reported as its own")
		assert.Less(t, strings.Index(out, "shell stdout line"), strings.Index(out, "child stdout line"), "in order")
	})
	t.Run("exclude", func(t *testing.T) {
		res := run(t, "s3")
		assert.NotContains(t, res.DagsterStdout, "shell stdout line")
		assert.NotContains(t, res.DagsterStderr, "child stderr line")
	})
}

// examples/shell under real Dagster: its definitions.py, unchanged, with
// the compiled pipes binary in PIPES_BINARY.
func TestExecShellExample(t *testing.T) {
	before := time.Now().Add(-time.Second).Truncate(time.Second)
	res, _ := runRequest(t, "shell example", exampleRun{
		Name:        "shell",
		Definitions: filepath.Join(repoRoot, "examples", "shell", "definitions.py"),
		Env:         map[string]string{"PIPES_BINARY": pipesBinary(t)},
	})
	requireSucceeded(t, res)
	assert.Len(t, res.UserLogs(), 1)
	mats := res.Materialized("daily_report")
	require.Len(t, mats, 1, "materializations: %+v", res.Materializations)
	md := mats[0].Metadata
	assert.Equal(t, map[string]string{
		"rows": "IntMetadataValue", "total_orders": "IntMetadataValue",
		"preview": "MarkdownMetadataValue", "generated_at": "TimestampMetadataValue",
	}, metadataTypes(md))
	assert.Equal(t, json.Number("4"), md["rows"].Value)
	assert.Equal(t, json.Number("32"), md["total_orders"].Value)
	assert.Equal(t, "| region | orders |\n|---|---|\n| north | 12 |\n| south | 7 |\n| east | 9 |\n| west | 4 |", md["preview"].Value)
	ts, err := md["generated_at"].Value.(json.Number).Float64()
	require.NoError(t, err)
	assert.WithinRange(t, time.Unix(int64(ts), 0), before, time.Now().Add(time.Second))
	assert.NotEmpty(t, mats[0].Tags["dagster/data_version"])

	byName := map[string]CheckEvaluation{}
	for _, c := range res.Checks {
		byName[c.CheckName] = c
	}
	require.Len(t, byName, 2, "checks: %+v", res.Checks)
	assert.True(t, byName["enough_rows"].Passed)
	assert.Equal(t, json.Number("3"), byName["enough_rows"].Metadata["min_rows"].Value, "the extras of definitions.py reached the script")
	assert.False(t, byName["every_region_busy"].Passed)
	assert.Equal(t, "WARN", byName["every_region_busy"].Severity)
}
