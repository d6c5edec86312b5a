package dbfslogs_test

import (
	"context"
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/dagster-pipes-go/pipes"
	"github.com/dagster-pipes-go/pipes/dbfslogs"
	"github.com/dagster-pipes-go/pipes/internal/dbxserver"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func unsetEnv(t *testing.T, key string) {
	t.Helper()
	t.Setenv(key, "") // restores the old value when the test ends
	require.NoError(t, os.Unsetenv(key))
}

func TestDBFSMessageWriterDiscoversDriverLogRoot(t *testing.T) {
	srv := dbxserver.New(t, dbxserver.Options{})
	srv.AddCluster("with-logs", map[string]any{"cluster_log_conf": map[string]any{"dbfs": map[string]any{"destination": "dbfs:/cluster-logs/"}}})
	srv.AddCluster("no-logs", map[string]any{"cluster_name": "plain"})
	t.Setenv("DATABRICKS_HOST", srv.URL)
	t.Setenv("DATABRICKS_TOKEN", "tok")
	unsetEnv(t, pipes.SDKClusterIDEnvVar)
	ctx := context.Background()
	discovering := pipes.DBFSMessageWriter{DiscoverLogRoot: dbfslogs.DiscoverDriverLogRoot}
	extras := func(w pipes.DBFSMessageWriter) map[string]any {
		t.Helper()
		e, err := w.OpenedExtras(ctx)
		require.NoError(t, err, "discovery never fails")
		return e
	}

	t.Setenv(pipes.RuntimeClusterIDEnvVar, "with-logs")
	assert.Equal(t, map[string]any{"cluster_driver_log_root": "dbfs:/cluster-logs/with-logs/driver"}, extras(discovering))
	assert.Equal(t, map[string]any{}, extras(pipes.DBFSMessageWriter{}))
	assert.Equal(t, map[string]any{"cluster_driver_log_root": "dbfs:/given"}, extras(pipes.DBFSMessageWriter{ClusterDriverLogRoot: "dbfs:/given", DiscoverLogRoot: dbfslogs.DiscoverDriverLogRoot}))

	t.Setenv(pipes.RuntimeClusterIDEnvVar, "no-logs")
	assert.Equal(t, map[string]any{}, extras(discovering), "no log delivery: {}")
	t.Setenv(pipes.RuntimeClusterIDEnvVar, "unknown")
	assert.Equal(t, map[string]any{}, extras(discovering), "API error: {}")

	// The SDK's variable, when the runtime's is not set.
	unsetEnv(t, pipes.RuntimeClusterIDEnvVar)
	assert.Equal(t, map[string]any{}, extras(discovering), "no cluster id: {}")
	t.Setenv(pipes.SDKClusterIDEnvVar, "with-logs")
	assert.Equal(t, map[string]any{"cluster_driver_log_root": "dbfs:/cluster-logs/with-logs/driver"}, extras(discovering))

	// Server errors: {} too.
	srv.Fail(dbxserver.Rule{Status: 500, Times: -1})
	assert.Equal(t, map[string]any{}, extras(discovering))
	srv.ClearFailures()
	unsetEnv(t, "DATABRICKS_TOKEN")
	assert.Equal(t, map[string]any{}, extras(discovering), "no credentials: {}")
}
