package pipes

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestDefaultMessageWriterPath(t *testing.T) {
	path := filepath.Join(t.TempDir(), "messages")
	ch, err := DefaultMessageWriter{}.Open(context.Background(), Params{"path": path, "stdio": "stdout"})
	require.NoError(t, err)
	require.IsType(t, &FileChannel{}, ch)
	require.NoError(t, ch.WriteMessage(Message{Method: MethodLog, Params: []byte(`{"message":"m","level":"INFO"}`)}))
	require.NoError(t, ch.Close())
	msgs := readMessages(t, path)
	require.Len(t, msgs, 1)
	assert.Equal(t, map[string]any{"message": "m", "level": "INFO"}, msgs[0].Params)
	assert.ErrorIs(t, ch.WriteMessage(Message{Method: MethodLog}), ErrClosed)
}

func TestDefaultMessageWriterStdio(t *testing.T) {
	var out, errOut bytes.Buffer
	w := DefaultMessageWriter{Stdout: &out, Stderr: &errOut}
	ch, err := w.Open(context.Background(), Params{"stdio": "stderr"})
	require.NoError(t, err)
	require.NoError(t, ch.WriteMessage(Message{Method: MethodOpened, Params: []byte(`{"extras":{}}`)}))
	assert.Equal(t, `{"__dagster_pipes_version":"0.1","method":"opened","params":{"extras":{}}}`+"\n", errOut.String())
	assert.Empty(t, out.String())
	require.NoError(t, ch.Close())
}

func TestDefaultMessageWriterBufferedStdio(t *testing.T) {
	var out bytes.Buffer
	ch, err := DefaultMessageWriter{Stdout: &out}.Open(context.Background(), Params{"buffered_stdio": "stdout"})
	require.NoError(t, err)
	require.NoError(t, ch.WriteMessage(Message{Method: MethodOpened, Params: []byte(`{"extras":{}}`)}))
	require.NoError(t, ch.WriteMessage(Message{Method: MethodClosed, Params: []byte(`{}`)}))
	assert.Empty(t, out.String(), "buffered until close")
	require.NoError(t, ch.Close())
	assert.Equal(t, []string{"opened", "closed"}, methods(parseMessages(t, out.Bytes())))
}

func TestDefaultMessageWriterErrors(t *testing.T) {
	ctx := context.Background()
	_, err := DefaultMessageWriter{}.Open(ctx, Params{"stdio": "stdin"})
	require.ErrorIs(t, err, ErrInvalidParams)
	assert.EqualError(t, err, `Invalid value for key "std", expected "stderr" or "stdout" but received 'stdin'`)
	_, err = DefaultMessageWriter{}.Open(ctx, Params{"buffered_stdio": true})
	assert.EqualError(t, err, `Invalid value for key "std", expected "stderr" or "stdout" but received True`)
	_, err = DefaultMessageWriter{}.Open(ctx, Params{"other": "b"})
	assert.EqualError(t, err, `Invalid params for PipesDefaultMessageWriter, expected key "path" or "std", received {'other': 'b'}`)
	_, err = DefaultMessageWriter{}.Open(ctx, Params{"path": filepath.Join(t.TempDir(), "no", "such", "dir", "m")})
	require.ErrorIs(t, err, ErrInvalidParams)
	require.ErrorIs(t, err, os.ErrNotExist)
}

func TestDBFSMessageWriter(t *testing.T) {
	root := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(root, "tmp", "msgs"), 0o755))
	w := DBFSMessageWriter{Root: root, Options: BlobStoreOptions{Interval: time.Hour}, ClusterDriverLogRoot: "dbfs:/logs/c1/driver"}
	ch, err := w.Open(context.Background(), Params{"path": "/tmp/msgs", "include_stdio_in_messages": false})
	require.NoError(t, err)
	extras, err := w.OpenedExtras(context.Background())
	require.NoError(t, err)
	assert.Equal(t, map[string]any{"cluster_driver_log_root": "dbfs:/logs/c1/driver"}, extras)
	require.NoError(t, ch.WriteMessage(Message{Method: MethodOpened, Params: []byte(`{"extras":{}}`)}))
	require.NoError(t, ch.WriteMessage(Message{Method: MethodClosed, Params: []byte(`{}`)}))
	require.NoError(t, ch.Close())
	raw, err := os.ReadFile(filepath.Join(root, "tmp", "msgs", "1.json"))
	require.NoError(t, err)
	assert.Equal(t, []string{"opened", "closed"}, methods(parseMessages(t, raw)))
	assert.NotContains(t, string(raw[len(raw)-1:]), "\n", "chunks have no trailing newline")

	extras, err = DBFSMessageWriter{}.OpenedExtras(context.Background())
	require.NoError(t, err)
	assert.Equal(t, map[string]any{}, extras)
}

func TestVolumesMessageWriter(t *testing.T) {
	dir := t.TempDir()
	ch, err := VolumesMessageWriter{Options: BlobStoreOptions{Interval: time.Hour}}.Open(context.Background(), Params{"path": dir})
	require.NoError(t, err)
	require.NoError(t, ch.WriteMessage(Message{Method: MethodClosed, Params: []byte(`{}`)}))
	require.NoError(t, ch.Close())
	raw, err := os.ReadFile(filepath.Join(dir, "1.json"))
	require.NoError(t, err)
	assert.Equal(t, []string{"closed"}, methods(parseMessages(t, raw)))
	_, err = VolumesMessageWriter{}.Open(context.Background(), Params{"path": 1.0})
	assert.EqualError(t, err, "Invalid type for parameter `path` passed from orchestration side to `PipesUnityCatalogVolumesMessageWriter`. Expected `<class 'str'>`, got `<class 'float'>`.")
}

func TestStreamChannelsRefuseWritesAfterClose(t *testing.T) {
	var buf bytes.Buffer
	for _, ch := range []MessageWriterChannel{NewStreamChannel(&buf), NewBufferedStreamChannel(&buf)} {
		require.NoError(t, ch.Close())
		assert.ErrorIs(t, ch.WriteMessage(Message{Method: MethodLog}), ErrClosed)
	}
	assert.Empty(t, buf.String())
}

func TestDefaultsPointToBlobStorePackages(t *testing.T) {
	ctx := context.Background()
	// S3, GCS and Azure send the same params: the hint names every store.
	_, err := DefaultMessageWriter{}.Open(ctx, Params{"bucket": "b", "key_prefix": "p"})
	require.ErrorIs(t, err, ErrInvalidParams)
	assert.EqualError(t, err, `Invalid params for PipesDefaultMessageWriter, expected key "path" or "std", received {'bucket': 'b', 'key_prefix': 'p'}`+
		` (Dagster's side uses a blob store: pass the matching message writer, e.g. pipes.WithMessageWriter(s3pipes.MessageWriter{Client: client}) for S3,`+
		` gcspipes.MessageWriter for Google Cloud Storage or azurepipes.MessageWriter for Azure Blob Storage)`)
	_, err = DefaultContextLoader{}.LoadContext(ctx, Params{"bucket": "b", "key": "k"})
	require.ErrorIs(t, err, ErrInvalidParams)
	assert.Contains(t, err.Error(), `received {'bucket': 'b', 'key': 'k'} (Dagster's side uses a blob store: pass the matching context loader,`+
		` e.g. pipes.WithContextLoader(s3pipes.ContextLoader{Client: client}) for S3, gcspipes.ContextLoader for Google Cloud Storage`+
		` or azurepipes.ContextLoader for Azure Blob Storage)`)

	// No "bucket", no blob-store hint.
	_, err = DefaultMessageWriter{}.Open(ctx, Params{"key_prefix": "p"})
	require.ErrorIs(t, err, ErrInvalidParams)
	assert.NotContains(t, err.Error(), "blob store")
}

func TestDefaultsPointToDatabricksWhenThePathCannotBeOpened(t *testing.T) {
	ctx := context.Background()
	// Dagster's Databricks readers and injectors send a "path" on DBFS or a
	// volume, which the defaults cannot reach.
	dir := filepath.Join(t.TempDir(), "not", "here")
	_, err := DefaultMessageWriter{}.Open(ctx, Params{"path": filepath.Join(dir, "messages")})
	require.ErrorIs(t, err, ErrInvalidParams)
	require.ErrorIs(t, err, os.ErrNotExist)
	assert.Contains(t, err.Error(), "cannot open the messages file Dagster named ("+filepath.Join(dir, "messages")+")"+
		" (if Dagster's side is Databricks, the path is on DBFS or a Unity Catalog volume:"+
		" pass pipes.WithMessageWriter(pipes.DBFSMessageWriter{}) or pipes.WithMessageWriter(pipes.VolumesMessageWriter{})): ")

	_, err = DefaultContextLoader{}.LoadContext(ctx, Params{"path": filepath.Join(dir, "context.json")})
	require.ErrorIs(t, err, ErrInvalidContext)
	require.ErrorIs(t, err, os.ErrNotExist)
	assert.Contains(t, err.Error(), "cannot read the context file Dagster named ("+filepath.Join(dir, "context.json")+")"+
		" (if Dagster's side is Databricks, the path is on DBFS or a Unity Catalog volume:"+
		" pass pipes.WithContextLoader(pipes.DBFSContextLoader{}) or pipes.WithContextLoader(pipes.VolumesContextLoader{})): ")

	// The Databricks loaders themselves do not point to themselves.
	_, err = DBFSContextLoader{Root: dir}.LoadContext(ctx, Params{"path": "/tmp/context.json"})
	require.ErrorIs(t, err, ErrInvalidContext)
	assert.NotContains(t, err.Error(), "side is Databricks")
	_, err = VolumesContextLoader{}.LoadContext(ctx, Params{"path": filepath.Join(dir, "context.json")})
	require.ErrorIs(t, err, ErrInvalidContext)
	assert.NotContains(t, err.Error(), "side is Databricks")

	// A file that exists but is not a context gets no hint.
	bad := filepath.Join(t.TempDir(), "bad.json")
	require.NoError(t, os.WriteFile(bad, []byte("{"), 0o600))
	_, err = DefaultContextLoader{}.LoadContext(ctx, Params{"path": bad})
	require.ErrorIs(t, err, ErrInvalidContext)
	assert.NotContains(t, err.Error(), "side is Databricks")
}
