package main

import (
	"testing"

	"github.com/dagster-pipes-go/pipes/examples/internal/golden"
	"github.com/dagster-pipes-go/pipes/pipestest"
)

// The exact messages the job sends for the context definitions.py gives it.
func TestGoldenMessages(t *testing.T) {
	res := pipestest.RunJob(t, pipestest.Context{
		RunID:        golden.RunID,
		AssetKeys:    []string{"customers", "orders"},
		CodeVersions: map[string]string{"customers": "1", "orders": "2"},
	}, job)
	golden.Check(t, "multiasset", res)
}
