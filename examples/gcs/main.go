// Command gcs is a Go job that Dagster launches with PipesSubprocessClient,
// exchanging its Pipes traffic through Google Cloud Storage: Dagster's
// PipesGCSContextInjector puts the context in a bucket,
// PipesGCSMessageReader reads the messages the job uploads there. See
// definitions.py beside this file.
//
// The storage client comes from the environment, as google-cloud-storage's
// does on Dagster's side: Application Default Credentials
// (GOOGLE_APPLICATION_CREDENTIALS, gcloud, the metadata server), or an
// emulator such as fake-gcs-server when STORAGE_EMULATOR_HOST is set.
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
	"github.com/dagster-pipes-go/pipes/gcspipes"
)

func main() {
	interval := flag.Duration("upload-interval", pipes.DefaultUploadInterval,
		"how often message chunks are uploaded to GCS (the last chunk is uploaded at exit)")
	flag.Parse()
	if err := run(context.Background(), *interval); err != nil {
		// When Dagster launched the job it has been told already (the
		// closed message carries the error); the exit status makes the step
		// fail too.
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func run(ctx context.Context, interval time.Duration) error {
	client, err := gcspipes.NewClientFromEnv(ctx)
	if err != nil {
		return err
	}
	defer client.Close()
	return pipes.Run(ctx, job,
		pipes.WithContextLoader(gcspipes.ContextLoader{Client: client}),
		pipes.WithMessageWriter(gcspipes.MessageWriter{
			Client:  client,
			Options: pipes.BlobStoreOptions{Interval: interval},
		}))
}

// job is the work: here, it makes up some rows and reports them, with a
// check on the result.
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

	start := time.Now()
	total := 0
	for i := range rows {
		if err := ctx.Err(); err != nil {
			return err // SIGTERM from Dagster: stop, the failure is reported
		}
		total += i % 7
	}
	log.Info("rows computed", "rows", rows)

	if err := p.ReportAssetMaterialization(pipes.Materialization{
		Metadata: pipes.Metadata{
			"rows":     pipes.Int(int64(rows)),
			"total":    pipes.Int(int64(total)),
			"duration": pipes.Float(time.Since(start).Seconds()),
			"storage":  pipes.Text("gcs"),
		},
	}); err != nil {
		return err
	}
	return p.ReportAssetCheck(pipes.AssetCheck{
		CheckName: "has_rows",
		Passed:    rows > 0,
		Metadata:  pipes.Metadata{"rows": pipes.Int(int64(rows))},
	})
}
