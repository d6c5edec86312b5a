package main

import (
	"testing"

	"github.com/dagster-pipes-go/pipes/examples/internal/exampletest"
	"github.com/dagster-pipes-go/pipes/pipestest"
)

func TestMain(m *testing.M) { exampletest.Main(m, main) }

// Run by hand, outside Dagster, the program says why it cannot work.
func TestMainExplainsOutsideDagster(t *testing.T) {
	exampletest.ExplainsFailure(t, "partitioned", exampletest.RunOutsideDagster(t),
		"the asset must be time-partitioned")
}

// Launched without a partition, the program says why it fails on stderr,
// not only in the closed message.
func TestMainExplainsMissingPartition(t *testing.T) {
	res := pipestest.NewSession(t, pipestest.Context{AssetKeys: []string{"events"}}).
		RunCommand(exampletest.Command())
	exampletest.ExplainsFailure(t, "partitioned", res,
		"Missing required property: `partition_key` is undefined. Current step does not target any partitions.")
}
