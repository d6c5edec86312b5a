package pipes

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
)

// MessageWriter opens the channel that messages go through, using the
// decoded messages params that Dagster's message reader sent.
//
// Implementations: [DefaultMessageWriter] (file, stdout/stderr),
// [DBFSMessageWriter], [VolumesMessageWriter]; s3pipes and other packages
// add cloud stores on [NewBlobStoreChannel].
type MessageWriter interface {
	Open(ctx context.Context, params Params) (MessageWriterChannel, error)
}

// OpenedExtrasProvider is implemented by a [MessageWriter] that has extras
// to announce in the opened message (the reference's get_opened_extras),
// such as where a cluster ships its driver logs. It is called after Open.
type OpenedExtrasProvider interface {
	OpenedExtras(ctx context.Context) (map[string]any, error)
}

// Params keys understood by the message writers.
const (
	MessagesPathKey          = "path"
	MessagesStdioKey         = "stdio"
	MessagesBufferedStdioKey = "buffered_stdio"
	IncludeStdioInMessages   = "include_stdio_in_messages"
	StreamStdout             = "stdout"
	StreamStderr             = "stderr"
)

// DefaultMessageWriter is the default writer. Depending on the params it
// writes to the file in "path" (Dagster's default temp-file reader), to the
// stream named by "stdio" ("stdout" or "stderr", read by log-scraping
// readers such as Kubernetes and CloudWatch), or buffers for the stream named
// by "buffered_stdio" and writes everything at close (Lambda).
type DefaultMessageWriter struct {
	// Stdout and Stderr are the streams for the stdio variants; nil means
	// os.Stdout and os.Stderr.
	Stdout, Stderr io.Writer
}

// Open implements [MessageWriter].
func (w DefaultMessageWriter) Open(_ context.Context, params Params) (MessageWriterChannel, error) {
	if _, ok := params[MessagesPathKey]; ok {
		path, err := params.String(MessagesPathKey, "PipesDefaultMessageWriter")
		if err != nil {
			return nil, err
		}
		ch, err := NewFileChannel(path)
		if err != nil {
			return nil, withHint(err, databricksHint("WithMessageWriter", "DBFSMessageWriter", "VolumesMessageWriter"))
		}
		return ch, nil
	}
	if v, ok := params[MessagesStdioKey]; ok {
		s, err := w.stream(v)
		if err != nil {
			return nil, err
		}
		return NewStreamChannel(s), nil
	}
	if v, ok := params[MessagesBufferedStdioKey]; ok {
		s, err := w.stream(v)
		if err != nil {
			return nil, err
		}
		return NewBufferedStreamChannel(s), nil
	}
	return nil, newError(ErrInvalidParams,
		`Invalid params for PipesDefaultMessageWriter, expected key "path" or "std", received %s%s`, pyDictRepr(params), blobStoreHint(params, "message writer", "WithMessageWriter", "MessageWriter"))
}

func (w DefaultMessageWriter) stream(v any) (io.Writer, error) {
	switch v {
	case StreamStdout:
		if w.Stdout != nil {
			return w.Stdout, nil
		}
		return os.Stdout, nil
	case StreamStderr:
		if w.Stderr != nil {
			return w.Stderr, nil
		}
		return os.Stderr, nil
	}
	return nil, newError(ErrInvalidParams,
		`Invalid value for key "std", expected "stderr" or "stdout" but received %s`, pyRepr(v))
}

// DBFSMessageWriter writes chunks into a DBFS directory through the /dbfs
// mount of a Databricks cluster (param "path", as Dagster's DBFS reader
// sends it).
type DBFSMessageWriter struct {
	// Options tune the chunk uploads (interval 10 s by default);
	// MaxChunkSize is at most MaxDBFSChunkSize.
	Options BlobStoreOptions
	// Root is the mount point; "" means "/dbfs".
	Root string
	// ClusterDriverLogRoot, if set, is announced in the opened message as
	// "cluster_driver_log_root" so that Dagster forwards the driver's
	// stdout and stderr.
	ClusterDriverLogRoot string
	// DiscoverLogRoot, if set, is called when ClusterDriverLogRoot is empty
	// to find it from the cluster's log delivery configuration; "" means
	// none. dbfslogs.DiscoverDriverLogRoot does it with the Clusters API.
	// It is not the default because it needs net/http, which this package
	// keeps out of every job's binary (it costs about 2 ms of start-up).
	DiscoverLogRoot func(ctx context.Context) string
}

// Open implements [MessageWriter].
func (w DBFSMessageWriter) Open(_ context.Context, params Params) (MessageWriterChannel, error) {
	path, err := params.String(MessagesPathKey, "PipesDbfsMessageWriter")
	if err != nil {
		return nil, err
	}
	opts := w.Options
	if opts.MaxChunkSize <= 0 || opts.MaxChunkSize > MaxDBFSChunkSize {
		opts.MaxChunkSize = MaxDBFSChunkSize
	}
	return NewBufferedFilesystemChannel(dbfsLocalPath(w.Root, path), opts), nil
}

// MaxDBFSChunkSize bounds the chunks of [DBFSMessageWriter]: Dagster's DBFS
// reader reads each chunk with one DBFS API read without a length, which
// returns at most 0.5 MB.
const MaxDBFSChunkSize = 512 << 10

// OpenedExtras implements [OpenedExtrasProvider].
// Without a log root it announces no extras ({}), never an error.
func (w DBFSMessageWriter) OpenedExtras(ctx context.Context) (map[string]any, error) {
	root := w.ClusterDriverLogRoot
	if root == "" && w.DiscoverLogRoot != nil {
		root = w.DiscoverLogRoot(ctx)
	}
	if root == "" {
		return map[string]any{}, nil
	}
	return map[string]any{ClusterDriverLogRootKey: root}, nil
}

// VolumesMessageWriter writes chunks into a Unity Catalog volume directory
// (param "path", used as is: /Volumes/...), for Databricks serverless.
type VolumesMessageWriter struct {
	// Options tune the chunk uploads (interval 10 s by default).
	Options BlobStoreOptions
}

// Open implements [MessageWriter].
func (w VolumesMessageWriter) Open(_ context.Context, params Params) (MessageWriterChannel, error) {
	path, err := params.String(MessagesPathKey, "PipesUnityCatalogVolumesMessageWriter")
	if err != nil {
		return nil, err
	}
	return NewBufferedFilesystemChannel(path, w.Options), nil
}

// blobStoreHint tells a user whose Dagster side uses a blob store (params
// with a "bucket") which writer or loader to configure instead of the
// default. S3, GCS and Azure send the same params, so it names every store.
func blobStoreHint(params Params, what, option, typeName string) string {
	if _, ok := params["bucket"]; !ok {
		return ""
	}
	return fmt.Sprintf(" (Dagster's side uses a blob store: pass the matching %s, e.g. pipes.%s(s3pipes.%s{Client: client}) for S3, "+
		"gcspipes.%[3]s for Google Cloud Storage or azurepipes.%[3]s for Azure Blob Storage)", what, option, typeName)
}

// databricksHint is added when the default writer or loader cannot open
// the "path" Dagster sent: Dagster's Databricks readers and injectors send
// a "path" too, on storage that the default does not reach.
func databricksHint(option, dbfsType, volumesType string) string {
	return fmt.Sprintf(" (if Dagster's side is Databricks, the path is on DBFS or a Unity Catalog volume: pass pipes.%[1]s(pipes.%[2]s{}) or pipes.%[1]s(pipes.%[3]s{}))",
		option, dbfsType, volumesType)
}

// withHint returns err with hint added to its text, if it is an [*Error].
func withHint(err error, hint string) error {
	var e *Error
	if !errors.As(err, &e) {
		return err
	}
	c := *e
	c.Msg += hint
	return &c
}
