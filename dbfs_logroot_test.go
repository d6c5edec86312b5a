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
)

// Without DiscoverLogRoot the writer announces only a given log root: the
// discovery (package dbfslogs) needs net/http, which stays out of this
// package.
func TestDBFSMessageWriterLogRoot(t *testing.T) {
	ctx := context.Background()
	extras := func(w DBFSMessageWriter) map[string]any {
		t.Helper()
		e, err := w.OpenedExtras(ctx)
		require.NoError(t, err)
		return e
	}
	assert.Equal(t, map[string]any{}, extras(DBFSMessageWriter{}))
	assert.Equal(t, map[string]any{"cluster_driver_log_root": "dbfs:/given"}, extras(DBFSMessageWriter{ClusterDriverLogRoot: "dbfs:/given"}))
	called := false
	found := func(context.Context) string { called = true; return "dbfs:/found" }
	assert.Equal(t, map[string]any{"cluster_driver_log_root": "dbfs:/given"}, extras(DBFSMessageWriter{ClusterDriverLogRoot: "dbfs:/given", DiscoverLogRoot: found}))
	assert.False(t, called, "a given root is not discovered")
	assert.Equal(t, map[string]any{"cluster_driver_log_root": "dbfs:/found"}, extras(DBFSMessageWriter{DiscoverLogRoot: found}))
	assert.Equal(t, map[string]any{}, extras(DBFSMessageWriter{DiscoverLogRoot: func(context.Context) string { return "" }}))
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
	ch, err := DBFSMessageWriter{Root: root, Options: BlobStoreOptions{Interval: time.Hour}}.
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
