package e2e

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Scenario 5: asset checks. Dagster records one evaluation per check, the
// same as for the Python reference reporting the same checks.
func TestAssetChecks(t *testing.T) {
	asset := AssetDef{
		Key:    []string{"e2e", "checked"},
		Checks: []string{"passes", "warns", "errors", "default_severity", "passes_implicit"},
	}
	goRes := runScenario(t, Scenario{Job: "checks", Assets: []AssetDef{asset}})
	require.True(t, goRes.Success)
	requireNoSessionWarnings(t, goRes)
	pyRes := runScenario(t, Scenario{PyJob: "checks_job.py", Assets: []AssetDef{asset}})
	require.True(t, pyRes.Success)

	type want struct {
		passed   bool
		severity string
		metadata map[string]string // entry -> Dagster class
	}
	wants := map[string]want{
		"passes":           {true, "ERROR", map[string]string{"rows": "IntMetadataValue", "ratio": "FloatMetadataValue"}},
		"warns":            {false, "WARN", map[string]string{"reason": "TextMetadataValue", "threshold": "FloatMetadataValue"}},
		"errors":           {false, "ERROR", map[string]string{"details": "JsonMetadataValue"}},
		"default_severity": {false, "ERROR", map[string]string{}},
		"passes_implicit":  {true, "WARN", map[string]string{}},
	}
	require.Len(t, goRes.Checks, len(wants))
	for _, c := range goRes.Checks {
		w, ok := wants[c.CheckName]
		require.True(t, ok, "unexpected check %q", c.CheckName)
		assert.Equal(t, []string{"e2e", "checked"}, c.AssetKey, c.CheckName)
		assert.Equal(t, w.passed, c.Passed, c.CheckName)
		assert.Equal(t, w.severity, c.Severity, c.CheckName)
		assert.True(t, c.HasTargetMaterialization, "%s: evaluated against the step's materialization", c.CheckName)
		types := map[string]string{}
		for k, v := range c.Metadata {
			types[k] = v.Type
		}
		assert.Equal(t, w.metadata, types, c.CheckName)
	}
	assert.Equal(t, pyRes.Checks, goRes.Checks, "Go vs Python reference")
	require.Len(t, goRes.Materialized("e2e", "checked"), 1)

	// Deliberate difference: the Go library refuses a severity other than
	// WARN/ERROR; the reference sends it and Dagster's reader fails on it.
	assert.Equal(t, map[string]any{"bad_severity_is_invalid_value": true}, res1(t, goRes))
}

// Scenario 6: a step that targets several assets.
func TestMultiAssetStep(t *testing.T) {
	assets := []AssetDef{
		{Key: []string{"multi", "a"}},
		{Key: []string{"multi", "b"}, Checks: []string{"b_check"}},
		{Key: []string{"multi", "c"}},
	}
	goRes := runScenario(t, Scenario{Job: "multi", Assets: assets})
	require.True(t, goRes.Success)
	requireNoSessionWarnings(t, goRes)
	pyRes := runScenario(t, Scenario{PyJob: "multi_job.py", Assets: assets})
	require.True(t, pyRes.Success)

	// Per-key materializations; c got Dagster's implicit one.
	a, b, c := goRes.Materialized("multi", "a"), goRes.Materialized("multi", "b"), goRes.Materialized("multi", "c")
	require.Len(t, a, 1)
	require.Len(t, b, 1)
	require.Len(t, c, 1)
	assert.Len(t, goRes.Materializations, 3, "the refused reports did not reach Dagster")
	assert.Equal(t, "a", a[0].Metadata["part"].Value)
	assert.Equal(t, "b", b[0].Metadata["part"].Value)
	assert.Equal(t, "vb", b[0].Tags["dagster/data_version"])
	assert.Empty(t, c[0].Metadata)
	require.Len(t, goRes.Checks, 1)
	assert.Equal(t, []string{"multi", "b"}, goRes.Checks[0].AssetKey)
	assert.True(t, goRes.Checks[0].Passed)
	assert.Equal(t, stripRunTags(pyRes.Materializations, pyRes.RunID, pyRes.RunID),
		stripRunTags(goRes.Materializations, goRes.RunID, pyRes.RunID))
	assert.Equal(t, pyRes.Checks, goRes.Checks)

	report, ref := res1(t, goRes), res1(t, pyRes)
	assert.Equal(t, []any{"multi/a", "multi/b", "multi/c"}, report["asset_keys"])
	assert.Equal(t, ref["asset_keys"], report["asset_keys"])
	wantErrors := map[string]struct {
		text              string
		invalidAssetKey   bool
		undefinedProperty bool
	}{
		"asset_key":    {"`asset_key` is undefined. Current step targets multiple assets.", false, true},
		"code_version": {"`code_version` is undefined. Current step targets multiple assets.", false, true},
		"no_key": {"Calling `report_asset_materialization` without passing an asset key is undefined. " +
			"Current step targets multiple assets.", true, false},
		"unknown_key": {"Invalid asset key. Expected one of `['multi/a', 'multi/b', 'multi/c']`, got `multi/unknown`.", true, false},
		"check_no_key": {"Calling `report_asset_check` without passing an asset key is undefined. " +
			"Current step targets multiple assets.", true, false},
	}
	for name, w := range wantErrors {
		got, ok := report[name].(map[string]any)
		require.True(t, ok, "%s: the library accepted it: %v", name, report[name])
		assert.Equal(t, w.text, got["error"], name)
		assert.Equal(t, w.invalidAssetKey, got["invalid_asset_key"], "%s matches ErrInvalidAssetKey", name)
		assert.Equal(t, w.undefinedProperty, got["undefined"], "%s matches ErrUndefined", name)
		refErr, ok := ref[name].(map[string]any)
		require.True(t, ok, "%s: the reference accepted it", name)
		assert.Equal(t, refErr["error"], got["error"], "%s: same text as the reference", name)
	}
}

// stripRunTags returns ms with the run-dependent tags made comparable with
// another run's: Dagster's code version defaults to the run id, and a data
// version that was not reported is a hash that includes it.
func stripRunTags(ms []Materialization, runID, otherRunID string) []Materialization {
	out := make([]Materialization, len(ms))
	for i, m := range ms {
		tags := map[string]string{}
		for k, v := range m.Tags {
			if v == runID {
				v = otherRunID
			}
			tags[k] = v
		}
		if tags["dagster/data_version_is_user_provided"] != "true" {
			delete(tags, "dagster/data_version")
		}
		m.Tags = tags
		out[i] = m
	}
	return out
}
