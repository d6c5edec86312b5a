package pipes

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const fullContextJSON = `{
  "asset_keys": ["a\\/b/c", "d"],
  "code_version_by_asset_key": {"a\\/b/c": "v1", "d": null},
  "provenance_by_asset_key": {"a\\/b/c": {"code_version": "v0", "input_data_versions": {"up": "dv"}, "is_user_provided": true}, "d": null},
  "partition_key": "2024-01-01",
  "partition_key_range": {"start": "2024-01-01", "end": "2024-01-01"},
  "partition_time_window": {"start": "2024-01-01T00:00:00+00:00", "end": "2024-01-02T00:00:00+00:00"},
  "run_id": "abc",
  "job_name": null,
  "retry_number": 2,
  "extras": {"big": 12345678901234567890, "s": "é", "n": null}
}`

func TestParseContextData(t *testing.T) {
	d, err := ParseContextData([]byte(fullContextJSON))
	require.NoError(t, err)
	assert.Equal(t, []string{`a\/b/c`, "d"}, d.AssetKeys)
	assert.Equal(t, "v1", *d.CodeVersionByAssetKey[`a\/b/c`])
	assert.Nil(t, d.CodeVersionByAssetKey["d"])
	assert.Equal(t, &DataProvenance{CodeVersion: "v0", InputDataVersions: map[string]string{"up": "dv"}, IsUserProvided: true}, d.ProvenanceByAssetKey[`a\/b/c`])
	assert.Equal(t, "2024-01-01", *d.PartitionKey)
	assert.Equal(t, "abc", d.RunID)
	assert.Nil(t, d.JobName)
	assert.Equal(t, 2, d.RetryNumber)
	assert.Equal(t, json.Number("12345678901234567890"), d.Extras["big"])
}

func TestParseContextDataMissingKeysAreNull(t *testing.T) {
	d, err := ParseContextData([]byte(`{"run_id": "r"}`))
	require.NoError(t, err)
	assert.Nil(t, d.AssetKeys)
	assert.Equal(t, map[string]any{}, d.Extras)
}

func TestParseContextDataErrors(t *testing.T) {
	for name, tc := range map[string]struct{ in, want string }{
		"not json":          {`{"run_id": `, "context data is not a valid JSON object"},
		"null":              {`null`, "context data is null"},
		"array":             {`[]`, "context data is not a valid JSON object"},
		"retry as string":   {`{"retry_number": "1"}`, `key "retry_number" has the wrong type`},
		"asset keys string": {`{"asset_keys": "a"}`, `key "asset_keys" has the wrong type`},
		"extras list":       {`{"extras": [1]}`, `key "extras" has the wrong type`},
		"trailing":          {`{} {}`, "unexpected data"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := ParseContextData([]byte(tc.in))
			require.ErrorIs(t, err, ErrInvalidContext)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

func TestDefaultContextLoader(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "context")
	require.NoError(t, os.WriteFile(path, []byte(fullContextJSON), 0o600))

	d, err := DefaultContextLoader{}.LoadContext(ctx, Params{"path": path})
	require.NoError(t, err)
	assert.Equal(t, "abc", d.RunID)

	// "path" wins over "data".
	d, err = DefaultContextLoader{}.LoadContext(ctx, Params{"path": path, "data": map[string]any{"run_id": "other"}})
	require.NoError(t, err)
	assert.Equal(t, "abc", d.RunID)

	d, err = DefaultContextLoader{}.LoadContext(ctx, Params{"data": map[string]any{"run_id": "inline", "extras": map[string]any{"n": json.Number("1")}}})
	require.NoError(t, err)
	assert.Equal(t, "inline", d.RunID)
	assert.Equal(t, json.Number("1"), d.Extras["n"])
}

func TestDefaultContextLoaderErrors(t *testing.T) {
	ctx := context.Background()
	_, err := DefaultContextLoader{}.LoadContext(ctx, Params{"other": 1})
	require.ErrorIs(t, err, ErrInvalidParams)
	assert.EqualError(t, err, `Invalid params for PipesDefaultContextLoader, expected key "path" or "data", received {'other': 1}`)

	_, err = DefaultContextLoader{}.LoadContext(ctx, Params{"path": json.Number("1")})
	assert.EqualError(t, err, "Invalid type for parameter `path` passed from orchestration side to `PipesDefaultContextLoader`. Expected `<class 'str'>`, got `<class 'int'>`.")

	_, err = DefaultContextLoader{}.LoadContext(ctx, Params{"data": "x"})
	require.ErrorIs(t, err, ErrInvalidParams)

	missing := filepath.Join(t.TempDir(), "nope")
	_, err = DefaultContextLoader{}.LoadContext(ctx, Params{"path": missing})
	require.ErrorIs(t, err, ErrInvalidContext)
	require.ErrorIs(t, err, os.ErrNotExist)
	assert.Contains(t, err.Error(), "cannot read the context file Dagster named")

	bad := filepath.Join(t.TempDir(), "bad")
	require.NoError(t, os.WriteFile(bad, []byte(`{"retry_number": true}`), 0o600))
	_, err = DefaultContextLoader{}.LoadContext(ctx, Params{"path": bad})
	require.ErrorIs(t, err, ErrInvalidContext)
	assert.Contains(t, err.Error(), bad)
}

func TestDBFSAndVolumesContextLoaders(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(root, "tmp", "abc"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(root, "tmp", "abc", "context.json"), []byte(`{"run_id": "dbfs"}`), 0o600))

	// Dagster sends a DBFS path; the loader reads it through the mount.
	d, err := DBFSContextLoader{Root: root}.LoadContext(ctx, Params{"path": "/tmp/abc/context.json"})
	require.NoError(t, err)
	assert.Equal(t, "dbfs", d.RunID)
	assert.Equal(t, "/dbfs/tmp/x", dbfsLocalPath("", "/tmp/x"))

	d, err = VolumesContextLoader{}.LoadContext(ctx, Params{"path": filepath.Join(root, "tmp", "abc", "context.json")})
	require.NoError(t, err)
	assert.Equal(t, "dbfs", d.RunID)

	_, err = DBFSContextLoader{}.LoadContext(ctx, Params{})
	assert.EqualError(t, err, "Invalid type for parameter `path` passed from orchestration side to `PipesDbfsContextLoader`. Expected `<class 'str'>`, got `<class 'NoneType'>`.")
	_, err = VolumesContextLoader{}.LoadContext(ctx, Params{})
	require.ErrorIs(t, err, ErrInvalidParams)
}
