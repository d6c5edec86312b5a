package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/dagster-pipes-go/pipes"
)

// Config is what to run.
type Config struct {
	N           int    // log messages in workload (a)
	Runs        int    // measured runs of each log workload, (a) and (a')
	ProcessRuns int    // measured runs of each whole-process workload, (b) and (c)
	Python      string // interpreter with dagster-pipes; "" finds the repo's .venv
	Root        string // repository root; "" finds it from the working directory
	// BlobStores also runs each blob-store channel's BenchmarkMillionMessages
	// against its emulator (a minute or more; CI leaves it off).
	BlobStores bool
	Log        io.Writer
}

// Result holds the medians of one comparison.
type Result struct {
	N, Runs     int
	ProcessRuns int
	Machine     string
	CPU         string // the CPU model, printed with every absolute figure
	PyVersion   string

	GoLoop, PyLoop, FloorLoop time.Duration // (a), (a'): the N calls, timed inside each process
	GoDirectLoop              time.Duration // the same N calls through Context.LogMessage
	GoLogsWall, PyLogsWall    time.Duration // (a) as whole processes, for reference
	GoMatWall, PyMatWall      time.Duration // (b)
	GoMatNoSignalsWall        time.Duration // (b) with pipes.WithoutSignalHandling(): no os/signal set-up
	GoMatRSS, PyMatRSS        int64         // (c), bytes

	// Start-up of the small job, stage by stage (whole processes, no
	// output): an empty Go program; gojob returning at once; + the
	// os/signal set-up; pipes.Open (time to opened); the small job through
	// pipes.Run without and with signal handling.
	EmptyWall, InitWall, SignalsWall, OpenWall, JobWall, JobSignalsWall time.Duration
	// The same first stages in a binary that links s3pipes, and with the
	// S3 client built from the environment before Open.
	S3InitWall, S3OpenWall, S3OpenClientWall time.Duration
	RootJobBytes, S3JobBytes                 int64 // stripped sizes of the two start-up binaries

	Trace []time.Duration // medians of gojob startup-trace, one per TraceParts

	BlobStores []BlobResult // BenchmarkMillionMessages of each cloud module

	QuickstartBytes int64
	QuickstartPkg   string // the package measured
	StandIn         bool   // examples/quickstart was missing: a stand-in was measured
}

// TraceParts names the parts that gojob startup-trace times, in order.
var TraceParts = []string{
	"signal.NotifyContext (SIGINT, SIGTERM)",
	"bootstrap params from the env (base64, zlib, JSON)",
	"open the messages file",
	"read and decode the context file",
	"write opened",
}

// Ratios and targets.
func (r *Result) LogSpeedup() float64 { return ratio(r.PyLoop, r.GoLoop) }
func (r *Result) FloorRatio() float64 { return ratio(r.GoLoop, r.FloorLoop) }

// DirectLogSpeedup and DirectFloorRatio are (a) and (a') for the log path
// that bypasses slog (Context.LogMessage).
func (r *Result) DirectLogSpeedup() float64 { return ratio(r.PyLoop, r.GoDirectLoop) }
func (r *Result) DirectFloorRatio() float64 { return ratio(r.GoDirectLoop, r.FloorLoop) }
func (r *Result) ProcessSpeedup() float64   { return ratio(r.PyMatWall, r.GoMatWall) }

// NoSignalsProcessSpeedup is (b) for a Go job without SIGINT/SIGTERM
// handling, which the Python reference does not have either.
func (r *Result) NoSignalsProcessSpeedup() float64 { return ratio(r.PyMatWall, r.GoMatNoSignalsWall) }
func (r *Result) RSSRatio() float64                { return float64(r.GoMatRSS) / float64(r.PyMatRSS) }

func ratio(a, b time.Duration) float64 { return float64(a) / float64(b) }

// Targets of issue 16: the log paths against the one-write-per-message
// floor. (The small job's target is relative to the Rust port, which is not
// here: the script reports the absolute times and the start-up parts.)
const (
	TargetSlogFloorRatio       = 1.35
	TargetLogMessageFloorRatio = 1.10
)

// Targets of issue 6.
const (
	TargetLogSpeedup     = 20.0
	TargetFloorRatio     = 1.5
	TargetProcessSpeedup = 20.0
	TargetRSSRatio       = 0.25
	TargetBinaryBytes    = 3_000_000
)

func (c *Config) logf(format string, args ...any) {
	if c.Log != nil {
		fmt.Fprintf(c.Log, format+"\n", args...)
	}
}

// Compare builds the Go programs, runs every workload and returns the medians.
func Compare(cfg Config) (*Result, error) {
	if cfg.ProcessRuns <= 0 {
		cfg.ProcessRuns = cfg.Runs
	}
	if cfg.N <= 0 || cfg.Runs <= 0 {
		return nil, errors.New("-n and -runs must be positive")
	}
	if cfg.Root == "" {
		root, err := findRoot()
		if err != nil {
			return nil, err
		}
		cfg.Root = root
	}
	if cfg.Python == "" {
		cfg.Python = os.Getenv("PIPES_E2E_PYTHON")
	}
	if cfg.Python == "" {
		cfg.Python = filepath.Join(cfg.Root, ".venv", "bin", "python")
	}
	tmp, err := os.MkdirTemp("", "pipes-compare-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)

	res := &Result{N: cfg.N, Runs: cfg.Runs, Machine: machine(), CPU: cpuModel()}
	out, err := exec.Command(cfg.Python, "-c", "import sys, importlib.metadata as m; print(sys.version.split()[0], 'dagster-pipes', m.version('dagster-pipes'))").CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("python %s with dagster-pipes is needed (run scripts/test.sh to create .venv): %v: %s", cfg.Python, err, out)
	}
	res.PyVersion = "Python " + strings.TrimSpace(string(out))

	// Build the Go programs (not timed).
	// The jobs are built as they ship (stripped), so that the start-up
	// stages load the binary whose size is reported.
	goJob, floor, empty := filepath.Join(tmp, "gojob"), filepath.Join(tmp, "floor"), filepath.Join(tmp, "empty")
	s3Job := filepath.Join(tmp, "s3job")
	for _, b := range [][2]string{{goJob, "./bench/gojob"}, {floor, "./bench/floor"}, {empty, "./bench/empty"}, {s3Job, "./s3pipes/internal/startjob"}} {
		if err := goBuild(cfg.Root, b[0], b[1], "-trimpath", "-ldflags=-s -w"); err != nil {
			return nil, err
		}
	}
	for _, b := range []struct {
		path string
		size *int64
	}{{goJob, &res.RootJobBytes}, {s3Job, &res.S3JobBytes}} {
		fi, err := os.Stat(b.path)
		if err != nil {
			return nil, err
		}
		*b.size = fi.Size()
	}
	res.QuickstartPkg = "./examples/quickstart"
	if _, err := os.Stat(filepath.Join(cfg.Root, "examples", "quickstart")); err != nil {
		res.QuickstartPkg, res.StandIn = "./bench/gojob", true
	}
	qs := filepath.Join(tmp, "quickstart")
	if err := goBuild(cfg.Root, qs, res.QuickstartPkg, "-trimpath", "-ldflags=-s -w"); err != nil {
		return nil, err
	}
	fi, err := os.Stat(qs)
	if err != nil {
		return nil, err
	}
	res.QuickstartBytes = fi.Size()

	pyJob := filepath.Join(cfg.Root, "bench", "pyjob", "job.py")
	ctxPath := filepath.Join(tmp, "context.json")
	if err := writeContext(ctxPath); err != nil {
		return nil, err
	}
	n := strconv.Itoa(cfg.N)
	runDir := 0
	// run launches one process with fresh bootstrap env vars and a fresh
	// messages file, and checks what it wrote.
	run := func(check func([]string) error, name string, args ...string) (proc, error) {
		runDir++
		msgPath := filepath.Join(tmp, "messages-"+strconv.Itoa(runDir))
		env, err := bootstrapEnv(ctxPath, msgPath)
		if err != nil {
			return proc{}, err
		}
		args = slices.Clone(args)
		for i, a := range args {
			if a == "{messages}" {
				args[i] = msgPath
			}
		}
		p, err := launch(env, name, args...)
		if err != nil {
			return p, err
		}
		if check == nil { // a stage that sends nothing
			_ = os.Remove(msgPath)
			return p, nil
		}
		raw, err := os.ReadFile(msgPath)
		if err != nil {
			return p, err
		}
		_ = os.Remove(msgPath)
		lines := strings.Split(strings.TrimSuffix(string(raw), "\n"), "\n")
		if err := check(lines); err != nil {
			return p, fmt.Errorf("%s %s: %w", filepath.Base(name), strings.Join(args, " "), err)
		}
		return p, nil
	}

	logLine := `{"__dagster_pipes_version":"0.1","method":"log","params":{"message":"processed batch 1234 of 100000 (250 records)","level":"INFO"}}`
	checkFloor := func(lines []string) error {
		if len(lines) != cfg.N || lines[0] != logLine || lines[len(lines)-1] != logLine {
			return fmt.Errorf("floor wrote %d lines, want %d", len(lines), cfg.N)
		}
		return nil
	}
	checkGoLogs := func(lines []string) error {
		if err := checkSession(lines, cfg.N+2); err != nil {
			return err
		}
		// The Go job writes exactly the floor's bytes for each message.
		for _, l := range lines[1 : len(lines)-1] {
			if l != logLine {
				return fmt.Errorf("log line %q differs from the floor's %q", l, logLine)
			}
		}
		return nil
	}
	checkPyLogs := func(lines []string) error { return checkSession(lines, cfg.N+2) }
	checkMat := func(lines []string) error {
		if err := checkSession(lines, 4); err != nil {
			return err
		}
		if !strings.Contains(lines[1], `"report_asset_materialization"`) {
			return fmt.Errorf("no materialization: %s", lines[1])
		}
		if !strings.Contains(lines[2], `"report_asset_check"`) {
			return fmt.Errorf("no asset check: %s", lines[2])
		}
		return nil
	}
	checkOpened := func(lines []string) error {
		if len(lines) != 1 || !strings.Contains(lines[0], `"method":"opened"`) {
			return fmt.Errorf("want only the opened message, got %q", lines)
		}
		return nil
	}

	type workload struct {
		name  string
		check func([]string) error
		cmd   string
		args  []string
		procs []proc
	}
	ws := []*workload{
		{name: "go logs", check: checkGoLogs, cmd: goJob, args: []string{"logs", n}},
		{name: "python logs", check: checkPyLogs, cmd: cfg.Python, args: []string{pyJob, "logs", n}},
		{name: "floor", check: checkFloor, cmd: floor, args: []string{"{messages}", n}},
		{name: "go logs direct", check: checkGoLogs, cmd: goJob, args: []string{"logs-direct", n}},
		{name: "go materialize", check: checkMat, cmd: goJob, args: []string{"materialize"}},
		{name: "python materialize", check: checkMat, cmd: cfg.Python, args: []string{pyJob, "materialize"}},
		{name: "go materialize without signal handling", check: checkMat, cmd: goJob, args: []string{"materialize-nosignals"}},
		{name: "empty go program", cmd: empty},
		{name: "go startup-init", cmd: goJob, args: []string{"startup-init"}},
		{name: "go startup-signals", cmd: goJob, args: []string{"startup-signals"}},
		{name: "go startup-open", check: checkOpened, cmd: goJob, args: []string{"startup-open"}},
		{name: "go startup-job", check: checkMat, cmd: goJob, args: []string{"startup-job"}},
		{name: "go startup-job-signals", check: checkMat, cmd: goJob, args: []string{"startup-job-signals"}},
		{name: "s3 startup-init", cmd: s3Job, args: []string{"startup-init"}},
		{name: "s3 startup-open", check: checkOpened, cmd: s3Job, args: []string{"startup-open"}},
		{name: "s3 startup-open-client", check: checkOpened, cmd: s3Job, args: []string{"startup-open-client"}},
		{name: "go startup-trace", check: func(lines []string) error { return checkSession(lines, 2) }, cmd: goJob, args: []string{"startup-trace"}},
	}
	// rounds runs the workloads interleaved, runs times after a warm-up.
	rounds := func(ws []*workload, runs int) error {
		for round := 0; round <= runs; round++ { // round 0 warms up caches
			for _, w := range ws {
				p, err := run(w.check, w.cmd, w.args...)
				if err != nil {
					return fmt.Errorf("%s: %w", w.name, err)
				}
				if round > 0 {
					w.procs = append(w.procs, p)
				}
			}
		}
		return nil
	}
	if err := rounds(ws[:4], cfg.Runs); err != nil {
		return nil, err
	}
	cfg.logf("logs: %d runs done", cfg.Runs)
	// A Go process lives for a few milliseconds, so a moment of load on a
	// shared machine moves its time a lot: (b) gets more runs.
	if err := rounds(ws[4:], cfg.ProcessRuns); err != nil {
		return nil, err
	}
	cfg.logf("processes: %d runs done", cfg.ProcessRuns)
	res.ProcessRuns = cfg.ProcessRuns
	res.GoLoop, res.GoLogsWall = medianLoop(ws[0].procs), medianWall(ws[0].procs)
	res.PyLoop, res.PyLogsWall = medianLoop(ws[1].procs), medianWall(ws[1].procs)
	res.FloorLoop = medianLoop(ws[2].procs)
	res.GoDirectLoop = medianLoop(ws[3].procs)
	res.GoMatWall, res.GoMatRSS = medianWall(ws[4].procs), medianRSS(ws[4].procs)
	res.PyMatWall, res.PyMatRSS = medianWall(ws[5].procs), medianRSS(ws[5].procs)
	res.GoMatNoSignalsWall = medianWall(ws[6].procs)
	for i, d := range []*time.Duration{&res.EmptyWall, &res.InitWall, &res.SignalsWall, &res.OpenWall,
		&res.JobWall, &res.JobSignalsWall, &res.S3InitWall, &res.S3OpenWall, &res.S3OpenClientWall} {
		*d = medianWall(ws[7+i].procs)
	}
	for i := range TraceParts {
		res.Trace = append(res.Trace, time.Duration(median(mapSlice(ws[16].procs, func(p proc) int64 {
			if i < len(p.parts) {
				return p.parts[i]
			}
			return 0
		}))))
	}
	if cfg.BlobStores {
		for _, mod := range []struct{ dir, store, emulator string }{
			{"s3pipes", "S3", "moto"}, {"gcspipes", "GCS", "fake-gcs-server"}, {"azurepipes", "Azure Blob", "Azurite"},
		} {
			if _, err := os.Stat(filepath.Join(cfg.Root, mod.dir)); err != nil {
				continue
			}
			cfg.logf("blob store %s on %s ...", mod.store, mod.emulator)
			rs, err := runBlobBench(filepath.Join(cfg.Root, mod.dir), mod.store, mod.emulator)
			if err != nil {
				return nil, err
			}
			res.BlobStores = append(res.BlobStores, rs...)
		}
	}
	return res, nil
}

// checkSession checks that lines are one session: opened first, closed last,
// want lines in all, each a Pipes message.
func checkSession(lines []string, want int) error {
	if len(lines) != want {
		return fmt.Errorf("wrote %d messages, want %d", len(lines), want)
	}
	for i, l := range lines {
		var m struct {
			Version string `json:"__dagster_pipes_version"`
			Method  string `json:"method"`
		}
		if err := json.Unmarshal([]byte(l), &m); err != nil || m.Version != "0.1" {
			return fmt.Errorf("line %d is not a Pipes message: %q", i+1, l)
		}
		if i == 0 && m.Method != "opened" || i == len(lines)-1 && m.Method != "closed" {
			return fmt.Errorf("line %d: unexpected method %q", i+1, m.Method)
		}
	}
	return nil
}

// proc is one measured process.
type proc struct {
	wall  time.Duration // from start to exit
	loop  time.Duration // the N calls, as the process timed them (0 if not reported)
	parts []int64       // gojob startup-trace: the first call of each start-up part, ns
	rss   int64         // peak RSS, bytes (VmHWM as the process reported it, else rusage maxrss)
}

func launch(env []string, name string, args ...string) (proc, error) {
	cmd := exec.Command(name, args...)
	cmd.Env = env
	// Output goes to files, not pipes: with pipes, os/exec's copying
	// goroutines would add their own time to the measured wall time.
	outFile, err := os.CreateTemp("", "compare-out-")
	if err != nil {
		return proc{}, err
	}
	defer os.Remove(outFile.Name())
	defer outFile.Close()
	errFile, err := os.CreateTemp("", "compare-err-")
	if err != nil {
		return proc{}, err
	}
	defer os.Remove(errFile.Name())
	defer errFile.Close()
	cmd.Stdout, cmd.Stderr = outFile, errFile
	// Collect this process's garbage (the messages files it checked) now,
	// so that its GC does not compete with the child for the CPUs.
	runtime.GC()
	start := time.Now()
	err = cmd.Run()
	wall := time.Since(start)
	stdout, _ := os.ReadFile(outFile.Name())
	stderr, _ := os.ReadFile(errFile.Name())
	if err != nil {
		return proc{}, fmt.Errorf("%s %s: %v\n%s", filepath.Base(name), strings.Join(args, " "), err, stderr)
	}
	p := proc{wall: wall}
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		p.rss = int64(ru.Maxrss) * 1024 // kilobytes on Linux
		if runtime.GOOS == "darwin" {
			p.rss = int64(ru.Maxrss) // bytes on macOS
		}
	}
	if out := bytes.TrimSpace(stdout); len(out) > 0 {
		var r struct {
			LoopNS  int64   `json:"loop_ns"`
			VmHWMKB int64   `json:"vmhwm_kb"`
			PartsNS []int64 `json:"parts_ns"`
		}
		if err := json.Unmarshal(out, &r); err != nil {
			return p, fmt.Errorf("%s: unexpected output %q", filepath.Base(name), out)
		}
		p.loop = time.Duration(r.LoopNS)
		p.parts = r.PartsNS
		if r.VmHWMKB > 0 {
			// The process's own peak: on Linux the rusage maxrss of a
			// child started by os/exec (vfork) includes this process's RSS.
			p.rss = r.VmHWMKB * 1024
		}
	}
	return p, nil
}

// bootstrapEnv is the environment Dagster's subprocess client gives a job:
// the parent's, plus the two bootstrap variables.
func bootstrapEnv(ctxPath, msgPath string) ([]string, error) {
	c, err := pipes.EncodeParam(map[string]any{"path": ctxPath})
	if err != nil {
		return nil, err
	}
	m, err := pipes.EncodeParam(map[string]any{"path": msgPath})
	if err != nil {
		return nil, err
	}
	env := slices.DeleteFunc(os.Environ(), func(kv string) bool {
		return strings.HasPrefix(kv, pipes.ContextEnvVar+"=") || strings.HasPrefix(kv, pipes.MessagesEnvVar+"=")
	})
	return append(env, pipes.ContextEnvVar+"="+c, pipes.MessagesEnvVar+"="+m), nil
}

// writeContext writes the context file of a step that targets one asset,
// with every key, as Dagster writes it.
func writeContext(path string) error {
	raw, err := json.Marshal(map[string]any{
		"asset_keys": []string{"bench_asset"}, "code_version_by_asset_key": map[string]any{"bench_asset": nil},
		"provenance_by_asset_key": map[string]any{"bench_asset": nil}, "partition_key": nil,
		"partition_key_range": nil, "partition_time_window": nil,
		"run_id": "0b1f0b1f-0b1f-4b1f-8b1f-0b1f0b1f0b1f", "job_name": "bench_job", "retry_number": 0,
		"extras": map[string]any{},
	})
	if err != nil {
		return err
	}
	return os.WriteFile(path, raw, 0o644)
}

func goBuild(root, out, pkg string, flags ...string) error {
	args := append([]string{"build", "-o", out}, flags...)
	cmd := exec.Command("go", append(args, pkg)...)
	cmd.Dir = root
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build %s: %v\n%s", pkg, err, b)
	}
	return nil
}

// findRoot returns the directory of this module's go.mod, from the working
// directory up.
func findRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if raw, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil &&
			bytes.Contains(raw, []byte("module github.com/dagster-pipes-go/pipes\n")) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("run from inside the github.com/dagster-pipes-go/pipes repository")
		}
		dir = parent
	}
}

// cpuModel returns the CPU's model name ("unknown CPU" where there is no
// /proc/cpuinfo): absolute figures mean little without it.
func cpuModel() string {
	if raw, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(raw), "\n") {
			if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
				return strings.TrimSpace(v)
			}
		}
	}
	return "unknown CPU"
}

func machine() string {
	model := cpuModel()
	s := fmt.Sprintf("%s/%s, %d CPUs", runtime.GOOS, runtime.GOARCH, runtime.NumCPU())
	s += " (" + model + ")"
	return s + ", " + runtime.Version()
}

func median[T int64 | time.Duration](xs []T) T {
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func medianLoop(ps []proc) time.Duration {
	return median(mapSlice(ps, func(p proc) time.Duration { return p.loop }))
}
func medianWall(ps []proc) time.Duration {
	return median(mapSlice(ps, func(p proc) time.Duration { return p.wall }))
}
func medianRSS(ps []proc) int64 { return median(mapSlice(ps, func(p proc) int64 { return p.rss })) }

func mapSlice[T, U any](xs []T, f func(T) U) []U {
	out := make([]U, len(xs))
	for i, x := range xs {
		out[i] = f(x)
	}
	return out
}
