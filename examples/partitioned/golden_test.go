package main

import (
	"testing"
	"time"

	"github.com/dagster-pipes-go/pipes"
	"github.com/dagster-pipes-go/pipes/examples/internal/golden"
	"github.com/dagster-pipes-go/pipes/pipestest"
)

// The exact messages the job sends for one daily partition.
func TestGoldenMessages(t *testing.T) {
	start := time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC)
	res := pipestest.RunJob(t, pipestest.Context{
		RunID:               golden.RunID,
		AssetKeys:           []string{"events"},
		PartitionKey:        "2024-03-01",
		PartitionTimeWindow: &pipes.TimeWindow{Start: start, End: start.AddDate(0, 0, 1)},
	}, job)
	golden.Check(t, "partitioned", res)
}
