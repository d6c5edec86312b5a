package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
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
	// Rust also builds bench/rustjob with cargo (the Rust port from
	// crates.io) and runs it beside the Go small job; skipped, with the
	// reason, where cargo or the crates are not to be had.
	Rust bool
	Log  io.Writer
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
	// SlogFloorLoop is the floor's writes made through a *slog.Logger whose
	// handler only writes the pre-encoded line: slog's own floor.
	SlogFloorLoop          time.Duration
	GoLogsWall, PyLogsWall time.Duration // (a) as whole processes, for reference
	GoMatWall, PyMatWall   time.Duration // (b)
	GoMatNoSignalsWall     time.Duration // (b) with pipes.WithoutSignalHandling(): no os/signal set-up
	GoMatRSS, PyMatRSS     int64         // (c), bytes

	// Start-up of the small job, stage by stage (whole processes, no
	// output): an empty Go program; one that reads an env var (the os
	// package); gojob returning at once; + the os/signal set-up;
	// pipes.Open (time to opened); the small job through pipes.Run without
	// signal handling, with it (installed after DefaultSignalDelay), and
	// with it installed before the job (WithSignalDelay(0)).
	EmptyWall, OSWall, InitWall, SignalsWall, OpenWall, JobWall, JobSignalsWall, JobEagerSignalsWall time.Duration
	// The same small job written as a straightforward Go port would
	// (bench/minigo: encoding/json, compress/zlib, no signal handling).
	MiniGoWall time.Duration
	// The same small job through the Rust port, and an empty Rust
	// program (bench/rustjob); zero with RustSkipped saying why.
	RustWall, RustEmptyWall time.Duration
	RustSkipped             string
	// The same first stages in a binary that links s3pipes, and with the
	// S3 client built from the environment before Open.
	S3InitWall, S3OpenWall, S3OpenClientWall time.Duration
	RootJobBytes, S3JobBytes                 int64 // stripped sizes of the two start-up binaries

	Trace []time.Duration // medians of gojob startup-trace, one per TraceParts

	// Paired holds the headline ratios as medians of per-round ratios,
	// keyed "workload/workload" (see Result.paired).
	Paired map[string]float64

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
func (r *Result) FloorRatio() float64 { return r.paired("go logs", "floor", r.GoLoop, r.FloorLoop) }

// paired is the median over the rounds of a's time over b's in the same
// round (the rounds interleave every workload, so a drift of the machine
// moves both), or, for a Result made without rounds, the ratio of the
// medians.
func (r *Result) paired(a, b string, medA, medB time.Duration) float64 {
	if v, ok := r.Paired[a+"/"+b]; ok {
		return v
	}
	return ratio(medA, medB)
}

// DirectLogSpeedup and DirectFloorRatio are (a) and (a') for the log path
// that bypasses slog (Context.LogMessage).
func (r *Result) DirectLogSpeedup() float64 { return ratio(r.PyLoop, r.GoDirectLoop) }
func (r *Result) DirectFloorRatio() float64 {
	return r.paired("go logs direct", "floor", r.GoDirectLoop, r.FloorLoop)
}
func (r *Result) ProcessSpeedup() float64 { return ratio(r.PyMatWall, r.GoMatWall) }

// NoSignalsProcessSpeedup is (b) for a Go job without SIGINT/SIGTERM
// handling, which the Python reference does not have either.
func (r *Result) NoSignalsProcessSpeedup() float64 { return ratio(r.PyMatWall, r.GoMatNoSignalsWall) }
func (r *Result) RSSRatio() float64                { return float64(r.GoMatRSS) / float64(r.PyMatRSS) }

func ratio(a, b time.Duration) float64 { return float64(a) / float64(b) }

// SlogOwnFloorRatio is slog's own floor over the write floor: what slog's
// front end (caller PC, time, record) adds before any handler runs.
func (r *Result) SlogOwnFloorRatio() float64 {
	return r.paired("floor through slog", "floor", r.SlogFloorLoop, r.FloorLoop)
}

// SlogOverSlogFloor is the slog path over slog's own floor: what this
// package's handler adds.
func (r *Result) SlogOverSlogFloor() float64 {
	return r.paired("go logs", "floor through slog", r.GoLoop, r.SlogFloorLoop)
}

// RustRatio is the small job through pipes.Run (signal handling on) over
// the same job through the Rust port; 0 when the Rust port was not run.
func (r *Result) RustRatio() float64 {
	if r.RustWall == 0 {
		return 0
	}
	return r.paired("go startup-job-signals", "rust port", r.JobSignalsWall, r.RustWall)
}

// MiniGoRatio is the small job through pipes.Run (signal handling on) over
// the straightforward Go port's.
func (r *Result) MiniGoRatio() float64 {
	return r.paired("go startup-job-signals", "minimal go port", r.JobSignalsWall, r.MiniGoWall)
}

// Targets of issue 16: the log paths against the one-write-per-message
// floor, and the small job against the Rust port (and faster than a
// straightforward Go port, MiniGoRatio < 1).
const (
	TargetSlogFloorRatio       = 1.35
	TargetLogMessageFloorRatio = 1.10
	TargetRustRatio            = 1.25
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
	s3Job, osOnly, miniGo := filepath.Join(tmp, "s3job"), filepath.Join(tmp, "osonly"), filepath.Join(tmp, "minigo")
	for _, b := range [][2]string{{goJob, "./bench/gojob"}, {floor, "./bench/floor"}, {empty, "./bench/empty"},
		{s3Job, "./s3pipes/internal/startjob"}, {osOnly, "./bench/osonly"}, {miniGo, "./bench/minigo"}} {
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

	var rustJob, rustEmpty string
	if cfg.Rust {
		rustJob, rustEmpty, res.RustSkipped = cargoBuild(cfg, tmp)
		if res.RustSkipped != "" {
			cfg.logf("Rust port skipped: %s", res.RustSkipped)
		}
	} else {
		res.RustSkipped = "not asked for (-rust)"
	}

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
		// Dagster's file reader creates the messages file before it
		// launches the process (the Rust port does not create it).
		if err := os.WriteFile(msgPath, nil, 0o644); err != nil {
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
		{name: "floor through slog", check: checkFloor, cmd: floor, args: []string{"{messages}", n, "slog"}},
		{name: "go materialize", check: checkMat, cmd: goJob, args: []string{"materialize"}},
		{name: "python materialize", check: checkMat, cmd: cfg.Python, args: []string{pyJob, "materialize"}},
		{name: "go materialize without signal handling", check: checkMat, cmd: goJob, args: []string{"materialize-nosignals"}},
		{name: "empty go program", cmd: empty},
		{name: "go os only", cmd: osOnly},
		{name: "go startup-init", cmd: goJob, args: []string{"startup-init"}},
		{name: "go startup-signals", cmd: goJob, args: []string{"startup-signals"}},
		{name: "go startup-open", check: checkOpened, cmd: goJob, args: []string{"startup-open"}},
		{name: "go startup-job", check: checkMat, cmd: goJob, args: []string{"startup-job"}},
		{name: "go startup-job-signals", check: checkMat, cmd: goJob, args: []string{"startup-job-signals"}},
		{name: "go startup-job-eager-signals", check: checkMat, cmd: goJob, args: []string{"startup-job-eager-signals"}},
		{name: "s3 startup-init", cmd: s3Job, args: []string{"startup-init"}},
		{name: "s3 startup-open", check: checkOpened, cmd: s3Job, args: []string{"startup-open"}},
		{name: "s3 startup-open-client", check: checkOpened, cmd: s3Job, args: []string{"startup-open-client"}},
		{name: "go startup-trace", check: func(lines []string) error { return checkSession(lines, 2) }, cmd: goJob, args: []string{"startup-trace"}},
		{name: "minimal go port", check: checkMat, cmd: miniGo},
	}
	if rustJob != "" {
		ws = append(ws,
			&workload{name: "rust port", check: checkMat, cmd: rustJob},
			&workload{name: "empty rust program", cmd: rustEmpty})
	}
	// rounds runs the workloads interleaved, runs times after a warm-up,
	// in a new random order each round: a process started right after a
	// given other one is not always faster or slower than the rest.
	shuffle := rand.New(rand.NewPCG(16, 16))
	copies := map[string][]string{} // a measured binary's copies (see replicate)
	for _, w := range ws {
		if _, done := copies[w.cmd]; done || !strings.HasPrefix(w.cmd, tmp) {
			continue // the Python interpreter is run as it is
		}
		cs, err := replicate(w.cmd)
		if err != nil {
			return nil, err
		}
		copies[w.cmd] = cs
	}
	rounds := func(ws []*workload, runs int) error {
		order := slices.Clone(ws)
		for round := 0; round <= runs; round++ { // round 0 warms up caches
			shuffle.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
			for _, w := range order {
				cmd := w.cmd
				if cs := copies[cmd]; len(cs) > 0 {
					cmd = cs[round%len(cs)]
				}
				p, err := run(w.check, cmd, w.args...)
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
	const logWorkloads = 5
	if err := rounds(ws[:logWorkloads], cfg.Runs); err != nil {
		return nil, err
	}
	cfg.logf("logs: %d runs done", cfg.Runs)
	// A Go process lives for a few milliseconds, so a moment of load on a
	// shared machine moves its time a lot: (b) gets more runs.
	if err := rounds(ws[logWorkloads:], cfg.ProcessRuns); err != nil {
		return nil, err
	}
	cfg.logf("processes: %d runs done", cfg.ProcessRuns)
	byName := map[string]*workload{}
	for _, w := range ws {
		byName[w.name] = w
	}
	wall := func(name string) time.Duration { return medianWall(byName[name].procs) }
	res.ProcessRuns = cfg.ProcessRuns
	res.GoLoop, res.GoLogsWall = medianLoop(byName["go logs"].procs), wall("go logs")
	res.PyLoop, res.PyLogsWall = medianLoop(byName["python logs"].procs), wall("python logs")
	res.FloorLoop = medianLoop(byName["floor"].procs)
	res.GoDirectLoop = medianLoop(byName["go logs direct"].procs)
	res.SlogFloorLoop = medianLoop(byName["floor through slog"].procs)
	res.GoMatWall, res.GoMatRSS = wall("go materialize"), medianRSS(byName["go materialize"].procs)
	res.PyMatWall, res.PyMatRSS = wall("python materialize"), medianRSS(byName["python materialize"].procs)
	res.GoMatNoSignalsWall = wall("go materialize without signal handling")
	for d, name := range map[*time.Duration]string{
		&res.EmptyWall: "empty go program", &res.OSWall: "go os only", &res.InitWall: "go startup-init",
		&res.SignalsWall: "go startup-signals", &res.OpenWall: "go startup-open", &res.JobWall: "go startup-job",
		&res.JobSignalsWall: "go startup-job-signals", &res.JobEagerSignalsWall: "go startup-job-eager-signals",
		&res.S3InitWall: "s3 startup-init", &res.S3OpenWall: "s3 startup-open", &res.S3OpenClientWall: "s3 startup-open-client",
		&res.MiniGoWall: "minimal go port",
	} {
		*d = wall(name)
	}
	if rustJob != "" {
		res.RustWall, res.RustEmptyWall = wall("rust port"), wall("empty rust program")
	}
	res.Paired = map[string]float64{}
	for _, pr := range []struct {
		a, b string
		of   func(proc) time.Duration
	}{
		{"go logs", "floor", procLoop}, {"go logs direct", "floor", procLoop},
		{"floor through slog", "floor", procLoop}, {"go logs", "floor through slog", procLoop},
		{"go startup-job-signals", "rust port", procWall}, {"go startup-job-signals", "minimal go port", procWall},
	} {
		a, b := byName[pr.a], byName[pr.b]
		if a == nil || b == nil || len(a.procs) != len(b.procs) || len(a.procs) == 0 {
			continue
		}
		rs := make([]float64, len(a.procs))
		for i := range rs {
			rs[i] = ratio(pr.of(a.procs[i]), pr.of(b.procs[i]))
		}
		slices.Sort(rs)
		res.Paired[pr.a+"/"+pr.b] = rs[len(rs)/2]
	}
	for i := range TraceParts {
		res.Trace = append(res.Trace, time.Duration(median(mapSlice(byName["go startup-trace"].procs, func(p proc) int64 {
			if i < len(p.parts) {
				return p.parts[i]
			}
			return 0
		}))))
	}
	if cfg.BlobStores {
		const million = "BenchmarkMillionMessages"
		for _, mod := range []struct{ dir, bench, store, emulator string }{
			{"s3pipes", million, "S3", "moto"}, {"gcspipes", million, "GCS", "fake-gcs-server"},
			{"azurepipes", million, "Azure Blob", "Azurite"},
			// Databricks has no emulator: the loopback REST server
			// (internal/dbxserver), in its own process.
			{"databrickspipes", million, "DBFS (REST)", "internal/dbxserver"},
			{"databrickspipes", million + "Volumes", "UC volumes (Files API)", "internal/dbxserver"},
		} {
			if _, err := os.Stat(filepath.Join(cfg.Root, mod.dir)); err != nil {
				continue
			}
			cfg.logf("blob store %s on %s ...", mod.store, mod.emulator)
			rs, err := runBlobBench(filepath.Join(cfg.Root, mod.dir), mod.bench, mod.store, mod.emulator)
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

// copiesPerBinary is how many copies of each measured binary the runs go
// round. How a binary's bytes sit in the page cache moves its start-up by
// up to 0.1 ms on the 2-core VM of BENCHMARKS.md: the Go linker writes its
// output through a memory mapping, which leaves pages that the kernel maps
// one small page per fault (a binary fresh from `go build` starts about
// 0.1 ms slower than the same bytes copied, which is how a job is
// deployed), and even two copies of one file can differ by as much. Every
// measured binary, Go or Rust, is run from fresh copies in turn, so that
// no program is measured through one lucky or unlucky file.
const copiesPerBinary = 4

// replicate writes copiesPerBinary copies of the binary at path, from
// start to end, as cp or an installer does, and returns their paths.
func replicate(path string) ([]string, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var out []string
	for i := range copiesPerBinary {
		p := fmt.Sprintf("%s-copy%d", path, i+1)
		if err := os.WriteFile(p, raw, 0o755); err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

// cargoBuild builds bench/rustjob in release mode (its lock file pins
// every crate) and returns its two programs, or why it could not.
func cargoBuild(cfg Config, tmp string) (job, empty, skipped string) {
	cargo, err := exec.LookPath("cargo")
	if err != nil {
		return "", "", "cargo is not installed"
	}
	target := filepath.Join(tmp, "rust-target")
	cmd := exec.Command(cargo, "build", "--release", "--locked", "--quiet", "--manifest-path", filepath.Join(cfg.Root, "bench", "rustjob", "Cargo.toml"))
	cmd.Env = append(os.Environ(), "CARGO_TARGET_DIR="+target)
	cfg.logf("building the Rust port (cargo build --release) ...")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", "", fmt.Sprintf("cargo build failed: %v: %s", err, lastLine(string(out)))
	}
	return filepath.Join(target, "release", "rustjob"), filepath.Join(target, "release", "rustempty"), ""
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return s[i+1:]
	}
	return s
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

func procLoop(p proc) time.Duration { return p.loop }
func procWall(p proc) time.Duration { return p.wall }

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
