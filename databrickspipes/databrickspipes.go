// Package databrickspipes carries Dagster Pipes traffic through Databricks
// storage over its REST API, on github.com/databricks/databricks-sdk-go. It
// is the Go side of dagster-databricks' PipesDatabricksClient (context and
// messages in DBFS) and PipesDatabricksServerlessClient (Unity Catalog
// volumes), for a Go program that runs in a Databricks job:
//
//   - [DBFSContextLoader] and [DBFSMessageWriter] work with
//     PipesDbfsContextInjector and PipesDbfsMessageReader, through the DBFS
//     API;
//   - [VolumesContextLoader] and [VolumesMessageWriter] work with
//     PipesUnityCatalogVolumesContextInjector and
//     PipesUnityCatalogVolumesMessageReader, through the Files API.
//
// Unlike the root package's DBFS and volumes types, which go through the
// /dbfs and /Volumes FUSE mounts of a cluster, these need no mount: the job
// can run anywhere the workspace is reachable. The writers upload numbered
// chunks "<path>/1.json", "<path>/2.json", … at a fixed interval (10 s by
// default) and once more on close, so that the last chunk holds the closed
// message; a failed upload keeps its number and is retried, so that
// Dagster's reader sees no gap; Close reports what could not be delivered.
// The SDK itself retries throttled (429) and unavailable (503) requests.
//
// [DBFSMessageWriter] also announces where the cluster delivers its driver
// logs (the opened extra "cluster_driver_log_root"), found through the
// Clusters API from the cluster id in the environment, so that Dagster
// forwards the driver's stdout and stderr.
//
// Authentication is the SDK's: [NewWorkspaceClient] reads DATABRICKS_HOST,
// DATABRICKS_TOKEN, a configuration profile, OAuth, Azure or Google
// credentials, as every Databricks tool does.
//
// Dagster passes the bootstrap values to a task on an existing cluster or
// on serverless compute as command-line arguments; the root package's
// default params loader reads them there when the environment has none, so
// the wiring is only:
//
//	w, err := databrickspipes.NewWorkspaceClient()
//	…
//	err = pipes.Run(ctx, job,
//		pipes.WithContextLoader(databrickspipes.DBFSContextLoader{Workspace: w}),
//		pipes.WithMessageWriter(databrickspipes.DBFSMessageWriter{Workspace: w}))
package databrickspipes

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"
	"time"

	"github.com/databricks/databricks-sdk-go"
	"github.com/databricks/databricks-sdk-go/service/files"

	"github.com/dagster-pipes-go/pipes"
)

// PathKey is the params key of Dagster's DBFS and volumes injectors and
// readers: the context file, or the directory of the message chunks.
const PathKey = "path"

// Component names used in error texts: the reference's class names.
const (
	dbfsLoaderName    = "PipesDbfsContextLoader"
	dbfsWriterName    = "PipesDbfsMessageWriter"
	volumesLoaderName = "PipesUnityCatalogVolumesContextLoader"
	volumesWriterName = "PipesUnityCatalogVolumesMessageWriter"
)

// MaxDBFSChunkSize is the largest chunk [DBFSMessageWriter] uploads:
// Dagster's DBFS reader reads each chunk with one dbfs/read call without a
// length, which returns at most 0.5 MB.
const MaxDBFSChunkSize = pipes.MaxDBFSChunkSize

// ErrNoWorkspace is returned when the Workspace field of a loader or writer
// is nil.
var ErrNoWorkspace = errors.New("databrickspipes: no Databricks workspace client: set the Workspace field (see NewWorkspaceClient)")

// ErrMessageTooLarge is returned by the channel of [DBFSMessageWriter] for
// a message larger than [MaxDBFSChunkSize]: Dagster's DBFS reader could not
// read it whole. Nothing of it is written.
var ErrMessageTooLarge = errors.New("databrickspipes: message larger than Dagster's DBFS reader reads per chunk (0.5 MB)")

// NewWorkspaceClient returns a workspace client configured the SDK's usual
// way (environment variables such as DATABRICKS_HOST and DATABRICKS_TOKEN,
// ~/.databrickscfg profiles, OAuth, cloud credentials). cfg may be nil.
func NewWorkspaceClient(cfg ...*databricks.Config) (*databricks.WorkspaceClient, error) {
	w, err := databricks.NewWorkspaceClient(cfg...)
	if err != nil {
		return nil, fmt.Errorf("databrickspipes: configure the Databricks workspace client (DATABRICKS_HOST, DATABRICKS_TOKEN, or a profile): %w", err)
	}
	return w, nil
}

// dbfsPath strips the "dbfs:" scheme the DBFS API does not need.
func dbfsPath(p string) string { return strings.TrimPrefix(p, "dbfs:") }

// ---------------------------------------------------------------------------
// DBFS

// DBFSContextLoader is a [pipes.ContextLoader] that reads the context file
// that Dagster's PipesDbfsContextInjector put in DBFS (param "path"),
// through the DBFS API.
type DBFSContextLoader struct {
	// Workspace is the client. Required.
	Workspace *databricks.WorkspaceClient
}

var _ pipes.ContextLoader = DBFSContextLoader{}

// LoadContext implements [pipes.ContextLoader]. A missing or unreadable
// file is an error matching [pipes.ErrInvalidContext] that wraps the SDK's
// error.
func (l DBFSContextLoader) LoadContext(ctx context.Context, params pipes.Params) (*pipes.ContextData, error) {
	p, err := params.String(PathKey, dbfsLoaderName)
	if err != nil {
		return nil, err
	}
	if l.Workspace == nil {
		return nil, ErrNoWorkspace
	}
	p = dbfsPath(p)
	return pipes.ReadContextBlob(ctx, "dbfs:"+p, func(ctx context.Context) (io.ReadCloser, error) {
		return readDBFS(ctx, l.Workspace.Dbfs, p, pipes.MaxContextSize)
	})
}

// readDBFS reads a whole DBFS file in reads of at most 1 MB, up to limit
// bytes (one more, so that the caller can see it is larger).
func readDBFS(ctx context.Context, dbfs files.DbfsInterface, p string, limit int64) (io.ReadCloser, error) {
	st, err := dbfs.GetStatus(ctx, files.GetStatusRequest{Path: p})
	if err != nil {
		return nil, err
	}
	if st.IsDir {
		return nil, fmt.Errorf("dbfs:%s is a directory", p)
	}
	var buf bytes.Buffer
	const block = 1 << 20
	for int64(buf.Len()) < st.FileSize && int64(buf.Len()) <= limit {
		resp, err := dbfs.Read(ctx, files.ReadDbfsRequest{Path: p, Offset: int64(buf.Len()), Length: block})
		if err != nil {
			return nil, err
		}
		data, err := base64.StdEncoding.DecodeString(resp.Data)
		if err != nil {
			return nil, fmt.Errorf("dbfs:%s: the read answer is not base64: %w", p, err)
		}
		if len(data) == 0 {
			break // the file shrank under us
		}
		buf.Write(data)
	}
	return io.NopCloser(&buf), nil
}

// DBFSMessageWriter is a [pipes.MessageWriter] that uploads message chunks
// into the DBFS directory named by Dagster's PipesDbfsMessageReader (param
// "path"), through the DBFS API. Chunks are at most [MaxDBFSChunkSize].
//
// When the reader sets "include_stdio_in_messages", [pipes.Open] forwards
// the process's stdout and stderr too.
type DBFSMessageWriter struct {
	// Workspace is the client. Required.
	Workspace *databricks.WorkspaceClient
	// Options tune the uploads; the zero value uploads every 10 s, as the
	// reference does. MaxChunkSize is capped at MaxDBFSChunkSize.
	Options pipes.BlobStoreOptions
	// ClusterDriverLogRoot, if set, is announced as the opened extra
	// "cluster_driver_log_root". When empty it is discovered: see
	// [DBFSMessageWriter.OpenedExtras].
	ClusterDriverLogRoot string
	// ClusterID is the cluster whose log delivery is looked up; "" means
	// the one this process runs on (DB_CLUSTER_ID, set by the Databricks
	// runtime, or else the SDK's DATABRICKS_CLUSTER_ID).
	ClusterID string
	// NoLogDiscovery turns the discovery off.
	NoLogDiscovery bool
}

var (
	_ pipes.MessageWriter        = DBFSMessageWriter{}
	_ pipes.OpenedExtrasProvider = DBFSMessageWriter{}
)

// Open implements [pipes.MessageWriter]. The channel's Close performs the
// final upload and returns an error if some messages could not be
// delivered.
func (w DBFSMessageWriter) Open(_ context.Context, params pipes.Params) (pipes.MessageWriterChannel, error) {
	dir, err := params.String(PathKey, dbfsWriterName)
	if err != nil {
		return nil, err
	}
	if w.Workspace == nil {
		return nil, ErrNoWorkspace
	}
	return NewDBFSChannel(w.Workspace.Dbfs, dbfsPath(dir), w.Options), nil
}

// OpenedExtras implements [pipes.OpenedExtrasProvider]: the opened extra
// "cluster_driver_log_root" that makes Dagster's DBFS reader forward the
// driver's logs. Unless given, it comes from the cluster's log delivery
// configuration (cluster_log_conf.dbfs) read with the Clusters API:
// "<destination>/<cluster id>/driver". Without a cluster id, a log
// delivery to DBFS, or on any API error, the extras are empty: never an
// error.
func (w DBFSMessageWriter) OpenedExtras(ctx context.Context) (map[string]any, error) {
	root := w.ClusterDriverLogRoot
	if root == "" && !w.NoLogDiscovery && w.Workspace != nil {
		root = w.discoverLogRoot(ctx)
	}
	if root == "" {
		return map[string]any{}, nil
	}
	return map[string]any{pipes.ClusterDriverLogRootKey: root}, nil
}

func (w DBFSMessageWriter) discoverLogRoot(ctx context.Context) string {
	id := w.ClusterID
	if id == "" {
		id = pipes.ClusterIDFromEnv()
	}
	if id == "" && w.Workspace.Config != nil {
		id = w.Workspace.Config.ClusterID
	}
	if id == "" {
		return ""
	}
	ctx, cancel := context.WithTimeout(ctx, logDiscoveryTimeout)
	defer cancel()
	cluster, err := w.Workspace.Clusters.GetByClusterId(ctx, id)
	if err != nil || cluster.ClusterLogConf == nil || cluster.ClusterLogConf.Dbfs == nil {
		return ""
	}
	return pipes.ClusterDriverLogRoot(cluster.ClusterLogConf.Dbfs.Destination, id)
}

// NewDBFSChannel returns a channel that uploads the messages written to it
// as the DBFS files "<dir>/1.json", "<dir>/2.json", … (each written whole,
// with one put call). It is the reference's DBFS channel, for a job that
// does not take its directory from Dagster's params.
func NewDBFSChannel(dbfs files.DbfsInterface, dir string, opts pipes.BlobStoreOptions) pipes.MessageWriterChannel {
	if opts.MaxChunkSize <= 0 || opts.MaxChunkSize > MaxDBFSChunkSize {
		opts.MaxChunkSize = MaxDBFSChunkSize
	}
	dir = dbfsPath(dir)
	ch := pipes.NewBlobStoreChannel(func(ctx context.Context, chunk []byte, index int) error {
		p := path.Join(dir, pipes.ChunkKey("", index))
		// put writes the file in one request (contents up to 1 MB), so
		// Dagster's reader never sees it half written; overwrite makes a
		// retry after a lost answer harmless.
		err := dbfs.Put(ctx, files.Put{Path: p, Contents: base64.StdEncoding.EncodeToString(chunk), Overwrite: true})
		if err != nil {
			return fmt.Errorf("databrickspipes: upload to dbfs:%s: %w", p, err)
		}
		return nil
	}, opts)
	return &sizedChannel{BlobStoreChannel: ch, max: opts.MaxChunkSize}
}

// sizedChannel refuses a message that could not fit in a chunk.
type sizedChannel struct {
	*pipes.BlobStoreChannel
	max int
}

// envelope is the size of a message's wire form beyond its method and
// params: {"__dagster_pipes_version":"0.1","method":"","params":}.
const envelope = len(`{"__dagster_pipes_version":"0.1","method":"","params":}`)

func (c *sizedChannel) WriteMessage(msg pipes.Message) error {
	// An upper bound first (the method may need escaping, empty params
	// are "null"); the exact size only near the limit.
	if envelope+2*len(msg.Method)+len(msg.Params)+4 > c.max {
		if n := len(msg.AppendJSON(nil)); n > c.max {
			return fmt.Errorf("%w: a %s message of %d bytes (limit %d); report large data by reference (a path or URL) instead",
				ErrMessageTooLarge, msg.Method, n, c.max)
		}
	}
	return c.BlobStoreChannel.WriteMessage(msg)
}

// ---------------------------------------------------------------------------
// Unity Catalog volumes

// VolumesContextLoader is a [pipes.ContextLoader] that reads the context
// file that Dagster's PipesUnityCatalogVolumesContextInjector put in a
// Unity Catalog volume (param "path", /Volumes/…), through the Files API.
type VolumesContextLoader struct {
	// Workspace is the client. Required.
	Workspace *databricks.WorkspaceClient
}

var _ pipes.ContextLoader = VolumesContextLoader{}

// LoadContext implements [pipes.ContextLoader]. A missing or unreadable
// file is an error matching [pipes.ErrInvalidContext] that wraps the SDK's
// error.
func (l VolumesContextLoader) LoadContext(ctx context.Context, params pipes.Params) (*pipes.ContextData, error) {
	p, err := params.String(PathKey, volumesLoaderName)
	if err != nil {
		return nil, err
	}
	if l.Workspace == nil {
		return nil, ErrNoWorkspace
	}
	return pipes.ReadContextBlob(ctx, p, func(ctx context.Context) (io.ReadCloser, error) {
		resp, err := l.Workspace.Files.Download(ctx, files.DownloadRequest{FilePath: p})
		if err != nil {
			return nil, err
		}
		return resp.Contents, nil
	})
}

// VolumesMessageWriter is a [pipes.MessageWriter] that uploads message
// chunks into the Unity Catalog volume directory named by Dagster's
// PipesUnityCatalogVolumesMessageReader (param "path"), through the Files
// API. That reader asks for stdout and stderr by default
// ("include_stdio_in_messages"), which [pipes.Open] honours.
type VolumesMessageWriter struct {
	// Workspace is the client. Required.
	Workspace *databricks.WorkspaceClient
	// Options tune the uploads; the zero value uploads every 10 s, as the
	// reference does.
	Options pipes.BlobStoreOptions
}

var _ pipes.MessageWriter = VolumesMessageWriter{}

// Open implements [pipes.MessageWriter]. The channel it returns is a
// [*pipes.BlobStoreChannel]; its Close performs the final upload and
// returns an error if some messages could not be delivered.
func (w VolumesMessageWriter) Open(_ context.Context, params pipes.Params) (pipes.MessageWriterChannel, error) {
	dir, err := params.String(PathKey, volumesWriterName)
	if err != nil {
		return nil, err
	}
	if w.Workspace == nil {
		return nil, ErrNoWorkspace
	}
	return NewVolumesChannel(w.Workspace.Files, dir, w.Options), nil
}

// NewVolumesChannel returns a channel that uploads the messages written to
// it as the files "<dir>/1.json", "<dir>/2.json", … of a Unity Catalog
// volume. It is the reference's volumes channel, for a job that does not
// take its directory from Dagster's params.
func NewVolumesChannel(fs files.FilesInterface, dir string, opts pipes.BlobStoreOptions) *pipes.BlobStoreChannel {
	return pipes.NewBlobStoreChannel(func(ctx context.Context, chunk []byte, index int) error {
		p := strings.TrimRight(dir, "/") + "/" + pipes.ChunkKey("", index)
		// A seekable body lets the SDK resend it when it retries.
		err := fs.Upload(ctx, files.UploadRequest{FilePath: p, Contents: seekCloser{bytes.NewReader(chunk)}, Overwrite: true})
		if err != nil {
			return fmt.Errorf("databrickspipes: upload to %s: %w", p, err)
		}
		return nil
	}, opts)
}

// logDiscoveryTimeout bounds the Clusters API call of the log root
// discovery.
const logDiscoveryTimeout = 10 * time.Second

// seekCloser is a chunk's upload body: an io.ReadCloser that can be
// rewound.
type seekCloser struct{ *bytes.Reader }

func (seekCloser) Close() error { return nil }
