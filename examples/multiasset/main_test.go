package main

import (
	"testing"

	"github.com/dagster-pipes-go/pipes/pipestest"
)

func TestEachAssetIsReportedUnderItsKey(t *testing.T) {
	res := pipestest.RunJob(t, pipestest.Context{
		AssetKeys:    []string{"customers", "orders"},
		CodeVersions: map[string]string{"customers": "1", "orders": "2"},
	}, job)
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	for key, want := range map[string]string{"customers": "1-120", "orders": "2-3400"} {
		m, ok := res.Materialization(key)
		if !ok {
			t.Errorf("%s not materialized", key)
			continue
		}
		if m.DataVersion != want {
			t.Errorf("%s data version = %q, want %q", key, m.DataVersion, want)
		}
		if got := m.Metadata["rows"].Type; got != "int" {
			t.Errorf("%s rows type = %q, want int", key, got)
		}
	}
}

// A subset run (Dagster selected only orders) reports only orders.
func TestSubset(t *testing.T) {
	res := pipestest.RunJob(t, pipestest.Context{AssetKeys: []string{"orders"}}, job)
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	if len(res.Materializations) != 1 || res.Materializations[0].AssetKey != "orders" {
		t.Errorf("materializations = %+v, want only orders", res.Materializations)
	}
}
