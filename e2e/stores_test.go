package e2e

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The assertions that the blob-store e2e tests (s3_test.go, gcs_test.go,
// azure_test.go) share: their jobs (e2e/jobs/s3, gcs, azure) have one body,
// e2e/internal/storejob, whose texts name the store.

// requireStoreReport asserts what Dagster recorded for the report mode of
// a blob-store job whose texts, asset ("<where>/asset") and check
// ("<where>_check") name the store where: the context the job read is the
// one Dagster injected, and every log, custom message, the materialization
// with its metadata and the asset check arrived, in order.
func requireStoreReport(t *testing.T, res *Result, where string) {
	t.Helper()
	require.True(t, res.Success, "Dagster's run failed: %+v", res.StepFailures)
	requireNoSessionWarnings(t, res)
	assert.Empty(t, res.PipesWarnings())

	// The job read the context Dagster injected.
	require.Len(t, res.Contexts, 1)
	injected := res.Contexts[0]
	custom := res.Custom(t)
	require.NotEmpty(t, custom)
	seen, ok := custom[0].(map[string]any)
	require.True(t, ok, "first custom message is %T", custom[0])
	assert.Equal(t, res.RunID, seen["run_id"])
	for _, k := range []string{"run_id", "job_name", "retry_number", "asset_keys", "extras"} {
		assert.Equal(t, injected[k], seen[k], k)
	}
	assert.Equal(t, []any{where + "/asset"}, seen["asset_keys"])
	assert.Equal(t, decodeJSON(t, `{"where": "`+where+`", "n": 3, "nested": {"list": [1, "two", null]}}`), seen["extras"])

	// 4 batches of 50 custom messages, sent over several upload intervals:
	// all of them, in order.
	rest := custom[1:]
	const perBatch = 50
	require.Len(t, rest, batches*perBatch)
	for i, m := range rest {
		want := map[string]any{"batch": json.Number(fmt.Sprint(i / perBatch)), "i": json.Number(fmt.Sprint(i % perBatch)), "text": "ünïcödé ✓"}
		if !assert.Equal(t, want, m, "custom message %d", i+1) {
			break
		}
	}

	assert.Equal(t, []LogRecord{
		{"DEBUG", "debug over " + where},
		{"INFO", "info over " + where + " n=1"},
		{"WARNING", "warning over " + where},
		{"ERROR", "error over " + where},
		{"CRITICAL", "critical over " + where},
		{"INFO", "batch 0 sent"},
		{"INFO", "batch 1 sent"},
		{"INFO", "batch 2 sent"},
		{"INFO", "batch 3 sent"},
	}, res.UserLogs())

	mats := res.Materialized(where, "asset")
	require.Len(t, mats, 1, "materializations: %+v", res.Materializations)
	md := mats[0].Metadata
	assert.Equal(t, map[string]string{
		"text": "TextMetadataValue", "int": "IntMetadataValue", "float": "FloatMetadataValue",
		"bool": "BoolMetadataValue", "url": "UrlMetadataValue", "path": "PathMetadataValue",
		"json": "JsonMetadataValue", "md": "MarkdownMetadataValue", "inferd": "IntMetadataValue",
		"null": "NullMetadataValue",
	}, metadataTypes(md))
	assert.Equal(t, "through "+where, md["text"].Value)
	assert.Equal(t, json.Number("42"), md["int"].Value)
	assert.Equal(t, json.Number("2.5"), md["float"].Value)
	assert.Equal(t, true, md["bool"].Value)
	assert.Equal(t, "https://example.com/"+where, md["url"].Value)
	assert.Equal(t, "/data/out.parquet", md["path"].Value)
	assert.Equal(t, decodeJSON(t, `{"k": [1, "two", null]}`), md["json"].Value)
	assert.Equal(t, "# title", md["md"].Value)
	assert.Equal(t, json.Number("7"), md["inferd"].Value)
	assert.Nil(t, md["null"].Value)
	assert.Equal(t, "dv-"+where, mats[0].Tags["dagster/data_version"])

	require.Len(t, res.Checks, 1, "checks: %+v", res.Checks)
	c := res.Checks[0]
	assert.Equal(t, []string{where, "asset"}, c.AssetKey)
	assert.Equal(t, where+"_check", c.CheckName)
	assert.False(t, c.Passed)
	assert.Equal(t, "WARN", c.Severity)
	assert.Equal(t, "TextMetadataValue", c.Metadata["reason"].Type)
	assert.Equal(t, "checked over "+where, c.Metadata["reason"].Value)
	assert.Equal(t, "IntMetadataValue", c.Metadata["rows"].Type)
	assert.Equal(t, json.Number("3"), c.Metadata["rows"].Value)
}

// requireStoreFailure asserts what Dagster recorded for the fail mode of a
// blob-store job named where: the closed message, uploaded with the
// exception, reached Dagster, which recorded the exception, and the step
// failed because the process exited with status 1.
func requireStoreFailure(t *testing.T, res *Result, where string) {
	t.Helper()
	assert.False(t, res.Success, "Dagster's run should fail")
	require.Len(t, res.StepFailures, 1)
	assert.True(t, chainHas(res.StepFailures[0], "External execution process failed with code 1"),
		"step failure: %+v", res.StepFailures[0])
	requireNoSessionWarnings(t, res)
	assert.Empty(t, res.PipesWarnings())
	assert.True(t, res.HasLog("INFO", "failing over "+where), "logs: %+v", res.Logs)
	assert.Equal(t, []any{"before failure"}, res.Custom(t))
	assert.Empty(t, res.Materializations)

	exc := closedError(t, res)
	require.NotNil(t, exc.ClsName)
	assert.Equal(t, "*main.jobError", *exc.ClsName, "fmt.Errorf is named by what it wraps")
	assert.Equal(t, where+" step failed: "+where+" job error 5", exc.Message)
	requireFrames(t, exc.Stack)
	assert.True(t, stackHas(exc.Stack, "main.fail"), "WithStack's stack, where the error was made, is the top's: %q", exc.Stack)
	require.NotNil(t, exc.Cause)
	require.NotNil(t, exc.Cause.ClsName)
	assert.Equal(t, "*main.jobError", *exc.Cause.ClsName)
	assert.Equal(t, where+" job error 5", exc.Cause.Message)
	assert.Empty(t, exc.Cause.Stack, "each stack is shown once")
	assert.Nil(t, exc.Cause.Cause)
}

// testStoreStdio runs the stdio mode of a blob-store job named where with
// the store's reader, with include_stdio_in_messages ("<where>:stdio") and
// without: what the job and its child process print comes back as
// log_external_stream messages, which Dagster's handler prints on its own
// stdout and stderr; without the flag, none of it comes back. scenario
// returns the job's scenario with the store's injector and the reader.
func testStoreStdio(t *testing.T, where string, scenario func(t *testing.T, reader string) Scenario) {
	run := func(t *testing.T, reader string) *Result {
		sc := scenario(t, reader)
		sc.Assets = []AssetDef{{Key: []string{where, "asset"}}} // no check in this mode
		res := runScenario(t, sc)
		require.True(t, res.Success, "Dagster's run failed: %+v", res.StepFailures)
		requireNoSessionWarnings(t, res)
		assert.Empty(t, res.PipesWarnings(), "no message after closed: capture stops before it")
		require.Len(t, res.Materialized(where, "asset"), 1)
		return res
	}

	t.Run("include", func(t *testing.T) {
		res := run(t, where+":stdio")
		out, errText := res.DagsterStdout, res.DagsterStderr
		assert.Contains(t, out, "go stdout line 1\ngo stdout line 2 ünïcödé\n")
		assert.Contains(t, out, "child stdout\n")
		assert.Contains(t, errText, "go stderr line ✓\n")
		assert.Contains(t, errText, "child stderr\n")
		assert.NotContains(t, out, "stderr", "each stream is reported as its own")
		assert.NotContains(t, errText, "go stdout")
		assert.Less(t, strings.Index(out, "go stdout line 2"), strings.Index(out, "child stdout"), "in order")
	})

	t.Run("exclude", func(t *testing.T) {
		res := run(t, where)
		assert.NotContains(t, res.DagsterStdout, "go stdout")
		assert.NotContains(t, res.DagsterStdout, "child stdout")
		assert.NotContains(t, res.DagsterStderr, "go stderr")
		assert.NotContains(t, res.DagsterStderr, "child stderr")
	})
}

// storeScenario returns a scenario of the blob-store job named where, with
// Dagster's given injector and reader ("<where>…" for the store's, else
// the probe's) and env; the job's side of each channel follows Dagster's,
// and it uploads every 200 ms. The asset is "<where>/asset" with the check
// "<where>_check", and the extras name the store.
func storeScenario(where, injector, reader string, env map[string]string, args ...string) Scenario {
	side := func(kind string) string {
		if strings.HasPrefix(kind, where) {
			return where
		}
		return "default"
	}
	return Scenario{
		Job:      where,
		Args:     append([]string{"-context=" + side(injector), "-messages=" + side(reader), "-upload-interval=200ms"}, args...),
		Injector: injector,
		Reader:   reader,
		Env:      env,
		Assets:   []AssetDef{{Key: []string{where, "asset"}, Checks: []string{where + "_check"}}},
		Extras:   json.RawMessage(`{"where": "` + where + `", "n": 3, "nested": {"list": [1, "two", null]}}`),
	}
}
