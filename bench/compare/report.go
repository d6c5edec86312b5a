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

// WriteText prints the results and the verdict on each target.
func (r *Result) WriteText(w io.Writer) {
	fmt.Fprintf(w, "machine: %s\n%s; %d log messages; medians of %d runs (logs) and %d runs (processes)\n\n", r.Machine, r.PyVersion, r.N, r.Runs, r.ProcessRuns)
	fmt.Fprintf(w, "(a)  logs, in-process loop: Go %.1f ms (%.0f msg/s), Python %.1f ms (%.0f msg/s), floor %.1f ms (%.0f msg/s)\n",
		ms(r.GoLoop), perSec(r.N, r.GoLoop), ms(r.PyLoop), perSec(r.N, r.PyLoop), ms(r.FloorLoop), perSec(r.N, r.FloorLoop))
	fmt.Fprintf(w, "     logs without slog (Context.LogMessage): Go %.1f ms (%.0f msg/s)\n", ms(r.GoDirectLoop), perSec(r.N, r.GoDirectLoop))
	fmt.Fprintf(w, "     logs, whole process:    Go %.1f ms, Python %.1f ms\n", ms(r.GoLogsWall), ms(r.PyLogsWall))
	fmt.Fprintf(w, "(b)  open+materialize+close process: Go %.2f ms, Python %.1f ms\n", ms(r.GoMatWall), ms(r.PyMatWall))
	fmt.Fprintf(w, "     Go without signal handling (WithoutSignalHandling()): %.2f ms\n", ms(r.GoMatNoSignalsWall))
	fmt.Fprintf(w, "(c)  peak RSS of (b): Go %.1f MB, Python %.1f MB\n", mb(r.GoMatRSS), mb(r.PyMatRSS))
	standIn := ""
	if r.StandIn {
		standIn = " (examples/quickstart is missing: stand-in measured)"
	}
	fmt.Fprintf(w, "     stripped binary %s: %.2f MB%s\n\n", r.QuickstartPkg, mb(r.QuickstartBytes), standIn)

	fmt.Fprintf(w, "target (a)  Go msg/s vs Python:   %6.1fx  (>= %.0fx)   %s\n", r.LogSpeedup(), TargetLogSpeedup, verdict(r.LogSpeedup() >= TargetLogSpeedup))
	fmt.Fprintf(w, "target (a') Go time vs floor:     %6.2fx  (<= %.1fx)  %s\n", r.FloorRatio(), TargetFloorRatio, verdict(r.FloorRatio() <= TargetFloorRatio))
	fmt.Fprintf(w, "  LogMessage (a) vs Python:       %6.1fx  (>= %.0fx)   %s\n", r.DirectLogSpeedup(), TargetLogSpeedup, verdict(r.DirectLogSpeedup() >= TargetLogSpeedup))
	fmt.Fprintf(w, "  LogMessage (a') vs floor:       %6.2fx  (<= %.1fx)  %s\n", r.DirectFloorRatio(), TargetFloorRatio, verdict(r.DirectFloorRatio() <= TargetFloorRatio))
	fmt.Fprintf(w, "target (b)  process vs Python:    %6.1fx  (>= %.0fx)   %s\n", r.ProcessSpeedup(), TargetProcessSpeedup, verdict(r.ProcessSpeedup() >= TargetProcessSpeedup))
	fmt.Fprintf(w, "  (b) without signal handling:    %6.1fx  (>= %.0fx)   %s\n", r.NoSignalsProcessSpeedup(), TargetProcessSpeedup, verdict(r.NoSignalsProcessSpeedup() >= TargetProcessSpeedup))
	fmt.Fprintf(w, "target (c)  RSS vs Python:        %6.2fx  (<= %.2fx) %s\n", r.RSSRatio(), TargetRSSRatio, verdict(r.RSSRatio() <= TargetRSSRatio))
	fmt.Fprintf(w, "target      quickstart stripped:  %6.2f MB (<= %.0f MB)  %s\n", mb(r.QuickstartBytes), mb(TargetBinaryBytes), verdict(r.QuickstartBytes <= TargetBinaryBytes))
}

// WriteMarkdown prints the results as the tables of BENCHMARKS.md.
func (r *Result) WriteMarkdown(w io.Writer) {
	fmt.Fprintf(w, "Machine: %s. %s. %d log messages; medians of %d runs (logs) and %d runs (processes).\n\n", r.Machine, r.PyVersion, r.N, r.Runs, r.ProcessRuns)
	fmt.Fprintln(w, "| Workload | Go (pipes) | Python (dagster-pipes) | Floor (hand-encoded writes) |")
	fmt.Fprintln(w, "|---|---:|---:|---:|")
	fmt.Fprintf(w, "| (a) %d logs, the calls | %.1f ms (%.0f msg/s) | %.1f ms (%.0f msg/s) | %.1f ms (%.0f msg/s) |\n",
		r.N, ms(r.GoLoop), perSec(r.N, r.GoLoop), ms(r.PyLoop), perSec(r.N, r.PyLoop), ms(r.FloorLoop), perSec(r.N, r.FloorLoop))
	fmt.Fprintf(w, "| (a) %d logs through `Context.LogMessage` (no slog), the calls | %.1f ms (%.0f msg/s) | | |\n", r.N, ms(r.GoDirectLoop), perSec(r.N, r.GoDirectLoop))
	fmt.Fprintf(w, "| (a) %d logs, whole process | %.1f ms | %.1f ms | |\n", r.N, ms(r.GoLogsWall), ms(r.PyLogsWall))
	fmt.Fprintf(w, "| (b) open + 1 materialization + close, whole process | %.2f ms | %.1f ms | |\n", ms(r.GoMatWall), ms(r.PyMatWall))
	fmt.Fprintf(w, "| (b) the same, Go with `WithoutSignalHandling()` (no SIGINT/SIGTERM handling, like Python) | %.2f ms | | |\n", ms(r.GoMatNoSignalsWall))
	fmt.Fprintf(w, "| (c) peak RSS of (b) | %.1f MB | %.1f MB | |\n\n", mb(r.GoMatRSS), mb(r.PyMatRSS))
	standIn := ""
	if r.StandIn {
		standIn = " (stand-in: examples/quickstart was missing)"
	}
	fmt.Fprintln(w, "| Target | Measured | Goal | |")
	fmt.Fprintln(w, "|---|---:|---:|---|")
	fmt.Fprintf(w, "| (a) log messages/s, Go ÷ Python | %.1f× | ≥ %.0f× | %s |\n", r.LogSpeedup(), TargetLogSpeedup, verdict(r.LogSpeedup() >= TargetLogSpeedup))
	fmt.Fprintf(w, "| (a') log time, Go ÷ floor | %.2f× | ≤ %.1f× | %s |\n", r.FloorRatio(), TargetFloorRatio, verdict(r.FloorRatio() <= TargetFloorRatio))
	fmt.Fprintf(w, "| (a) with `LogMessage`, Go ÷ Python | %.1f× | ≥ %.0f× | %s |\n", r.DirectLogSpeedup(), TargetLogSpeedup, verdict(r.DirectLogSpeedup() >= TargetLogSpeedup))
	fmt.Fprintf(w, "| (a') with `LogMessage`, Go ÷ floor | %.2f× | ≤ %.1f× | %s |\n", r.DirectFloorRatio(), TargetFloorRatio, verdict(r.DirectFloorRatio() <= TargetFloorRatio))
	fmt.Fprintf(w, "| (b) process time, Python ÷ Go | %.1f× | ≥ %.0f× | %s |\n", r.ProcessSpeedup(), TargetProcessSpeedup, verdict(r.ProcessSpeedup() >= TargetProcessSpeedup))
	fmt.Fprintf(w, "| (b) without signal handling, Python ÷ Go | %.1f× | ≥ %.0f× | %s |\n", r.NoSignalsProcessSpeedup(), TargetProcessSpeedup, verdict(r.NoSignalsProcessSpeedup() >= TargetProcessSpeedup))
	fmt.Fprintf(w, "| (c) peak RSS, Go ÷ Python | %.2f× | ≤ %.2f× | %s |\n", r.RSSRatio(), TargetRSSRatio, verdict(r.RSSRatio() <= TargetRSSRatio))
	fmt.Fprintf(w, "| `%s` stripped (`-ldflags=\"-s -w\"`)%s | %.2f MB | ≤ %.0f MB | %s |\n", r.QuickstartPkg, standIn, mb(r.QuickstartBytes), mb(TargetBinaryBytes), verdict(r.QuickstartBytes <= TargetBinaryBytes))
}
