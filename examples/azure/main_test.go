package main

import (
	"testing"

	"github.com/dagster-pipes-go/pipes/pipestest"
)

// The job's logic, without Azure: pipestest plays Dagster's part.
func TestJob(t *testing.T) {
	res := pipestest.RunJob(t, pipestest.Context{
		AssetKeys: []string{"go_azure_rows"},
		Extras:    map[string]any{"rows": 10},
	}, job)
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	m, ok := res.Materialization("go_azure_rows")
	if !ok {
		t.Fatal("go_azure_rows was not materialized")
	}
	if rows, _ := m.Metadata["rows"].Int(); rows != 10 {
		t.Errorf("rows = %d, want 10", rows)
	}
	if total, _ := m.Metadata["total"].Int(); total != 24 { // (0+1+…+6) + (0+1+2)
		t.Errorf("total = %d, want 24", total)
	}
	if got, _ := m.Metadata["storage"].Text(); got != "azure" {
		t.Errorf("storage = %q, want azure", got)
	}
	if logs := res.LogMessages("INFO"); len(logs) != 2 {
		t.Errorf("INFO logs = %q, want two", logs)
	}
}

// A bad extra fails the job, and Dagster is told why.
func TestJobRejectsNegativeRows(t *testing.T) {
	res := pipestest.RunJob(t, pipestest.Context{Extras: map[string]any{"rows": -1}}, job)
	if res.Err == nil || !res.Failed() {
		t.Fatalf("err = %v, failed = %v: want the job to fail for rows=-1", res.Err, res.Failed())
	}
	if _, ok := res.Materialization("go_azure_rows"); ok {
		t.Error("nothing is materialized on failure")
	}
}
