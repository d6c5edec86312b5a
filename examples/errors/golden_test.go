package main

import (
	"testing"

	"github.com/dagster-pipes-go/pipes/examples/internal/golden"
	"github.com/dagster-pipes-go/pipes/pipestest"
)

// The exact messages the job sends in each mode definitions.py can choose.
func TestGoldenMessages(t *testing.T) {
	for _, mode := range []string{"error", "panic", "ok"} {
		t.Run(mode, func(t *testing.T) {
			res := pipestest.RunJob(t, pipestest.Context{
				RunID: golden.RunID, AssetKeys: []string{"fragile"}, Extras: map[string]any{"mode": mode},
			}, job)
			golden.Check(t, "errors-"+mode, res)
		})
	}
}
