package e2e

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The Dagster class each metadata entry of the metadata job must become.
var wantMetadataTypes = map[string]string{
	"text":              "TextMetadataValue",
	"url":               "UrlMetadataValue",
	"path":              "PathMetadataValue",
	"notebook":          "NotebookMetadataValue",
	"md":                "MarkdownMetadataValue",
	"json_obj":          "JsonMetadataValue",
	"json_arr":          "JsonMetadataValue",
	"float":             "FloatMetadataValue",
	"float_whole":       "FloatMetadataValue",
	"float_neg":         "FloatMetadataValue",
	"int":               "IntMetadataValue",
	"int_max":           "IntMetadataValue",
	"int_neg":           "IntMetadataValue",
	"bool_true":         "BoolMetadataValue",
	"bool_false":        "BoolMetadataValue",
	"dagster_run":       "DagsterRunMetadataValue",
	"asset":             "DagsterAssetMetadataValue",
	"null":              "NullMetadataValue",
	"timestamp":         "TimestampMetadataValue",
	"timestamp_s":       "TimestampMetadataValue",
	"table":             "TableMetadataValue",
	"table_schema":      "TableSchemaMetadataValue",
	"lineage":           "TableColumnLineageMetadataValue",
	"infer_str":         "TextMetadataValue",
	"infer_int":         "IntMetadataValue",
	"infer_int64":       "IntMetadataValue",
	"infer_uint8":       "IntMetadataValue",
	"infer_float":       "FloatMetadataValue",
	"infer_float_whole": "FloatMetadataValue",
	"infer_float32":     "FloatMetadataValue",
	"infer_bool":        "BoolMetadataValue",
	"infer_nil":         "NullMetadataValue",
	"infer_list":        "JsonMetadataValue",
	"infer_strings":     "JsonMetadataValue",
	"infer_map":         "JsonMetadataValue",
	"infer_explicit":    "FloatMetadataValue",
}

func onlyMaterialization(t *testing.T, res *Result) Materialization {
	t.Helper()
	require.Len(t, res.Materializations, 1, "exactly one materialization reaches Dagster")
	return res.Materializations[0]
}

// Scenario 3 and 4: metadata of every type, and the data version. The same
// input is sent once by the Go job and once by a Python job using
// dagster-pipes; Dagster must record the same MetadataValue for each entry
// (its class and its serdes form, so int stays int and float stays float).
func TestMetadataMatchesPythonReference(t *testing.T) {
	goRes := runScenario(t, Scenario{Job: "metadata"})
	require.True(t, goRes.Success)
	requireNoSessionWarnings(t, goRes)
	pyRes := runScenario(t, Scenario{PyJob: "metadata_job.py"})
	require.True(t, pyRes.Success)

	goMat, pyMat := onlyMaterialization(t, goRes), onlyMaterialization(t, pyRes)
	assert.Equal(t, []string{"e2e_asset"}, goMat.AssetKey)

	// Every type arrives as the expected Dagster class...
	for name, want := range wantMetadataTypes {
		entry, ok := goMat.Metadata[name]
		if assert.True(t, ok, "metadata %q missing", name) {
			assert.Equal(t, want, entry.Type, "metadata %q", name)
		}
	}
	assert.Len(t, goMat.Metadata, len(wantMetadataTypes), "no unexpected entries")

	// ...and equals, entry by entry, what Dagster made of the Python job's.
	require.Len(t, pyMat.Metadata, len(goMat.Metadata))
	for name, py := range pyMat.Metadata {
		assert.Equal(t, py, goMat.Metadata[name], "metadata %q: Go vs Python reference", name)
	}

	// Spot checks of values, spelled out.
	assert.Equal(t, decodeJSON(t, `2.0`), goMat.Metadata["float_whole"].Value)
	assert.Equal(t, decodeJSON(t, `9223372036854775807`), goMat.Metadata["int_max"].Value)
	assert.Equal(t, decodeJSON(t, `1709641845.5`), goMat.Metadata["timestamp"].Value)
	assert.Equal(t, decodeJSON(t, `{"__class__": "AssetKey", "path": ["upstream", "table"]}`), goMat.Metadata["asset"].Value)
	assert.Equal(t, decodeJSON(t, `{"k": "v", "n": 1.0}`), goMat.Metadata["infer_map"].Value)
	assert.Equal(t, decodeJSON(t, `[1, "a", 2.5]`), goMat.Metadata["infer_list"].Value)
	assert.Nil(t, goMat.Metadata["null"].Value)

	// Scenario 4: the data version, as Dagster tags the materialization.
	for _, m := range []Materialization{goMat, pyMat} {
		assert.Equal(t, "v-e2e-1", m.Tags["dagster/data_version"])
		assert.Equal(t, "true", m.Tags["dagster/data_version_is_user_provided"])
	}

	// The second materialization was refused before reaching Dagster, with
	// the reference's text.
	goReport := res1(t, goRes)
	pyReport := res1(t, pyRes)
	assert.Equal(t, true, goReport["second_is_already_materialized"])
	assert.Equal(t, true, pyReport["second_is_already_materialized"])
	assert.Equal(t, "Calling `report_asset_materialization` with asset key `e2e_asset` is undefined. "+
		"Asset has already been materialized, so no additional data can be reported for it.", goReport["second_error"])
	assert.Equal(t, pyReport["second_error"], goReport["second_error"])

	// Deliberate difference: the Go library refuses NaN metadata (it is not
	// JSON); the reference writes the non-standard token NaN, which Dagster
	// accepts and records. The refused report is not a materialization.
	assert.Equal(t, true, goReport["nan_is_invalid_metadata"])
}

// res1 returns the job's single custom message, an object.
func res1(t *testing.T, res *Result) map[string]any {
	t.Helper()
	custom := res.Custom(t)
	require.Len(t, custom, 1)
	m, ok := custom[0].(map[string]any)
	require.True(t, ok, "custom message is %T", custom[0])
	return m
}
