// Package lambdaemu is a loopback emulator of AWS Lambda for tests: it
// serves the two public APIs that meet in a Go Lambda function, and runs the
// function as a real process.
//
//   - The Invoke API that boto3's Lambda client (and so Dagster's
//     PipesLambdaClient) calls: POST /2015-03-31/functions/{name}/invocations,
//     with X-Amz-Invocation-Type RequestResponse (also Event and DryRun) and
//     X-Amz-Log-Type Tail, which returns the last 4 KB of the invocation's
//     log, base64, in X-Amz-Log-Result. A failed invocation is answered 200
//     with X-Amz-Function-Error: Unhandled and the error document
//     {"errorMessage", "errorType", …} as the payload.
//   - The Runtime API that aws-lambda-go's runtime polls, at the address the
//     function finds in AWS_LAMBDA_RUNTIME_API:
//     GET /2018-06-01/runtime/invocation/next,
//     POST /2018-06-01/runtime/invocation/{id}/response and …/error, and
//     POST /2018-06-01/runtime/init/error.
//
// Each function is one process, started at its first invocation and kept
// warm between invocations (its globals survive, as in Lambda). A process
// that ends (a panic: aws-lambda-go reports the error and exits) is started
// again at the next invocation, as Lambda does. An invocation that runs
// past the function's timeout kills the process. Invocations of one
// function run one at a time (Lambda would start more instances).
//
// The log of an invocation is what the process wrote to stdout and stderr
// between handing out the invocation (/next) and its result, framed by
// Lambda's START, END and REPORT lines. Both streams go to one regular
// file, so that everything the process wrote before it posted its result is
// in the file when the result arrives: the cut needs no waiting.
//
// The package uses only the standard library.
package lambdaemu

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Constants of the emulated service.
const (
	// LogTailBytes is how much of an invocation's log LogType=Tail
	// returns: the last 4 KB, as Lambda does.
	LogTailBytes = 4096
	// DefaultTimeout is a function's timeout when Function.Timeout is 0.
	DefaultTimeout = 60 * time.Second
	// MaxPayloadBytes is the largest request payload of a synchronous
	// invocation.
	MaxPayloadBytes = 6 << 20
	// Region and AccountID make up the functions' ARNs.
	Region    = "us-east-1"
	AccountID = "123456789012"
)

// Function is a function to serve.
type Function struct {
	// Name is the function's name, as the invoker names it.
	Name string
	// Command is the program and its arguments (a compiled Go function).
	Command []string
	// Env is added to the Lambda environment of the process ("K=V").
	// The process does not inherit the test's environment, except PATH.
	Env []string
	// Dir is the working directory (LAMBDA_TASK_ROOT); "" is the test's.
	Dir string
	// Timeout bounds an invocation; 0 means DefaultTimeout.
	Timeout time.Duration
}

// Invocation is the record of one invocation, for assertions.
type Invocation struct {
	RequestID string
	// Payload is the event the function received.
	Payload []byte
	// Result is what the invoker received: the function's response, or
	// the error document.
	Result []byte
	// FunctionError is "Unhandled" for a failed invocation, else "".
	FunctionError string
	// Log is the whole log of the invocation, START to REPORT (the
	// invoker gets its last LogTailBytes).
	Log string
	// PID is the process that ran it (0 if none started).
	PID int
}

// Server is a running emulator.
type Server struct {
	// Endpoint is the Invoke API's base URL, such as http://127.0.0.1:41234:
	// boto3's endpoint_url.
	Endpoint string

	srv     *http.Server
	dir     string
	fns     map[string]*function
	closing chan struct{}
	wg      sync.WaitGroup // background (Event) invocations and serve loops
	once    sync.Once
}

// Start starts the emulator with the given functions. Close stops it and
// the functions' processes.
func Start(fns ...Function) (*Server, error) {
	dir, err := os.MkdirTemp("", "lambdaemu-")
	if err != nil {
		return nil, err
	}
	s := &Server{dir: dir, fns: map[string]*function{}, closing: make(chan struct{})}
	fail := func(err error) (*Server, error) {
		s.Close()
		return nil, err
	}
	for _, fc := range fns {
		if fc.Name == "" || len(fc.Command) == 0 {
			return fail(errors.New("lambdaemu: a function needs a Name and a Command"))
		}
		if _, dup := s.fns[fc.Name]; dup {
			return fail(fmt.Errorf("lambdaemu: function %q declared twice", fc.Name))
		}
		if fc.Timeout <= 0 {
			fc.Timeout = DefaultTimeout
		}
		f, err := s.newFunction(fc)
		if err != nil {
			return fail(err)
		}
		s.fns[fc.Name] = f
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fail(err)
	}
	s.Endpoint = "http://" + ln.Addr().String()
	s.srv = &http.Server{Handler: http.HandlerFunc(s.serveInvoke), ReadHeaderTimeout: 10 * time.Second}
	s.serve(s.srv, ln)
	return s, nil
}

func (s *Server) serve(srv *http.Server, ln net.Listener) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		_ = srv.Serve(ln)
	}()
}

// Close stops the servers, kills the functions' processes and removes the
// logs. It waits for everything it started.
func (s *Server) Close() {
	s.once.Do(func() {
		close(s.closing)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if s.srv != nil {
			_ = s.srv.Shutdown(ctx)
		}
		for _, f := range s.fns {
			f.stop(ctx)
		}
		s.wg.Wait()
		_ = os.RemoveAll(s.dir)
	})
}

// ARN returns the ARN of the named function.
func ARN(name string) string {
	return "arn:aws:lambda:" + Region + ":" + AccountID + ":function:" + name
}

// Starts returns how many processes the named function has started: 1
// after any number of warm invocations, one more after each crash.
func (s *Server) Starts(name string) int {
	f := s.fns[name]
	if f == nil {
		return 0
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.starts
}

// Invocations returns the finished invocations of the named function, in
// order.
func (s *Server) Invocations(name string) []Invocation {
	f := s.fns[name]
	if f == nil {
		return nil
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]Invocation(nil), f.done...)
}

// Output returns everything the named function's processes wrote, for
// test failure messages.
func (s *Server) Output(name string) string {
	f := s.fns[name]
	if f == nil {
		return ""
	}
	f.mu.Lock()
	paths := append([]string(nil), f.logs...)
	f.mu.Unlock()
	var b strings.Builder
	for i, p := range paths {
		data, _ := os.ReadFile(p)
		fmt.Fprintf(&b, "--- process %d ---\n%s", i+1, data)
	}
	return b.String()
}

// ---------------------------------------------------------------------------
// The Invoke API.

// apiError answers as the Lambda service does: the error type in the
// X-Amzn-ErrorType header (boto3 reads it) and a JSON body.
func apiError(w http.ResponseWriter, status int, typ, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Amzn-ErrorType", typ)
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"Type": "User", "message": msg})
}

// functionName takes the name out of the path's FunctionName: a name, a
// partial ARN ("123456789012:function:name") or an ARN, each with an
// optional ":qualifier".
func functionName(s string) string {
	if i := strings.Index(s, "function:"); i >= 0 {
		s = s[i+len("function:"):]
	}
	name, _, _ := strings.Cut(s, ":")
	return name
}

func (s *Server) serveInvoke(w http.ResponseWriter, r *http.Request) {
	rest, ok := strings.CutPrefix(r.URL.EscapedPath(), "/2015-03-31/functions/")
	if !ok {
		apiError(w, http.StatusNotFound, "UnknownOperationException", "lambdaemu serves only Invoke (POST /2015-03-31/functions/{name}/invocations)")
		return
	}
	escaped, ok := strings.CutSuffix(rest, "/invocations")
	if !ok || r.Method != http.MethodPost {
		apiError(w, http.StatusNotFound, "UnknownOperationException", "lambdaemu serves only Invoke (POST /2015-03-31/functions/{name}/invocations)")
		return
	}
	raw, err := url.PathUnescape(escaped)
	if err != nil {
		apiError(w, http.StatusBadRequest, "InvalidParameterValueException", "bad function name: "+err.Error())
		return
	}
	name := functionName(raw)
	f := s.fns[name]
	if f == nil {
		apiError(w, http.StatusNotFound, "ResourceNotFoundException", "Function not found: "+ARN(name))
		return
	}
	payload, err := io.ReadAll(io.LimitReader(r.Body, MaxPayloadBytes+1))
	if err != nil {
		apiError(w, http.StatusBadRequest, "InvalidRequestContentException", "reading the payload: "+err.Error())
		return
	}
	if len(payload) > MaxPayloadBytes {
		apiError(w, http.StatusRequestEntityTooLarge, "RequestTooLargeException",
			fmt.Sprintf("Request must be smaller than %d bytes for the InvokeFunction operation", MaxPayloadBytes))
		return
	}
	if len(bytes.TrimSpace(payload)) == 0 {
		payload = []byte("{}")
	}
	if !json.Valid(payload) {
		apiError(w, http.StatusBadRequest, "InvalidRequestContentException", "Could not parse request body into json")
		return
	}
	var clientContext string
	if cc := r.Header.Get("X-Amz-Client-Context"); cc != "" {
		b, err := base64.StdEncoding.DecodeString(cc)
		if err != nil || !json.Valid(b) {
			apiError(w, http.StatusBadRequest, "InvalidRequestContentException", "Client context must be a valid Base64-encoded JSON object.")
			return
		}
		clientContext = string(b)
	}

	switch typ := r.Header.Get("X-Amz-Invocation-Type"); typ {
	case "", "RequestResponse":
	case "DryRun":
		w.WriteHeader(http.StatusNoContent)
		return
	case "Event":
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			f.invoke(payload, clientContext)
		}()
		w.WriteHeader(http.StatusAccepted)
		return
	default:
		apiError(w, http.StatusBadRequest, "InvalidParameterValueException", "Unsupported invocation type "+typ)
		return
	}
	logType := r.Header.Get("X-Amz-Log-Type")
	if logType != "" && logType != "None" && logType != "Tail" {
		apiError(w, http.StatusBadRequest, "InvalidParameterValueException", "Unsupported log type "+logType)
		return
	}

	inv := f.invoke(payload, clientContext)
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("X-Amz-Executed-Version", "$LATEST")
	h.Set("X-Amzn-Requestid", inv.RequestID)
	if inv.FunctionError != "" {
		h.Set("X-Amz-Function-Error", inv.FunctionError)
	}
	if logType == "Tail" {
		h.Set("X-Amz-Log-Result", base64.StdEncoding.EncodeToString(Tail(inv.Log)))
	}
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(inv.Result)
}

// Tail returns the last LogTailBytes of log.
func Tail(log string) []byte {
	if len(log) > LogTailBytes {
		log = log[len(log)-LogTailBytes:]
	}
	return []byte(log)
}

// ---------------------------------------------------------------------------
// Functions and their processes.

type function struct {
	s   *Server
	cfg Function
	rt  *http.Server
	api string // host:port of the Runtime API

	invokeMu sync.Mutex       // one invocation at a time
	queue    chan *invocation // invocations waiting for /next

	mu       sync.Mutex
	proc     *process
	starts   int
	inflight map[string]*invocation
	done     []Invocation
	logs     []string
}

type process struct {
	cmd    *exec.Cmd
	log    *os.File
	exited chan struct{}
	err    error // set before exited is closed
}

// size is the length of the process's log so far.
func (p *process) size() int64 {
	st, err := p.log.Stat()
	if err != nil {
		return 0
	}
	return st.Size()
}

func (p *process) read(from, to int64) string {
	if to <= from {
		return ""
	}
	buf := make([]byte, to-from)
	n, _ := p.log.ReadAt(buf, from)
	return string(buf[:n])
}

type invocation struct {
	id            string
	payload       []byte
	clientContext string
	deadline      time.Time
	proc          *process
	result        chan outcome // buffered: one result
	logStart      int64        // where its log begins; /next moves it (under function.mu)
}

type outcome struct {
	body    []byte
	failed  bool
	logEnd  int64
	message string // a line the service adds to the log (timeouts, exits)
}

func (s *Server) newFunction(fc Function) (*function, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	f := &function{s: s, cfg: fc, api: ln.Addr().String(), queue: make(chan *invocation), inflight: map[string]*invocation{}}
	f.rt = &http.Server{Handler: http.HandlerFunc(f.serveRuntime), ReadHeaderTimeout: 10 * time.Second}
	s.serve(f.rt, ln)
	return f, nil
}

func (f *function) env() []string {
	name := f.cfg.Name
	env := []string{
		"PATH=" + os.Getenv("PATH"),
		"LANG=en_US.UTF-8",
		"TZ=:UTC",
		"AWS_LAMBDA_RUNTIME_API=" + f.api,
		"AWS_LAMBDA_FUNCTION_NAME=" + name,
		"AWS_LAMBDA_FUNCTION_VERSION=$LATEST",
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE=128",
		"AWS_LAMBDA_LOG_GROUP_NAME=/aws/lambda/" + name,
		"AWS_LAMBDA_LOG_STREAM_NAME=" + time.Now().UTC().Format("2006/01/02") + "/[$LATEST]" + randomHex(16),
		"AWS_LAMBDA_INITIALIZATION_TYPE=on-demand",
		"AWS_EXECUTION_ENV=AWS_Lambda_provided.al2023",
		"AWS_REGION=" + Region,
		"AWS_DEFAULT_REGION=" + Region,
		"_HANDLER=bootstrap",
	}
	if f.cfg.Dir != "" {
		env = append(env, "LAMBDA_TASK_ROOT="+f.cfg.Dir)
	}
	return append(env, f.cfg.Env...)
}

// ensureProcess returns the running process, starting one if there is none
// or the last one ended. The caller holds invokeMu.
func (f *function) ensureProcess() (*process, error) {
	f.mu.Lock()
	p := f.proc
	f.mu.Unlock()
	if p != nil {
		select {
		case <-p.exited:
			_ = p.log.Close() // its invocations' logs are already cut
		default:
			return p, nil
		}
	}
	log, err := os.CreateTemp(f.s.dir, f.cfg.Name+"-*.log")
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(f.cfg.Command[0], f.cfg.Command[1:]...)
	cmd.Env = f.env()
	cmd.Dir = f.cfg.Dir
	// One regular file for both streams: a write the process made is in
	// the file as soon as write(2) returns.
	cmd.Stdout, cmd.Stderr = log, log
	setDeathSignal(cmd)
	if err := cmd.Start(); err != nil {
		_ = log.Close()
		return nil, err
	}
	p = &process{cmd: cmd, log: log, exited: make(chan struct{})}
	f.s.wg.Add(1)
	go func() {
		defer f.s.wg.Done()
		p.err = cmd.Wait()
		close(p.exited)
	}()
	f.mu.Lock()
	f.proc = p
	f.starts++
	f.logs = append(f.logs, log.Name())
	f.mu.Unlock()
	return p, nil
}

func (f *function) stop(ctx context.Context) {
	if f.rt != nil {
		_ = f.rt.Shutdown(ctx)
	}
	f.mu.Lock()
	p := f.proc
	f.mu.Unlock()
	if p == nil {
		return
	}
	_ = p.cmd.Process.Kill()
	<-p.exited
	_ = p.log.Close()
}

// errorDoc is the error document of a failure the service itself detects.
func errorDoc(typ, msg string) []byte {
	b, _ := json.Marshal(map[string]string{"errorType": typ, "errorMessage": msg})
	return b
}

// invoke runs one invocation to its end and records it.
func (f *function) invoke(payload []byte, clientContext string) (rec Invocation) {
	f.invokeMu.Lock()
	defer f.invokeMu.Unlock()
	id := newRequestID()
	start := time.Now()
	rec = Invocation{RequestID: id, Payload: payload}
	var out outcome
	var proc *process
	var inv *invocation
	defer func() {
		rec.Result, rec.FunctionError = out.body, ""
		if out.failed {
			rec.FunctionError = "Unhandled"
		}
		rec.Log = f.frameLog(id, start, inv, out)
		f.mu.Lock()
		f.done = append(f.done, rec)
		f.mu.Unlock()
	}()

	defer func() {
		f.mu.Lock()
		delete(f.inflight, id)
		f.mu.Unlock()
	}()
	timer := time.NewTimer(f.cfg.Timeout)
	defer timer.Stop()
	// A process that ends before it takes the invocation (it was exiting
	// after a panic, or it crashes in its init) did not run it: the
	// invocation goes to a fresh process, once.
	for attempt := 0; ; attempt++ {
		var err error
		proc, err = f.ensureProcess()
		if err != nil {
			out = outcome{body: errorDoc("Runtime.InvalidEntrypoint", err.Error()), failed: true, message: "Error: " + err.Error()}
			return rec
		}
		rec.PID = proc.cmd.Process.Pid
		inv = &invocation{id: id, payload: payload, clientContext: clientContext, deadline: start.Add(f.cfg.Timeout),
			proc: proc, result: make(chan outcome, 1), logStart: proc.size()}
		f.mu.Lock()
		f.inflight[id] = inv
		f.mu.Unlock()
		select {
		case f.queue <- inv:
		case <-proc.exited:
			if attempt == 0 {
				continue
			}
			out = f.exited(inv)
			return rec
		case <-timer.C:
			out = f.timedOut(inv)
			return rec
		case <-f.s.closing:
			out = outcome{body: errorDoc("ServiceException", "the emulator is shutting down"), failed: true}
			return rec
		}
		break
	}
	select {
	case out = <-inv.result:
	case <-proc.exited:
		out = f.exited(inv)
	case <-timer.C:
		out = f.timedOut(inv)
	case <-f.s.closing:
		out = outcome{body: errorDoc("ServiceException", "the emulator is shutting down"), failed: true}
	}
	return rec
}

// exited is the outcome of an invocation whose process ended.
func (f *function) exited(inv *invocation) outcome {
	select {
	case o := <-inv.result: // reported, then exited (a panic)
		return o
	default:
	}
	proc := inv.proc
	return outcome{
		body:    errorDoc("Runtime.ExitError", fmt.Sprintf("RequestId: %s Error: Runtime exited with error: %v", inv.id, proc.err)),
		failed:  true,
		logEnd:  proc.size(),
		message: fmt.Sprintf("RequestId: %s Error: Runtime exited with error: %v\nRuntime.ExitError", inv.id, proc.err),
	}
}

// timedOut kills the process of an invocation past its deadline.
func (f *function) timedOut(inv *invocation) outcome {
	proc := inv.proc
	_ = proc.cmd.Process.Kill()
	<-proc.exited
	msg := fmt.Sprintf("%s %s Task timed out after %.2f seconds", time.Now().UTC().Format(time.RFC3339Nano), inv.id, f.cfg.Timeout.Seconds())
	return outcome{body: errorDoc("Sandbox.Timedout", msg), failed: true, logEnd: proc.size(), message: msg}
}

// frameLog is the invocation's log as Lambda frames it.
func (f *function) frameLog(id string, start time.Time, inv *invocation, out outcome) string {
	var b strings.Builder
	fmt.Fprintf(&b, "START RequestId: %s Version: $LATEST\n", id)
	if inv != nil {
		f.mu.Lock()
		from := inv.logStart
		f.mu.Unlock()
		b.WriteString(inv.proc.read(from, out.logEnd))
	}
	if out.message != "" {
		b.WriteString(out.message + "\n")
	}
	ms := float64(time.Since(start).Microseconds()) / 1000
	fmt.Fprintf(&b, "END RequestId: %s\n", id)
	fmt.Fprintf(&b, "REPORT RequestId: %s\tDuration: %.2f ms\tBilled Duration: %d ms\tMemory Size: 128 MB\tMax Memory Used: 0 MB\t\n", id, ms, int(ms)+1)
	return b.String()
}

// ---------------------------------------------------------------------------
// The Runtime API.

const runtimePrefix = "/2018-06-01/runtime/"

func runtimeError(w http.ResponseWriter, status int, typ, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"errorType": typ, "errorMessage": msg})
}

func accepted(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusAccepted)
	_, _ = io.WriteString(w, `{"status":"OK"}`)
}

func (f *function) serveRuntime(w http.ResponseWriter, r *http.Request) {
	path, ok := strings.CutPrefix(r.URL.Path, runtimePrefix)
	if !ok {
		runtimeError(w, http.StatusNotFound, "InvalidRequest", "unknown path "+r.URL.Path)
		return
	}
	switch {
	case path == "invocation/next" && r.Method == http.MethodGet:
		f.next(w, r)
	case path == "init/error" && r.Method == http.MethodPost:
		_, _ = io.Copy(io.Discard, r.Body)
		accepted(w) // the process exits next; the invocation sees the exit
	case strings.HasPrefix(path, "invocation/") && r.Method == http.MethodPost:
		id, kind, _ := strings.Cut(strings.TrimPrefix(path, "invocation/"), "/")
		if kind != "response" && kind != "error" {
			runtimeError(w, http.StatusNotFound, "InvalidRequest", "unknown path "+r.URL.Path)
			return
		}
		f.report(w, r, id, kind == "error")
	default:
		runtimeError(w, http.StatusNotFound, "InvalidRequest", "unknown path "+r.URL.Path)
	}
}

func (f *function) next(w http.ResponseWriter, r *http.Request) {
	var inv *invocation
	select {
	case inv = <-f.queue:
	case <-r.Context().Done():
		return
	case <-f.s.closing:
		runtimeError(w, http.StatusServiceUnavailable, "ServiceUnavailable", "the emulator is shutting down")
		return
	}
	f.mu.Lock()
	inv.logStart = inv.proc.size()
	f.mu.Unlock()
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Lambda-Runtime-Aws-Request-Id", inv.id)
	h.Set("Lambda-Runtime-Deadline-Ms", strconv.FormatInt(inv.deadline.UnixMilli(), 10))
	h.Set("Lambda-Runtime-Invoked-Function-Arn", ARN(f.cfg.Name))
	h.Set("Lambda-Runtime-Trace-Id", "Root=1-"+strconv.FormatInt(time.Now().Unix(), 16)+"-"+randomHex(12)+";Sampled=0")
	if inv.clientContext != "" {
		h.Set("Lambda-Runtime-Client-Context", inv.clientContext)
	}
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(inv.payload)
}

func (f *function) report(w http.ResponseWriter, r *http.Request, id string, failed bool) {
	body, err := io.ReadAll(r.Body) // chunked bodies are decoded by net/http
	if err != nil {
		runtimeError(w, http.StatusBadRequest, "InvalidRequest", "reading the body: "+err.Error())
		return
	}
	f.mu.Lock()
	inv := f.inflight[id]
	f.mu.Unlock()
	if inv == nil {
		runtimeError(w, http.StatusBadRequest, "InvalidRequestID", "Invalid request ID "+strconv.Quote(id))
		return
	}
	// A response whose body failed midway carries the error in trailers
	// (aws-lambda-go's streaming responses).
	if typ := r.Trailer.Get("Lambda-Runtime-Function-Error-Type"); typ != "" && !failed {
		failed = true
		if doc, err := base64.StdEncoding.DecodeString(r.Trailer.Get("Lambda-Runtime-Function-Error-Body")); err == nil && json.Valid(doc) {
			body = doc
		} else {
			body = errorDoc(typ, "the function's response failed")
		}
	}
	if failed && !json.Valid(body) {
		body = errorDoc(r.Header.Get("Lambda-Runtime-Function-Error-Type"), string(body))
	}
	out := outcome{body: body, failed: failed, logEnd: inv.proc.size()}
	select {
	case inv.result <- out:
	default:
		runtimeError(w, http.StatusBadRequest, "InvalidStateTransition", "the invocation "+id+" already has a result")
		return
	}
	accepted(w)
}

func newRequestID() string {
	b := randomHex(16)
	return b[0:8] + "-" + b[8:12] + "-" + b[12:16] + "-" + b[16:20] + "-" + b[20:32]
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
