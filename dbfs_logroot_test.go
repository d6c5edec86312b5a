package pipes

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

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

// Chunks written through the mount stay within what Dagster's DBFS reader
// reads per chunk.
func TestDBFSMessageWriterChunkSize(t *testing.T) {
	root := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(root, "tmp", "m"), 0o755))
	ch, err := DBFSMessageWriter{Root: root, NoLogDiscovery: true, Options: BlobStoreOptions{Interval: time.Hour}}.
		Open(context.Background(), Params{"path": "/tmp/m"})
	require.NoError(t, err)
	payload := strings.Repeat("x", 200_000)
	for i := range 6 {
		require.NoError(t, ch.WriteMessage(Message{Method: MethodReportCustomMessage, Params: []byte(fmt.Sprintf(`{"payload":"%d%s"}`, i, payload))}))
	}
	require.NoError(t, ch.Close())
	entries, err := os.ReadDir(filepath.Join(root, "tmp", "m"))
	require.NoError(t, err)
	require.Len(t, entries, 3)
	for _, e := range entries {
		info, err := e.Info()
		require.NoError(t, err)
		assert.LessOrEqual(t, info.Size(), int64(MaxDBFSChunkSize), e.Name())
	}
}
