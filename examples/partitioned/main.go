// Command partitioned is a Dagster Pipes job for a daily-partitioned asset:
// it reads the partition key and its time window from the context and
// reports the partition it built.
//
// Dagster launches it with definitions.py; without Dagster:
//
//	go run ./cmd/pipes run --asset events --partition 2024-03-01 \
//	    --time-window 2024-03-01T00:00:00Z,2024-03-02T00:00:00Z -- go run ./examples/partitioned
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
		// pipes.Run has sent the error to Dagster (the closed message); say
		// it on stderr too, for whoever runs the program by hand.
		fmt.Fprintln(os.Stderr, "partitioned:", err)
		os.Exit(1)
	}
}

func job(ctx context.Context, p *pipes.Context) error {
	key, err := p.PartitionKey()
	if err != nil {
		return err // the asset is partitioned: a run without a partition is a mistake
	}
	window, err := p.PartitionTimeWindow()
	if err != nil {
		return err
	}
	if window == nil {
		return pipes.WithStack(errNotTimePartitioned)
	}
	hours := window.End.Sub(window.Start).Hours()
	p.Log().Info("loading events", "partition", key, "from", window.Start, "to", window.End)
	return p.ReportAssetMaterialization(pipes.Materialization{
		DataVersion: key,
		Metadata: pipes.Metadata{
			"partition":    key,
			"window_start": pipes.Timestamp(window.Start),
			"window_end":   pipes.Timestamp(window.End),
			"hours":        pipes.Float(hours),
		},
	})
}

var errNotTimePartitioned = errors.New("the asset must be time-partitioned")
