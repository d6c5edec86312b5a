package main

import (
	"testing"

	"github.com/dagster-pipes-go/pipes/examples/internal/golden"
	"github.com/dagster-pipes-go/pipes/pipestest"
)

// The exact messages the job sends, whatever carries them (S3 in
// production; a file here).
func TestGoldenMessages(t *testing.T) {
	res := pipestest.RunJob(t, pipestest.Context{
		RunID: golden.RunID, AssetKeys: []string{"go_s3_rows"}, Extras: map[string]any{"rows": 5000},
	}, job)
	golden.Check(t, "s3", res, golden.Varying("duration"))
}
