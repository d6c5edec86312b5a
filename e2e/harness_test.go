package e2e

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"go.uber.org/goleak"

	"github.com/dagster-pipes-go/pipes/internal/moto"
)

// This file is the harness: it finds the Python venv, compiles the Go jobs
// once per test run, runs one long-lived probe process (Dagster's import is
// slow, so every scenario goes through the same Python process) and decodes
// what the probe reports.

const enableHint = "end-to-end tests against real Dagster need the Python venv: run scripts/test.sh once " +
	"(it creates .venv from requirements-e2e.txt and runs every test), or create it with " +
	"`python3 -m venv .venv && .venv/bin/pip install -r requirements-e2e.txt -c constraints-e2e.txt`, " +
	"then run `PIPES_E2E=1 go test ./e2e/`"

// probeTimeout bounds one scenario; a hung Dagster run fails the test instead
// of eating the whole go test timeout.
const probeTimeout = 3 * time.Minute

var (
	repoRoot string // absolute path of the module root
	tmpDir   string // per-run temp dir: compiled jobs live here

	buildOnce sync.Once
	buildErr  error
	binDir    string

	probeOnce  sync.Once
	probeInst  *probe
	probeSkip  string // reason to skip (PIPES_E2E not set and no usable venv)
	probeFatal error  // reason to fail (PIPES_E2E=1 and no usable venv)
)

func TestMain(m *testing.M) {
	wd, err := os.Getwd()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	repoRoot = filepath.Dir(wd)
	tmpDir, err = os.MkdirTemp("", "pipes-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := moto.RunTests(m) // m.Run, then stops the shared moto server of the S3 tests
	if probeInst != nil {
		probeInst.stop()
	}
	if code == 0 {
		// The S3 tests' SDK clients keep idle keep-alive connections: the
		// HTTP client's goroutines, not ours.
		if err := goleak.Find(goleak.IgnoreTopFunction("net/http.(*persistConn).readLoop"),
			goleak.IgnoreTopFunction("net/http.(*persistConn).writeLoop")); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.RemoveAll(tmpDir)
	os.Exit(code)
}

// touchInputs reads the job sources and the probe, so that go test's cache
// knows the result depends on them (the test only reaches them through
// subprocesses, which the cache does not see). The root package is a
// dependency through an import in standalone_test.go.
// It must run inside a test: go test records file reads only then.
func touchInputs() { touchOnce.Do(readInputs) }

var touchOnce sync.Once

func readInputs() {
	for _, dir := range []string{"jobs", "probe"} {
		_ = filepath.WalkDir(filepath.Join(repoRoot, "e2e", dir), func(path string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() && !strings.Contains(path, "__pycache__") {
				_, _ = os.ReadFile(path)
			}
			return nil
		})
	}
	_, _ = os.ReadFile(filepath.Join(repoRoot, "requirements-e2e.txt"))
}

// e2eMode is the value of PIPES_E2E: "1" makes a missing venv a failure,
// "0" skips the tests, anything else runs them when a venv is found.
func e2eMode() string { return os.Getenv("PIPES_E2E") }

// pythonPath returns the interpreter of the e2e venv, or "" if none is found.
func pythonPath() string {
	if p := os.Getenv("PIPES_E2E_PYTHON"); p != "" {
		return p
	}
	for _, p := range []string{
		filepath.Join(repoRoot, ".venv", "bin", "python"),
		filepath.Join(repoRoot, ".venv", "Scripts", "python.exe"),
	} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return ""
}

// requireDagster skips or fails the test when real Dagster is not available
// and returns the shared probe otherwise.
func requireDagster(t *testing.T) *probe {
	t.Helper()
	if e2eMode() == "0" {
		t.Skip("PIPES_E2E=0: end-to-end tests disabled")
	}
	touchInputs()
	probeOnce.Do(startProbe)
	if probeFatal != nil {
		t.Fatalf("PIPES_E2E=1 but real Dagster is not usable: %v\n%s", probeFatal, enableHint)
	}
	if probeSkip != "" {
		t.Skipf("skipping: %s.\n%s", probeSkip, enableHint)
	}
	return probeInst
}

func startProbe() {
	unusable := func(err error) {
		if e2eMode() == "1" {
			probeFatal = err
		} else {
			probeSkip = err.Error()
		}
	}
	py := pythonPath()
	if py == "" {
		unusable(errors.New("no Python venv found at .venv (and PIPES_E2E_PYTHON is not set)"))
		return
	}
	p, err := newProbe(py, filepath.Join(repoRoot, "e2e", "probe", "probe.py"))
	if err != nil {
		unusable(fmt.Errorf("starting the Dagster probe with %s: %w", py, err))
		return
	}
	probeInst = p
}

// jobPath compiles every Go program under e2e/jobs (once per test run) and
// returns the path of the named one. When the test binary is built with
// -race, so are the jobs: a data race in the library then fails the job.
func jobPath(t *testing.T, name string) string {
	t.Helper()
	touchInputs()
	buildOnce.Do(func() {
		binDir = filepath.Join(tmpDir, "bin")
		buildErr = buildAll(binDir, "./e2e/jobs/...")
	})
	require.NoError(t, buildErr, "compiling the e2e jobs")
	p := binaryPath(binDir, name)
	_, err := os.Stat(p)
	require.NoError(t, err, "job %q was not built (is there a main package in e2e/jobs/%s?)", name, name)
	return p
}

// buildAll compiles every main package matched by pattern into dir, with
// -race when the test binary has it.
func buildAll(dir, pattern string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	args := []string{"build", "-o", dir + string(os.PathSeparator)}
	if raceEnabled {
		args = append(args, "-race")
	}
	args = append(args, pattern)
	cmd := exec.Command(goTool(), args...)
	cmd.Dir = repoRoot
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go %s: %w\n%s", strings.Join(args, " "), err, out)
	}
	return nil
}

// binaryPath is where go build -o dir/ puts the program name.
func binaryPath(dir, name string) string {
	p := filepath.Join(dir, name)
	if runtime.GOOS == "windows" {
		p += ".exe"
	}
	return p
}

// goTool is the go command: the one in GOROOT/bin when go test set GOROOT
// (it does, for the go that runs the tests), else the one on PATH.
func goTool() string {
	if root := os.Getenv("GOROOT"); root != "" {
		p := filepath.Join(root, "bin", "go")
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return "go"
}

// pyJob returns the path of a Python reference job under e2e/jobs/pyref.
func pyJob(name string) string {
	return filepath.Join(repoRoot, "e2e", "jobs", "pyref", name)
}

// ---------------------------------------------------------------------------
// The probe process.

type probe struct {
	python string
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	out    *bufio.Reader
	stderr *tailBuffer

	mu     sync.Mutex
	broken error
}

func newProbe(python, script string) (*probe, error) {
	cmd := exec.Command(python, "-u", script)
	cmd.Dir = repoRoot
	cmd.Env = append(os.Environ(), "PYTHONDONTWRITEBYTECODE=1", "PYTHONUNBUFFERED=1")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	p := &probe{python: python, cmd: cmd, stdin: stdin, out: bufio.NewReaderSize(stdout, 1<<20), stderr: newTailBuffer(256 << 10)}
	cmd.Stderr = p.stderr
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	// The probe says {"ready": true} once Dagster is imported.
	line, err := p.readLine(2 * time.Minute)
	if err != nil {
		p.stop()
		return nil, fmt.Errorf("%w\nprobe stderr:\n%s", err, p.stderr.String())
	}
	var ready struct{ Ready bool }
	if err := json.Unmarshal(line, &ready); err != nil || !ready.Ready {
		p.stop()
		return nil, fmt.Errorf("unexpected first line %q\nprobe stderr:\n%s", line, p.stderr.String())
	}
	return p, nil
}

func (p *probe) readLine(timeout time.Duration) ([]byte, error) {
	type res struct {
		b   []byte
		err error
	}
	ch := make(chan res, 1)
	go func() {
		b, err := p.out.ReadBytes('\n')
		ch <- res{b, err}
	}()
	select {
	case r := <-ch:
		if r.err != nil {
			return nil, fmt.Errorf("reading from the probe: %w", r.err)
		}
		return r.b, nil
	case <-time.After(timeout):
		// Kill it so the reader goroutine ends; the probe is unusable now.
		_ = p.cmd.Process.Kill()
		return nil, fmt.Errorf("the probe did not answer within %v", timeout)
	}
}

func (p *probe) stop() {
	_ = p.stdin.Close()
	done := make(chan struct{})
	go func() { _ = p.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = p.cmd.Process.Kill()
		<-done
	}
}

// run sends one scenario and returns the raw answer.
func (p *probe) run(req []byte) ([]byte, string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.broken != nil {
		return nil, "", fmt.Errorf("probe unusable after an earlier error: %w", p.broken)
	}
	mark := p.stderr.Mark()
	if _, err := p.stdin.Write(append(req, '\n')); err != nil {
		p.broken = err
		return nil, p.stderr.Since(mark), err
	}
	line, err := p.readLine(probeTimeout)
	if err != nil {
		p.broken = err
	}
	return line, p.stderr.Since(mark), err
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu      sync.Mutex
	buf     []byte
	max     int
	written int64
}

func newTailBuffer(max int) *tailBuffer { return &tailBuffer{max: max} }

func (b *tailBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	if len(b.buf) > b.max {
		b.buf = append(b.buf[:0], b.buf[len(b.buf)-b.max:]...)
	}
	b.written += int64(len(p))
	return len(p), nil
}

func (b *tailBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return string(b.buf)
}

// Mark returns the number of bytes written so far.
func (b *tailBuffer) Mark() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.written
}

// Since returns what was written after mark, as far as it is still kept.
func (b *tailBuffer) Since(mark int64) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := b.written - mark
	if n > int64(len(b.buf)) {
		return "…(truncated)…\n" + string(b.buf)
	}
	return string(b.buf[int64(len(b.buf))-n:])
}

// ---------------------------------------------------------------------------
// Scenarios and results.

// Scenario is one Dagster run: which program Dagster launches, how, and for
// which assets. See e2e/probe/probe.py for the meaning of each field.
type Scenario struct {
	// Job is the Go program (directory name under e2e/jobs); PyJob a Python
	// reference job (file name under e2e/jobs/pyref). Exactly one is set.
	Job   string   `json:"-"`
	PyJob string   `json:"-"`
	Args  []string `json:"-"`

	Name         string            `json:"name"`
	Command      []string          `json:"command"`
	Env          map[string]string `json:"env,omitempty"`
	Injector     string            `json:"injector,omitempty"`
	Reader       string            `json:"reader,omitempty"`
	Assets       []AssetDef        `json:"assets,omitempty"`
	Partitions   *PartitionsDef    `json:"partitions,omitempty"`
	PartitionKey string            `json:"partition_key,omitempty"`
	Extras       any               `json:"extras,omitempty"`
	MaxRetries   int               `json:"max_retries,omitempty"`
	// Op runs the program from a plain op (a job without assets).
	Op bool `json:"op,omitempty"`
}

// AssetDef is one asset of the step.
type AssetDef struct {
	Key         []string `json:"key"`
	CodeVersion string   `json:"code_version,omitempty"`
	Checks      []string `json:"checks,omitempty"`
}

// PartitionsDef is the step's partitioning.
type PartitionsDef struct {
	Kind  string   `json:"kind"` // "static" or "daily"
	Keys  []string `json:"keys,omitempty"`
	Start string   `json:"start,omitempty"`
}

// Result is what Dagster recorded for the run.
type Result struct {
	Success          bool              `json:"success"`
	RunID            string            `json:"run_id"`
	Materializations []Materialization `json:"materializations"`
	Checks           []CheckEvaluation `json:"checks"`
	Logs             []LogRecord       `json:"logs"`
	EngineErrors     []EngineError     `json:"engine_errors"`
	StepFailures     []*ErrorInfo      `json:"step_failures"`
	StepRetries      int               `json:"step_retries"`
	Contexts         []map[string]any  `json:"contexts"`
	CustomMessages   [][]any           `json:"custom_messages"`
	Stdout           *string           `json:"stdout"`
	Stderr           *string           `json:"stderr"`
	Forwarded        []string          `json:"forwarded"`
	DagsterStdout    string            `json:"dagster_stdout"` // what Dagster wrote to its stdout
	DagsterStderr    string            `json:"dagster_stderr"`
	ProbeError       string            `json:"probe_error"`
	Raw              json.RawMessage   `json:"-"`
}

// Materialization is an ASSET_MATERIALIZATION event.
type Materialization struct {
	AssetKey  []string                 `json:"asset_key"`
	Metadata  map[string]MetadataEntry `json:"metadata"`
	Tags      map[string]string        `json:"tags"`
	Partition *string                  `json:"partition"`
}

// MetadataEntry is a Dagster MetadataValue: its class, its .value as JSON
// and its serdes form (the exact stored representation).
type MetadataEntry struct {
	Type   string `json:"type"`
	Value  any    `json:"value"`
	Serdes any    `json:"serdes"`
}

// CheckEvaluation is an ASSET_CHECK_EVALUATION event.
type CheckEvaluation struct {
	AssetKey                 []string                 `json:"asset_key"`
	CheckName                string                   `json:"check_name"`
	Passed                   bool                     `json:"passed"`
	Severity                 string                   `json:"severity"`
	Metadata                 map[string]MetadataEntry `json:"metadata"`
	HasTargetMaterialization bool                     `json:"has_target_materialization"`
}

// LogRecord is a plain log record of the run (no Dagster event).
type LogRecord struct {
	Level   string `json:"level"`
	Message string `json:"message"`
}

// EngineError is an engine event carrying an error, such as Dagster's
// "[pipes] external process pipes closed with exception".
type EngineError struct {
	Message string     `json:"message"`
	Error   *ErrorInfo `json:"error"`
}

// ErrorInfo is Dagster's SerializableErrorInfo.
type ErrorInfo struct {
	ClsName *string    `json:"cls_name"`
	Message string     `json:"message"`
	Stack   []string   `json:"stack"`
	Cause   *ErrorInfo `json:"cause"`
	Context *ErrorInfo `json:"context"`
}

// runScenario runs sc through real Dagster and returns what it recorded.
// On test failure the full answer and the probe's output are logged.
func runScenario(t *testing.T, sc Scenario) *Result {
	t.Helper()
	p := requireDagster(t)
	switch {
	case sc.Job != "" && sc.PyJob == "":
		sc.Command = append([]string{jobPath(t, sc.Job)}, sc.Args...)
	case sc.PyJob != "" && sc.Job == "":
		sc.Command = append([]string{p.python, pyJob(sc.PyJob)}, sc.Args...)
	default:
		t.Fatalf("scenario %q: set exactly one of Job and PyJob", sc.Name)
	}
	if sc.Name == "" {
		sc.Name = t.Name()
	}
	req, err := json.Marshal(sc)
	require.NoError(t, err)
	start := time.Now()
	raw, stderr, err := p.run(req)
	elapsed := time.Since(start)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("scenario %s took %v\nrequest: %s\nanswer: %s\nprobe stderr (Dagster console, program output):\n%s",
				sc.Name, elapsed, req, truncate(raw, 64<<10), truncate([]byte(stderr), 64<<10))
		}
	})
	require.NoError(t, err, "running scenario %s", sc.Name)
	res := &Result{Raw: raw}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber() // keep 1 and 1.0 apart, and big ints exact
	require.NoError(t, dec.Decode(res), "decoding the probe's answer")
	if res.ProbeError != "" {
		lines := strings.Split(strings.TrimSpace(res.ProbeError), "\n")
		t.Fatalf("the probe failed to run the scenario: %s", lines[len(lines)-1])
	}
	return res
}

func truncate(b []byte, n int) string {
	if len(b) <= n {
		return string(b)
	}
	return string(b[:n]) + "…(truncated)"
}

// ---------------------------------------------------------------------------
// Helpers over results.

// PipesWarnings returns the "[pipes] …" records Dagster logged at WARNING.
func (r *Result) PipesWarnings() []string {
	var out []string
	for _, l := range r.Logs {
		if l.Level == "WARNING" && strings.HasPrefix(l.Message, "[pipes]") {
			out = append(out, l.Message)
		}
	}
	return out
}

// UserLogs returns the log records that are not Dagster's own "[pipes] …" records.
func (r *Result) UserLogs() []LogRecord {
	var out []LogRecord
	for _, l := range r.Logs {
		if !strings.HasPrefix(l.Message, "[pipes]") {
			out = append(out, l)
		}
	}
	return out
}

// HasLog reports whether Dagster logged message at level.
func (r *Result) HasLog(level, message string) bool {
	for _, l := range r.Logs {
		if l.Level == level && l.Message == message {
			return true
		}
	}
	return false
}

// Custom returns the custom messages of the only attempt.
func (r *Result) Custom(t *testing.T) []any {
	t.Helper()
	require.Len(t, r.CustomMessages, 1, "expected exactly one Pipes session")
	return r.CustomMessages[0]
}

// Materialized returns the materializations of the asset with the given key path.
func (r *Result) Materialized(path ...string) []Materialization {
	var out []Materialization
	for _, m := range r.Materializations {
		if equalStrings(m.AssetKey, path) {
			out = append(out, m)
		}
	}
	return out
}

// requireNoSessionWarnings asserts Dagster saw opened and closed: it logged
// neither "did not receive any messages" nor "did not receive closed message",
// and nothing arrived after closed.
func requireNoSessionWarnings(t *testing.T, r *Result) {
	t.Helper()
	for _, w := range r.PipesWarnings() {
		require.NotContains(t, w, "did not receive any messages")
		require.NotContains(t, w, "did not receive closed message")
		require.NotContains(t, w, "unexpected message received after closed")
	}
	require.True(t, r.HasLog("INFO", "[pipes] external process successfully opened dagster pipes."),
		"Dagster did not log that the process opened pipes")
	for _, e := range r.EngineErrors {
		require.NotContains(t, e.Message, "framework exception", "Dagster's reader failed: %+v", e.Error)
	}
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// decodeJSON decodes s with UseNumber, the way results are decoded, so that
// expected values written as JSON compare equal to what the probe reported.
func decodeJSON(t *testing.T, s string) any {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	var v any
	require.NoError(t, dec.Decode(&v), "bad JSON in the test: %s", s)
	return v
}
