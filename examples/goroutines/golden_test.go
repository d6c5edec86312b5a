package main

import (
	"testing"

	"github.com/dagster-pipes-go/pipes/examples/internal/golden"
	"github.com/dagster-pipes-go/pipes/pipestest"
)

// The exact messages the job sends; the workers' order varies, their
// messages do not.
func TestGoldenMessages(t *testing.T) {
	res := pipestest.RunJob(t, pipestest.Context{
		RunID: golden.RunID, AssetKeys: []string{"crunched"},
		Extras: map[string]any{"workers": 4, "steps": 5, "step_ms": 0},
	}, job)
	golden.Check(t, "goroutines", res, golden.Unordered())
}
