// Command errors shows how a Go job's failure reaches Dagster: the error
// the job returns (or a panic) travels in the closed message, with its
// chain of wrapped errors and a stack that points where the error was made
// (pipes.WithStack), and the process exits non-zero so that the step fails.
//
// The extra "mode" chooses what happens: "error" (the default), "panic" or
// "ok".
//
// Dagster launches it with definitions.py; without Dagster:
//
//	go run ./cmd/pipes run --asset fragile -- go run ./examples/errors
//	go run ./cmd/pipes run --asset fragile --extra mode=panic -- go run ./examples/errors
package main

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/dagster-pipes-go/pipes"
)

func main() {
	if err := pipes.Run(context.Background(), job); err != nil {
		// pipes.Run has already sent the error to Dagster; say it here too
		// and exit non-zero, which is what fails the step.
		fmt.Fprintln(os.Stderr, "errors example:", err)
		os.Exit(1)
	}
}

// ErrUpstreamMissing is the root cause the job reports.
var ErrUpstreamMissing = errors.New("upstream file is missing")

func job(ctx context.Context, p *pipes.Context) error {
	mode := "error"
	if err := p.DecodeExtra("mode", &mode); err != nil && !errors.Is(err, pipes.ErrUndefined) {
		return err
	}
	p.Log().Info("starting", "mode", mode)
	switch mode {
	case "ok":
		return p.ReportAssetMaterialization(pipes.Materialization{})
	case "panic":
		var rows []int
		_ = rows[3] // index out of range: Run reports the panic with its stack
	}
	if err := load("s3://bucket/input.csv"); err != nil {
		return fmt.Errorf("building fragile: %w", err)
	}
	return nil
}

func load(path string) error {
	// WithStack records this line as where the error happened.
	return pipes.WithStack(fmt.Errorf("loading %s: %w", path, ErrUpstreamMissing))
}
