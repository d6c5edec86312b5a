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

// The examples under examples/, each run once under real Dagster: the
// probe loads the example's own definitions.py (unchanged), takes its defs
// and materializes its assets with its resources, launching the example
// compiled once per test run (PIPES_EXAMPLE_BINARY, or PIPES_S3_JOB for
// s3). The probe side is e2e/probe/examples_ext.py.

var (
	examplesOnce   sync.Once
	examplesErr    error
	examplesBinDir string
)

// examplePath compiles every example (once per test run, with -race when
// the test binary has it) and returns the path of the named one.
func examplePath(t *testing.T, name string) string {
	t.Helper()
	examplesOnce.Do(func() {
		readExamples()
		examplesBinDir = filepath.Join(tmpDir, "examples")
		examplesErr = buildAll(examplesBinDir, "./examples/...")
	})
	require.NoError(t, examplesErr, "compiling the examples")
	p := binaryPath(examplesBinDir, name)
	_, err := os.Stat(p)
	require.NoError(t, err, "example %q was not built", name)
	return p
}

// readExamples reads the examples' files, so that go test's cache knows the
// result depends on them (see touchInputs). It runs inside a test.
func readExamples() {
	_ = filepath.WalkDir(filepath.Join(repoRoot, "examples"), func(path string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && !strings.Contains(path, "__pycache__") {
			_, _ = os.ReadFile(path)
		}
		return nil
	})
}

// exampleRun is one run of an example's definitions (see examples_ext.py).
type exampleRun struct {
	Name         string            `json:"name"`
	Definitions  string            `json:"definitions"`
	Env          map[string]string `json:"env,omitempty"`
	Select       []string          `json:"select,omitempty"`
	PartitionKey string            `json:"partition_key,omitempty"`
	RunConfig    any               `json:"run_config,omitempty"`
}

// runExample materializes the assets of examples/<name>/definitions.py in
// real Dagster, with the compiled example in binaryVar, and returns what
// Dagster recorded.
func runExample(t *testing.T, name, binaryVar string, er exampleRun) *Result {
	t.Helper()
	p := requireDagster(t)
	if er.Env == nil {
		er.Env = map[string]string{}
	}
	er.Env[binaryVar] = examplePath(t, name)
	er.Name = name
	er.Definitions = filepath.Join(repoRoot, "examples", name, "definitions.py")
	req, err := json.Marshal(er)
	require.NoError(t, err)
	start := time.Now()
	raw, stderr, err := p.run(req)
	elapsed := time.Since(start)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("example %s took %v\nrequest: %s\nanswer: %s\nprobe stderr (Dagster console, program output):\n%s",
				name, elapsed, req, truncate(raw, 64<<10), truncate([]byte(stderr), 64<<10))
		}
	})
	require.NoError(t, err, "running example %s", name)
	res := &Result{Raw: raw}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	require.NoError(t, dec.Decode(res), "decoding the probe's answer")
	if res.ProbeError != "" {
		t.Fatalf("the probe failed to run example %s:\n%s", name, res.ProbeError)
	}
	return res
}

// metadataTypes maps each metadata key to its Dagster MetadataValue class.
func metadataTypes(md map[string]MetadataEntry) map[string]string {
	out := map[string]string{}
	for k, v := range md {
		out[k] = v.Type
	}
	return out
}

// requireSucceeded asserts the run succeeded with a clean Pipes session.
func requireSucceeded(t *testing.T, res *Result) {
	t.Helper()
	require.True(t, res.Success, "Dagster's run failed: %+v", res.StepFailures)
	requireNoSessionWarnings(t, res)
	assert.Empty(t, res.PipesWarnings())
}

// TestExamples runs each example's definitions.py once under real Dagster
// and checks what Dagster recorded against what the example's main.go
// reports.
func TestExamples(t *testing.T) {
	t.Run("quickstart", func(t *testing.T) {
		before := time.Now()
		res := runExample(t, "quickstart", "PIPES_EXAMPLE_BINARY", exampleRun{})
		requireSucceeded(t, res)
		assert.Contains(t, res.UserLogs(), LogRecord{"INFO", "computing orders limit=5 run_id=" + res.RunID},
			"the extras of definitions.py reached the job")

		mats := res.Materialized("orders")
		require.Len(t, mats, 1, "materializations: %+v", res.Materializations)
		md := mats[0].Metadata
		assert.Equal(t, map[string]string{
			"rows": "IntMetadataValue", "total": "FloatMetadataValue", "preview": "MarkdownMetadataValue",
			"source": "UrlMetadataValue", "computed_at": "TimestampMetadataValue", "schema": "TableSchemaMetadataValue",
		}, metadataTypes(md))
		assert.Equal(t, json.Number("5"), md["rows"].Value)
		assert.Equal(t, json.Number("152.5"), md["total"].Value) // 10.5+20.5+…+50.5
		assert.Equal(t, "| id | customer | total |\n|---|---|---|\n"+
			"| 1 | customer-0 | 10.50 |\n| 2 | customer-1 | 20.50 |\n| 3 | customer-2 | 30.50 |\n", md["preview"].Value)
		assert.Equal(t, "https://example.com/orders", md["source"].Value)
		ts, ok := md["computed_at"].Value.(json.Number)
		require.True(t, ok, "computed_at: %#v", md["computed_at"].Value)
		sec, err := ts.Float64()
		require.NoError(t, err)
		at := time.Unix(0, int64(sec*1e9))
		assert.WithinRange(t, at, before.Add(-time.Second), time.Now().Add(time.Second), "computed_at is the job's time.Now()")
		schema, ok := md["schema"].Value.(map[string]any)
		require.True(t, ok, "schema: %#v", md["schema"].Value)
		cols, _ := schema["columns"].([]any)
		var got []string
		for _, c := range cols {
			c, _ := c.(map[string]any)
			got = append(got, fmt.Sprint(c["name"], ":", c["type"]))
		}
		assert.Equal(t, []string{"id:int", "customer:string", "total:float"}, got)
		assert.Equal(t, "rows-5", mats[0].Tags["dagster/data_version"])

		require.Len(t, res.Checks, 1, "checks: %+v", res.Checks)
		c := res.Checks[0]
		assert.Equal(t, []string{"orders"}, c.AssetKey)
		assert.Equal(t, "non_negative_totals", c.CheckName)
		assert.True(t, c.Passed)
		assert.Equal(t, "ERROR", c.Severity)
		assert.True(t, c.HasTargetMaterialization)
		assert.Equal(t, "IntMetadataValue", c.Metadata["negative_rows"].Type)
		assert.Equal(t, json.Number("0"), c.Metadata["negative_rows"].Value)
	})

	t.Run("multiasset", func(t *testing.T) {
		// Each key with its own metadata and a data version from its own
		// code version (customers "1", orders "2").
		want := map[string][2]string{"customers": {"1", "120"}, "orders": {"2", "3400"}}
		requireAssets := func(t *testing.T, res *Result, keys ...string) {
			t.Helper()
			requireSucceeded(t, res)
			require.Len(t, res.Materializations, len(keys), "materializations: %+v", res.Materializations)
			for _, key := range keys {
				mats := res.Materialized(key)
				require.Len(t, mats, 1, "materializations of %s", key)
				version, rows := want[key][0], want[key][1]
				md := mats[0].Metadata
				assert.Equal(t, map[string]string{"rows": "IntMetadataValue", "code_version": "TextMetadataValue"}, metadataTypes(md))
				assert.Equal(t, json.Number(rows), md["rows"].Value, key)
				assert.Equal(t, version, md["code_version"].Value, key)
				assert.Equal(t, version+"-"+rows, mats[0].Tags["dagster/data_version"], key)
				assert.Equal(t, version, mats[0].Tags["dagster/code_version"], key)
				assert.Contains(t, res.UserLogs(), LogRecord{"INFO", "built asset asset=" + key + " rows=" + rows})
			}
		}
		requireAssets(t, runExample(t, "multiasset", "PIPES_EXAMPLE_BINARY", exampleRun{}), "customers", "orders")
		// A subset (can_subset=True): the job reports only the key the step targets.
		requireAssets(t, runExample(t, "multiasset", "PIPES_EXAMPLE_BINARY", exampleRun{Select: []string{"orders"}}), "orders")
	})

	t.Run("partitioned", func(t *testing.T) {
		res := runExample(t, "partitioned", "PIPES_EXAMPLE_BINARY", exampleRun{PartitionKey: "2024-03-01"})
		requireSucceeded(t, res)
		mats := res.Materialized("events")
		require.Len(t, mats, 1, "materializations: %+v", res.Materializations)
		require.NotNil(t, mats[0].Partition)
		assert.Equal(t, "2024-03-01", *mats[0].Partition)
		md := mats[0].Metadata
		assert.Equal(t, map[string]string{
			"partition": "TextMetadataValue", "window_start": "TimestampMetadataValue",
			"window_end": "TimestampMetadataValue", "hours": "FloatMetadataValue",
		}, metadataTypes(md))
		assert.Equal(t, "2024-03-01", md["partition"].Value)
		// The time window Dagster gave the job: the partition's day, in UTC.
		start := time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC).Unix()
		assert.Equal(t, json.Number(fmt.Sprintf("%d.0", start)), md["window_start"].Value)
		assert.Equal(t, json.Number(fmt.Sprintf("%d.0", start+86400)), md["window_end"].Value)
		assert.Equal(t, json.Number("24.0"), md["hours"].Value)
		assert.Equal(t, "2024-03-01", mats[0].Tags["dagster/data_version"])
		assert.Contains(t, res.UserLogs(), LogRecord{"INFO",
			"loading events partition=2024-03-01 from=2024-03-01T00:00:00Z to=2024-03-02T00:00:00Z"})
	})

	t.Run("checks", func(t *testing.T) {
		res := runExample(t, "checks", "PIPES_EXAMPLE_BINARY", exampleRun{})
		requireSucceeded(t, res) // no check is blocking: failed checks do not fail the run
		mats := res.Materialized("inventory")
		require.Len(t, mats, 1, "materializations: %+v", res.Materializations)
		assert.Equal(t, json.Number("4"), mats[0].Metadata["skus"].Value)
		assert.Equal(t, json.Number("11"), mats[0].Metadata["backorders"].Value)

		type check struct {
			Name     string
			Passed   bool
			Severity string
		}
		var got []check
		for _, c := range res.Checks {
			assert.Equal(t, []string{"inventory"}, c.AssetKey, c.CheckName)
			assert.True(t, c.HasTargetMaterialization, c.CheckName)
			got = append(got, check{c.CheckName, c.Passed, c.Severity})
		}
		assert.Equal(t, []check{
			{"no_negative_stock", true, "ERROR"}, // no severity set: ERROR
			{"few_backorders", false, "WARN"},
			{"all_in_stock", false, "ERROR"},
		}, got)
		byName := map[string]map[string]MetadataEntry{}
		for _, c := range res.Checks {
			byName[c.CheckName] = c.Metadata
		}
		assert.Equal(t, json.Number("0"), byName["no_negative_stock"]["negative_rows"].Value)
		assert.Equal(t, json.Number("11"), byName["few_backorders"]["backorders"].Value)
		assert.Equal(t, json.Number("5"), byName["few_backorders"]["threshold"].Value)
		assert.Equal(t, "JsonMetadataValue", byName["all_in_stock"]["out_of_stock"].Type)
		assert.Equal(t, []any{"B-2"}, byName["all_in_stock"]["out_of_stock"].Value)
		assert.Equal(t, []LogRecord{
			{"WARNING", "check failed check=few_backorders severity=WARN"},
			{"WARNING", "check failed check=all_in_stock severity=ERROR"},
		}, res.UserLogs())
	})

	t.Run("errors", func(t *testing.T) {
		// The default mode, "error": the job returns a wrapped error.
		res := runExample(t, "errors", "PIPES_EXAMPLE_BINARY", exampleRun{})
		assert.False(t, res.Success, "Dagster's run should fail")
		require.Len(t, res.StepFailures, 1)
		assert.True(t, chainHas(res.StepFailures[0], "External execution process failed with code 1"),
			"step failure: %+v", res.StepFailures[0])
		requireNoSessionWarnings(t, res)
		assert.Empty(t, res.PipesWarnings())
		assert.Equal(t, []LogRecord{{"INFO", "starting mode=error"}}, res.UserLogs())
		assert.Empty(t, res.Materializations)

		exc := closedError(t, res)
		require.NotNil(t, exc.ClsName)
		assert.Equal(t, "error", *exc.ClsName, "fmt.Errorf of errors.New: nothing more specific to name")
		assert.Equal(t, "building fragile: loading s3://bucket/input.csv: upstream file is missing", exc.Message)
		requireFrames(t, exc.Stack)
		assert.Equal(t, "main.load", lastFunction(exc.Stack), "WithStack's stack, where the error was made, is the top's: %q", exc.Stack)

		cause := exc.Cause
		require.NotNil(t, cause)
		require.NotNil(t, cause.ClsName)
		assert.Equal(t, "error", *cause.ClsName)
		assert.Equal(t, "loading s3://bucket/input.csv: upstream file is missing", cause.Message)
		assert.Empty(t, cause.Stack, "each stack is shown once")

		root := cause.Cause
		require.NotNil(t, root)
		require.NotNil(t, root.ClsName)
		assert.Equal(t, "error", *root.ClsName)
		assert.Equal(t, "upstream file is missing", root.Message)
		assert.Nil(t, root.Cause)
	})

	t.Run("goroutines", func(t *testing.T) {
		// Small settings through the run config of definitions.py (the
		// defaults take 2 s): 3 workers of 5 steps of 10 ms.
		res := runExample(t, "goroutines", "PIPES_EXAMPLE_BINARY", exampleRun{
			RunConfig: map[string]any{"ops": map[string]any{"crunched": map[string]any{
				"config": map[string]any{"workers": 3, "steps": 5, "step_ms": 10},
			}}},
		})
		requireSucceeded(t, res)
		logs := res.UserLogs()
		require.NotEmpty(t, logs)
		assert.Equal(t, LogRecord{"INFO", "starting workers=3 steps=5"}, logs[0])
		// Logs from each goroutine, and each worker's custom message, which
		// definitions.py logs after the process has exited.
		for w := range 3 {
			assert.Contains(t, logs, LogRecord{"INFO", fmt.Sprintf("progress worker=%d step=5 of=5", w)})
			assert.Contains(t, logs, LogRecord{"INFO", fmt.Sprintf("worker finished: {'sum': 10, 'worker': %d}", w)})
		}
		assert.Len(t, logs, 1+3+3, "logs: %+v", logs)
		mats := res.Materialized("crunched")
		require.Len(t, mats, 1, "materializations: %+v", res.Materializations)
		md := mats[0].Metadata
		assert.Equal(t, json.Number("3"), md["workers"].Value)
		assert.Equal(t, json.Number("5"), md["steps"].Value)
		assert.Equal(t, json.Number("30"), md["total"].Value) // 3 × (0+1+2+3+4)
	})

	t.Run("s3", func(t *testing.T) {
		requireDagster(t) // skip before starting moto when the e2e tests are off
		srv := moto.Shared(t)
		bucket := fmt.Sprintf("e2e-examples-s3-%d", s3BucketSeq.Add(1))
		srv.CreateBucket(t, bucket)
		env := map[string]string{"PIPES_S3_BUCKET": bucket, "PIPES_S3_INTERVAL": "1"}
		for _, kv := range srv.Env() {
			k, v, _ := strings.Cut(kv, "=")
			env[k] = v
		}
		res := runExample(t, "s3", "PIPES_S3_JOB", exampleRun{Env: env})
		requireSucceeded(t, res)
		assert.Equal(t, []LogRecord{
			{"INFO", "starting run_id=" + res.RunID},
			{"INFO", "rows computed rows=5000"},
		}, res.UserLogs())
		mats := res.Materialized("go_s3_rows")
		require.Len(t, mats, 1, "materializations: %+v", res.Materializations)
		md := mats[0].Metadata
		assert.Equal(t, map[string]string{
			"rows": "IntMetadataValue", "total": "IntMetadataValue",
			"duration": "FloatMetadataValue", "storage": "TextMetadataValue",
		}, metadataTypes(md))
		assert.Equal(t, json.Number("5000"), md["rows"].Value, "extras={'rows': 5000} reached the job")
		assert.Equal(t, json.Number("14995"), md["total"].Value)
		assert.Equal(t, "s3", md["storage"].Value)

		// The messages went through the bucket: the job's chunks are there,
		// the context Dagster put there is gone after the session.
		keys := s3Keys(t, bucket)
		chunks := 0
		for _, k := range keys {
			if chunkKeyRE.MatchString(k) {
				chunks++
			}
			assert.NotContains(t, k, "context.json")
		}
		assert.GreaterOrEqual(t, chunks, 1, "message chunks in the bucket: %q", keys)
	})
}
