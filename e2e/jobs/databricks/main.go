// Command databricks is the e2e job of the Databricks tests
// (e2e/databricks_test.go): Dagster's PipesDatabricksClient and
// PipesDatabricksServerlessClient submit it, through a Python launcher
// (launcher.py), to our loopback Databricks server, which runs it here.
//
// Dagster passes the bootstrap values as environment variables (a new
// cluster's spark_env_vars) or as the arguments --dagster-pipes-context and
// --dagster-pipes-messages (an existing cluster, serverless); the default
// params loader reads either.
//
//	-store   dbfs (databrickspipes over the DBFS API), volumes
//	         (databrickspipes over the Files API) or mount (the root
//	         package's DBFS types on -mount-root, standing in for /dbfs)
//
// The argument is the mode: report (default) or fail.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/dagster-pipes-go/pipes"
	"github.com/dagster-pipes-go/pipes/databrickspipes"
	"github.com/dagster-pipes-go/pipes/dbfslogs"
)

func main() {
	store := flag.String("store", "dbfs", "dbfs, volumes or mount")
	mountRoot := flag.String("mount-root", "/dbfs", "the DBFS mount, for -store=mount")
	interval := flag.Duration("upload-interval", 200*time.Millisecond, "chunk upload interval")
	// Dagster's arguments: read by the params loader, declared so that
	// flag parsing accepts them.
	flag.String("dagster-pipes-context", "", "set by Dagster")
	flag.String("dagster-pipes-messages", "", "set by Dagster")
	flag.Parse()
	mode := "report"
	if flag.NArg() > 0 {
		mode = flag.Arg(0)
	}

	upload := pipes.BlobStoreOptions{Interval: *interval}
	var opts []pipes.Option
	switch *store {
	case "mount":
		opts = append(opts,
			pipes.WithContextLoader(pipes.DBFSContextLoader{Root: *mountRoot}),
			pipes.WithMessageWriter(pipes.DBFSMessageWriter{Root: *mountRoot, Options: upload, DiscoverLogRoot: dbfslogs.DiscoverDriverLogRoot}))
	case "dbfs", "volumes":
		w, err := databrickspipes.NewWorkspaceClient()
		if err != nil {
			fmt.Fprintln(os.Stderr, "databricks job:", err)
			os.Exit(2)
		}
		if *store == "dbfs" {
			opts = append(opts,
				pipes.WithContextLoader(databrickspipes.DBFSContextLoader{Workspace: w}),
				pipes.WithMessageWriter(databrickspipes.DBFSMessageWriter{Workspace: w, Options: upload}))
		} else {
			opts = append(opts,
				pipes.WithContextLoader(databrickspipes.VolumesContextLoader{Workspace: w}),
				pipes.WithMessageWriter(databrickspipes.VolumesMessageWriter{Workspace: w, Options: upload}))
		}
	default:
		fmt.Fprintln(os.Stderr, "databricks job: bad -store", *store)
		os.Exit(2)
	}

	job := report
	if mode == "fail" {
		job = fail
	}
	if err := pipes.Run(context.Background(), job, opts...); err != nil {
		fmt.Fprintln(os.Stderr, "databricks job failed:", err)
		os.Exit(1)
	}
}

func report(ctx context.Context, p *pipes.Context) error {
	keys, _ := p.AssetKeys()
	if err := p.ReportCustomMessage(map[string]any{
		"run_id": p.RunID(), "asset_keys": keys, "extras": p.Extras(),
	}); err != nil {
		return err
	}
	fmt.Println("go stdout on databricks")
	fmt.Fprintln(os.Stderr, "go stderr on databricks ✓")
	log := p.Log()
	log.Info("hello from databricks", "n", 1)
	log.Warn("warning from databricks")
	for i := range 3 {
		if err := p.ReportCustomMessage(map[string]any{"i": i}); err != nil {
			return err
		}
		time.Sleep(300 * time.Millisecond) // several upload intervals, several chunks
	}
	if err := p.ReportAssetMaterialization(pipes.Materialization{
		DataVersion: "dv-dbx",
		Metadata:    pipes.Metadata{"rows": pipes.Int(42), "where": pipes.Text("databricks")},
	}); err != nil {
		return err
	}
	return p.ReportAssetCheck(pipes.AssetCheck{
		CheckName: "dbx_check", Passed: true,
		Metadata: pipes.Metadata{"checked": pipes.Bool(true)},
	})
}

func fail(ctx context.Context, p *pipes.Context) error {
	p.Log().Info("failing on databricks")
	fmt.Fprintln(os.Stderr, "about to fail")
	return fmt.Errorf("databricks step failed: %w", errors.New("bad input on databricks"))
}
