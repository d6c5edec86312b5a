package main

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/dagster-pipes-go/pipes/pipestest"
)

func TestWorkersReportFromGoroutines(t *testing.T) {
	res := pipestest.RunJob(t, pipestest.Context{
		AssetKeys: []string{"crunched"},
		Extras:    map[string]any{"workers": 8, "steps": 10, "step_ms": 0},
	}, job)
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	// 1 start log + 2 progress logs per worker.
	if got := len(res.LogMessages("INFO")); got != 1+8*2 {
		t.Errorf("%d INFO logs, want %d", got, 1+8*2)
	}
	seen := map[json.Number]bool{}
	for _, c := range res.CustomMessages {
		m := c.(map[string]any)
		seen[m["worker"].(json.Number)] = true
		if m["sum"] != json.Number("45") {
			t.Errorf("worker %v sum = %v, want 45", m["worker"], m["sum"])
		}
	}
	if len(seen) != 8 {
		t.Errorf("custom messages from %d workers, want 8", len(seen))
	}
	m, _ := res.Materialization("crunched")
	if total, _ := m.Metadata["total"].Int(); total != 8*45 {
		t.Errorf("total = %d, want %d", total, 8*45)
	}
}

func TestCancelledRunReportsTheInterruption(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // as if Dagster had interrupted the run
	s := pipestest.NewSession(t, pipestest.Context{AssetKeys: []string{"crunched"}, Extras: map[string]any{"step_ms": 60000}})
	res := s.Run(func() {
		_ = job(ctx, mustOpen(t))
		p := mustOpen(t)
		_ = p.CloseWithError(ctx.Err())
	})
	if res.Exception == nil || res.Exception.Message != "context canceled" {
		t.Fatalf("exception = %+v, want context canceled", res.Exception)
	}
	if n := len(res.LogMessages("WARNING")); n != 4 {
		t.Errorf("%d stop warnings, want one per worker (4)", n)
	}
	if len(res.Materializations) != 0 {
		t.Error("an interrupted run must not report a materialization")
	}
}
