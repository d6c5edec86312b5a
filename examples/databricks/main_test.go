package main

import (
	"testing"

	"github.com/dagster-pipes-go/pipes/pipestest"
)

// The job itself, without Databricks: pipestest plays Dagster.
func TestJob(t *testing.T) {
	res := pipestest.RunJob(t, pipestest.Context{
		AssetKeys: []string{"go_dbx_orders"},
		Extras:    map[string]any{"orders": 4},
	}, job)
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	m, ok := res.Materialization("go_dbx_orders")
	if !ok {
		t.Fatal("go_dbx_orders was not materialized")
	}
	if n, _ := m.Metadata["orders"].Int(); n != 4 {
		t.Errorf("orders = %d, want 4", n)
	}
	if total, _ := m.Metadata["total"].Float(); total != 8 { // 0.5+1.5+2.5+3.5
		t.Errorf("total = %v, want 8", total)
	}
	if c, ok := res.Check("go_dbx_orders", "has_orders"); !ok || !c.Passed {
		t.Errorf("check has_orders = %+v, want passed", c)
	}
}

func TestWiringRefusesUnknownStore(t *testing.T) {
	if _, err := wiring("s3", 0); err == nil {
		t.Fatal("want an error for -store=s3")
	}
}
