package main

import (
	"fmt"
	"io"
	"time"
)

func verdict(ok bool) string {
	if ok {
		return "met"
	}
	return "NOT MET"
}

func perSec(n int, d time.Duration) float64 { return float64(n) / d.Seconds() }

func mb(b int64) float64 { return float64(b) / 1e6 }

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// StartupPart is one stage of the small job's start-up: what it adds to the
// stage before it (medians of whole processes, so a part can come out
// slightly negative under noise).
type StartupPart struct {
	Name string
	Time time.Duration
}

// StartupParts splits the small job's whole-process time into its parts.
func (r *Result) StartupParts() []StartupPart {
	return []StartupPart{
		{"Go runtime start and exit (empty program)", r.EmptyWall},
		{"the os package: its init, the environment's copy (any Go port)", r.OSWall - r.EmptyWall},
		{"package init (pipes and its other imports, the job binary)", r.InitWall - r.OSWall},
		{"params, context file, messages file, opened (to opened)", r.OpenWall - r.InitWall},
		{"materialization + check + closed", r.JobWall - r.OpenWall},
		{"pipes.Run's signal handling (installed after 1 ms)", r.JobSignalsWall - r.JobWall},
	}
}

// EagerSignalsCost is what the signal handling costs the small job when it
// is installed before the job starts (WithSignalDelay(0)).
func (r *Result) EagerSignalsCost() time.Duration { return r.JobEagerSignalsWall - r.JobWall }

// WriteText prints the results and the verdict on each target, ratios
// first.
func (r *Result) WriteText(w io.Writer) {
	cpu := " [" + r.CPU + "]"
	fmt.Fprintf(w, "machine: %s\n%s; %d log messages; medians of %d runs (logs) and %d runs (processes); headline ratios are medians of per-round ratios\n\n", r.Machine, r.PyVersion, r.N, r.Runs, r.ProcessRuns)
	fmt.Fprintf(w, "HEADLINE: log time / the one-write-per-message floor (issue 16)\n")
	fmt.Fprintf(w, "  slog path (p.Log().Info)     %5.2fx  (<= %.2fx)  %s\n", r.FloorRatio(), TargetSlogFloorRatio, verdict(r.FloorRatio() <= TargetSlogFloorRatio))
	fmt.Fprintf(w, "  Context.LogMessage           %5.2fx  (<= %.2fx)  %s\n", r.DirectFloorRatio(), TargetLogMessageFloorRatio, verdict(r.DirectFloorRatio() <= TargetLogMessageFloorRatio))
	fmt.Fprintf(w, "  slog's own floor (a handler that only writes) %.2fx; the slog path over it %.2fx\n", r.SlogOwnFloorRatio(), r.SlogOverSlogFloor())
	fmt.Fprintf(w, "HEADLINE: the small job through pipes.Run (signal handling on), whole process, against other ports\n")
	if r.RustWall > 0 {
		fmt.Fprintf(w, "  / the Rust port (dagster_pipes_rust) %5.2fx  (<= %.2fx)  %s\n", r.RustRatio(), TargetRustRatio, verdict(r.RustRatio() <= TargetRustRatio))
	} else {
		fmt.Fprintf(w, "  / the Rust port: not run (%s)\n", r.RustSkipped)
	}
	fmt.Fprintf(w, "  / a straightforward Go port (bench/minigo, no signal handling) %5.2fx  (< 1)  %s\n\n", r.MiniGoRatio(), verdict(r.MiniGoRatio() < 1))

	fmt.Fprintf(w, "(a)  logs, in-process loop%s: Go %.1f ms (%.0f msg/s), LogMessage %.1f ms (%.0f msg/s), Python %.1f ms (%.0f msg/s), floor %.1f ms (%.0f msg/s)\n",
		cpu, ms(r.GoLoop), perSec(r.N, r.GoLoop), ms(r.GoDirectLoop), perSec(r.N, r.GoDirectLoop), ms(r.PyLoop), perSec(r.N, r.PyLoop), ms(r.FloorLoop), perSec(r.N, r.FloorLoop))
	fmt.Fprintf(w, "     logs, whole process%s: Go %.1f ms, Python %.1f ms\n", cpu, ms(r.GoLogsWall), ms(r.PyLogsWall))
	fmt.Fprintf(w, "(b)  small job (open, 10-entry materialization, check, close), whole process%s:\n", cpu)
	fmt.Fprintf(w, "     pipes.Run %.2f ms; WithoutSignalHandling %.2f ms; empty Go program %.2f ms; Python %.1f ms\n",
		ms(r.GoMatWall), ms(r.GoMatNoSignalsWall), ms(r.EmptyWall), ms(r.PyMatWall))
	fmt.Fprintf(w, "(c)  peak RSS of (b)%s: Go %.1f MB, Python %.1f MB\n", cpu, mb(r.GoMatRSS), mb(r.PyMatRSS))
	fmt.Fprintf(w, "(d)  start-up parts (no output; the job alone %.2f ms, %.2f ms with signals)%s:\n", ms(r.JobWall), ms(r.JobSignalsWall), cpu)
	for _, p := range r.StartupParts() {
		fmt.Fprintf(w, "     %-66s %6.3f ms\n", p.Name, ms(p.Time))
	}
	fmt.Fprintf(w, "     %-66s %6.3f ms\n", "signal handling installed before the job (WithSignalDelay(0))", ms(r.EagerSignalsCost()))
	fmt.Fprintf(w, "(f)  the small job, whole process, no output%s: pipes.Run %.2f ms; straightforward Go port %.2f ms", cpu, ms(r.JobSignalsWall), ms(r.MiniGoWall))
	if r.RustWall > 0 {
		fmt.Fprintf(w, "; Rust port %.2f ms; empty Rust program %.2f ms", ms(r.RustWall), ms(r.RustEmptyWall))
	}
	fmt.Fprintf(w, "; empty Go program %.2f ms\n", ms(r.EmptyWall))
	for i, d := range r.Trace {
		fmt.Fprintf(w, "     first call, in-process: %-33s %6.3f ms\n", TraceParts[i], ms(d))
	}
	fmt.Fprintf(w, "     root-only job: %.2f MB stripped, init %.2f ms, to opened %.2f ms%s\n", mb(r.RootJobBytes), ms(r.InitWall), ms(r.OpenWall), cpu)
	fmt.Fprintf(w, "     s3pipes job:   %.2f MB stripped, init %.2f ms, to opened %.2f ms, with NewClientFromEnv %.2f ms%s\n",
		mb(r.S3JobBytes), ms(r.S3InitWall), ms(r.S3OpenWall), ms(r.S3OpenClientWall), cpu)
	standIn := ""
	if r.StandIn {
		standIn = " (examples/quickstart is missing: stand-in measured)"
	}
	fmt.Fprintf(w, "     stripped binary %s: %.2f MB%s\n", r.QuickstartPkg, mb(r.QuickstartBytes), standIn)
	for _, b := range r.BlobStores {
		if b.Skipped != "" {
			fmt.Fprintf(w, "(e)  %s on %s: skipped: %s\n", b.Store, b.Emulator, b.Skipped)
			continue
		}
		fmt.Fprintf(w, "(e)  %s on %s, %s%s: %.0f msg/s, peak live heap %.1f MB (incl. garbage %.1f MB), %.0f MB sent\n",
			b.Store, b.Emulator, b.Mode, cpu, b.Metrics["msgs/s"], b.Metrics["peak-live-MB"], b.Metrics["peak-heap-MB"], b.Metrics["sent-MB"])
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "issue 6 targets (vs Python):\n")
	fmt.Fprintf(w, "  (a) Go msg/s vs Python:         %6.1fx  (>= %.0fx)   %s\n", r.LogSpeedup(), TargetLogSpeedup, verdict(r.LogSpeedup() >= TargetLogSpeedup))
	fmt.Fprintf(w, "  (a) LogMessage vs Python:       %6.1fx  (>= %.0fx)   %s\n", r.DirectLogSpeedup(), TargetLogSpeedup, verdict(r.DirectLogSpeedup() >= TargetLogSpeedup))
	fmt.Fprintf(w, "  (b) process vs Python:          %6.1fx  (>= %.0fx)   %s\n", r.ProcessSpeedup(), TargetProcessSpeedup, verdict(r.ProcessSpeedup() >= TargetProcessSpeedup))
	fmt.Fprintf(w, "  (b) without signal handling:    %6.1fx  (>= %.0fx)   %s\n", r.NoSignalsProcessSpeedup(), TargetProcessSpeedup, verdict(r.NoSignalsProcessSpeedup() >= TargetProcessSpeedup))
	fmt.Fprintf(w, "  (c) RSS vs Python:              %6.2fx  (<= %.2fx) %s\n", r.RSSRatio(), TargetRSSRatio, verdict(r.RSSRatio() <= TargetRSSRatio))
	fmt.Fprintf(w, "  quickstart stripped:            %6.2f MB (<= %.0f MB)  %s\n", mb(r.QuickstartBytes), mb(TargetBinaryBytes), verdict(r.QuickstartBytes <= TargetBinaryBytes))
}

// WriteMarkdown prints the results as the tables of BENCHMARKS.md, ratios
// first; every table with absolute figures names the CPU.
func (r *Result) WriteMarkdown(w io.Writer) {
	fmt.Fprintf(w, "Machine: %s. %s. %d log messages; medians of %d runs (logs) and %d runs (processes); the ratios to the floor and to the other ports are medians of per-round ratios (every round runs each workload once, in a random order).\n\n", r.Machine, r.PyVersion, r.N, r.Runs, r.ProcessRuns)
	fmt.Fprintln(w, "| Log path, time ÷ the one-write-per-message floor | Measured | Target (issue 16) | |")
	fmt.Fprintln(w, "|---|---:|---:|---|")
	fmt.Fprintf(w, "| `p.Log().Info` (slog) | **%.2f×** | ≤ %.2f× | %s |\n", r.FloorRatio(), TargetSlogFloorRatio, verdict(r.FloorRatio() <= TargetSlogFloorRatio))
	fmt.Fprintf(w, "| `p.LogMessage` | **%.2f×** | ≤ %.2f× | %s |\n", r.DirectFloorRatio(), TargetLogMessageFloorRatio, verdict(r.DirectFloorRatio() <= TargetLogMessageFloorRatio))
	fmt.Fprintf(w, "| slog's own floor: a `*slog.Logger` whose handler only writes the line | %.2f× | | |\n", r.SlogOwnFloorRatio())
	fmt.Fprintf(w, "| `p.Log().Info` ÷ slog's own floor (what this package's handler adds) | %.2f× | | |\n\n", r.SlogOverSlogFloor())

	fmt.Fprintln(w, "| The small job through `pipes.Run` (signal handling on), whole process, ÷ | Measured | Target (issue 16) | |")
	fmt.Fprintln(w, "|---|---:|---:|---|")
	if r.RustWall > 0 {
		fmt.Fprintf(w, "| the Rust port (`dagster_pipes_rust` 0.1.8, bench/rustjob) | **%.2f×** | ≤ %.2f× | %s |\n", r.RustRatio(), TargetRustRatio, verdict(r.RustRatio() <= TargetRustRatio))
	} else {
		fmt.Fprintf(w, "| the Rust port | not run: %s | ≤ %.2f× | |\n", r.RustSkipped, TargetRustRatio)
	}
	fmt.Fprintf(w, "| a straightforward Go port (bench/minigo: encoding/json, compress/zlib, no signal handling) | **%.2f×** | < 1 | %s |\n\n", r.MiniGoRatio(), verdict(r.MiniGoRatio() < 1))

	fmt.Fprintf(w, "| (f) The small job, whole process, no output (%s) | Time |\n", r.CPU)
	fmt.Fprintln(w, "|---|---:|")
	fmt.Fprintf(w, "| `pipes.Run`, signal handling on (the default) | %.2f ms |\n", ms(r.JobSignalsWall))
	fmt.Fprintf(w, "| `pipes.Run`, `WithSignalDelay(0)` (handling installed before the job) | %.2f ms |\n", ms(r.JobEagerSignalsWall))
	fmt.Fprintf(w, "| `pipes.Run`, `WithoutSignalHandling()` | %.2f ms |\n", ms(r.JobWall))
	fmt.Fprintf(w, "| a straightforward Go port (bench/minigo) | %.2f ms |\n", ms(r.MiniGoWall))
	if r.RustWall > 0 {
		fmt.Fprintf(w, "| the Rust port (bench/rustjob) | %.2f ms |\n", ms(r.RustWall))
		fmt.Fprintf(w, "| an empty Rust program | %.2f ms |\n", ms(r.RustEmptyWall))
	}
	fmt.Fprintf(w, "| an empty Go program | %.2f ms |\n", ms(r.EmptyWall))
	fmt.Fprintf(w, "| a Go program that reads one env var (bench/osonly) | %.2f ms |\n\n", ms(r.OSWall))

	fmt.Fprintf(w, "| Workload (absolute figures on %s) | Go (pipes) | Python (dagster-pipes) | Floor (hand-encoded writes) |\n", r.CPU)
	fmt.Fprintln(w, "|---|---:|---:|---:|")
	fmt.Fprintf(w, "| (a) %d logs, the calls | %.1f ms (%.0f msg/s) | %.1f ms (%.0f msg/s) | %.1f ms (%.0f msg/s) |\n",
		r.N, ms(r.GoLoop), perSec(r.N, r.GoLoop), ms(r.PyLoop), perSec(r.N, r.PyLoop), ms(r.FloorLoop), perSec(r.N, r.FloorLoop))
	fmt.Fprintf(w, "| (a) %d logs through `Context.LogMessage` (no slog), the calls | %.1f ms (%.0f msg/s) | | |\n", r.N, ms(r.GoDirectLoop), perSec(r.N, r.GoDirectLoop))
	fmt.Fprintf(w, "| (a) %d logs, whole process | %.1f ms | %.1f ms | |\n", r.N, ms(r.GoLogsWall), ms(r.PyLogsWall))
	fmt.Fprintf(w, "| (b) small job: open + 10-entry materialization + check + close, whole process, `pipes.Run` | %.2f ms | %.1f ms | |\n", ms(r.GoMatWall), ms(r.PyMatWall))
	fmt.Fprintf(w, "| (b) the same, `WithoutSignalHandling()` | %.2f ms | | |\n", ms(r.GoMatNoSignalsWall))
	fmt.Fprintf(w, "| (b) an empty Go program (`func main() {}`) | %.2f ms | | |\n", ms(r.EmptyWall))
	fmt.Fprintf(w, "| (c) peak RSS of (b) | %.1f MB | %.1f MB | |\n\n", mb(r.GoMatRSS), mb(r.PyMatRSS))

	fmt.Fprintf(w, "| (d) Start-up part of the small job (%s) | Adds |\n", r.CPU)
	fmt.Fprintln(w, "|---|---:|")
	for _, p := range r.StartupParts() {
		fmt.Fprintf(w, "| %s | %.3f ms |\n", p.Name, ms(p.Time))
	}
	fmt.Fprintf(w, "| **the small job through `pipes.Run`, no output** | **%.3f ms** |\n", ms(r.JobSignalsWall))
	fmt.Fprintf(w, "| for comparison: the signal handling installed before the job (`WithSignalDelay(0)`) | %.3f ms |\n\n", ms(r.EagerSignalsCost()))
	if len(r.Trace) > 0 {
		fmt.Fprintf(w, "| (d) First call of each part, timed inside the process (%s) | Time |\n", r.CPU)
		fmt.Fprintln(w, "|---|---:|")
		for i, d := range r.Trace {
			fmt.Fprintf(w, "| %s | %.3f ms |\n", TraceParts[i], ms(d))
		}
		fmt.Fprintln(w)
	}

	fmt.Fprintf(w, "| (d) Start-up, root-only vs s3pipes (%s) | Stripped binary | `main` returns at once | To opened | To opened, S3 client built first |\n", r.CPU)
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|")
	fmt.Fprintf(w, "| imports only `pipes` (bench/gojob) | %.2f MB | %.2f ms | %.2f ms | |\n", mb(r.RootJobBytes), ms(r.InitWall), ms(r.OpenWall))
	fmt.Fprintf(w, "| imports `s3pipes` (s3pipes/internal/startjob) | %.2f MB | %.2f ms | %.2f ms | %.2f ms |\n\n", mb(r.S3JobBytes), ms(r.S3InitWall), ms(r.S3OpenWall), ms(r.S3OpenClientWall))

	if len(r.BlobStores) > 0 {
		fmt.Fprintf(w, "| (e) Blob-store channel, 1,000,000 log messages (%s) | msg/s | Peak live heap | Peak heap incl. garbage | Sent |\n", r.CPU)
		fmt.Fprintln(w, "|---|---:|---:|---:|---:|")
		for _, b := range r.BlobStores {
			if b.Skipped != "" {
				fmt.Fprintf(w, "| %s on %s | skipped: %s | | | |\n", b.Store, b.Emulator, b.Skipped)
				continue
			}
			fmt.Fprintf(w, "| %s on %s, %s | %.0f | %.1f MB | %.1f MB | %.0f MB |\n", b.Store, b.Emulator, b.Mode,
				b.Metrics["msgs/s"], b.Metrics["peak-live-MB"], b.Metrics["peak-heap-MB"], b.Metrics["sent-MB"])
		}
		fmt.Fprintln(w)
	}

	standIn := ""
	if r.StandIn {
		standIn = " (stand-in: examples/quickstart was missing)"
	}
	fmt.Fprintln(w, "| Issue 6 target (vs Python) | Measured | Goal | |")
	fmt.Fprintln(w, "|---|---:|---:|---|")
	fmt.Fprintf(w, "| (a) log messages/s, Go ÷ Python | %.1f× | ≥ %.0f× | %s |\n", r.LogSpeedup(), TargetLogSpeedup, verdict(r.LogSpeedup() >= TargetLogSpeedup))
	fmt.Fprintf(w, "| (a) with `LogMessage`, Go ÷ Python | %.1f× | ≥ %.0f× | %s |\n", r.DirectLogSpeedup(), TargetLogSpeedup, verdict(r.DirectLogSpeedup() >= TargetLogSpeedup))
	fmt.Fprintf(w, "| (b) process time, Python ÷ Go | %.1f× | ≥ %.0f× | %s |\n", r.ProcessSpeedup(), TargetProcessSpeedup, verdict(r.ProcessSpeedup() >= TargetProcessSpeedup))
	fmt.Fprintf(w, "| (b) without signal handling, Python ÷ Go | %.1f× | ≥ %.0f× | %s |\n", r.NoSignalsProcessSpeedup(), TargetProcessSpeedup, verdict(r.NoSignalsProcessSpeedup() >= TargetProcessSpeedup))
	fmt.Fprintf(w, "| (c) peak RSS, Go ÷ Python | %.2f× | ≤ %.2f× | %s |\n", r.RSSRatio(), TargetRSSRatio, verdict(r.RSSRatio() <= TargetRSSRatio))
	fmt.Fprintf(w, "| `%s` stripped (`-ldflags=\"-s -w\"`)%s | %.2f MB | ≤ %.0f MB | %s |\n", r.QuickstartPkg, standIn, mb(r.QuickstartBytes), mb(TargetBinaryBytes), verdict(r.QuickstartBytes <= TargetBinaryBytes))
}
