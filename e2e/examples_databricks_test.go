package e2e

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dagster-pipes-go/pipes/internal/dbxserver"
)

// examples/databricks under real Dagster: its definitions.py, unchanged,
// with the real databricks-sdk pointed at our loopback Databricks server,
// which runs the example's launcher.py and Go binary here. Both assets:
// PipesDatabricksClient (DBFS, new cluster) and
// PipesDatabricksServerlessClient (volumes, arguments).
func TestExampleDatabricks(t *testing.T) {
	p := requireDagster(t)
	srv := dbxserver.New(t, dbxserver.Options{Python: p.python})
	env := map[string]string{
		"PIPES_DBX_LAUNCHER": filepath.Join(repoRoot, "examples", "databricks", "launcher.py"),
		"PIPES_DBX_VOLUME":   "/Volumes/main/default/pipes",
		"PIPES_DBX_INTERVAL": "0.5",
	}
	for _, kv := range srv.Env() {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	res := runExample(t, "databricks", "PIPES_DBX_BINARY", exampleRun{Env: env})
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("last task output:\n%s", srv.LastRunLog())
		}
	})
	requireSucceeded(t, res)
	for key, want := range map[string][2]string{
		"go_dbx_orders":            {"25", "312.5"},
		"go_dbx_orders_serverless": {"7", "24.5"},
	} {
		mats := res.Materialized(key)
		require.Len(t, mats, 1, "materializations of %s: %+v", key, res.Materializations)
		md := mats[0].Metadata
		assert.Equal(t, json.Number(want[0]), md["orders"].Value, key)
		assert.Equal(t, json.Number(want[1]), md["total"].Value, key)
		assert.Contains(t, res.UserLogs(), LogRecord{"INFO", "summing orders on databricks orders=" + want[0]})
	}
	require.Len(t, res.Checks, 2, "checks: %+v", res.Checks)
	for _, c := range res.Checks {
		assert.Equal(t, "has_orders", c.CheckName)
		assert.True(t, c.Passed)
	}
	// The serverless reader asks for stdout in messages.
	assert.Contains(t, res.DagsterStdout, "driver stdout: summing 7 orders\n")
}
