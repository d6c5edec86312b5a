package e2e

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// What Dagster's get_custom_messages() holds for the Go values the custom
// job sends, as Python's json.dumps writes it. Floats stay floats (2.0, not
// 2), integers beyond 64 bits stay exact.
const customGoJSON = `[
	null, true, false, 0, -1,
	9223372036854775807, -9223372036854775808, 18446744073709551615,
	1.5, 2.0, 0.1, 1e+300, -2.5e-08, 0.5,
	"", "plain", "unicode ✓ 🚀 日本語", "escapes \" \\ / \n \t \u0000 \u2028 <>&",
	[], {}, [1, 2, 3],
	[1, "two", 3.5, null, true, [[]], {"k": "v"}],
	{"nested": {"deep": [{"x": null}]}},
	{"a": 1, "b": 2},
	{"name": "rec", "count": 3, "attrs": {"f": 1.0}},
	{"raw": [1, 2.5, "x"]},
	123456789012345678901234567890
]`

// Values of every JSON kind passed in as an extra and echoed by the job.
const customEchoJSON = `[
	null, true, false, 1, -0.5, 1e+100, 12345678901234567890123, 3.0,
	"s", "ünïcödé 🚀", "", [], {}, [1, [2, [3]]], {"a": {"b": null, "c": [true]}}
]`

// Scenario 8: custom messages come back unchanged and in order.
func TestCustomMessages(t *testing.T) {
	res := runScenario(t, Scenario{
		Job:    "custom",
		Extras: json.RawMessage(`{"echo": ` + customEchoJSON + `}`),
	})
	require.True(t, res.Success)
	requireNoSessionWarnings(t, res)
	want := append(decodeJSON(t, customGoJSON).([]any), decodeJSON(t, customEchoJSON).([]any)...)
	got := res.Custom(t)
	require.Len(t, got, len(want))
	for i := range want {
		assert.Equal(t, want[i], got[i], "custom message %d", i)
	}
}
