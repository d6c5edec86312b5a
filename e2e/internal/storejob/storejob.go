// Package storejob is the body of the e2e jobs of the blob-store tests
// (e2e/jobs/s3, gcs, azure): Dagster's context injector and message reader
// of a store exchange the Pipes traffic with the job through the Go
// backend. Each job gives its name and how to build its loader and writer.
//
// Flags choose the job's side of each channel, so that it can be paired
// with Dagster's other injectors and readers:
//
//	-context  NAME (the backend's ContextLoader) or default (file or env params)
//	-messages NAME (the backend's MessageWriter) or default (temp-file messages)
//	-upload-interval  how often the backend's writer uploads a chunk
//
// The argument is the mode:
//
//	report  (default) logs, custom messages spread over several upload
//	        intervals (so over several chunks), a materialization with
//	        metadata and an asset check; the first custom message is what
//	        the job read from the context
//	fail    the job's own (see Main)
//	stdio   prints to stdout and stderr, and has a child process print too,
//	        then materializes
//
// Logs, metadata and errors name the backend ("debug over s3", "dv-gcs",
// "azure_check"), for the tests to tell them apart.
package storejob

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"time"

	"github.com/dagster-pipes-go/pipes"
)

// Backend is a store's side of the job.
type Backend struct {
	// Loader is the store's context loader.
	Loader pipes.ContextLoader
	// Writer returns the store's message writer, uploading every interval.
	Writer func(interval time.Duration) pipes.MessageWriter
	// Close releases the client, if it needs to be (optional).
	Close func()
}

// Main parses the flags (the job may define its own before), calls setup
// for the backend and runs the mode; it exits with 2 on bad usage or setup
// and 1 when the job fails. fail is the fail mode: it stays in the job's
// main package, so that the tests see the error types and the stack of a
// user's program (main.jobError, main.fail).
func Main(name string, fail func(context.Context, *pipes.Context) error, setup func(context.Context) (Backend, error)) {
	contextSide := flag.String("context", name, "context loader: "+name+" or default")
	messagesSide := flag.String("messages", name, "message writer: "+name+" or default")
	interval := flag.Duration("upload-interval", 200*time.Millisecond, "chunk upload interval")
	flag.Parse()
	mode := "report"
	if flag.NArg() > 0 {
		mode = flag.Arg(0)
	}
	os.Exit(run(name, fail, setup, *contextSide, *messagesSide, *interval, mode))
}

func run(name string, fail func(context.Context, *pipes.Context) error, setup func(context.Context) (Backend, error), contextSide, messagesSide string, interval time.Duration, mode string) int {
	ctx := context.Background()
	backend, err := setup(ctx)
	if err != nil {
		fmt.Fprintln(os.Stderr, name+" job:", err)
		return 2
	}
	if backend.Close != nil {
		defer backend.Close()
	}
	var opts []pipes.Option
	switch contextSide {
	case name:
		opts = append(opts, pipes.WithContextLoader(backend.Loader))
	case "default":
	default:
		fmt.Fprintln(os.Stderr, name+" job: bad -context", contextSide)
		return 2
	}
	switch messagesSide {
	case name:
		opts = append(opts, pipes.WithMessageWriter(backend.Writer(interval)))
	case "default":
	default:
		fmt.Fprintln(os.Stderr, name+" job: bad -messages", messagesSide)
		return 2
	}

	jobs := map[string]func(context.Context, *pipes.Context) error{
		"report": report(name, interval),
		"fail":   fail,
		"stdio":  stdio,
	}
	job, ok := jobs[mode]
	if !ok {
		fmt.Fprintln(os.Stderr, name+" job: unknown mode", mode)
		return 2
	}
	if err := pipes.Run(ctx, job, opts...); err != nil {
		fmt.Fprintln(os.Stderr, name+" job failed:", err)
		return 1
	}
	return 0
}

// seen is what the job read from the context, for comparison with what
// Dagster injected.
func seen(p *pipes.Context) map[string]any {
	keys, _ := p.AssetKeys()
	return map[string]any{
		"run_id":       p.RunID(),
		"job_name":     p.JobName(),
		"retry_number": p.RetryNumber(),
		"asset_keys":   keys,
		"extras":       p.Extras(),
	}
}

// Batches of the report mode, each sent in its own upload interval.
const (
	batches  = 4
	perBatch = 50
)

func report(name string, interval time.Duration) func(context.Context, *pipes.Context) error {
	return func(ctx context.Context, p *pipes.Context) error {
		if err := p.ReportCustomMessage(seen(p)); err != nil {
			return err
		}
		log := p.Log()
		log.Debug("debug over " + name)
		log.Info("info over "+name, "n", 1)
		log.Warn("warning over " + name)
		log.Error("error over " + name)
		log.Log(ctx, pipes.LevelCritical, "critical over "+name)
		for b := range batches {
			for i := range perBatch {
				if err := p.ReportCustomMessage(map[string]any{"batch": b, "i": i, "text": "ünïcödé ✓"}); err != nil {
					return err
				}
			}
			log.Info(fmt.Sprintf("batch %d sent", b))
			time.Sleep(interval + interval/2) // the next batch goes in a later chunk
		}
		if err := p.ReportAssetMaterialization(pipes.Materialization{
			DataVersion: "dv-" + name,
			Metadata: pipes.Metadata{
				"text":   pipes.Text("through " + name),
				"int":    pipes.Int(42),
				"float":  pipes.Float(2.5),
				"bool":   pipes.Bool(true),
				"url":    pipes.URL("https://example.com/" + name),
				"path":   pipes.Path("/data/out.parquet"),
				"json":   pipes.JSON(map[string]any{"k": []any{1, "two", nil}}),
				"md":     pipes.Markdown("# title"),
				"inferd": 7,
				"null":   pipes.Null(),
			},
		}); err != nil {
			return err
		}
		return p.ReportAssetCheck(pipes.AssetCheck{
			CheckName: name + "_check", Passed: false, Severity: pipes.SeverityWarn,
			Metadata: pipes.Metadata{"reason": pipes.Text("checked over " + name), "rows": 3},
		})
	}
}

func stdio(ctx context.Context, p *pipes.Context) error {
	fmt.Println("go stdout line 1")
	fmt.Fprintln(os.Stderr, "go stderr line ✓")
	fmt.Println("go stdout line 2 ünïcödé")
	// A child process writes to the same descriptors: captured too.
	cmd := exec.CommandContext(ctx, "sh", "-c", "echo child stdout; echo child stderr >&2")
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	if err := cmd.Run(); err != nil {
		return errors.Join(errors.New("child process"), err)
	}
	return p.ReportAssetMaterialization(pipes.Materialization{
		Metadata: pipes.Metadata{"printed": pipes.Bool(true)},
	})
}
