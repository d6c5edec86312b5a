package e2e

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Scenario 12: 10,000 log records and 1,000 custom messages from 8
// goroutines all reach Dagster, whole (a torn or interleaved line would
// break the JSON, or change a message), none lost, none twice, and each
// goroutine's in the order it sent them.
func TestManyMessages(t *testing.T) {
	const (
		goroutines = 8
		logsPer    = 1250
		customPer  = 125
	)
	pad := strings.Repeat("0123456789abcdef", 16)

	res := runScenario(t, Scenario{Job: "many"})
	require.True(t, res.Success)
	requireNoSessionWarnings(t, res)

	next := make([]int, goroutines) // next expected seq per goroutine
	count := 0
	for _, l := range res.UserLogs() {
		var g, seq int
		n, err := fmt.Sscanf(l.Message, "many g=%d seq=%d ", &g, &seq)
		require.NoError(t, err, "unexpected log record %q", l.Message)
		require.Equal(t, 2, n)
		require.Equal(t, fmt.Sprintf("many g=%d seq=%04d %s", g, seq, pad), l.Message, "message changed")
		require.Equal(t, "INFO", l.Level)
		require.True(t, g >= 0 && g < goroutines, "goroutine %d", g)
		require.Equal(t, next[g], seq, "goroutine %d: record lost, duplicated or out of order", g)
		next[g]++
		count++
	}
	assert.Equal(t, goroutines*logsPer, count, "log records in Dagster's log")

	custom := res.Custom(t)
	require.Len(t, custom, goroutines*customPer)
	nextCustom := make([]int64, goroutines)
	for i, c := range custom {
		m, ok := c.(map[string]any)
		require.True(t, ok, "custom message %d is %T", i, c)
		require.Len(t, m, 3)
		g, err := m["g"].(json.Number).Int64()
		require.NoError(t, err)
		seq, err := m["seq"].(json.Number).Int64()
		require.NoError(t, err)
		require.Equal(t, pad, m["pad"])
		require.True(t, g >= 0 && g < goroutines)
		require.Equal(t, nextCustom[g], seq, "goroutine %d: custom message lost, duplicated or out of order", g)
		nextCustom[g]++
	}
}
