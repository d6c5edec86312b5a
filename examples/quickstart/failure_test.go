package main

import (
	"testing"

	"github.com/dagster-pipes-go/pipes/examples/internal/exampletest"
	"github.com/dagster-pipes-go/pipes/pipestest"
)

func TestMain(m *testing.M) { exampletest.Main(m, main) }

// Launched for an asset it does not build, the program says why it fails on
// stderr, not only in the closed message.
func TestMainExplainsWrongAsset(t *testing.T) {
	res := pipestest.NewSession(t, pipestest.Context{AssetKeys: []string{"wrong"}}).
		RunCommand(exampletest.Command())
	exampletest.ExplainsFailure(t, "quickstart", res,
		"Invalid asset key. Expected one of `['wrong']`, got `orders`.")
}
