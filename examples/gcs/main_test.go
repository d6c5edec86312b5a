package main

import (
	"testing"

	"github.com/dagster-pipes-go/pipes/pipestest"
)

// The job's logic, without GCS: pipestest plays Dagster's part in process.
func TestJob(t *testing.T) {
	res := pipestest.RunJob(t, pipestest.Context{
		AssetKeys: []string{"go_gcs_rows"},
		Extras:    map[string]any{"rows": 14},
	}, job)
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	m, ok := res.Materialization("go_gcs_rows")
	if !ok {
		t.Fatal("go_gcs_rows was not materialized")
	}
	if rows, _ := m.Metadata["rows"].Int(); rows != 14 {
		t.Errorf("rows = %d, want 14", rows)
	}
	// 0+1+…+6 twice.
	if total, _ := m.Metadata["total"].Int(); total != 42 {
		t.Errorf("total = %d, want 42", total)
	}
	if s, _ := m.Metadata["storage"].Text(); s != "gcs" {
		t.Errorf("storage = %q, want gcs", s)
	}
	if c, ok := res.Check("go_gcs_rows", "has_rows"); !ok || !c.Passed {
		t.Errorf("check has_rows = %+v, want passed", c)
	}
}

// No rows: the check fails (the job itself does not).
func TestJobWithoutRows(t *testing.T) {
	res := pipestest.RunJob(t, pipestest.Context{
		AssetKeys: []string{"go_gcs_rows"},
		Extras:    map[string]any{"rows": 0},
	}, job)
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	if c, ok := res.Check("go_gcs_rows", "has_rows"); !ok || c.Passed {
		t.Errorf("check has_rows = %+v, want failed", c)
	}
}
