package main

import (
	"testing"
	"time"

	"github.com/dagster-pipes-go/pipes"
	"github.com/dagster-pipes-go/pipes/pipestest"
)

func TestPartition(t *testing.T) {
	start := time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC)
	res := pipestest.RunJob(t, pipestest.Context{
		AssetKeys:           []string{"events"},
		PartitionKey:        "2024-03-01",
		PartitionTimeWindow: &pipes.TimeWindow{Start: start, End: start.AddDate(0, 0, 1)},
	}, job)
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	m, _ := res.Materialization("events")
	if m.DataVersion != "2024-03-01" {
		t.Errorf("data version = %q", m.DataVersion)
	}
	if h, _ := m.Metadata["hours"].Float(); h != 24 {
		t.Errorf("hours = %v, want 24", h)
	}
	if ts, _ := m.Metadata["window_start"].Float(); ts != float64(start.Unix()) {
		t.Errorf("window_start = %v, want %d", ts, start.Unix())
	}
}

func TestUnpartitionedRunFails(t *testing.T) {
	res := pipestest.RunJob(t, pipestest.Context{AssetKeys: []string{"events"}}, job)
	if res.Exception == nil {
		t.Fatal("want the closed message to carry the error")
	}
	if want := "Missing required property: `partition_key` is undefined. Current step does not target any partitions."; res.Exception.Message != want {
		t.Errorf("exception = %q, want %q", res.Exception.Message, want)
	}
}
