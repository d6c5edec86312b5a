package main

import (
	"testing"

	"github.com/dagster-pipes-go/pipes/pipestest"
)

func TestJob(t *testing.T) {
	res := pipestest.RunJob(t, pipestest.Context{
		AssetKeys: []string{"orders"},
		Extras:    map[string]any{"limit": 3},
	}, job)
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	m, ok := res.Materialization("orders")
	if !ok {
		t.Fatal("orders was not materialized")
	}
	if rows, _ := m.Metadata["rows"].Int(); rows != 3 {
		t.Errorf("rows = %d, want 3", rows)
	}
	if total, _ := m.Metadata["total"].Float(); total != 61.5 {
		t.Errorf("total = %v, want 61.5", total)
	}
	if got := m.Metadata["preview"].Type; got != "md" {
		t.Errorf("preview type = %q, want md", got)
	}
	if c, ok := res.Check("orders", "non_negative_totals"); !ok || !c.Passed {
		t.Errorf("check non_negative_totals = %+v, want passed", c)
	}
	if logs := res.LogMessages("INFO"); len(logs) != 1 {
		t.Errorf("INFO logs = %q, want one", logs)
	}
}

// Without extras (as in `pipes run -- go run ./examples/quickstart`) the
// job uses its default limit, and without asset keys it still reports
// "orders".
func TestJobDefaults(t *testing.T) {
	res := pipestest.RunJob(t, pipestest.Context{}, job)
	m, ok := res.Materialization("orders")
	if res.Err != nil || !ok {
		t.Fatalf("err = %v, materialized = %v", res.Err, ok)
	}
	if rows, _ := m.Metadata["rows"].Int(); rows != 5 {
		t.Errorf("rows = %d, want 5", rows)
	}
}
