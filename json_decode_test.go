package pipes

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var fastJSONSeeds = []string{
	`{}`, `[]`, `null`, `true`, ` false `, `0`, `-0.5e+10`, `1E2`, `"a\"\\\/\b\f\n\r\t\u00e9\u0000"`, `"é"`, `"\ud83d\ude00"`, "\"\xff\"",
	`{"a": [1, 2.5, null, {"b": {}}], "c": "d"}`, `{"a": 1, "a": 2}`, `{"a" 1}`, `[1,]`, `01`, `1.`, `-`, `tru`, `"\u12"`, "\"a\tb\"",
	`{"path": "/tmp/dagster-pipes/context.json"}`, `{"path": "/tmp/x", "include_stdio_in_messages": true}`, `1 2`, `{}]`, `{"a":1}}`,
}

var contextSeeds = []string{
	fullContextJSON, `{}`, `null`, `[]`, `{"retry_number": "1"}`, `{"retry_number": 1.0}`, `{"retry_number": 99999999999999999999}`,
	`{"retry_number": null}`, `{"RUN_ID": "x"}`, `{"run_\u017fd": "x"}`, `{"run_id": null}`, `{"asset_keys": [null]}`, `{"asset_keys": []}`,
	`{"code_version_by_asset_key": {}}`, `{"code_version_by_asset_key": {"a": null, "b": "v"}}`,
	`{"provenance_by_asset_key": {"a": null, "b": {"code_version": "1", "input_data_versions": {"x": "y"}, "is_user_provided": true, "other": 1}}}`,
	`{"provenance_by_asset_key": {"b": {"Code_Version": "1"}}}`, `{"provenance_by_asset_key": {"b": {"input_data_versions": {"x": null}}}}`,
	`{"partition_key_range": {"start": "a"}, "partition_key_range": {"end": "b"}}`, `{"partition_key_range": {}}`,
	`{"partition_time_window": {"start": "2024-01-01T00:00:00+00:00", "end": "2024-01-02T00:00:00+00:00", "x": [1]}}`,
	`{"partition_time_window": {"START": "a"}}`, `{"extras": null}`, `{"extras": {"n": 12345678901234567890, "f": 1.5e3, "l": [], "o": {}}}`,
	`{"job_name": 1}`, `{"unknown": {"deep": [1, 2]}}`, `{"extras": {"a": 1, "a": 2}}`, `{"x": 1, "x": 2, "run_id": "r"}`,
	`{"code_version_by_asset_key": {"a": "1", "a": "2"}}`, `{"code_version_by_asset_key": null, "provenance_by_asset_key": null}`,
}

// A context as Dagster writes it, and the bootstrap values, take the fast
// path; what it gives up on still decodes as encoding/json decodes it.
func TestFastDecodersTakeDagsterDocuments(t *testing.T) {
	data, ok := contextDataFast([]byte(fullContextJSON))
	require.True(t, ok)
	std, err := parseContextDataStd([]byte(fullContextJSON))
	require.NoError(t, err)
	assert.Equal(t, std, data)
	_, _, ok = decodeJSONFast([]byte(`{"path": "/tmp/tmpab_c/context", "include_stdio_in_messages": false}`))
	assert.True(t, ok)

	for _, raw := range []string{`{"RUN_ID": "x"}`, `{"partition_key_range": {"start": "a"}, "partition_key_range": {"end": "b"}}`, `{"asset_keys": [null, "a"]}`} {
		_, ok := contextDataFast([]byte(raw))
		assert.False(t, ok, raw)
		got, err := ParseContextData([]byte(raw))
		require.NoError(t, err, raw)
		want, err := parseContextDataStd([]byte(raw))
		require.NoError(t, err, raw)
		assert.Equal(t, want, got, raw)
	}
	got, err := ParseContextData([]byte(`{"RUN_ID": "x", "partition_key_range": {"start": "a"}, "partition_key_range": {"end": "b"}}`))
	require.NoError(t, err)
	assert.Equal(t, "x", got.RunID, "encoding/json matches keys without regard to case")
	assert.Equal(t, &PartitionKeyRange{Start: "a", End: "b"}, got.PartitionKeyRange, "and merges a repeated object")
}

// What decodeJSONFast accepts, encoding/json decodes to the same value.
func FuzzFastJSONAgreesWithEncodingJSON(f *testing.F) {
	for _, s := range fastJSONSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		got, _, ok := decodeJSONFast(raw)
		if !ok {
			return
		}
		want, err := decodeJSONStd(raw)
		if err != nil {
			t.Fatalf("fast decoder took %q, encoding/json refuses it: %v", raw, err)
		}
		assert.Equal(t, want, got, "%q", raw)
	})
}

// What contextDataFast accepts, encoding/json decodes to the same
// ContextData (nil and empty told apart).
func FuzzFastContextDataAgreesWithEncodingJSON(f *testing.F) {
	for _, s := range contextSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		got, ok := contextDataFast(raw)
		if !ok {
			return
		}
		want, err := parseContextDataStd(raw)
		if err != nil {
			t.Fatalf("fast decoder took %q, encoding/json refuses it: %v", raw, err)
		}
		assert.Equal(t, want, got, "%q", raw)
	})
}
