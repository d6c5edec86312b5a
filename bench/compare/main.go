// Command compare runs the same Pipes workloads as a Go job (bench/gojob,
// this module's pipes package) and as a Python job (bench/pyjob/job.py,
// dagster-pipes from PyPI), on the same machine in one go, and prints the
// ratios against the targets of issues 16 and 6. The headline is each log
// path's ratio to the floor (a); absolute figures are printed with the CPU
// model, since they move with it (a raw write(2) costs twice as much on one
// 2-core VM as on another).
//
//	(a)  100,000 log messages through the file writer: messages per second
//	(a') the same messages written by a tiny Go program, pre-encoded, one
//	     write(2) each (bench/floor): the physical floor
//	(b)  open + one materialization + close, as a whole process: wall time
//	(c)  the peak RSS of (b)
//	     and the stripped size of the examples/quickstart binary
//	(d)  the small job's start-up, stage by stage: an empty Go program, the
//	     package's init, os/signal's watcher, time to opened, the reports
//	     and close, Run's signal handling; the same first stages in a binary
//	     that links s3pipes, and both binaries' stripped sizes
//	(e)  each blob-store channel against its emulator (S3 on moto, GCS on
//	     fake-gcs-server, Azure on Azurite, DBFS and Unity Catalog volumes
//	     on the loopback Databricks REST server internal/dbxserver):
//	     messages/s and the peak live heap for 1,000,000 messages, in a
//	     burst and paced (-blobstores)
//	(f)  the small job against other ports: a straightforward Go port
//	     (bench/minigo) and the Rust port (bench/rustjob, built with cargo
//	     where it is installed: -rust)
//
// Every binary is run from fresh copies in turn (see replicate), so that
// none starts slower or faster for how its file sits in the page cache.
//
// Every job is launched the same way: a fresh process with the bootstrap env
// vars DAGSTER_PIPES_CONTEXT (a context file, as Dagster's default injector
// writes it) and DAGSTER_PIPES_MESSAGES (a messages file, Dagster's default
// reader). The workloads run interleaved, after one warm-up run: the log
// workloads -runs times, the short whole-process ones -process-runs times;
// the medians are compared. Peak RSS is the VmHWM that each job reads
// from /proc/self/status just before it exits (the rusage maxrss of a child
// of a Go program is polluted on Linux: os/exec starts it with vfork, and its
// maxrss includes the parent's RSS).
//
// Usage, from the repository root (Python defaults to .venv/bin/python,
// made by scripts/test.sh; nothing new is installed):
//
//	go run ./bench/compare                # full run
//	go run ./bench/compare -markdown      # also print tables for BENCHMARKS.md
//	go run ./bench/compare -n 2000 -runs 1 -process-runs 1 -blobstores=false   # quick (CI runs this as a benchmark)
package main

import (
	"flag"
	"fmt"
	"os"
)

func main() {
	var cfg Config
	flag.IntVar(&cfg.N, "n", 100_000, "log messages in workload (a)")
	flag.IntVar(&cfg.Runs, "runs", 7, "measured runs of each log workload (the median is reported)")
	flag.IntVar(&cfg.ProcessRuns, "process-runs", 41, "measured runs of each whole-process workload (the median is reported)")
	flag.StringVar(&cfg.Python, "python", "", "Python interpreter with dagster-pipes (default: .venv/bin/python at the repository root, or $PIPES_E2E_PYTHON)")
	flag.BoolVar(&cfg.Rust, "rust", true, "also build bench/rustjob with cargo (the Rust port, from crates.io) and run it beside the Go small job; skipped where cargo is missing")
	flag.BoolVar(&cfg.BlobStores, "blobstores", true, "also run each blob-store channel's BenchmarkMillionMessages against its emulator (moto, fake-gcs-server, Azurite, internal/dbxserver; a minute or more)")
	markdown := flag.Bool("markdown", false, "also print the results as Markdown tables")
	flag.Parse()
	cfg.Log = os.Stderr
	res, err := Compare(cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "compare:", err)
		os.Exit(1)
	}
	res.WriteText(os.Stdout)
	if *markdown {
		fmt.Println()
		res.WriteMarkdown(os.Stdout)
	}
}
