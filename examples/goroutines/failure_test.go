package main

import (
	"testing"

	"github.com/dagster-pipes-go/pipes/examples/internal/exampletest"
	"github.com/dagster-pipes-go/pipes/pipestest"
)

func TestMain(m *testing.M) { exampletest.Main(m, main) }

// Given an extra it cannot read, the program says why it fails on stderr,
// not only in the closed message.
func TestMainExplainsBadExtra(t *testing.T) {
	res := pipestest.NewSession(t, pipestest.Context{
		AssetKeys: []string{"crunched"},
		Extras:    map[string]any{"workers": "three"},
	}).RunCommand(exampletest.Command())
	exampletest.ExplainsFailure(t, "goroutines", res,
		"extra `workers` cannot be decoded into *int: json: cannot unmarshal string into Go value of type int")
}
