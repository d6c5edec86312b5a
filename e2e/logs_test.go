package e2e

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Scenario 7: records logged through Context.Log appear in Dagster's log at
// the matching level, in order.
func TestLogs(t *testing.T) {
	res := runScenario(t, Scenario{Job: "logs"})
	require.True(t, res.Success)
	requireNoSessionWarnings(t, res)
	want := []LogRecord{
		{"DEBUG", "debug message"},
		{"INFO", "info message"},
		{"WARNING", "warning message"},
		{"ERROR", "error message"},
		{"CRITICAL", "critical message"},
		// slog's scale is continuous; each level maps to the named level at
		// or below it (Python's levels are 10, 20, 30, 40, 50).
		{"DEBUG", "below debug"},
		{"INFO", "between info and warning"},
		{"ERROR", "between error and critical"},
		{"CRITICAL", "above critical"},
		// Go-only: slog attributes follow the message as key=value pairs
		// (Python's logger has no attributes; its extra= is not sent).
		{"INFO", `with attrs n=3 s="two words" ok=true`},
		{"INFO", "grouped req=abc g.k=v"},
		{"INFO", "unicode ✓ 🚀 \"quoted\" and a\nsecond line"},
	}
	assert.Equal(t, want, res.UserLogs())

	// The Python reference logging the same five records: Dagster records
	// the same levels and texts.
	ref := runScenario(t, Scenario{PyJob: "logs_job.py"})
	require.True(t, ref.Success)
	assert.Equal(t, ref.UserLogs(), res.UserLogs()[:5])
}
