package databrickspipes_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path"
	"strings"
	"testing"
	"time"

	"github.com/databricks/databricks-sdk-go"
	"github.com/databricks/databricks-sdk-go/apierr"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/dagster-pipes-go/pipes"
	"github.com/dagster-pipes-go/pipes/databrickspipes"
	"github.com/dagster-pipes-go/pipes/internal/dbxserver"
	"github.com/dagster-pipes-go/pipes/pipestest"
)

func TestMain(m *testing.M) {
	if os.Getenv(benchServerEnv) != "" {
		// The benchmarks' server process (bench_test.go).
		os.Exit(serveBenchServer())
	}
	goleak.VerifyTestMain(m,
		// The SDK's HTTP transport keeps idle connections to the test
		// servers; they go when the servers close them.
		goleak.IgnoreTopFunction("net/http.(*persistConn).readLoop"),
		goleak.IgnoreTopFunction("net/http.(*persistConn).writeLoop"),
		goleak.IgnoreTopFunction("internal/poll.runtime_pollWait"),
		// Started by an init function of a dependency of the SDK.
		goleak.IgnoreTopFunction("go.opencensus.io/stats/view.(*worker).start"),
	)
}

// newServer starts a loopback Databricks server and returns a workspace
// client on it.
func newServer(t *testing.T) (*dbxserver.Server, *databricks.WorkspaceClient) {
	t.Helper()
	srv := dbxserver.New(t, dbxserver.Options{})
	w, err := databrickspipes.NewWorkspaceClient(&databricks.Config{Host: srv.URL, Token: "test-token"})
	require.NoError(t, err)
	return srv, w
}

var noTicks = pipes.BlobStoreOptions{Interval: time.Hour}

func msg(method pipes.Method, params string) pipes.Message {
	return pipes.Message{Method: method, Params: []byte(params)}
}

func wire(method pipes.Method, params string) string {
	return string(msg(method, params).AppendJSON(nil))
}

// chunks reads the chunks of a message directory, checking they are
// exactly 1.json … N.json.
func chunks(t *testing.T, srv *dbxserver.Server, dir string) []string {
	t.Helper()
	names := srv.SortedPaths(dir)
	out := make([]string, len(names))
	for i := range names {
		want := fmt.Sprintf("%d.json", i+1)
		require.Contains(t, names, want, "chunk names are 1..N with no gap: %q", names)
		b, err := srv.ReadFile(path.Join(dir, want))
		require.NoError(t, err)
		out[i] = string(b)
	}
	return out
}

func readBack(t *testing.T, srv *dbxserver.Server, dir string) func() ([]byte, error) {
	return func() ([]byte, error) { return []byte(strings.Join(chunks(t, srv, dir), "\n")), nil }
}

var dirSeq int

func newDir(t *testing.T, srv *dbxserver.Server, root string) string {
	dirSeq++
	dir := fmt.Sprintf("%s/tmp/%s%d", root, strings.Repeat("x", 10), dirSeq)
	require.NoError(t, os.MkdirAll(srv.LocalPath(dir), 0o755))
	return dir
}

func TestDBFSMessageWriterConformance(t *testing.T) {
	srv, w := newServer(t)
	pipestest.TestMessageWriter(t, func(t *testing.T) pipestest.WriterHarness {
		dir := newDir(t, srv, "")
		return pipestest.WriterHarness{
			Writer:   databrickspipes.DBFSMessageWriter{Workspace: w, Options: pipes.BlobStoreOptions{Interval: 20 * time.Millisecond}, NoLogDiscovery: true},
			Params:   pipes.Params{"path": dir, "include_stdio_in_messages": false},
			ReadBack: readBack(t, srv, dir),
		}
	})
}

func TestVolumesMessageWriterConformance(t *testing.T) {
	srv, w := newServer(t)
	pipestest.TestMessageWriter(t, func(t *testing.T) pipestest.WriterHarness {
		dir := newDir(t, srv, "/Volumes/main/default/pipes")
		return pipestest.WriterHarness{
			Writer:   databrickspipes.VolumesMessageWriter{Workspace: w, Options: pipes.BlobStoreOptions{Interval: 20 * time.Millisecond}},
			Params:   pipes.Params{"path": dir, "include_stdio_in_messages": false},
			ReadBack: readBack(t, srv, dir),
		}
	})
}

func TestContextLoadersConformance(t *testing.T) {
	srv, w := newServer(t)
	t.Run("dbfs", func(t *testing.T) {
		pipestest.TestContextLoader(t, func(t *testing.T, data []byte) (pipes.ContextLoader, pipes.Params) {
			p := newDir(t, srv, "") + "/context.json"
			require.NoError(t, srv.WriteFile(p, data))
			return databrickspipes.DBFSContextLoader{Workspace: w}, pipes.Params{"path": p}
		})
	})
	t.Run("dbfs-scheme", func(t *testing.T) {
		pipestest.TestContextLoader(t, func(t *testing.T, data []byte) (pipes.ContextLoader, pipes.Params) {
			p := newDir(t, srv, "") + "/context.json"
			require.NoError(t, srv.WriteFile(p, data))
			return databrickspipes.DBFSContextLoader{Workspace: w}, pipes.Params{"path": "dbfs:" + p}
		})
	})
	t.Run("volumes", func(t *testing.T) {
		pipestest.TestContextLoader(t, func(t *testing.T, data []byte) (pipes.ContextLoader, pipes.Params) {
			p := newDir(t, srv, "/Volumes/main/default/pipes") + "/context.json"
			require.NoError(t, srv.WriteFile(p, data))
			return databrickspipes.VolumesContextLoader{Workspace: w}, pipes.Params{"path": p}
		})
	})
}

// A context larger than one DBFS read (1 MB) is read whole, in several
// reads with offsets.
func TestDBFSContextLoaderLargeContext(t *testing.T) {
	srv, w := newServer(t)
	big := strings.Repeat("é", 700_000) // 1.4 MB
	raw, err := json.Marshal(map[string]any{"run_id": "r", "extras": map[string]any{"big": big}})
	require.NoError(t, err)
	require.NoError(t, srv.WriteFile("/tmp/big/context.json", raw))
	data, err := databrickspipes.DBFSContextLoader{Workspace: w}.LoadContext(context.Background(), pipes.Params{"path": "/tmp/big/context.json"})
	require.NoError(t, err)
	assert.Equal(t, big, data.Extras["big"])
}

func TestBadInput(t *testing.T) {
	srv, w := newServer(t)
	ctx := context.Background()

	// Missing path: the reference's error text, for each component.
	for name, f := range map[string]func() error{
		"PipesDbfsContextLoader": func() error {
			_, err := databrickspipes.DBFSContextLoader{Workspace: w}.LoadContext(ctx, pipes.Params{})
			return err
		},
		"PipesUnityCatalogVolumesContextLoader": func() error {
			_, err := databrickspipes.VolumesContextLoader{Workspace: w}.LoadContext(ctx, pipes.Params{"bucket": "b"})
			return err
		},
		"PipesDbfsMessageWriter": func() error {
			_, err := databrickspipes.DBFSMessageWriter{Workspace: w}.Open(ctx, pipes.Params{})
			return err
		},
		"PipesUnityCatalogVolumesMessageWriter": func() error {
			_, err := databrickspipes.VolumesMessageWriter{Workspace: w}.Open(ctx, pipes.Params{"path": 3})
			return err
		},
	} {
		err := f()
		require.ErrorIs(t, err, pipes.ErrInvalidParams, name)
		assert.Contains(t, err.Error(), "Invalid type for parameter `path` passed from orchestration side to `"+name+"`", name)
	}

	// No client.
	_, err := databrickspipes.DBFSContextLoader{}.LoadContext(ctx, pipes.Params{"path": "/x"})
	require.ErrorIs(t, err, databrickspipes.ErrNoWorkspace)
	_, err = databrickspipes.VolumesMessageWriter{}.Open(ctx, pipes.Params{"path": "/x"})
	require.ErrorIs(t, err, databrickspipes.ErrNoWorkspace)

	// Unreadable context: missing file, not JSON, a directory.
	_, err = databrickspipes.DBFSContextLoader{Workspace: w}.LoadContext(ctx, pipes.Params{"path": "/tmp/none/context.json"})
	require.ErrorIs(t, err, pipes.ErrInvalidContext)
	assert.Contains(t, err.Error(), "dbfs:/tmp/none/context.json")
	assert.Contains(t, err.Error(), "No file or directory exists")
	require.ErrorIs(t, err, apierr.ErrResourceDoesNotExist, "the SDK's error is wrapped")
	_, err = databrickspipes.VolumesContextLoader{Workspace: w}.LoadContext(ctx, pipes.Params{"path": "/Volumes/a/b/c/none.json"})
	require.ErrorIs(t, err, pipes.ErrInvalidContext)
	assert.Contains(t, err.Error(), "/Volumes/a/b/c/none.json")
	require.NoError(t, srv.WriteFile("/tmp/bad/context.json", []byte("not json")))
	_, err = databrickspipes.DBFSContextLoader{Workspace: w}.LoadContext(ctx, pipes.Params{"path": "/tmp/bad/context.json"})
	require.ErrorIs(t, err, pipes.ErrInvalidContext)
	assert.Contains(t, err.Error(), "dbfs:/tmp/bad/context.json")
	_, err = databrickspipes.DBFSContextLoader{Workspace: w}.LoadContext(ctx, pipes.Params{"path": "/tmp/bad"})
	require.ErrorIs(t, err, pipes.ErrInvalidContext)
	assert.Contains(t, err.Error(), "is a directory")
}

// Chunks stay within what Dagster's DBFS reader reads (0.5 MB); a message
// that could never fit is refused, and nothing of it is written.
func TestDBFSChunkSize(t *testing.T) {
	srv, w := newServer(t)
	dir := newDir(t, srv, "")
	ch, err := databrickspipes.DBFSMessageWriter{Workspace: w, Options: noTicks}.Open(context.Background(), pipes.Params{"path": dir})
	require.NoError(t, err)
	payload := strings.Repeat("x", 100_000)
	for i := range 12 {
		require.NoError(t, ch.WriteMessage(msg(pipes.MethodReportCustomMessage, fmt.Sprintf(`{"payload":"%d %s"}`, i, payload))))
	}
	err = ch.WriteMessage(msg(pipes.MethodReportCustomMessage, `{"payload":"`+strings.Repeat("y", databrickspipes.MaxDBFSChunkSize)+`"}`))
	require.ErrorIs(t, err, databrickspipes.ErrMessageTooLarge)
	require.NoError(t, ch.WriteMessage(msg(pipes.MethodClosed, `{}`)))
	require.NoError(t, ch.Close())

	got := chunks(t, srv, dir)
	require.GreaterOrEqual(t, len(got), 3)
	var lines []string
	for _, c := range got {
		assert.LessOrEqual(t, len(c), databrickspipes.MaxDBFSChunkSize)
		lines = append(lines, strings.Split(c, "\n")...)
	}
	require.Len(t, lines, 13)
	assert.Equal(t, wire(pipes.MethodClosed, `{}`), lines[12])
	assert.NotContains(t, strings.Join(lines, ""), "yyyy")
}

// Server errors and throttling: the SDK retries 429 and 503; a 500 keeps
// the chunk queued under its number until the next upload. Nothing is lost
// and the numbering has no gap.
func TestUploadFaultsLoseNothing(t *testing.T) {
	for _, kind := range []string{"dbfs", "volumes"} {
		t.Run(kind, func(t *testing.T) {
			srv, w := newServer(t)
			var (
				ch     pipes.MessageWriterChannel
				err    error
				dir    string
				prefix string
			)
			if kind == "dbfs" {
				dir = newDir(t, srv, "")
				prefix = "/api/2.0/dbfs/put"
				ch, err = databrickspipes.DBFSMessageWriter{Workspace: w, Options: noTicks}.Open(context.Background(), pipes.Params{"path": dir})
			} else {
				dir = newDir(t, srv, "/Volumes/main/default/pipes")
				prefix = "/api/2.0/fs/files/"
				ch, err = databrickspipes.VolumesMessageWriter{Workspace: w, Options: noTicks}.Open(context.Background(), pipes.Params{"path": dir})
			}
			require.NoError(t, err)
			bc := blobChannel(t, ch)
			ctx := context.Background()

			require.NoError(t, ch.WriteMessage(msg(pipes.MethodOpened, `{"extras":{}}`)))
			srv.Fail(dbxserver.Rule{Match: dbxserver.Path("", prefix), Status: 429, Times: 2})
			require.NoError(t, bc.Flush(ctx), "the SDK retries throttled requests")

			require.NoError(t, ch.WriteMessage(msg(pipes.MethodLog, `{"message":"one","level":"INFO"}`)))
			srv.Fail(dbxserver.Rule{Match: dbxserver.Path("", prefix), Status: 500, Times: 1})
			require.Error(t, bc.Flush(ctx), "a 500 is not retried by the SDK")
			require.NoError(t, ch.WriteMessage(msg(pipes.MethodLog, `{"message":"two","level":"INFO"}`)))
			srv.Fail(dbxserver.Rule{Match: dbxserver.Path("", prefix), Status: 500, AfterServe: true, Times: 1})
			require.Error(t, bc.Flush(ctx), "the answer is lost although the server wrote the chunk")
			require.NoError(t, ch.WriteMessage(msg(pipes.MethodClosed, `{}`)))
			require.NoError(t, ch.Close(), "the final flush delivers the rest")

			assert.Equal(t, []string{
				wire(pipes.MethodOpened, `{"extras":{}}`),
				wire(pipes.MethodLog, `{"message":"one","level":"INFO"}`),
				wire(pipes.MethodLog, `{"message":"two","level":"INFO"}`) + "\n" + wire(pipes.MethodClosed, `{}`),
			}, chunks(t, srv, dir))
		})
	}
}

// Close reports what it could not deliver.
func TestCloseReportsUndelivered(t *testing.T) {
	srv, w := newServer(t)
	dir := newDir(t, srv, "/Volumes/main/default/pipes")
	ch, err := databrickspipes.VolumesMessageWriter{Workspace: w, Options: pipes.BlobStoreOptions{Interval: time.Hour, FinalAttempts: 2}}.
		Open(context.Background(), pipes.Params{"path": dir})
	require.NoError(t, err)
	require.NoError(t, ch.WriteMessage(msg(pipes.MethodClosed, `{}`)))
	srv.Fail(dbxserver.Rule{Status: 500, Times: -1})
	err = ch.Close()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "not delivered")
	assert.Contains(t, err.Error(), dir+"/1.json")
	assert.Empty(t, srv.SortedPaths(dir))
}

func blobChannel(t *testing.T, ch pipes.MessageWriterChannel) interface {
	Flush(context.Context) error
} {
	t.Helper()
	f, ok := ch.(interface{ Flush(context.Context) error })
	require.True(t, ok, "the channel can be flushed by hand: %T", ch)
	return f
}

func TestDBFSOpenedExtrasDiscovery(t *testing.T) {
	srv, w := newServer(t)
	srv.AddCluster("logs", map[string]any{"cluster_log_conf": map[string]any{"dbfs": map[string]any{"destination": "dbfs:/cluster-logs"}}})
	srv.AddCluster("nologs", map[string]any{"cluster_name": "x"})
	ctx := context.Background()
	extras := func(wr databrickspipes.DBFSMessageWriter) map[string]any {
		t.Helper()
		e, err := wr.OpenedExtras(ctx)
		require.NoError(t, err, "never an error")
		return e
	}
	t.Setenv("DATABRICKS_CLUSTER_ID", "")
	t.Setenv("DB_CLUSTER_ID", "logs")
	assert.Equal(t, map[string]any{"cluster_driver_log_root": "dbfs:/cluster-logs/logs/driver"}, extras(databrickspipes.DBFSMessageWriter{Workspace: w}))
	assert.Equal(t, map[string]any{"cluster_driver_log_root": "dbfs:/cluster-logs/logs/driver"}, extras(databrickspipes.DBFSMessageWriter{Workspace: w, ClusterID: "logs"}))
	assert.Equal(t, map[string]any{}, extras(databrickspipes.DBFSMessageWriter{Workspace: w, NoLogDiscovery: true}))
	assert.Equal(t, map[string]any{"cluster_driver_log_root": "/given"}, extras(databrickspipes.DBFSMessageWriter{Workspace: w, ClusterDriverLogRoot: "/given"}))
	t.Setenv("DB_CLUSTER_ID", "nologs")
	assert.Equal(t, map[string]any{}, extras(databrickspipes.DBFSMessageWriter{Workspace: w}))
	t.Setenv("DB_CLUSTER_ID", "missing")
	assert.Equal(t, map[string]any{}, extras(databrickspipes.DBFSMessageWriter{Workspace: w}))
	t.Setenv("DB_CLUSTER_ID", "")
	assert.Equal(t, map[string]any{}, extras(databrickspipes.DBFSMessageWriter{Workspace: w}), "no cluster id")

	// The SDK's configuration names the cluster.
	w2, err := databrickspipes.NewWorkspaceClient(&databricks.Config{Host: srv.URL, Token: "t", ClusterID: "logs"})
	require.NoError(t, err)
	assert.Equal(t, map[string]any{"cluster_driver_log_root": "dbfs:/cluster-logs/logs/driver"}, extras(databrickspipes.DBFSMessageWriter{Workspace: w2}))

	// Server errors: {}.
	t.Setenv("DB_CLUSTER_ID", "logs")
	srv.Fail(dbxserver.Rule{Match: dbxserver.Path("", "/api/2.1/clusters/get"), Status: 500, Times: -1})
	assert.Equal(t, map[string]any{}, extras(databrickspipes.DBFSMessageWriter{Workspace: w}))
}

// A whole session through the SDK writers with stdio capture asked for by
// the reader: pipes.Open wraps the channel, the writer does not.
func TestSessionThroughVolumes(t *testing.T) {
	for _, k := range []string{"DAGSTER_PIPES_CONTEXT", "DAGSTER_PIPES_MESSAGES"} {
		t.Setenv(k, "")
		require.NoError(t, os.Unsetenv(k))
	}
	srv, w := newServer(t)
	ctxDir := newDir(t, srv, "/Volumes/main/default/pipes")
	msgDir := newDir(t, srv, "/Volumes/main/default/pipes")
	require.NoError(t, srv.WriteFile(ctxDir+"/context.json", []byte(`{"asset_keys":["a"],"run_id":"r1","extras":{"k":"v"}}`)))
	ctxParam, err := pipes.EncodeParam(map[string]any{"path": ctxDir + "/context.json"})
	require.NoError(t, err)
	msgParam, err := pipes.EncodeParam(map[string]any{"path": msgDir})
	require.NoError(t, err)
	p, err := pipes.New(context.Background(),
		// As Dagster passes them to a serverless task: arguments.
		pipes.WithParamsLoader(pipes.EnvParamsLoader{Args: []string{"--dagster-pipes-context", ctxParam, "--dagster-pipes-messages", msgParam}}),
		pipes.WithContextLoader(databrickspipes.VolumesContextLoader{Workspace: w}),
		pipes.WithMessageWriter(databrickspipes.VolumesMessageWriter{Workspace: w, Options: noTicks}))
	require.NoError(t, err)
	assert.Equal(t, "r1", p.RunID())
	assert.Equal(t, "v", p.Extras()["k"])
	require.NoError(t, p.ReportAssetMaterialization(pipes.Materialization{Metadata: pipes.Metadata{"n": 1}}))
	require.NoError(t, p.Close())
	all := strings.Join(chunks(t, srv, msgDir), "\n")
	assert.Contains(t, all, `"method":"opened"`)
	assert.Contains(t, all, `"method":"report_asset_materialization"`)
	assert.True(t, strings.HasSuffix(all, wire(pipes.MethodClosed, `{}`)), all)
}

// The limit is on the message's wire form, exactly.
func TestDBFSMessageSizeLimitIsExact(t *testing.T) {
	srv, w := newServer(t)
	dir := newDir(t, srv, "")
	ch, err := databrickspipes.DBFSMessageWriter{Workspace: w, Options: noTicks}.Open(context.Background(), pipes.Params{"path": dir})
	require.NoError(t, err)
	sized := func(n int) pipes.Message {
		m := msg(pipes.MethodReportCustomMessage, `{"payload":""}`)
		pad := n - len(m.AppendJSON(nil))
		return msg(pipes.MethodReportCustomMessage, `{"payload":"`+strings.Repeat("p", pad)+`"}`)
	}
	atLimit := sized(databrickspipes.MaxDBFSChunkSize)
	require.Len(t, atLimit.AppendJSON(nil), databrickspipes.MaxDBFSChunkSize)
	require.ErrorIs(t, ch.WriteMessage(sized(databrickspipes.MaxDBFSChunkSize+1)), databrickspipes.ErrMessageTooLarge)
	require.NoError(t, ch.WriteMessage(msg(pipes.MethodOpened, `{"extras":{}}`)))
	require.NoError(t, ch.WriteMessage(atLimit))
	require.NoError(t, ch.WriteMessage(msg(pipes.MethodClosed, `{}`)))
	require.NoError(t, ch.Close())
	got := chunks(t, srv, dir)
	require.Len(t, got, 3, "the message at the limit goes alone")
	assert.Len(t, got[1], databrickspipes.MaxDBFSChunkSize)
	// Dagster's reader reads a chunk with one dbfs/read without a length.
	_, out := readDefault(t, srv, dir+"/2.json")
	assert.Equal(t, got[1], out)
}

// readDefault reads a file as Dagster's DBFS reader does: dbfs/read with
// only the path.
func readDefault(t *testing.T, srv *dbxserver.Server, p string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, srv.URL+"/api/2.0/dbfs/read?path="+p, nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer t")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	var body struct {
		BytesRead int    `json:"bytes_read"`
		Data      string `json:"data"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&body))
	data, err := base64.StdEncoding.DecodeString(body.Data)
	require.NoError(t, err)
	return body.BytesRead, string(data)
}
