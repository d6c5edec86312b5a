package main

import (
	"testing"

	"github.com/dagster-pipes-go/pipes/examples/internal/exampletest"
	"github.com/dagster-pipes-go/pipes/pipestest"
)

func TestMain(m *testing.M) { exampletest.Main(m, main) }

// Launched for two assets (the job reports without a key, so it expects
// one), the program says why it fails on stderr, not only in the closed
// message.
func TestMainExplainsSeveralAssets(t *testing.T) {
	res := pipestest.NewSession(t, pipestest.Context{AssetKeys: []string{"inventory", "other"}}).
		RunCommand(exampletest.Command())
	exampletest.ExplainsFailure(t, "checks", res,
		"Calling `report_asset_materialization` without passing an asset key is undefined. Current step targets multiple assets.")
}
