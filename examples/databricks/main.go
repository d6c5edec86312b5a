// Command databricks is a Go job that Dagster runs on Databricks through
// dagster-databricks' Pipes clients. A small Python task (launcher.py)
// execs it with the task's parameters and environment.
//
// The job reads its context and reports through the Databricks REST API
// with databrickspipes: DBFS for PipesDatabricksClient (-store=dbfs, the
// default) or Unity Catalog volumes for PipesDatabricksServerlessClient
// (-store=volumes). Credentials come from the usual Databricks
// configuration (DATABRICKS_HOST and DATABRICKS_TOKEN in the cluster's
// environment, for instance from a secret).
//
// Dagster's bootstrap values arrive as environment variables (new cluster)
// or as --dagster-pipes-context/--dagster-pipes-messages arguments
// (existing cluster, serverless): the default params loader reads both,
// and the two flags are declared so that flag parsing accepts them.
//
// definitions.py has the Dagster side.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/dagster-pipes-go/pipes"
	"github.com/dagster-pipes-go/pipes/databrickspipes"
)

func main() {
	store := flag.String("store", "dbfs", "where Dagster's Pipes client keeps context and messages: dbfs or volumes")
	interval := flag.Duration("upload-interval", 10*time.Second, "how often messages are uploaded")
	flag.String("dagster-pipes-context", "", "set by Dagster")
	flag.String("dagster-pipes-messages", "", "set by Dagster")
	flag.Parse()

	opts, err := wiring(*store, *interval)
	if err != nil {
		fmt.Fprintln(os.Stderr, "orders job:", err)
		os.Exit(2)
	}
	if err := pipes.Run(context.Background(), job, opts...); err != nil {
		fmt.Fprintln(os.Stderr, "orders job failed:", err)
		os.Exit(1)
	}
}

// wiring returns the loader and writer that match Dagster's client.
func wiring(store string, interval time.Duration) ([]pipes.Option, error) {
	if store != "dbfs" && store != "volumes" {
		return nil, fmt.Errorf("unknown -store %q (want dbfs or volumes)", store)
	}
	w, err := databrickspipes.NewWorkspaceClient()
	if err != nil {
		return nil, err
	}
	upload := pipes.BlobStoreOptions{Interval: interval}
	switch store {
	case "dbfs":
		return []pipes.Option{
			pipes.WithContextLoader(databrickspipes.DBFSContextLoader{Workspace: w}),
			// Also tells Dagster where the cluster delivers its driver
			// logs, if it does, so that they are forwarded.
			pipes.WithMessageWriter(databrickspipes.DBFSMessageWriter{Workspace: w, Options: upload}),
		}, nil
	default: // volumes
		return []pipes.Option{
			pipes.WithContextLoader(databrickspipes.VolumesContextLoader{Workspace: w}),
			pipes.WithMessageWriter(databrickspipes.VolumesMessageWriter{Workspace: w, Options: upload}),
		}, nil
	}
}

// job is what runs on Databricks: it sums the orders of the day that
// Dagster's extras name and reports the result.
func job(ctx context.Context, p *pipes.Context) error {
	orders := 10
	if n, ok := p.Extras()["orders"].(interface{ Int64() (int64, error) }); ok {
		if v, err := n.Int64(); err == nil && v > 0 {
			orders = int(v)
		}
	}
	p.Log().Info("summing orders on databricks", "orders", orders)
	fmt.Println("driver stdout: summing", orders, "orders") // in the driver's log
	total := 0.0
	for i := range orders {
		total += float64(i) + 0.5
	}
	if err := p.ReportAssetMaterialization(pipes.Materialization{
		Metadata: pipes.Metadata{
			"orders": pipes.Int(int64(orders)),
			"total":  pipes.Float(total),
		},
	}); err != nil {
		return err
	}
	return p.ReportAssetCheck(pipes.AssetCheck{
		CheckName: "has_orders",
		Passed:    orders > 0,
		Metadata:  pipes.Metadata{"orders": pipes.Int(int64(orders))},
	})
}
