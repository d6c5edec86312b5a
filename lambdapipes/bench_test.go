package lambdapipes_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/stretchr/testify/require"

	"github.com/dagster-pipes-go/pipes"
	"github.com/dagster-pipes-go/pipes/internal/lambdaemu"
	"github.com/dagster-pipes-go/pipes/lambdapipes"
)

// The benchmarks compare a bare aws-lambda-go handler with the same job
// body run through lambdapipes.Handler, on the same event: what Dagster's
// PipesLambdaClient sends (the user's event plus DAGSTER_PIPES_CONTEXT
// with the context data and DAGSTER_PIPES_MESSAGES asking for buffered
// stderr). The bare handler ignores the two bootstrap keys, as any handler
// decoding into a struct does, so the difference between the two is what
// Pipes costs per invocation: splitting the event, the session (opened,
// the materialization, closed) and the messages written to the log tail.

// benchEvent is the user's part of the benchmarks' event.
type benchEvent struct {
	Name   string    `json:"name"`
	Values []float64 `json:"values"`
}

// benchResult is what both handlers return.
type benchResult struct {
	Name string  `json:"name"`
	Rows int     `json:"rows"`
	Sum  float64 `json:"sum"`
	Max  float64 `json:"max"`
}

// work is the job body of both handlers: a small computation on the event.
func work(ev benchEvent) benchResult {
	res := benchResult{Name: ev.Name, Rows: len(ev.Values)}
	for i, v := range ev.Values {
		res.Sum += v
		if i == 0 || v > res.Max {
			res.Max = v
		}
	}
	return res
}

// bareJob is a plain Lambda handler doing the work.
func bareJob(_ context.Context, ev benchEvent) (benchResult, error) {
	return work(ev), nil
}

// pipesJob does the same work and reports it to Dagster: one
// materialization with a few metadata entries.
func pipesJob(_ context.Context, p *pipes.Context, ev benchEvent) (benchResult, error) {
	res := work(ev)
	return res, p.ReportAssetMaterialization(pipes.Materialization{Metadata: pipes.Metadata{
		"rows": res.Rows, "sum": res.Sum, "max": res.Max, "name": res.Name,
	}})
}

// benchUserEvent is the user's event of the benchmarks (16 values).
func benchUserEvent() benchEvent {
	ev := benchEvent{Name: "orders"}
	for i := range 16 {
		ev.Values = append(ev.Values, float64(i)+0.5)
	}
	return ev
}

// benchPayload is the event as PipesLambdaClient sends it, with the
// default PipesLambdaEventContextInjector and PipesLambdaLogsMessageReader.
func benchPayload(tb testing.TB) []byte {
	ev := benchUserEvent()
	return logsEvent(tb, "bench-run", map[string]any{"name": ev.Name, "values": ev.Values})
}

// checkResult fails the benchmark unless out is the job's result.
func checkResult(tb testing.TB, out []byte) {
	tb.Helper()
	var got benchResult
	require.NoError(tb, json.Unmarshal(out, &got), "the handler's result: %s", out)
	require.Equal(tb, work(benchUserEvent()), got)
}

// checkPipesLog fails the benchmark unless log holds a whole session, as
// Dagster reads it: opened, the materialization with its metadata, closed
// without an exception.
func checkPipesLog(tb testing.TB, log string) {
	tb.Helper()
	res := collect(tb, log)
	require.True(tb, res.Opened, "no opened message in:\n%s", log)
	require.Len(tb, res.Materializations, 1, "one materialization in:\n%s", log)
	md := res.Materializations[0].Metadata
	require.Equal(tb, json.Number("16"), md["rows"].Raw)
	require.Equal(tb, "orders", md["name"].Raw)
	require.True(tb, res.Closed, "no closed message in:\n%s", log)
	require.Nil(tb, res.Exception)
}

// invocationContext is the context aws-lambda-go gives a handler: the
// invocation's deadline and its lambdacontext.
func invocationContext(b *testing.B) context.Context {
	ctx := lambdacontext.NewContext(b.Context(), &lambdacontext.LambdaContext{
		AwsRequestID:       "0b1c2d3e-0000-4000-8000-000000000000",
		InvokedFunctionArn: lambdaemu.ARN("bench"),
	})
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	b.Cleanup(cancel)
	return ctx
}

// BenchmarkHandlerOverhead calls the handlers in process, as aws-lambda-go's
// runtime loop does (lambda.NewHandler(...).Invoke with the payload), with
// no network: bare is the plain handler, pipes the same body through
// lambdapipes.Handler, whose messages (4 KB with the tail's padding) go to
// a buffer in place of stderr.
func BenchmarkHandlerOverhead(b *testing.B) {
	payload := benchPayload(b)

	b.Run("bare", func(b *testing.B) {
		h := lambda.NewHandler(bareJob)
		ctx := invocationContext(b)
		var out []byte
		b.ReportAllocs()
		for b.Loop() {
			var err error
			if out, err = h.Invoke(ctx, payload); err != nil {
				b.Fatal(err)
			}
		}
		checkResult(b, out)
	})

	b.Run("pipes", func(b *testing.B) {
		var stderr, stdout bytes.Buffer
		h := lambda.NewHandler(lambdapipes.Handler(pipesJob, lambdapipes.WithOutput(&stdout, &stderr)))
		ctx := invocationContext(b)
		var out []byte
		b.ReportAllocs()
		for b.Loop() {
			stderr.Reset() // keep the last invocation's log only
			var err error
			if out, err = h.Invoke(ctx, payload); err != nil {
				b.Fatal(err)
			}
		}
		checkResult(b, out)
		checkPipesLog(b, stderr.String())
		require.Empty(b, stdout.String(), "the messages go to stderr")
	})
}

// benchFunctionEnv names the function that the test binary runs when
// BenchmarkInvocation's emulator starts it: "bare" or "pipes".
const benchFunctionEnv = "LAMBDAPIPES_BENCH_FUNCTION"

// runBenchFunction is the main of the test binary started as a Lambda
// function: lambda.Start with the bare or the Pipes handler, which serves
// invocations until the emulator stops the process.
func runBenchFunction(kind string) {
	switch kind {
	case "bare":
		lambda.Start(bareJob)
	case "pipes":
		lambda.Start(lambdapipes.Handler(pipesJob))
	}
	fmt.Fprintf(os.Stderr, "%s=%q: want bare or pipes\n", benchFunctionEnv, kind)
	os.Exit(2)
}

// invokeTail invokes a function as boto3's invoke does for
// PipesLambdaClient (RequestResponse, LogType=Tail) and returns the
// function's response and the log tail.
func invokeTail(client *http.Client, endpoint, name string, payload []byte) (out, tail []byte, err error) {
	req, err := http.NewRequest(http.MethodPost, endpoint+"/2015-03-31/functions/"+name+"/invocations", bytes.NewReader(payload))
	if err != nil {
		return nil, nil, err
	}
	req.Header.Set("X-Amz-Invocation-Type", "RequestResponse")
	req.Header.Set("X-Amz-Log-Type", "Tail")
	resp, err := client.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	out, err = io.ReadAll(resp.Body)
	if err != nil {
		return nil, nil, err
	}
	if resp.StatusCode != http.StatusOK || resp.Header.Get("X-Amz-Function-Error") != "" {
		return nil, nil, fmt.Errorf("invoking %s: %s, function error %q: %s", name, resp.Status, resp.Header.Get("X-Amz-Function-Error"), out)
	}
	tail, err = base64.StdEncoding.DecodeString(resp.Header.Get("X-Amz-Log-Result"))
	return out, tail, err
}

// BenchmarkInvocation times a warm invocation end to end through the
// loopback Lambda emulator: the Invoke API request, the runtime's /next,
// the handler in the function's process (this test binary, started once
// per function outside the timer), its response, and the log tail back
// to the invoker. Allocations are not reported: the handler runs in
// another process.
func BenchmarkInvocation(b *testing.B) {
	exe, err := os.Executable()
	require.NoError(b, err)
	srv, err := lambdaemu.Start(
		lambdaemu.Function{Name: "bare", Command: []string{exe}, Env: []string{benchFunctionEnv + "=bare"}},
		lambdaemu.Function{Name: "pipes", Command: []string{exe}, Env: []string{benchFunctionEnv + "=pipes"}},
	)
	require.NoError(b, err)
	b.Cleanup(srv.Close)
	client := &http.Client{Transport: &http.Transport{}, Timeout: 30 * time.Second}
	b.Cleanup(client.CloseIdleConnections)
	payload := benchPayload(b)

	for _, name := range []string{"bare", "pipes"} {
		b.Run(name, func(b *testing.B) {
			// The first invocation starts the process: it is not timed.
			_, _, err := invokeTail(client, srv.Endpoint, name, payload)
			require.NoError(b, err, "function output:\n%s", srv.Output(name))
			var out, tail []byte
			for b.Loop() {
				if out, tail, err = invokeTail(client, srv.Endpoint, name, payload); err != nil {
					b.Fatal(err)
				}
			}
			checkResult(b, out)
			if name == "pipes" {
				checkPipesLog(b, string(tail))
			}
			require.Equal(b, 1, srv.Starts(name), "every timed invocation was warm")
		})
	}
}
