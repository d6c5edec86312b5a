// Command s3 is the e2e job of the S3 tests (e2e/s3_test.go): Dagster's
// PipesS3ContextInjector and PipesS3MessageReader (dagster-aws), on a moto
// server, exchange the Pipes traffic with it through s3pipes.
//
// Flags choose its side of each channel, so that it can be paired with
// Dagster's other injectors and readers:
//
//	-context  s3 (s3pipes.ContextLoader) or default (file or env params)
//	-messages s3 (s3pipes.MessageWriter) or default (temp-file messages)
//	-upload-interval  how often the S3 writer uploads a chunk
//
// The argument is the mode:
//
//	report  (default) logs, custom messages spread over several upload
//	        intervals (so over several chunks), a materialization with
//	        metadata and an asset check; the first custom message is what
//	        the job read from the context
//	fail    logs, sends a custom message, then fails with a wrapped error
//	stdio   prints to stdout and stderr, and has a child process print too,
//	        then materializes
//
// The S3 client comes from the environment (AWS_ENDPOINT_URL and the test
// credentials that the test passes to Dagster, which passes them on).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"time"

	"github.com/dagster-pipes-go/pipes"
	"github.com/dagster-pipes-go/pipes/s3pipes"
)

func main() {
	contextSide := flag.String("context", "s3", "context loader: s3 or default")
	messagesSide := flag.String("messages", "s3", "message writer: s3 or default")
	interval := flag.Duration("upload-interval", 200*time.Millisecond, "S3 chunk upload interval")
	flag.Parse()
	mode := "report"
	if flag.NArg() > 0 {
		mode = flag.Arg(0)
	}

	ctx := context.Background()
	client, err := s3pipes.NewClientFromEnv(ctx)
	if err != nil {
		fmt.Fprintln(os.Stderr, "s3 job:", err)
		os.Exit(2)
	}
	var opts []pipes.Option
	switch *contextSide {
	case "s3":
		opts = append(opts, pipes.WithContextLoader(s3pipes.ContextLoader{Client: client}))
	case "default":
	default:
		fmt.Fprintln(os.Stderr, "s3 job: bad -context", *contextSide)
		os.Exit(2)
	}
	switch *messagesSide {
	case "s3":
		opts = append(opts, pipes.WithMessageWriter(s3pipes.MessageWriter{
			Client: client, Options: pipes.BlobStoreOptions{Interval: *interval}}))
	case "default":
	default:
		fmt.Fprintln(os.Stderr, "s3 job: bad -messages", *messagesSide)
		os.Exit(2)
	}

	jobs := map[string]func(context.Context, *pipes.Context) error{
		"report": report(*interval),
		"fail":   fail,
		"stdio":  stdio,
	}
	job, ok := jobs[mode]
	if !ok {
		fmt.Fprintln(os.Stderr, "s3 job: unknown mode", mode)
		os.Exit(2)
	}
	if err := pipes.Run(ctx, job, opts...); err != nil {
		fmt.Fprintln(os.Stderr, "s3 job failed:", err)
		os.Exit(1)
	}
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

func report(interval time.Duration) func(context.Context, *pipes.Context) error {
	return func(ctx context.Context, p *pipes.Context) error {
		if err := p.ReportCustomMessage(seen(p)); err != nil {
			return err
		}
		log := p.Log()
		log.Debug("debug over s3")
		log.Info("info over s3", "n", 1)
		log.Warn("warning over s3")
		log.Error("error over s3")
		log.Log(ctx, pipes.LevelCritical, "critical over s3")
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
			DataVersion: "dv-s3",
			Metadata: pipes.Metadata{
				"text":   pipes.Text("through s3"),
				"int":    pipes.Int(42),
				"float":  pipes.Float(2.5),
				"bool":   pipes.Bool(true),
				"url":    pipes.URL("https://example.com/s3"),
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
			CheckName: "s3_check", Passed: false, Severity: pipes.SeverityWarn,
			Metadata: pipes.Metadata{"reason": pipes.Text("checked over s3"), "rows": 3},
		})
	}
}

type jobError struct{ code int }

func (e *jobError) Error() string { return fmt.Sprintf("s3 job error %d", e.code) }

func fail(ctx context.Context, p *pipes.Context) error {
	p.Log().Info("failing over s3")
	if err := p.ReportCustomMessage("before failure"); err != nil {
		return err
	}
	return fmt.Errorf("s3 step failed: %w", pipes.WithStack(&jobError{code: 5}))
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
