package lambdapipes_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambda/messages"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/dagster-pipes-go/pipes"
	"github.com/dagster-pipes-go/pipes/internal/moto"
	"github.com/dagster-pipes-go/pipes/internal/orchestrator"
	"github.com/dagster-pipes-go/pipes/lambdapipes"
	"github.com/dagster-pipes-go/pipes/pipestest"
)

// motoM runs the tests and then stops the shared moto server, so that
// goleak checks after both.
type motoM struct{ m *testing.M }

func (r motoM) Run() int { return moto.RunTests(r.m) }

func TestMain(m *testing.M) {
	if kind := os.Getenv(benchFunctionEnv); kind != "" {
		runBenchFunction(kind) // the function of BenchmarkInvocation: does not return
		return
	}
	goleak.VerifyTestMain(motoM{m},
		// The S3 client's idle keep-alive connections.
		goleak.IgnoreTopFunction("net/http.(*persistConn).readLoop"),
		goleak.IgnoreTopFunction("net/http.(*persistConn).writeLoop"),
	)
}

// contextData is what Dagster injects for a step on asset "lambda_asset"
// with check "rows_check".
func contextData(runID string) map[string]any {
	return map[string]any{
		"asset_keys": []string{"lambda_asset"}, "code_version_by_asset_key": map[string]any{"lambda_asset": nil},
		"provenance_by_asset_key": map[string]any{"lambda_asset": nil}, "partition_key": nil,
		"partition_key_range": nil, "partition_time_window": nil, "run_id": runID,
		"job_name": "__ASSET_JOB", "retry_number": 0, "extras": map[string]any{},
	}
}

// dagsterEvent is the payload PipesLambdaClient sends: the user's event
// plus the two encoded bootstrap values (PipesLambdaEventContextInjector
// puts the context data itself in the context params).
func dagsterEvent(t testing.TB, user map[string]any, ctxParams, msgParams map[string]any) []byte {
	t.Helper()
	ev := map[string]any{}
	for k, v := range user {
		ev[k] = v
	}
	c, err := pipes.EncodeParam(ctxParams)
	require.NoError(t, err)
	m, err := pipes.EncodeParam(msgParams)
	require.NoError(t, err)
	ev[pipes.ContextEnvVar], ev[pipes.MessagesEnvVar] = c, m
	raw, err := json.Marshal(ev)
	require.NoError(t, err)
	return raw
}

// logsEvent is an event for Dagster's default Lambda reader (buffered
// stderr) with the context in the event.
func logsEvent(t testing.TB, runID string, user map[string]any) []byte {
	return dagsterEvent(t, user, map[string]any{"data": contextData(runID)}, map[string]any{"buffered_stdio": "stderr"})
}

// collect reads the messages out of a log as Dagster's log reader does
// (lines that are not messages are skipped) and fails the test on any
// protocol error.
func collect(t testing.TB, log string) *orchestrator.Result {
	t.Helper()
	col := orchestrator.NewCollector([]string{"lambda_asset"})
	for _, line := range strings.Split(log, "\n") {
		if orchestrator.IsMessageLine([]byte(line)) {
			col.Add([]byte(line))
		}
	}
	res := col.Result()
	for _, e := range res.ProtocolErrors {
		t.Errorf("protocol error: %v", e)
	}
	return res
}

type event struct {
	Rows int    `json:"rows"`
	Name string `json:"name"`
}

type result struct {
	Rows  int    `json:"rows"`
	RunID string `json:"run_id"`
}

func reportJob(ctx context.Context, p *pipes.Context, ev event) (result, error) {
	p.Log().Info("computing", "rows", ev.Rows, "name", ev.Name)
	if err := p.ReportAssetMaterialization(pipes.Materialization{Metadata: pipes.Metadata{"rows": ev.Rows}}); err != nil {
		return result{}, err
	}
	if err := p.ReportAssetCheck(pipes.AssetCheck{CheckName: "rows_check", Passed: ev.Rows > 0}); err != nil {
		return result{}, err
	}
	return result{Rows: ev.Rows, RunID: p.RunID()}, nil
}

// lockedBuffer is a stderr that several invocations may write to.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *lockedBuffer) take() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := b.b.String()
	b.b.Reset()
	return s
}

func TestHandlerReportsThroughBufferedStderr(t *testing.T) {
	var stderr lockedBuffer
	h := lambdapipes.Handler(reportJob, lambdapipes.WithOutput(nil, &stderr))
	out, err := h.Invoke(t.Context(), logsEvent(t, "run-1", map[string]any{"rows": 7, "name": "orders"}))
	require.NoError(t, err)
	assert.JSONEq(t, `{"rows": 7, "run_id": "run-1"}`, string(out), "the job's result, as JSON")

	res := collect(t, stderr.take())
	assert.True(t, res.Opened)
	assert.True(t, res.Closed)
	assert.Nil(t, res.Exception)
	require.Len(t, res.Logs, 1)
	assert.Equal(t, "computing rows=7 name=orders", res.Logs[0].Message, "the job got the rest of the event")
	require.Len(t, res.Materializations, 1)
	assert.Equal(t, "lambda_asset", res.Materializations[0].AssetKey)
	assert.Equal(t, json.Number("7"), res.Materializations[0].Metadata["rows"].Raw)
	require.Len(t, res.Checks, 1)
	assert.True(t, res.Checks[0].Passed)
}

// The messages are written at the end, in one piece: whatever the job
// printed comes before them, so that they are at the tail of the log.
func TestHandlerBuffersUntilTheEnd(t *testing.T) {
	var stderr lockedBuffer
	h := lambdapipes.Handler(func(_ context.Context, p *pipes.Context, _ json.RawMessage) (any, error) {
		p.Log().Info("one")
		fmt.Fprintln(&stderr, "job output")
		assert.Equal(t, "job output\n", stderr.take(), "nothing written before the end")
		p.Log().Info("two")
		return nil, nil
	}, lambdapipes.WithOutput(nil, &stderr))
	out, err := h.Invoke(t.Context(), logsEvent(t, "r", nil))
	require.NoError(t, err)
	assert.Equal(t, "null", string(out))
	lines := strings.Split(strings.TrimSuffix(stripPad(t, stderr.take()), "\n"), "\n")
	require.Len(t, lines, 4)
	assert.Contains(t, lines[0], `"method":"opened"`)
	assert.Contains(t, lines[3], `"method":"closed"`)
}

// A warm function: one handler, one invocation after another, each its own
// session with its own context.
func TestHandlerWarmInvocations(t *testing.T) {
	var stderr lockedBuffer
	h := lambdapipes.Handler(reportJob, lambdapipes.WithOutput(nil, &stderr))
	for i := range 3 {
		runID := fmt.Sprint("run-", i)
		out, err := h.Invoke(t.Context(), logsEvent(t, runID, map[string]any{"rows": i + 1}))
		require.NoError(t, err, "invocation %d", i)
		assert.JSONEq(t, fmt.Sprintf(`{"rows": %d, "run_id": %q}`, i+1, runID), string(out))
		res := collect(t, stderr.take())
		assert.True(t, res.Opened && res.Closed, "invocation %d", i)
		require.Len(t, res.Materializations, 1, "invocation %d", i)
		assert.Equal(t, json.Number(fmt.Sprint(i+1)), res.Materializations[0].Metadata["rows"].Raw)
	}
}

// Concurrent invocations (AWS_LAMBDA_MAX_CONCURRENCY above 1) do not share
// a session: each one's messages are whole and its own.
func TestHandlerConcurrentInvocations(t *testing.T) {
	const n = 8
	var wg sync.WaitGroup
	outputs := make([]*lockedBuffer, n)
	errs := make([]error, n)
	for i := range n {
		outputs[i] = &lockedBuffer{}
		h := lambdapipes.Handler(func(_ context.Context, p *pipes.Context, ev event) (int, error) {
			for j := range 20 {
				if err := p.ReportCustomMessage(map[string]any{"run": p.RunID(), "j": j}); err != nil {
					return 0, err
				}
				time.Sleep(time.Millisecond) // let the invocations overlap
			}
			return ev.Rows, p.ReportAssetMaterialization(pipes.Materialization{})
		}, lambdapipes.WithOutput(nil, outputs[i]))
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = h.Invoke(t.Context(), logsEvent(t, fmt.Sprint("run-", i), map[string]any{"rows": i}))
		}()
	}
	wg.Wait()
	for i := range n {
		require.NoError(t, errs[i])
		res := collect(t, outputs[i].take())
		require.Len(t, res.CustomMessages, 20)
		for _, m := range res.CustomMessages {
			assert.Equal(t, fmt.Sprint("run-", i), m.(map[string]any)["run"])
		}
		assert.True(t, res.Closed)
	}
}

type stepError struct{ step string }

func (e *stepError) Error() string { return "step " + e.step + " failed" }

// A failing job fails the session (closed carries the exception) and the
// invocation (the job's own error, so that Lambda's errorType is its type).
func TestHandlerJobError(t *testing.T) {
	var stderr lockedBuffer
	jobErr := &stepError{"load"}
	h := lambdapipes.Handler(func(_ context.Context, p *pipes.Context, _ event) (result, error) {
		p.Log().Warn("about to fail")
		return result{}, fmt.Errorf("lambda job: %w", pipes.WithStack(jobErr))
	}, lambdapipes.WithOutput(nil, &stderr))
	out, err := h.Invoke(t.Context(), logsEvent(t, "r", nil))
	assert.Nil(t, out)
	require.ErrorIs(t, err, jobErr)
	assert.Equal(t, "lambda job: step load failed", err.Error())
	assert.NotContains(t, fmt.Sprintf("%T", err), "join", "not wrapped")

	res := collect(t, stderr.take())
	require.True(t, res.Closed)
	require.NotNil(t, res.Exception)
	assert.Equal(t, "lambda job: step load failed", res.Exception.Message)
	require.NotNil(t, res.Exception.Cause)
	assert.Equal(t, "*lambdapipes_test.stepError", res.Exception.Cause.Name)
	require.Len(t, res.Logs, 1)
	assert.Equal(t, "WARNING", res.Logs[0].Level)
}

// A panicking job: the closed message carries the panic, and the
// invocation fails as aws-lambda-go reports a panic (named after the
// value's type) with ShouldExit, so that the process ends.
func TestHandlerPanic(t *testing.T) {
	var stderr lockedBuffer
	boom := &stepError{"boom"}
	h := lambdapipes.Handler(func(context.Context, *pipes.Context, event) (result, error) {
		panic(boom)
	}, lambdapipes.WithOutput(nil, &stderr))
	out, err := h.Invoke(t.Context(), logsEvent(t, "r", nil))
	assert.Nil(t, out)
	var ive messages.InvokeResponse_Error
	require.ErrorAs(t, err, &ive)
	assert.Equal(t, messages.InvokeResponse_Error{Message: "step boom failed", Type: "stepError", ShouldExit: true}, ive)

	res := collect(t, stderr.take())
	require.True(t, res.Closed)
	require.NotNil(t, res.Exception)
	assert.Equal(t, "panic: step boom failed", res.Exception.Message)
	assert.Equal(t, "*lambdapipes_test.stepError", res.Exception.Name)
	require.NotEmpty(t, res.Exception.Stack)
	assert.Contains(t, res.Exception.Stack[len(res.Exception.Stack)-1], "TestHandlerPanic", "where it panicked")
	for _, f := range res.Exception.Stack {
		assert.NotContains(t, f, "dagster-pipes-go/pipes.", "library frames are left out of the log tail")
	}

	// A panic with a value that is not an error.
	h = lambdapipes.Handler(func(context.Context, *pipes.Context, event) (result, error) {
		panic(fmt.Sprint("bad ", 1))
	}, lambdapipes.WithOutput(nil, io.Discard))
	_, err = h.Invoke(t.Context(), logsEvent(t, "r", nil))
	require.ErrorAs(t, err, &ive)
	assert.Equal(t, messages.InvokeResponse_Error{Message: "bad 1", Type: "string", ShouldExit: true}, ive)
}

// An event that does not fit E fails the session and the invocation, and
// the job does not run.
func TestHandlerBadEvent(t *testing.T) {
	var stderr lockedBuffer
	ran := false
	h := lambdapipes.Handler(func(context.Context, *pipes.Context, event) (result, error) {
		ran = true
		return result{}, nil
	}, lambdapipes.WithOutput(nil, &stderr))
	_, err := h.Invoke(t.Context(), logsEvent(t, "r", map[string]any{"rows": "many"}))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "the event cannot be decoded into *lambdapipes_test.event")
	assert.False(t, ran)
	res := collect(t, stderr.take())
	require.NotNil(t, res.Exception)
	assert.Contains(t, res.Exception.Message, "cannot be decoded")
}

// A result that cannot be JSON fails the session too, not only the
// invocation.
func TestHandlerResultNotJSON(t *testing.T) {
	var stderr lockedBuffer
	h := lambdapipes.Handler(func(context.Context, *pipes.Context, event) (func(), error) {
		return func() {}, nil
	}, lambdapipes.WithOutput(nil, &stderr))
	_, err := h.Invoke(t.Context(), logsEvent(t, "r", nil))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "the job's result cannot be sent as JSON")
	res := collect(t, stderr.take())
	require.NotNil(t, res.Exception)
}

// Invoked without Dagster (a test event from the console): the job runs
// with the no-op Context and the whole event.
func TestHandlerNotLaunchedByDagster(t *testing.T) {
	var stderr lockedBuffer
	h := lambdapipes.Handler(func(_ context.Context, p *pipes.Context, ev event) (result, error) {
		assert.False(t, p.IsOrchestrated())
		return result{Rows: ev.Rows}, p.ReportAssetMaterialization(pipes.Materialization{AssetKey: "x"})
	}, lambdapipes.WithOutput(nil, &stderr))
	out, err := h.Invoke(t.Context(), []byte(`{"rows": 3}`))
	require.NoError(t, err)
	assert.JSONEq(t, `{"rows": 3, "run_id": ""}`, string(out))
	assert.Contains(t, stderr.take(), pipes.NotLaunchedWarning)

	hs := lambdapipes.Handler(func(_ context.Context, p *pipes.Context, s string) (string, error) {
		return strings.ToUpper(s), nil
	}, lambdapipes.WithOutput(nil, io.Discard))
	out, err = hs.Invoke(t.Context(), []byte(`"not an object"`))
	require.NoError(t, err)
	assert.Equal(t, `"NOT AN OBJECT"`, string(out))
}

// A bootstrap value that is not a string: a clear error, and the job does
// not run.
func TestHandlerBootstrapValueNotString(t *testing.T) {
	h := lambdapipes.Handler(func(context.Context, *pipes.Context, event) (result, error) {
		t.Error("the job ran")
		return result{}, nil
	}, lambdapipes.WithOutput(nil, io.Discard))
	_, err := h.Invoke(t.Context(), []byte(`{"DAGSTER_PIPES_CONTEXT": {"data": {}}, "DAGSTER_PIPES_MESSAGES": 5}`))
	require.ErrorIs(t, err, pipes.ErrInvalidParams)
	assert.Contains(t, err.Error(), "DAGSTER_PIPES_MESSAGES must be a string")
}

func TestSplitEvent(t *testing.T) {
	raw := []byte(`{"b": [1, 2.50], "DAGSTER_PIPES_CONTEXT": "ctx", "a": {"x": 12345678901234567890}, "DAGSTER_PIPES_MESSAGES": "msg"}`)
	loader, rest := lambdapipes.SplitEvent(raw)
	assert.Equal(t, `{"a":{"x":12345678901234567890},"b":[1,2.50]}`, string(rest), "values byte for byte, keys sorted")
	assert.Equal(t, map[string]any{pipes.ContextEnvVar: "ctx", pipes.MessagesEnvVar: "msg"}, loader.Values)
	assert.True(t, loader.IsDagsterPipesProcess())

	for _, ev := range []string{`{"a": 1}`, `[1]`, `"s"`, `null`, ``, `{bad`} {
		loader, rest := lambdapipes.SplitEvent([]byte(ev))
		assert.Equal(t, ev, string(rest))
		assert.False(t, loader.IsDagsterPipesProcess(), ev)
	}
}

// The handler is what lambda.Start wants.
func TestHandlerIsALambdaHandler(t *testing.T) {
	var h lambda.Handler = lambdapipes.Handler(reportJob)
	assert.NotNil(t, h)
}

// ---------------------------------------------------------------------------
// S3: when Dagster's side uses PipesS3MessageReader (and
// PipesS3ContextInjector), on moto.

var bucketSeq atomic.Int64

func newBucket(t *testing.T) (*s3.Client, string) {
	t.Helper()
	srv := moto.Shared(t)
	bucket := fmt.Sprintf("lambdapipes-%d-%d", time.Now().UnixNano()%1e9, bucketSeq.Add(1))
	srv.CreateBucket(t, bucket)
	client := s3.New(s3.Options{
		Region:       moto.Region,
		Credentials:  credentials.NewStaticCredentialsProvider(moto.AccessKeyID, moto.SecretAccessKey, ""),
		BaseEndpoint: aws.String(srv.Endpoint),
		UsePathStyle: true,
	})
	return client, bucket
}

// readChunks reads chunks 1, 2, … under prefix until one is missing, as
// Dagster's S3 reader does, joined by newlines.
func readChunks(t *testing.T, client *s3.Client, bucket, prefix string) string {
	t.Helper()
	var parts []string
	for i := 1; ; i++ {
		out, err := client.GetObject(t.Context(), &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(pipes.ChunkKey(prefix, i))})
		if err != nil {
			break
		}
		b, err := io.ReadAll(out.Body)
		_ = out.Body.Close()
		require.NoError(t, err)
		parts = append(parts, string(b))
	}
	return strings.Join(parts, "\n")
}

// More than the 4 KB of a log tail goes through S3, whole.
func TestHandlerS3Messages(t *testing.T) {
	client, bucket := newBucket(t)
	var stderr lockedBuffer
	const n = 200
	h := lambdapipes.Handler(func(_ context.Context, p *pipes.Context, ev event) (result, error) {
		for i := range n {
			if err := p.ReportCustomMessage(map[string]any{"i": i, "pad": strings.Repeat("x", 40)}); err != nil {
				return result{}, err
			}
		}
		return reportJob(t.Context(), p, ev)
	}, lambdapipes.WithOutput(nil, &stderr), lambdapipes.WithS3Client(client),
		lambdapipes.WithS3Options(pipes.BlobStoreOptions{Interval: time.Hour}))

	// The context through S3 as well.
	ctxJSON, err := json.Marshal(contextData("run-s3"))
	require.NoError(t, err)
	_, err = client.PutObject(t.Context(), &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String("ctx/context.json"), Body: bytes.NewReader(ctxJSON)})
	require.NoError(t, err)

	ev := dagsterEvent(t, map[string]any{"rows": 2},
		map[string]any{"bucket": bucket, "key": "ctx/context.json"},
		map[string]any{"bucket": bucket, "key_prefix": "msgs", "include_stdio_in_messages": false})
	out, err := h.Invoke(t.Context(), ev)
	require.NoError(t, err)
	assert.JSONEq(t, `{"rows": 2, "run_id": "run-s3"}`, string(out))
	assert.Empty(t, stderr.take(), "no messages on stderr")

	all := readChunks(t, client, bucket, "msgs")
	assert.Greater(t, len(all), 4096)
	res := collect(t, all)
	assert.True(t, res.Opened && res.Closed)
	assert.Len(t, res.CustomMessages, n)
	require.Len(t, res.Materializations, 1)
}

// Without WithS3Client the client comes from the environment (here:
// pointing at moto), made once and kept for later invocations.
func TestHandlerS3ClientFromEnvironment(t *testing.T) {
	client, bucket := newBucket(t)
	for _, kv := range moto.Shared(t).Env() {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	h := lambdapipes.Handler(reportJob, lambdapipes.WithS3Options(pipes.BlobStoreOptions{Interval: time.Hour}))
	for i := range 2 {
		prefix := fmt.Sprint("env-", i)
		_, err := h.Invoke(t.Context(), dagsterEvent(t, map[string]any{"rows": 1},
			map[string]any{"data": contextData("r")}, map[string]any{"bucket": bucket, "key_prefix": prefix}))
		require.NoError(t, err)
		res := collect(t, readChunks(t, client, bucket, prefix))
		assert.True(t, res.Closed)
		require.Len(t, res.Materializations, 1)
	}
}

func TestS3ClientFromEnvironmentError(t *testing.T) {
	t.Setenv("AWS_CONFIG_FILE", t.TempDir()) // a directory: the configuration cannot be read
	t.Setenv("AWS_PROFILE", "nope")
	_, err := lambdapipes.MessageWriter{}.Open(t.Context(), pipes.Params{"bucket": "b"})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "no S3 client could be made from the environment (pass one with WithS3Client)")
}

// ---------------------------------------------------------------------------
// Conformance kits.

func TestMessageWriterConformance(t *testing.T) {
	t.Run("buffered stderr", func(t *testing.T) {
		pipestest.TestMessageWriter(t, func(t *testing.T) pipestest.WriterHarness {
			var stderr lockedBuffer
			return pipestest.WriterHarness{
				Writer:   lambdapipes.MessageWriter{Stderr: &stderr, Stdout: failWriter{t}, TailBudget: -1},
				Params:   pipes.Params{"buffered_stdio": "stderr"},
				ReadBack: func() ([]byte, error) { return []byte(stderr.take()), nil },
			}
		})
	})
	t.Run("s3", func(t *testing.T) {
		pipestest.TestMessageWriter(t, func(t *testing.T) pipestest.WriterHarness {
			client, bucket := newBucket(t)
			return pipestest.WriterHarness{
				Writer: lambdapipes.MessageWriter{S3Client: client, S3Options: pipes.BlobStoreOptions{Interval: 50 * time.Millisecond}},
				Params: pipes.Params{"bucket": bucket, "key_prefix": "p"},
				ReadBack: func() ([]byte, error) {
					return []byte(readChunks(t, client, bucket, "p")), nil
				},
			}
		})
	})
}

type failWriter struct{ t *testing.T }

func (w failWriter) Write(p []byte) (int, error) {
	w.t.Errorf("unexpected write to stdout: %q", p)
	return len(p), nil
}

func TestContextLoaderConformance(t *testing.T) {
	t.Run("event", func(t *testing.T) {
		pipestest.TestContextLoader(t, func(t *testing.T, data []byte) (pipes.ContextLoader, pipes.Params) {
			var v any
			dec := json.NewDecoder(bytes.NewReader(data))
			dec.UseNumber()
			require.NoError(t, dec.Decode(&v))
			return lambdapipes.ContextLoader{}, pipes.Params{"data": v}
		})
	})
	t.Run("s3", func(t *testing.T) {
		pipestest.TestContextLoader(t, func(t *testing.T, data []byte) (pipes.ContextLoader, pipes.Params) {
			client, bucket := newBucket(t)
			_, err := client.PutObject(t.Context(), &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String("c/context.json"), Body: bytes.NewReader(data)})
			require.NoError(t, err)
			return lambdapipes.ContextLoader{S3Client: client}, pipes.Params{"bucket": bucket, "key": "c/context.json"}
		})
	})
}

// Context params that no loader understands: the session still reports
// the error to Dagster (closed with the exception) and the invocation
// fails with an error that keeps the pipes sentinel.
func TestHandlerContextCannotBeLoaded(t *testing.T) {
	var stderr lockedBuffer
	h := lambdapipes.Handler(reportJob, lambdapipes.WithOutput(nil, &stderr))
	_, err := h.Invoke(t.Context(), dagsterEvent(t, nil, map[string]any{"nothing": 1}, map[string]any{"buffered_stdio": "stderr"}))
	require.ErrorIs(t, err, pipes.ErrInvalidParams)
	res := collect(t, stderr.take())
	assert.True(t, res.Opened && res.Closed)
	require.NotNil(t, res.Exception)
	assert.Contains(t, res.Exception.Message, "Invalid params for PipesDefaultContextLoader")
}

// A job that stops when its context is done: the context ends a margin
// before the invocation's deadline, so that the closed message, with the
// error, is written while the function still runs.
func TestHandlerDeadlineMargin(t *testing.T) {
	var stderr lockedBuffer
	var jobDeadline time.Time
	h := lambdapipes.Handler(func(ctx context.Context, p *pipes.Context, _ event) (result, error) {
		jobDeadline, _ = ctx.Deadline()
		<-ctx.Done()
		return result{}, ctx.Err()
	}, lambdapipes.WithOutput(nil, &stderr), lambdapipes.WithDeadlineMargin(time.Second))
	deadline := time.Now().Add(1500 * time.Millisecond)
	ctx, cancel := context.WithDeadline(t.Context(), deadline)
	defer cancel()
	_, err := h.Invoke(ctx, logsEvent(t, "r", nil))
	require.ErrorIs(t, err, context.DeadlineExceeded)
	assert.True(t, time.Now().Before(deadline), "returned before the invocation's deadline")
	assert.Equal(t, deadline.Add(-time.Second), jobDeadline)
	res := collect(t, stderr.take())
	require.NotNil(t, res.Exception)
	assert.Equal(t, "context deadline exceeded", res.Exception.Message)
}

// A job that ignores its context and finishes within the margin succeeds.
func TestHandlerFinishesWithinMargin(t *testing.T) {
	var stderr lockedBuffer
	h := lambdapipes.Handler(func(ctx context.Context, p *pipes.Context, _ event) (result, error) {
		<-ctx.Done() // the margin has begun; the invocation still runs
		return result{Rows: 1}, nil
	}, lambdapipes.WithOutput(nil, &stderr), lambdapipes.WithDeadlineMargin(time.Minute))
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute+300*time.Millisecond)
	defer cancel()
	out, err := h.Invoke(ctx, logsEvent(t, "r", nil))
	require.NoError(t, err)
	assert.JSONEq(t, `{"rows": 1, "run_id": ""}`, string(out))
	res := collect(t, stderr.take())
	assert.True(t, res.Closed)
	assert.Nil(t, res.Exception)
}
