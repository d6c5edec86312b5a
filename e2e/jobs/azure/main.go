// Command azure is the e2e job of the Azure Blob Storage tests
// (e2e/azure_test.go): Dagster's PipesAzureBlobStorageContextInjector and
// PipesAzureBlobStorageMessageReader (dagster-azure), on Azurite, exchange
// the Pipes traffic with it through azurepipes.
//
// Flags choose its side of each channel, so that it can be paired with
// Dagster's other injectors and readers:
//
//	-context  azure (azurepipes.ContextLoader) or default (file or env params)
//	-messages azure (azurepipes.MessageWriter) or default (temp-file messages)
//	-upload-interval  how often the Azure writer uploads a chunk
//	-retry-delay      the SDK's first retry delay (0: the SDK's default), so
//	                  that a test of failed uploads does not wait long
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
// The client comes from the environment (AZURE_STORAGE_CONNECTION_STRING,
// which the test passes to Dagster, which passes it on).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob"

	"github.com/dagster-pipes-go/pipes"
	"github.com/dagster-pipes-go/pipes/azurepipes"
)

func main() {
	contextSide := flag.String("context", "azure", "context loader: azure or default")
	messagesSide := flag.String("messages", "azure", "message writer: azure or default")
	interval := flag.Duration("upload-interval", 200*time.Millisecond, "chunk upload interval")
	retryDelay := flag.Duration("retry-delay", 0, "the SDK's first retry delay (0: its default)")
	flag.Parse()
	mode := "report"
	if flag.NArg() > 0 {
		mode = flag.Arg(0)
	}

	var clientOpts *azblob.ClientOptions
	if *retryDelay > 0 {
		clientOpts = &azblob.ClientOptions{ClientOptions: azcore.ClientOptions{
			Retry: policy.RetryOptions{RetryDelay: *retryDelay, MaxRetryDelay: 4 * *retryDelay},
		}}
	}
	client, err := azurepipes.NewClientFromEnv(clientOpts)
	if err != nil {
		fmt.Fprintln(os.Stderr, "azure job:", err)
		os.Exit(2)
	}
	var opts []pipes.Option
	switch *contextSide {
	case "azure":
		opts = append(opts, pipes.WithContextLoader(azurepipes.ContextLoader{Client: client}))
	case "default":
	default:
		fmt.Fprintln(os.Stderr, "azure job: bad -context", *contextSide)
		os.Exit(2)
	}
	switch *messagesSide {
	case "azure":
		opts = append(opts, pipes.WithMessageWriter(azurepipes.MessageWriter{
			Client: client, Options: pipes.BlobStoreOptions{Interval: *interval}}))
	case "default":
	default:
		fmt.Fprintln(os.Stderr, "azure job: bad -messages", *messagesSide)
		os.Exit(2)
	}

	jobs := map[string]func(context.Context, *pipes.Context) error{
		"report": report(*interval),
		"fail":   fail,
		"stdio":  stdio,
	}
	job, ok := jobs[mode]
	if !ok {
		fmt.Fprintln(os.Stderr, "azure job: unknown mode", mode)
		os.Exit(2)
	}
	if err := pipes.Run(context.Background(), job, opts...); err != nil {
		fmt.Fprintln(os.Stderr, "azure job failed:", err)
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
		log.Debug("debug over azure")
		log.Info("info over azure", "n", 1)
		log.Warn("warning over azure")
		log.Error("error over azure")
		log.Log(ctx, pipes.LevelCritical, "critical over azure")
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
			DataVersion: "dv-azure",
			Metadata: pipes.Metadata{
				"text":   pipes.Text("through azure"),
				"int":    pipes.Int(42),
				"float":  pipes.Float(2.5),
				"bool":   pipes.Bool(true),
				"url":    pipes.URL("https://example.com/azure"),
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
			CheckName: "azure_check", Passed: false, Severity: pipes.SeverityWarn,
			Metadata: pipes.Metadata{"reason": pipes.Text("checked over azure"), "rows": 3},
		})
	}
}

type jobError struct{ code int }

func (e *jobError) Error() string { return fmt.Sprintf("azure job error %d", e.code) }

func fail(ctx context.Context, p *pipes.Context) error {
	p.Log().Info("failing over azure")
	if err := p.ReportCustomMessage("before failure"); err != nil {
		return err
	}
	return fmt.Errorf("azure step failed: %w", pipes.WithStack(&jobError{code: 5}))
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
