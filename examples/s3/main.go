// Command s3 is a Go job that Dagster launches with PipesSubprocessClient,
// exchanging its Pipes traffic through S3: Dagster's PipesS3ContextInjector
// puts the context in a bucket, PipesS3MessageReader reads the messages the
// job uploads there. See definitions.py beside this file.
//
// The S3 client comes from the default AWS configuration, so the usual
// variables apply (AWS_REGION, AWS_PROFILE, AWS_ACCESS_KEY_ID, …), and
// AWS_ENDPOINT_URL points the job at MinIO, LocalStack or moto, as it does
// boto3 on the Dagster side.
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
	"github.com/dagster-pipes-go/pipes/s3pipes"
)

func main() {
	interval := flag.Duration("upload-interval", pipes.DefaultUploadInterval,
		"how often message chunks are uploaded to S3 (the last chunk is uploaded at exit)")
	flag.Parse()

	ctx := context.Background()
	client, err := s3pipes.NewClientFromEnv(ctx)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	err = pipes.Run(ctx, job,
		pipes.WithContextLoader(s3pipes.ContextLoader{Client: client}),
		pipes.WithMessageWriter(s3pipes.MessageWriter{
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
			"storage":  pipes.Text("s3"),
		},
	})
}
