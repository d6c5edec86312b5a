// Package gcspipes carries Dagster Pipes traffic through Google Cloud
// Storage, on cloud.google.com/go/storage. It is the Go counterpart of the
// reference's PipesGCSMessageWriter and PipesGCSContextLoader, and works
// with Dagster's PipesGCSMessageReader and PipesGCSContextInjector (package
// dagster-gcp).
//
// [MessageWriter] uploads the job's messages in numbered chunks
// "<key_prefix>/1.json", "<key_prefix>/2.json", … at a fixed interval (10 s
// by default) and once more on close, so that the last chunk holds the
// closed message. [ContextLoader] reads the context object Dagster put in
// the bucket. Both take the storage client from the caller, so any
// endpoint, credentials or retry settings work; [NewClientFromEnv] builds
// one from Application Default Credentials, or for an emulator when
// STORAGE_EMULATOR_HOST is set.
//
// A chunk upload that meets a transient error (429, 5xx, a broken
// connection) is retried with the client's backoff until the upload's
// deadline ([pipes.BlobStoreOptions].CloseTimeout, one minute by default).
// The SDK does not retry unconditional writes by default; chunk uploads are
// retried anyway, because a chunk is only ever re-sent with the same bytes
// under the same name, so a retry cannot change what Dagster reads. If it
// still fails, the chunk stays queued and is tried again, under the
// same number, at the next interval and on close: Dagster's reader never
// sees a gap and no message is lost because one upload failed. Close
// reports what could not be delivered.
//
// The rest of the job uses the root package as usual; only the wiring
// names this package:
//
//	client, err := gcspipes.NewClientFromEnv(ctx)
//	…
//	defer client.Close()
//	pc, err := pipes.Open(ctx,
//		pipes.WithContextLoader(gcspipes.ContextLoader{Client: client}),
//		pipes.WithMessageWriter(gcspipes.MessageWriter{Client: client}))
package gcspipes

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"cloud.google.com/go/storage"
	"google.golang.org/api/option"

	"github.com/dagster-pipes-go/pipes"
)

// Params keys that Dagster's GCS injector and reader send.
const (
	// BucketKey names the bucket, in both the context and the messages
	// params.
	BucketKey = "bucket"
	// KeyKey is the name of the context object.
	KeyKey = "key"
	// KeyPrefixKey is the prefix under which message chunks go; it may be
	// absent.
	KeyPrefixKey = "key_prefix"
)

// EmulatorHostEnvVar is the variable that points the storage client (Go's
// and Python's) at an emulator such as fake-gcs-server. Go accepts
// "host:port" or a URL; Python's google-cloud-storage needs the scheme
// ("http://host:port"), so set it with the scheme when Dagster and the job
// share one environment.
const EmulatorHostEnvVar = "STORAGE_EMULATOR_HOST"

// Component names used in error texts: the reference's class names.
const (
	messageWriterName = "PipesGCSMessageWriter"
	contextLoaderName = "PipesGCSContextLoader"
)

// ErrNoClient is returned by [MessageWriter.Open] and
// [ContextLoader.LoadContext] when their Client is nil.
var ErrNoClient = errors.New("gcspipes: no GCS client: set the Client field (see NewClientFromEnv)")

// MessageWriter is a [pipes.MessageWriter] that uploads message chunks to
// GCS. It reads the messages params of Dagster's PipesGCSMessageReader:
// "bucket" (required) and "key_prefix" (optional).
//
// When the reader sets "include_stdio_in_messages", [pipes.Open] forwards
// the process's stdout and stderr too (see [pipes.CaptureStdio]).
type MessageWriter struct {
	// Client uploads the chunks. Required.
	Client *storage.Client
	// Options tune the uploads; the zero value uploads every 10 s, as the
	// reference does. See [pipes.BlobStoreOptions].
	Options pipes.BlobStoreOptions
}

var _ pipes.MessageWriter = MessageWriter{}

// Open implements [pipes.MessageWriter]. The channel it returns is a
// [*pipes.BlobStoreChannel]; its Close performs the final upload and
// returns an error if some messages could not be delivered.
//
// Unlike the reference, Open does not look the bucket up: that needs a
// permission (storage.buckets.get) that a job allowed to write objects may
// lack. A missing bucket shows as failed uploads, reported by Close.
func (w MessageWriter) Open(_ context.Context, params pipes.Params) (pipes.MessageWriterChannel, error) {
	bucket, err := params.String(BucketKey, messageWriterName)
	if err != nil {
		return nil, err
	}
	prefix, err := params.OptionalString(KeyPrefixKey, messageWriterName)
	if err != nil {
		return nil, err
	}
	if w.Client == nil {
		return nil, ErrNoClient
	}
	return NewChannel(w.Client, bucket, prefix, w.Options), nil
}

// maxSingleRequest is the largest chunk uploaded in one request; larger
// chunks go in a resumable upload of pieces this size (the SDK's default
// ChunkSize), each retried on its own.
const maxSingleRequest = 16 << 20

// NewChannel returns a channel that uploads the messages written to it as
// objects [ChunkKey](keyPrefix, n) in bucket, n = 1, 2, 3, … It is the
// reference's PipesGCSMessageWriterChannel, for a job that does not take
// its bucket and prefix from Dagster's params.
func NewChannel(client *storage.Client, bucket, keyPrefix string, opts pipes.BlobStoreOptions) *pipes.BlobStoreChannel {
	return pipes.NewBlobStoreChannel(func(ctx context.Context, chunk []byte, index int) error {
		key := ChunkKey(keyPrefix, index)
		if err := upload(ctx, client, bucket, key, chunk); err != nil {
			return fmt.Errorf("gcspipes: upload to gs://%s/%s: %w", bucket, key, err)
		}
		return nil
	}, opts)
}

func upload(ctx context.Context, client *storage.Client, bucket, key string, chunk []byte) error {
	// A chunk is re-sent only with the same bytes under the same name, so
	// retrying an unconditional write is safe here; the client's backoff
	// and attempt limits still apply.
	obj := client.Bucket(bucket).Object(key).Retryer(storage.WithPolicy(storage.RetryAlways))
	// The upload goroutine of the writer ends when ctx does: cancel it on
	// every return, so that a failed Write leaves nothing behind.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	w := obj.NewWriter(ctx)
	w.ContentType = "application/json"
	// The writer buffers ChunkSize bytes (16 MiB by default) to be able to
	// retry: size it to the chunk, so that a small chunk costs little.
	w.ChunkSize = min(len(chunk)+1, maxSingleRequest)
	if _, err := w.Write(chunk); err != nil {
		_ = w.Close()
		return err
	}
	return w.Close()
}

// ChunkKey returns the object name of message chunk index:
// "<keyPrefix>/<index>.json", or "<index>.json" when keyPrefix is empty.
func ChunkKey(keyPrefix string, index int) string { return pipes.ChunkKey(keyPrefix, index) }

// ContextLoader is a [pipes.ContextLoader] that reads the context data from
// the GCS object named by the context params of Dagster's
// PipesGCSContextInjector: "bucket" and "key".
type ContextLoader struct {
	// Client downloads the object. Required.
	Client *storage.Client
}

var _ pipes.ContextLoader = ContextLoader{}

// LoadContext implements [pipes.ContextLoader]. A failed download is an
// error matching [pipes.ErrInvalidContext] that also wraps the SDK's error
// (errors.Is(err, storage.ErrObjectNotExist) for a missing object).
func (l ContextLoader) LoadContext(ctx context.Context, params pipes.Params) (*pipes.ContextData, error) {
	bucket, err := params.String(BucketKey, contextLoaderName)
	if err != nil {
		return nil, err
	}
	key, err := params.String(KeyKey, contextLoaderName)
	if err != nil {
		return nil, err
	}
	if l.Client == nil {
		return nil, ErrNoClient
	}
	return pipes.ReadContextBlob(ctx, "gs://"+bucket+"/"+key, func(ctx context.Context) (io.ReadCloser, error) {
		return l.Client.Bucket(bucket).Object(key).NewReader(ctx)
	})
}

// NewClientFromEnv returns a storage client configured from the
// environment, as google-cloud-storage's Client() is on Dagster's side:
//
//   - with STORAGE_EMULATOR_HOST set ("host:port" or "http://host:port"),
//     an unauthenticated client of that emulator, which reads objects
//     through the JSON API (emulators such as fake-gcs-server answer the
//     SDK's default XML reads only when started with a matching
//     -public-host);
//   - otherwise a client of Google Cloud Storage with Application Default
//     Credentials (GOOGLE_APPLICATION_CREDENTIALS, gcloud's credentials,
//     or the metadata server of GCE, GKE and Cloud Run).
//
// opts are applied last and can override any of this. Close the client
// when the job is done.
func NewClientFromEnv(ctx context.Context, opts ...option.ClientOption) (*storage.Client, error) {
	var base []option.ClientOption
	if os.Getenv(EmulatorHostEnvVar) != "" {
		base = append(base, storage.WithJSONReads())
	}
	client, err := storage.NewClient(ctx, append(base, opts...)...)
	if err != nil {
		return nil, fmt.Errorf("gcspipes: create the storage client (set up Application Default Credentials, "+
			"or %s for an emulator): %w", EmulatorHostEnvVar, err)
	}
	return client, nil
}
