package pipes

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dagster-pipes-go/pipes/internal/dbxserver"
)

func TestDBFSMessageWriterDiscoversDriverLogRoot(t *testing.T) {
	srv := dbxserver.New(t, dbxserver.Options{})
	srv.AddCluster("with-logs", map[string]any{"cluster_log_conf": map[string]any{"dbfs": map[string]any{"destination": "dbfs:/cluster-logs/"}}})
	srv.AddCluster("no-logs", map[string]any{"cluster_name": "plain"})
	t.Setenv("DATABRICKS_HOST", srv.URL)
	t.Setenv("DATABRICKS_TOKEN", "tok")
	unsetEnv(t, SDKClusterIDEnvVar)
	ctx := context.Background()
	extras := func(w DBFSMessageWriter) map[string]any {
		t.Helper()
		e, err := w.OpenedExtras(ctx)
		require.NoError(t, err, "discovery never fails")
		return e
	}

	t.Setenv(RuntimeClusterIDEnvVar, "with-logs")
	assert.Equal(t, map[string]any{"cluster_driver_log_root": "dbfs:/cluster-logs/with-logs/driver"}, extras(DBFSMessageWriter{}))
	assert.Equal(t, map[string]any{}, extras(DBFSMessageWriter{NoLogDiscovery: true}))
	assert.Equal(t, map[string]any{"cluster_driver_log_root": "dbfs:/given"}, extras(DBFSMessageWriter{ClusterDriverLogRoot: "dbfs:/given"}))

	t.Setenv(RuntimeClusterIDEnvVar, "no-logs")
	assert.Equal(t, map[string]any{}, extras(DBFSMessageWriter{}), "no log delivery: {}")
	t.Setenv(RuntimeClusterIDEnvVar, "unknown")
	assert.Equal(t, map[string]any{}, extras(DBFSMessageWriter{}), "API error: {}")

	// The SDK's variable, when the runtime's is not set.
	unsetEnv(t, RuntimeClusterIDEnvVar)
	assert.Equal(t, map[string]any{}, extras(DBFSMessageWriter{}), "no cluster id: {}")
	t.Setenv(SDKClusterIDEnvVar, "with-logs")
	assert.Equal(t, map[string]any{"cluster_driver_log_root": "dbfs:/cluster-logs/with-logs/driver"}, extras(DBFSMessageWriter{}))

	// Server errors: {} too.
	srv.Fail(dbxserver.Rule{Status: 500, Times: -1})
	assert.Equal(t, map[string]any{}, extras(DBFSMessageWriter{}))
	srv.ClearFailures()
	unsetEnv(t, "DATABRICKS_TOKEN")
	assert.Equal(t, map[string]any{}, extras(DBFSMessageWriter{}), "no credentials: {}")
}

func TestClusterDriverLogRoot(t *testing.T) {
	assert.Equal(t, "dbfs:/logs/c1/driver", ClusterDriverLogRoot("dbfs:/logs", "c1"))
	assert.Equal(t, "dbfs:/logs/c1/driver", ClusterDriverLogRoot("dbfs:/logs//", "c1"))
	assert.Equal(t, "", ClusterDriverLogRoot("", "c1"))
	assert.Equal(t, "", ClusterDriverLogRoot("dbfs:/logs", ""))
}
