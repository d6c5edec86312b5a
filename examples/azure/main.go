// Command azure is a Go job that Dagster launches with
// PipesSubprocessClient, exchanging its Pipes traffic through Azure Blob
// Storage: Dagster's PipesAzureBlobStorageContextInjector puts the context
// in a container, PipesAzureBlobStorageMessageReader reads the messages the
// job uploads there. See definitions.py beside this file.
//
// The client comes from the environment: AZURE_STORAGE_CONNECTION_STRING
// (an account key or SAS; with BlobEndpoint=… it reaches Azurite), else
// the default Azure credential on AZURE_STORAGE_ACCOUNT_URL. Dagster's side
// reads the same connection string, so one variable serves both.
//
// Run by hand, outside Dagster, it only prints a warning and does its work.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/dagster-pipes-go/pipes"
	"github.com/dagster-pipes-go/pipes/azurepipes"
)

func main() {
	interval := flag.Duration("upload-interval", pipes.DefaultUploadInterval,
		"how often message chunks are uploaded (the last chunk is uploaded at exit)")
	flag.Parse()

	client, err := azurepipes.NewClientFromEnv(nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	err = pipes.Run(context.Background(), job,
		pipes.WithContextLoader(azurepipes.ContextLoader{Client: client}),
		pipes.WithMessageWriter(azurepipes.MessageWriter{
			Client:  client,
			Options: pipes.BlobStoreOptions{Interval: *interval},
		}))
	if err != nil {
		// Dagster has already been told (the closed message carries the
		// error); the exit status makes the step fail too.
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

// job is the work: here, it makes up some rows and reports them.
func job(ctx context.Context, p *pipes.Context) error {
	log := p.Log()
	log.Info("starting", "run_id", p.RunID())

	// Extras are whatever the Dagster asset passed to run(extras=...).
	rows := 1000
	if _, err := p.Extra("rows"); err == nil {
		if err := p.DecodeExtra("rows", &rows); err != nil {
			return err
		}
	}
	if rows < 0 {
		return fmt.Errorf("rows must not be negative, got %d", rows)
	}

	start := time.Now()
	total := 0
	for i := range rows {
		if err := ctx.Err(); err != nil {
			return err // SIGTERM from Dagster: stop, the failure is reported
		}
		total += i % 7
	}
	log.Info("rows computed", "rows", rows)

	if err := p.ReportCustomMessage(map[string]any{"rows": rows, "total": total}); err != nil {
		return err
	}
	return p.ReportAssetMaterialization(pipes.Materialization{
		Metadata: pipes.Metadata{
			"rows":     pipes.Int(int64(rows)),
			"total":    pipes.Int(int64(total)),
			"duration": pipes.Float(time.Since(start).Seconds()),
			"storage":  pipes.Text("azure"),
		},
	})
}
