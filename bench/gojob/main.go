// Command gojob is the Go side of bench/compare: the same workloads as
// bench/pyjob/job.py, through this module's pipes package with its defaults
// (bootstrap from the DAGSTER_PIPES_* env vars, context file, file writer).
//
//	gojob logs N        logs N messages at INFO through p.Log() (slog)
//	gojob logs-direct N logs N messages at INFO through p.LogMessage
//	gojob materialize reports one materialization with 10 metadata entries
//	gojob materialize-nosignals  the same, with pipes.WithoutSignalHandling() (no
//	                    SIGINT/SIGTERM handling, as the Python reference has none)
//
// The materialize workloads are the small job of issue 16: open, one
// materialization with 10 metadata entries, one asset check, close. The
// start-up stages print nothing, so that each one's process time is the
// stage and nothing else (bench/compare subtracts one from the next):
//
//	gojob startup-init      returns from main at once (runtime + package init)
//	gojob startup-signals   signal.NotifyContext for SIGINT and SIGTERM, then returns
//	gojob startup-open      pipes.Open (params, context file, messages file, opened), then returns
//	gojob startup-job       the small job through pipes.Run without signal handling
//	gojob startup-job-signals  the small job through pipes.Run (SIGINT/SIGTERM handled,
//	                        installed after pipes.DefaultSignalDelay, as by default)
//	gojob startup-job-eager-signals  the same with pipes.WithSignalDelay(0): the handling
//	                        installed before the job starts
//	gojob startup-trace     times the first call of each part of Run's start-up
//	                        in order, inside the process, and prints them as JSON
//	gojob startup-run-trace [nosignals]  times, inside the process, the small job
//	                        through pipes.Run: from the call to the job's start, the
//	                        job, and from its return to Run's; prints them as JSON
//
// At exit it prints {"loop_ns": …, "vmhwm_kb": …}: the time of the N log
// calls, and the peak RSS of its own address space (VmHWM, read from
// /proc/self/status; 0 where there is none). The rusage of a child started
// by Go's os/exec is no good for that on Linux: the child is made with vfork,
// so its maxrss counts the parent's RSS.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/dagster-pipes-go/pipes"
)

// Message is the log message of every workload (and of the floor's
// pre-encoded line).
const Message = "processed batch 1234 of 100000 (250 records)"

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: gojob logs N | gojob materialize")
		os.Exit(2)
	}
	var job func(context.Context, *pipes.Context) error
	var loop time.Duration
	quiet := false // print nothing at exit
	switch os.Args[1] {
	case "startup-init":
		return
	case "startup-signals":
		_, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		stop()
		return
	case "startup-open":
		if _, err := pipes.Open(context.Background()); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		return
	case "startup-trace":
		if err := startupTrace(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		return
	case "startup-run-trace":
		var opts []pipes.Option
		if len(os.Args) > 2 && os.Args[2] == "nosignals" {
			opts = append(opts, pipes.WithoutSignalHandling())
		}
		var started, returned time.Time
		start := time.Now()
		err := pipes.Run(context.Background(), func(ctx context.Context, p *pipes.Context) error {
			started = time.Now()
			defer func() { returned = time.Now() }()
			return smallJob(ctx, p)
		}, opts...)
		end := time.Now()
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		fmt.Printf("{\"parts_ns\": [%d, %d, %d]}\n", started.Sub(start).Nanoseconds(), returned.Sub(started).Nanoseconds(), end.Sub(returned).Nanoseconds())
		return
	case "startup-job", "startup-job-signals", "startup-job-eager-signals":
		job, quiet = smallJob, true
	case "logs":
		n, err := strconv.Atoi(os.Args[2])
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		job = func(_ context.Context, p *pipes.Context) error {
			log := p.Log()
			start := time.Now()
			for range n {
				log.Info(Message)
			}
			loop = time.Since(start)
			return nil
		}
	case "logs-direct":
		n, err := strconv.Atoi(os.Args[2])
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		job = func(_ context.Context, p *pipes.Context) error {
			start := time.Now()
			for range n {
				if err := p.LogMessage(slog.LevelInfo, Message); err != nil {
					return err
				}
			}
			loop = time.Since(start)
			return nil
		}
	case "materialize", "materialize-nosignals":
		job = smallJob
	default:
		fmt.Fprintln(os.Stderr, "unknown workload", os.Args[1])
		os.Exit(2)
	}
	var opts []pipes.Option
	switch os.Args[1] {
	case "materialize-nosignals", "startup-job":
		opts = append(opts, pipes.WithoutSignalHandling())
	case "startup-job-eager-signals":
		opts = append(opts, pipes.WithSignalDelay(0))
	}
	if err := pipes.Run(context.Background(), job, opts...); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if quiet {
		return
	}
	fmt.Printf("{\"loop_ns\": %d, \"vmhwm_kb\": %d}\n", loop.Nanoseconds(), vmHWM())
}

// startupTrace times, in a fresh process, the first call of each part of
// what pipes.Run does before the job runs, in Run's order, with the
// package's public parts: the os/signal set-up, decoding the bootstrap
// params, opening the messages file, reading and decoding the context
// file, sending opened. A first call pays for what later calls find ready
// (reflection caches, the signal watcher's thread), which is what a job's
// start-up pays.
func startupTrace() error {
	ctx := context.Background()
	var parts []int64
	mark := time.Now()
	lap := func() {
		now := time.Now()
		parts = append(parts, now.Sub(mark).Nanoseconds())
		mark = now
	}
	_, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	lap()
	loader := pipes.EnvParamsLoader{}
	msgParams, err := loader.LoadMessagesParams()
	if err != nil {
		return err
	}
	ctxParams, err := loader.LoadContextParams()
	if err != nil {
		return err
	}
	lap()
	ch, err := pipes.DefaultMessageWriter{}.Open(ctx, msgParams)
	if err != nil {
		return err
	}
	lap()
	if _, err := (pipes.DefaultContextLoader{}).LoadContext(ctx, ctxParams); err != nil {
		return err
	}
	lap()
	if err := ch.WriteMessage(pipes.Message{Method: pipes.MethodOpened, Params: []byte(`{"extras":{}}`)}); err != nil {
		return err
	}
	lap()
	if err := ch.WriteMessage(pipes.Message{Method: pipes.MethodClosed, Params: []byte(`{}`)}); err != nil {
		return err
	}
	if err := ch.Close(); err != nil {
		return err
	}
	fmt.Printf("{\"parts_ns\": [%d, %d, %d, %d, %d]}\n", parts[0], parts[1], parts[2], parts[3], parts[4])
	return nil
}

// smallJob is the small job of issue 16 after open: one materialization
// with 10 metadata entries of mixed types and one asset check.
func smallJob(_ context.Context, p *pipes.Context) error {
	err := p.ReportAssetMaterialization(pipes.Materialization{
		DataVersion: "v1",
		Metadata: pipes.Metadata{
			"row_count":   pipes.Int(1234567),
			"size_mb":     pipes.Float(12.5),
			"path":        pipes.Path("/data/out/part-0001.parquet"),
			"url":         pipes.URL("https://example.com/dashboards/42"),
			"description": pipes.Markdown("# Daily load\nAll **good**."),
			"ok":          pipes.Bool(true),
			"owner":       pipes.Text("data-team"),
			"updated_at":  pipes.Timestamp(time.Unix(1700000000, 0)),
			"partitions":  42,
			"source":      "warehouse.events",
		},
	})
	if err != nil {
		return err
	}
	return p.ReportAssetCheck(pipes.AssetCheck{CheckName: "row_count_positive", Passed: true, Metadata: pipes.Metadata{"rows": 1234567}})
}

// vmHWM returns the peak RSS of this process in kilobytes, 0 if unknown.
func vmHWM() int64 {
	raw, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb
		}
	}
	return 0
}
