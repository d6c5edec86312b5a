//go:build !race

// The race detector changes allocation counts, so these run without it.

package pipes

import (
	"log/slog"
	"testing"
)

// TestAllocBudgets guards the allocation budgets of issue 6: a log message
// costs at most 3 allocations, a materialization with 10 metadata entries at
// most 30. BENCHMARKS.md shows the measured counts (0 today).
func TestAllocBudgets(t *testing.T) {
	for _, kind := range benchSinks {
		t.Run(kind, func(t *testing.T) {
			s := newBenchContext(t, kind)
			log := s.p.Log()
			md := benchMetadata10()
			budgets := []struct {
				name   string
				budget float64
				f      func()
			}{
				{"log", 3, func() { log.Info(benchMessage) }},
				{"LogMessage", 3, func() { _ = s.p.LogMessage(slog.LevelInfo, benchMessage) }},
				{"log with 3 attributes", 3, func() { log.Info("processed batch", "batch", 1234, "records", 250, "table", "events") }},
				{"custom message", 3, func() { _ = s.p.ReportCustomMessage(benchCustomPayload) }},
				{"materialization, 10 entries", 30, func() {
					reportMaterialization(t, s.p, Materialization{DataVersion: "v1", Metadata: md})
				}},
				{"materialization, 10 entries, metadata built in the call", 30, func() {
					reportMaterialization(t, s.p, Materialization{DataVersion: "v1", Metadata: benchMetadata10()})
				}},
			}
			for _, c := range budgets {
				if got := testing.AllocsPerRun(200, c.f); got > c.budget {
					t.Errorf("%s: %.1f allocations, budget %.0f", c.name, got, c.budget)
				} else {
					t.Logf("%s: %.1f allocations (budget %.0f)", c.name, got, c.budget)
				}
			}
		})
	}
}
