package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dagster-pipes-go/pipes/internal/lambdaemu"
	"github.com/dagster-pipes-go/pipes/internal/moto"
)

// The Lambda tests: Dagster's PipesLambdaClient (dagster-aws), with a real
// boto3 Lambda client pointed at the loopback emulator internal/lambdaemu,
// invokes the Go function e2e/jobs/lambda (aws-lambda-go and lambdapipes),
// which the emulator runs as a real process, warm between invocations. The
// probe side is e2e/probe/lambdaext.py.

const lambdaFunction = "go-pipes-fn"

// lambdaSpec is the "lambda" part of a probe request (see lambdaext.py).
type lambdaSpec struct {
	Endpoint string    `json:"endpoint"`
	Function string    `json:"function"`
	Event    any       `json:"event,omitempty"`
	Reader   string    `json:"reader,omitempty"`
	S3       *lambdaS3 `json:"s3,omitempty"`
}

type lambdaS3 struct {
	Endpoint string  `json:"endpoint"`
	Bucket   string  `json:"bucket"`
	Interval float64 `json:"interval"`
}

type lambdaRequest struct {
	Scenario
	Lambda lambdaSpec `json:"lambda"`
}

// startLambda starts the emulator with the e2e function; env is added to
// the function's environment.
func startLambda(t *testing.T, env ...string) *lambdaemu.Server {
	t.Helper()
	requireDagster(t) // skip before building when the e2e tests are off
	// A data race in a -race build stops the function, so that the
	// invocation fails instead of the report going unnoticed.
	env = append(env, "GORACE=halt_on_error=1")
	em, err := lambdaemu.Start(lambdaemu.Function{
		Name:    lambdaFunction,
		Command: []string{jobPath(t, "lambda")},
		Env:     env,
		Timeout: 2 * time.Minute,
	})
	require.NoError(t, err)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("the function's output:\n%s", truncate([]byte(em.Output(lambdaFunction)), 64<<10))
		}
		em.Close()
	})
	return em
}

// runLambda runs one Dagster step whose asset invokes the function with
// event, and returns what Dagster recorded.
func runLambda(t *testing.T, em *lambdaemu.Server, event map[string]any, reader string, s3 *lambdaS3) *Result {
	t.Helper()
	p := requireDagster(t)
	req := lambdaRequest{
		Scenario: Scenario{
			Name:   t.Name(),
			Assets: []AssetDef{{Key: []string{"lambda_asset"}, Checks: []string{"rows_positive"}}},
		},
		Lambda: lambdaSpec{Endpoint: em.Endpoint, Function: lambdaFunction, Event: event, Reader: reader, S3: s3},
	}
	raw, err := json.Marshal(req)
	require.NoError(t, err)
	start := time.Now()
	answer, stderr, err := p.run(raw)
	elapsed := time.Since(start)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("scenario %s took %v\nrequest: %s\nanswer: %s\nprobe stderr:\n%s",
				t.Name(), elapsed, raw, truncate(answer, 64<<10), truncate([]byte(stderr), 64<<10))
		}
	})
	require.NoError(t, err)
	res := &Result{Raw: answer}
	dec := json.NewDecoder(bytes.NewReader(answer))
	dec.UseNumber()
	require.NoError(t, dec.Decode(res), "decoding the probe's answer")
	if res.ProbeError != "" {
		t.Fatalf("the probe failed to run the scenario:\n%s", res.ProbeError)
	}
	return res
}

// lambdaResult decodes what the function returned to the invoker.
func lambdaResult(t *testing.T, inv lambdaemu.Invocation) map[string]any {
	t.Helper()
	var out map[string]any
	require.NoError(t, json.Unmarshal(inv.Result, &out), "result: %s", inv.Result)
	return out
}

// requireLambdaReport asserts what Dagster recorded for one report-mode
// invocation: the context the job read, its logs, the materialization with
// its metadata and the check; invocation is the count of invocations the
// function's process had served.
func requireLambdaReport(t *testing.T, res *Result, rows, invocation int) {
	t.Helper()
	require.True(t, res.Success, "Dagster's run failed: %+v", res.StepFailures)
	requireNoSessionWarnings(t, res)
	assert.Empty(t, res.PipesWarnings())

	require.Len(t, res.Contexts, 1, "PipesLambdaEventContextInjector put the context in the event")
	custom := res.Custom(t)
	require.NotEmpty(t, custom)
	seen, ok := custom[0].(map[string]any)
	require.True(t, ok, "first custom message: %#v", custom[0])
	assert.Equal(t, res.RunID, seen["run_id"])
	assert.Equal(t, []any{"lambda_asset"}, seen["asset_keys"])
	assert.Equal(t, map[string]any{}, seen["extras"])
	event, _ := seen["event"].(map[string]any)
	assert.Equal(t, json.Number(fmt.Sprint(rows)), event["rows"], "the job got the rest of the event: %v", seen["event"])
	assert.Equal(t, json.Number(fmt.Sprint(invocation)), seen["invocation"])

	assert.Equal(t, []LogRecord{
		{"DEBUG", "debug from lambda"},
		{"INFO", fmt.Sprintf("info from lambda rows=%d", rows)},
		{"WARNING", "warning from lambda"},
		{"ERROR", "error from lambda"},
	}, res.UserLogs())

	mats := res.Materialized("lambda_asset")
	require.Len(t, mats, 1, "materializations: %+v", res.Materializations)
	md := mats[0].Metadata
	assert.Equal(t, map[string]string{"rows": "IntMetadataValue", "invocation": "IntMetadataValue", "runtime": "TextMetadataValue"}, metadataTypes(md))
	assert.Equal(t, json.Number(fmt.Sprint(rows)), md["rows"].Value)
	assert.Equal(t, json.Number(fmt.Sprint(invocation)), md["invocation"].Value)
	assert.Equal(t, "go-lambda", md["runtime"].Value)
	assert.Equal(t, fmt.Sprintf("rows-%d", rows), mats[0].Tags["dagster/data_version"])

	require.Len(t, res.Checks, 1, "checks: %+v", res.Checks)
	c := res.Checks[0]
	assert.Equal(t, []string{"lambda_asset"}, c.AssetKey)
	assert.Equal(t, "rows_positive", c.CheckName)
	assert.Equal(t, rows > 0, c.Passed)
	assert.Equal(t, json.Number(fmt.Sprint(rows)), c.Metadata["rows"].Value)
}

// requireLambdaFailure asserts that the step failed because the invocation
// did (PipesLambdaClient raises on FunctionError) and returns the exception
// Dagster took from the closed message.
func requireLambdaFailure(t *testing.T, res *Result, log string) *ErrorInfo {
	t.Helper()
	assert.False(t, res.Success, "Dagster's run should fail")
	require.Len(t, res.StepFailures, 1)
	assert.True(t, chainHas(res.StepFailures[0], "Lambda Function Error (Unhandled)"), "step failure: %+v", res.StepFailures[0])
	requireNoSessionWarnings(t, res)
	assert.Empty(t, res.PipesWarnings())
	assert.True(t, res.HasLog("INFO", log), "logs: %+v", res.Logs)
	assert.Empty(t, res.Materializations)
	return closedError(t, res)
}

// One warm function process serves one Dagster step after another, each
// its own Pipes session; a failing invocation fails its step with the
// closed exception and leaves the process warm; a panic ends the process
// and the next invocation runs in a new one.
func TestLambda(t *testing.T) {
	em := startLambda(t)

	t.Run("report", func(t *testing.T) {
		res := runLambda(t, em, map[string]any{"mode": "report", "rows": 5}, "", nil)
		requireLambdaReport(t, res, 5, 1)
		invs := em.Invocations(lambdaFunction)
		require.Len(t, invs, 1)
		assert.Empty(t, invs[0].FunctionError)
		out := lambdaResult(t, invs[0])
		assert.Equal(t, "report", out["mode"])
		assert.Equal(t, float64(1), out["invocation"])
		// The premise: the messages came through the 4 KB log tail.
		tail := string(lambdaemu.Tail(invs[0].Log))
		assert.Contains(t, tail, `"method":"opened"`)
		assert.Contains(t, tail, `"method":"report_asset_materialization"`)
	})

	t.Run("warm", func(t *testing.T) {
		res := runLambda(t, em, map[string]any{"mode": "report", "rows": 7}, "", nil)
		requireLambdaReport(t, res, 7, 2)
		invs := em.Invocations(lambdaFunction)
		require.Len(t, invs, 2)
		assert.Equal(t, 1, em.Starts(lambdaFunction), "both invocations in one warm process")
		assert.Equal(t, invs[0].PID, invs[1].PID)
		assert.Equal(t, float64(2), lambdaResult(t, invs[1])["invocation"])
	})

	t.Run("fail", func(t *testing.T) {
		res := runLambda(t, em, map[string]any{"mode": "fail"}, "", nil)
		exc := requireLambdaFailure(t, res, "lambda failing")
		assert.True(t, chainHas(res.StepFailures[0], "lambda step failed: table orders is missing"),
			"the function error document reaches the step failure: %+v", res.StepFailures[0])
		require.NotNil(t, exc.ClsName)
		assert.Equal(t, "*main.loadError", *exc.ClsName, "fmt.Errorf is named by what it wraps")
		assert.Equal(t, "lambda step failed: table orders is missing", exc.Message)
		requireFrames(t, exc.Stack)
		assert.True(t, stackHas(exc.Stack, "main.handle"), "WithStack's stack, where the error was made, is the top's: %q", exc.Stack)
		require.NotNil(t, exc.Cause)
		require.NotNil(t, exc.Cause.ClsName)
		assert.Equal(t, "*main.loadError", *exc.Cause.ClsName)
		assert.Empty(t, exc.Cause.Stack, "each stack is shown once")

		invs := em.Invocations(lambdaFunction)
		last := invs[len(invs)-1]
		assert.Equal(t, "Unhandled", last.FunctionError)
		doc := lambdaResult(t, last)
		assert.Equal(t, "wrapError", doc["errorType"], "aws-lambda-go names the job's own error")
		assert.Equal(t, "lambda step failed: table orders is missing", doc["errorMessage"])

		// The process survived the error and serves the next step.
		requireLambdaReport(t, runLambda(t, em, map[string]any{"mode": "report", "rows": 1}, "", nil), 1, 4)
		assert.Equal(t, 1, em.Starts(lambdaFunction))
	})

	t.Run("panic", func(t *testing.T) {
		res := runLambda(t, em, map[string]any{"mode": "panic"}, "", nil)
		exc := requireLambdaFailure(t, res, "lambda panicking")
		require.NotNil(t, exc.ClsName)
		assert.Equal(t, "error", *exc.ClsName, "a plain errors.New value is named error")
		assert.Equal(t, "panic: lambda panic value", exc.Message)
		assert.True(t, stackHas(exc.Stack, "main.handle"), "where it panicked: %q", exc.Stack)

		invs := em.Invocations(lambdaFunction)
		doc := lambdaResult(t, invs[len(invs)-1])
		assert.Equal(t, "lambda panic value", doc["errorMessage"])
		assert.Equal(t, "errorString", doc["errorType"])

		// Lambda starts a fresh process after a panic; it serves the
		// next step from a count of 1.
		requireLambdaReport(t, runLambda(t, em, map[string]any{"mode": "report", "rows": 2}, "", nil), 2, 1)
		assert.Equal(t, 2, em.Starts(lambdaFunction))
	})
}

// More than the 4 KB of a log tail: through PipesS3MessageReader on moto
// every message arrives; through the log tail (the control) they cannot.
func TestLambdaS3Messages(t *testing.T) {
	requireDagster(t)
	srv := moto.Shared(t)
	bucket := fmt.Sprintf("e2e-lambda-%d", s3BucketSeq.Add(1))
	srv.CreateBucket(t, bucket)
	em := startLambda(t, srv.Env()...)
	const messages = 100
	event := map[string]any{"mode": "big", "rows": 3, "messages": messages}

	t.Run("s3", func(t *testing.T) {
		res := runLambda(t, em, event, "s3", &lambdaS3{Endpoint: srv.Endpoint, Bucket: bucket, Interval: 1})
		requireLambdaReport(t, res, 3, 1)
		custom := res.Custom(t)
		require.Len(t, custom, 1+messages)
		for i, m := range custom[1:] {
			assert.Equal(t, map[string]any{"i": json.Number(fmt.Sprint(i)), "pad": strings.Repeat("x", 64)}, m)
		}
		inv := em.Invocations(lambdaFunction)[0]
		assert.NotContains(t, inv.Log, "__dagster_pipes_version", "the messages went to S3, not to the log")
		size := 0
		for _, k := range s3Keys(t, bucket) {
			if chunkKeyRE.MatchString(k) {
				size++
			}
		}
		assert.GreaterOrEqual(t, size, 1, "message chunks in the bucket")
	})

	t.Run("log tail", func(t *testing.T) {
		// The control: through the 4 KB log tail the messages cannot all
		// arrive. lambdapipes keeps the session whole (opened, the newest
		// messages, closed) and says in Dagster's log what was dropped.
		res := runLambda(t, em, event, "logs", nil)
		require.True(t, res.Success, "Dagster's run failed: %+v", res.StepFailures)
		requireNoSessionWarnings(t, res)
		inv := em.Invocations(lambdaFunction)[1]
		tail := string(lambdaemu.Tail(inv.Log))
		assert.Contains(t, tail, `"method":"opened"`, "the messages that were kept fit in the tail")
		assert.Contains(t, tail, `"method":"closed"`)
		custom := res.Custom(t)
		assert.Less(t, len(custom), 1+messages, "only what fits in the tail reaches Dagster")
		require.NotEmpty(t, custom)
		last, _ := custom[len(custom)-1].(map[string]any)
		assert.Equal(t, json.Number(fmt.Sprint(messages-1)), last["i"], "the newest messages are kept")
		var warning string
		for _, l := range res.UserLogs() {
			if l.Level == "WARNING" && strings.HasPrefix(l.Message, "[lambdapipes] ") {
				warning = l.Message
			}
		}
		assert.Contains(t, warning, fmt.Sprintf("[lambdapipes] %d messages", 1+messages+4-len(custom)),
			"dropped: the first custom message, the 4 logs and the custom messages not kept")
		assert.Contains(t, warning, "use PipesS3MessageReader")
		require.Len(t, res.Materialized("lambda_asset"), 1)
		require.Len(t, res.Checks, 1)
	})
}

// Dagster decodes the 4 KB log tail as UTF-8. Non-ASCII text printed by the
// job before the messages, and in the messages, must not break that: the
// cut never falls inside a character (see lambdapipes.TailChannel).
func TestLambdaUnicodeLogTail(t *testing.T) {
	em := startLambda(t)
	// Where the cut falls in the text printed before the messages depends
	// on the length of what follows it: log messages one byte longer each
	// time, so that without care one of the cuts falls inside a character.
	printed := strings.Repeat("é", 3000)
	for i, prefix := range []string{"", "a", "ab", "abc"} {
		res := runLambda(t, em, map[string]any{"mode": "report", "rows": 1, "print": prefix + printed}, "", nil)
		require.True(t, res.Success, "run %d failed: %+v", i, res.StepFailures)
		requireNoSessionWarnings(t, res)
		logs := res.UserLogs()
		require.NotEmpty(t, logs)
		assert.Equal(t, LogRecord{"INFO", string([]rune(prefix + printed)[:20])}, logs[0], "non-ASCII text in a message arrives as written")
		assert.Len(t, logs, 5, "every message fits: %+v", logs)
		require.Len(t, res.Materialized("lambda_asset"), 1)
		assert.Contains(t, em.Invocations(lambdaFunction)[i].Log, printed)
	}
}
