package lambdaemu

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The test binary is also the function: started by the emulator with
// LAMBDAEMU_TEST_FUNCTION=1, it runs a small Runtime API client (the
// protocol aws-lambda-go speaks, in the standard library) instead of the
// tests.
func TestMain(m *testing.M) {
	if os.Getenv("LAMBDAEMU_TEST_FUNCTION") == "1" {
		testFunction()
		return
	}
	code := m.Run()
	if code == 0 {
		if leaked := leakedGoroutines(); leaked != "" {
			fmt.Fprintf(os.Stderr, "goroutines left running after the tests:\n%s\n", leaked)
			code = 1
		}
	}
	os.Exit(code)
}

// leakedGoroutines waits up to 5 s for the goroutines of this package and
// of its HTTP servers to end, and returns the stacks of those that did not
// (the root module has no dependency but testify, so this stands in for
// goleak).
func leakedGoroutines() string {
	var leaked []string
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		buf := make([]byte, 1<<20)
		buf = buf[:runtime.Stack(buf, true)]
		leaked = leaked[:0]
		for _, g := range strings.Split(string(buf), "\n\n") {
			if strings.Contains(g, "lambdaemu.TestMain") || strings.Contains(g, "leakedGoroutines") {
				continue
			}
			if strings.Contains(g, "internal/lambdaemu.") || strings.Contains(g, "net/http.(*conn).serve") || strings.Contains(g, "net/http.(*Server).Serve") {
				leaked = append(leaked, g)
			}
		}
		if len(leaked) == 0 {
			return ""
		}
	}
	return strings.Join(leaked, "\n\n")
}

// invocations counts the invocations this process served: a warm process
// keeps it.
var invocations int

func testFunction() {
	api := "http://" + os.Getenv("AWS_LAMBDA_RUNTIME_API") + "/2018-06-01/runtime/"
	post := func(path, errType string, body string) {
		// An io.Reader of unknown length: sent chunked, as aws-lambda-go does.
		req, _ := http.NewRequest(http.MethodPost, api+path, io.MultiReader(strings.NewReader(body)))
		req.Header.Set("Content-Type", "application/json")
		if errType != "" {
			req.Header.Set("Lambda-Runtime-Function-Error-Type", errType)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			os.Exit(11)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusAccepted {
			fmt.Fprintf(os.Stderr, "POST %s: %s\n", path, resp.Status)
			os.Exit(12)
		}
	}
	fmt.Println("init output")
	for {
		resp, err := http.Get(api + "invocation/next")
		if err != nil {
			os.Exit(10)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		id := resp.Header.Get("Lambda-Runtime-Aws-Request-Id")
		deadline, derr := strconv.ParseInt(resp.Header.Get("Lambda-Runtime-Deadline-Ms"), 10, 64)
		invocations++
		var ev struct {
			Action string `json:"action"`
			N      int    `json:"n"`
		}
		_ = json.Unmarshal(body, &ev)
		fmt.Fprintf(os.Stderr, "handling %s #%d\n", ev.Action, invocations)
		switch ev.Action {
		case "echo":
			out, _ := json.Marshal(map[string]any{
				"pid": os.Getpid(), "count": invocations, "event": json.RawMessage(body),
				"arn":         resp.Header.Get("Lambda-Runtime-Invoked-Function-Arn"),
				"deadline_ok": derr == nil && deadline > time.Now().UnixMilli(),
				"client":      resp.Header.Get("Lambda-Runtime-Client-Context"),
				"name":        os.Getenv("AWS_LAMBDA_FUNCTION_NAME"),
				"extra":       os.Getenv("EXTRA"),
			})
			post("invocation/"+id+"/response", "", string(out))
		case "log":
			for i := range ev.N {
				fmt.Fprintf(os.Stderr, "stderr line %06d\n", i)
				fmt.Printf("stdout line %06d\n", i)
			}
			post("invocation/"+id+"/response", "", `"logged"`)
		case "fail":
			fmt.Fprintln(os.Stderr, "failing")
			post("invocation/"+id+"/error", "testError", `{"errorMessage":"boom","errorType":"testError"}`)
		case "panic":
			post("invocation/"+id+"/error", "Runtime.Panic", `{"errorMessage":"panic: oops","errorType":"string"}`)
			os.Exit(2)
		case "crash":
			fmt.Fprintln(os.Stderr, "crashing")
			os.Exit(3)
		case "hang":
			time.Sleep(time.Hour)
		case "twice":
			post("invocation/"+id+"/response", "", `1`)
			post("invocation/"+id+"/response", "", `2`) // must fail: exits 12
		default:
			post("invocation/"+id+"/error", "", `not json`)
		}
	}
}

func start(t *testing.T, fns ...Function) *Server {
	t.Helper()
	exe, err := os.Executable()
	require.NoError(t, err)
	for i := range fns {
		fns[i].Command = []string{exe}
		fns[i].Env = append(fns[i].Env, "LAMBDAEMU_TEST_FUNCTION=1")
	}
	s, err := Start(fns...)
	require.NoError(t, err)
	t.Cleanup(func() {
		if t.Failed() {
			for _, f := range fns {
				t.Logf("output of %s:\n%s", f.Name, s.Output(f.Name))
			}
		}
		s.Close()
	})
	return s
}

type response struct {
	status        int
	body          []byte
	functionError string
	logResult     string // decoded
	hasLogResult  bool
	errorType     string
}

// invoke calls the Invoke API as boto3's Lambda client does.
func invoke(t *testing.T, s *Server, name, payload string, headers map[string]string) response {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, s.Endpoint+"/2015-03-31/functions/"+name+"/invocations", strings.NewReader(payload))
	require.NoError(t, err)
	req.Header.Set("X-Amz-Invocation-Type", "RequestResponse")
	req.Header.Set("X-Amz-Log-Type", "Tail")
	for k, v := range headers {
		if v == "" {
			req.Header.Del(k)
		} else {
			req.Header.Set(k, v)
		}
	}
	client := &http.Client{}
	defer client.CloseIdleConnections()
	resp, err := client.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	r := response{status: resp.StatusCode, body: body, functionError: resp.Header.Get("X-Amz-Function-Error"), errorType: resp.Header.Get("X-Amzn-ErrorType")}
	if lr, ok := resp.Header["X-Amz-Log-Result"]; ok {
		r.hasLogResult = true
		dec, err := base64.StdEncoding.DecodeString(lr[0])
		require.NoError(t, err)
		r.logResult = string(dec)
	}
	return r
}

type echoed struct {
	PID        int             `json:"pid"`
	Count      int             `json:"count"`
	Event      json.RawMessage `json:"event"`
	ARN        string          `json:"arn"`
	DeadlineOK bool            `json:"deadline_ok"`
	Client     string          `json:"client"`
	Name       string          `json:"name"`
	Extra      string          `json:"extra"`
}

func echo(t *testing.T, r response) echoed {
	t.Helper()
	require.Equal(t, http.StatusOK, r.status, "body: %s", r.body)
	require.Empty(t, r.functionError, "body: %s", r.body)
	var e echoed
	require.NoError(t, json.Unmarshal(r.body, &e), "body: %s", r.body)
	return e
}

// A warm process serves one invocation after another; each invocation's
// log holds its own output only, framed by START/END/REPORT.
func TestWarmInvocations(t *testing.T) {
	s := start(t, Function{Name: "fn", Env: []string{"EXTRA=x"}})
	r1 := invoke(t, s, "fn", `{"action": "echo", "n": 1}`, nil)
	e1 := echo(t, r1)
	r2 := invoke(t, s, "fn", `{"action": "echo", "n": 2}`, nil)
	e2 := echo(t, r2)

	assert.Equal(t, e1.PID, e2.PID, "one warm process")
	assert.Equal(t, []int{1, 2}, []int{e1.Count, e2.Count}, "its globals survive")
	assert.Equal(t, 1, s.Starts("fn"))
	assert.JSONEq(t, `{"action": "echo", "n": 2}`, string(e2.Event))
	assert.Equal(t, ARN("fn"), e1.ARN)
	assert.True(t, e1.DeadlineOK, "Lambda-Runtime-Deadline-Ms is in the future")
	assert.Equal(t, "fn", e1.Name)
	assert.Equal(t, "x", e1.Extra)

	invs := s.Invocations("fn")
	require.Len(t, invs, 2)
	id := invs[1].RequestID
	require.True(t, r2.hasLogResult)
	assert.Equal(t, invs[1].Log, r2.logResult, "a short log comes back whole")
	assert.True(t, strings.HasPrefix(r2.logResult, "START RequestId: "+id+" Version: $LATEST\nhandling echo #2\nEND RequestId: "+id+"\nREPORT RequestId: "+id+"\tDuration: "), r2.logResult)
	assert.NotContains(t, r2.logResult, "#1")
	assert.NotContains(t, r1.logResult, "init output", "output before the first /next is not the invocation's")
	assert.Equal(t, e1.PID, invs[0].PID)
	assert.Equal(t, r1.body, invs[0].Result)
}

// LogType=Tail returns the last 4 KB of the invocation's log, stdout and
// stderr in the order written; LogType None returns no log.
func TestLogTail(t *testing.T) {
	s := start(t, Function{Name: "fn"})
	r := invoke(t, s, "fn", `{"action": "log", "n": 300}`, nil)
	require.Equal(t, http.StatusOK, r.status)
	assert.Equal(t, `"logged"`, string(r.body))
	require.Len(t, r.logResult, LogTailBytes)
	full := s.Invocations("fn")[0].Log
	assert.Greater(t, len(full), 2*LogTailBytes)
	assert.True(t, strings.HasSuffix(full, r.logResult))
	assert.Contains(t, full, "stderr line 000000\nstdout line 000000\nstderr line 000001\n")
	assert.Contains(t, r.logResult, "stdout line 000299\nEND RequestId: ")

	r = invoke(t, s, "fn", `{"action": "echo"}`, map[string]string{"X-Amz-Log-Type": "None"})
	echo(t, r)
	assert.False(t, r.hasLogResult)
	r = invoke(t, s, "fn", `{"action": "echo"}`, map[string]string{"X-Amz-Log-Type": ""})
	assert.False(t, r.hasLogResult)
}

// A function error: 200 with X-Amz-Function-Error and the error document;
// the process stays warm.
func TestFunctionError(t *testing.T) {
	s := start(t, Function{Name: "fn"})
	r := invoke(t, s, "fn", `{"action": "fail"}`, nil)
	assert.Equal(t, http.StatusOK, r.status)
	assert.Equal(t, "Unhandled", r.functionError)
	assert.JSONEq(t, `{"errorMessage": "boom", "errorType": "testError"}`, string(r.body))
	assert.Contains(t, r.logResult, "failing\n")
	assert.Equal(t, "Unhandled", s.Invocations("fn")[0].FunctionError)

	echo(t, invoke(t, s, "fn", `{"action": "echo"}`, nil))
	assert.Equal(t, 1, s.Starts("fn"))

	// An error body that is not JSON is wrapped into an error document.
	r = invoke(t, s, "fn", `{"action": "unknown"}`, nil)
	assert.Equal(t, "Unhandled", r.functionError)
	assert.JSONEq(t, `{"errorMessage": "not json", "errorType": ""}`, string(r.body))
}

// A panic (the error reported, then the process exits) and a crash
// (exits without reporting): the next invocation runs in a new process.
func TestProcessRestartsAfterExit(t *testing.T) {
	s := start(t, Function{Name: "fn"})
	first := echo(t, invoke(t, s, "fn", `{"action": "echo"}`, nil))

	r := invoke(t, s, "fn", `{"action": "panic"}`, nil)
	assert.Equal(t, "Unhandled", r.functionError)
	assert.JSONEq(t, `{"errorMessage": "panic: oops", "errorType": "string"}`, string(r.body), "the reported error, not the exit")
	second := echo(t, invoke(t, s, "fn", `{"action": "echo"}`, nil))
	assert.NotEqual(t, first.PID, second.PID)
	assert.Equal(t, 1, second.Count, "a fresh process")
	assert.Equal(t, 2, s.Starts("fn"))

	r = invoke(t, s, "fn", `{"action": "crash"}`, nil)
	assert.Equal(t, "Unhandled", r.functionError)
	var doc map[string]string
	require.NoError(t, json.Unmarshal(r.body, &doc))
	assert.Equal(t, "Runtime.ExitError", doc["errorType"])
	assert.Contains(t, doc["errorMessage"], "Runtime exited with error: exit status 3")
	assert.Contains(t, r.logResult, "crashing\nRequestId: ")
	assert.Contains(t, r.logResult, "Runtime.ExitError\nEND RequestId: ")
	echo(t, invoke(t, s, "fn", `{"action": "echo"}`, nil))
	assert.Equal(t, 3, s.Starts("fn"))
}

// An invocation past the timeout: the process is killed and the invoker
// gets Sandbox.Timedout; the next invocation starts a new process.
func TestTimeout(t *testing.T) {
	s := start(t, Function{Name: "fn", Timeout: 300 * time.Millisecond})
	r := invoke(t, s, "fn", `{"action": "hang"}`, nil)
	assert.Equal(t, "Unhandled", r.functionError)
	var doc map[string]string
	require.NoError(t, json.Unmarshal(r.body, &doc))
	assert.Equal(t, "Sandbox.Timedout", doc["errorType"])
	assert.Contains(t, doc["errorMessage"], "Task timed out after 0.30 seconds")
	assert.Contains(t, r.logResult, "handling hang #1\n")
	echo(t, invoke(t, s, "fn", `{"action": "echo"}`, nil))
	assert.Equal(t, 2, s.Starts("fn"))
}

// A second result for one invocation is refused.
func TestSecondResultRefused(t *testing.T) {
	s := start(t, Function{Name: "fn"})
	r := invoke(t, s, "fn", `{"action": "twice"}`, nil)
	assert.Equal(t, "1", string(r.body))
	assert.Empty(t, r.functionError)
	require.Eventually(t, func() bool {
		r := invoke(t, s, "fn", `{"action": "echo"}`, nil)
		return r.functionError == "" && s.Starts("fn") == 2
	}, 10*time.Second, 10*time.Millisecond, "the function exited (12) after its second POST was refused")
}

func TestInvokeAPIErrors(t *testing.T) {
	s := start(t, Function{Name: "fn"})
	r := invoke(t, s, "nope", `{}`, nil)
	assert.Equal(t, http.StatusNotFound, r.status)
	assert.Equal(t, "ResourceNotFoundException", r.errorType)
	assert.Contains(t, string(r.body), "Function not found: "+ARN("nope"))

	r = invoke(t, s, "fn", `{not json`, nil)
	assert.Equal(t, http.StatusBadRequest, r.status)
	assert.Equal(t, "InvalidRequestContentException", r.errorType)

	r = invoke(t, s, "fn", strings.Repeat(" ", MaxPayloadBytes+1), nil)
	assert.Equal(t, http.StatusRequestEntityTooLarge, r.status)
	assert.Equal(t, "RequestTooLargeException", r.errorType)

	r = invoke(t, s, "fn", `{}`, map[string]string{"X-Amz-Invocation-Type": "Sideways"})
	assert.Equal(t, http.StatusBadRequest, r.status)
	r = invoke(t, s, "fn", `{}`, map[string]string{"X-Amz-Log-Type": "All"})
	assert.Equal(t, http.StatusBadRequest, r.status)

	r = invoke(t, s, "fn", `{}`, map[string]string{"X-Amz-Invocation-Type": "DryRun"})
	assert.Equal(t, http.StatusNoContent, r.status)
	assert.Empty(t, s.Invocations("fn"), "a dry run runs nothing")
	assert.Equal(t, 0, s.Starts("fn"))
}

// The function can be named by ARN, partial ARN or with a qualifier; the
// client context reaches the function.
func TestNamesAndClientContext(t *testing.T) {
	s := start(t, Function{Name: "fn"})
	for _, name := range []string{ARN("fn"), AccountID + ":function:fn", "fn:$LATEST", ARN("fn") + ":$LATEST"} {
		echo(t, invoke(t, s, strings.ReplaceAll(name, ":", "%3A"), `{"action": "echo"}`, nil))
	}
	cc := base64.StdEncoding.EncodeToString([]byte(`{"custom": {"k": "v"}}`))
	e := echo(t, invoke(t, s, "fn", `{"action": "echo"}`, map[string]string{"X-Amz-Client-Context": cc}))
	assert.JSONEq(t, `{"custom": {"k": "v"}}`, e.Client)
	r := invoke(t, s, "fn", `{}`, map[string]string{"X-Amz-Client-Context": "!!"})
	assert.Equal(t, http.StatusBadRequest, r.status)
}

// An Event invocation is accepted at once and runs in the background.
func TestEventInvocation(t *testing.T) {
	s := start(t, Function{Name: "fn"})
	r := invoke(t, s, "fn", `{"action": "echo"}`, map[string]string{"X-Amz-Invocation-Type": "Event"})
	assert.Equal(t, http.StatusAccepted, r.status)
	require.Eventually(t, func() bool { return len(s.Invocations("fn")) == 1 }, 10*time.Second, 10*time.Millisecond)
	assert.Empty(t, s.Invocations("fn")[0].FunctionError)
}

// A command that cannot start fails the invocation, not the emulator.
func TestCommandCannotStart(t *testing.T) {
	s, err := Start(Function{Name: "fn", Command: []string{"/nonexistent/function"}})
	require.NoError(t, err)
	defer s.Close()
	client := &http.Client{}
	defer client.CloseIdleConnections()
	resp, err := client.Post(s.Endpoint+"/2015-03-31/functions/fn/invocations", "application/json", strings.NewReader(`{}`))
	require.NoError(t, err)
	defer resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, "Unhandled", resp.Header.Get("X-Amz-Function-Error"))
	body, _ := io.ReadAll(resp.Body)
	assert.Contains(t, string(body), "Runtime.InvalidEntrypoint")
}

func TestStartErrors(t *testing.T) {
	_, err := Start(Function{Name: "fn"})
	require.Error(t, err)
	_, err = Start(Function{Name: "a", Command: []string{"x"}}, Function{Name: "a", Command: []string{"x"}})
	require.ErrorContains(t, err, "declared twice")
}
