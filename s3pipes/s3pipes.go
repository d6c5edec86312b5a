// Package s3pipes carries Dagster Pipes traffic through Amazon S3 (or any
// S3-compatible store), on github.com/aws/aws-sdk-go-v2. It is the Go
// counterpart of the reference's PipesS3MessageWriter and
// PipesS3ContextLoader, and works with Dagster's PipesS3MessageReader and
// PipesS3ContextInjector (package dagster-aws).
//
// [MessageWriter] uploads the job's messages in numbered chunks
// "<key_prefix>/1.json", "<key_prefix>/2.json", … at a fixed interval (10 s
// by default) and once more on close, so that the last chunk holds the
// closed message. [ContextLoader] reads the context object Dagster put in
// the bucket. Both take the S3 client from the caller, so any endpoint,
// addressing style or credentials work; [NewClientFromEnv] builds one from
// the default AWS configuration.
//
// A failed upload is retried by the SDK's retryer and, if it still fails,
// the chunk stays queued and is tried again, under the same number, at the
// next interval and on close: Dagster's reader never sees a gap and no
// message is lost because one upload failed. Close reports what could not
// be delivered. Memory holds the messages of one interval (plus a chunk
// waiting for a retry), not those of the whole run.
//
// The rest of the job uses the root package as usual; only the wiring
// names this package:
//
//	client, err := s3pipes.NewClientFromEnv(ctx)
//	…
//	pc, err := pipes.Open(ctx,
//		pipes.WithContextLoader(s3pipes.ContextLoader{Client: client}),
//		pipes.WithMessageWriter(s3pipes.MessageWriter{Client: client}))
package s3pipes

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/dagster-pipes-go/pipes"
)

// Params keys that Dagster's S3 injector and reader send.
const (
	// BucketKey names the bucket, in both the context and the messages
	// params.
	BucketKey = "bucket"
	// KeyKey is the key of the context object.
	KeyKey = "key"
	// KeyPrefixKey is the prefix under which message chunks go; it may be
	// absent.
	KeyPrefixKey = "key_prefix"
)

// Component names used in error texts: the reference's class names.
const (
	messageWriterName = "PipesS3MessageWriter"
	contextLoaderName = "PipesS3ContextLoader"
)

// Client is the part of the S3 API this package uses. *s3.Client
// implements it; a wrapper (for tracing, say) can too.
type Client interface {
	PutObject(ctx context.Context, in *s3.PutObjectInput, optFns ...func(*s3.Options)) (*s3.PutObjectOutput, error)
	GetObject(ctx context.Context, in *s3.GetObjectInput, optFns ...func(*s3.Options)) (*s3.GetObjectOutput, error)
}

var _ Client = (*s3.Client)(nil)

// ErrNoClient is returned by [MessageWriter.Open] and
// [ContextLoader.LoadContext] when their Client is nil.
var ErrNoClient = errors.New("s3pipes: no S3 client: set the Client field (see NewClientFromEnv)")

// MessageWriter is a [pipes.MessageWriter] that uploads message chunks to
// S3. It reads the messages params of Dagster's PipesS3MessageReader:
// "bucket" (required) and "key_prefix" (optional).
//
// When the reader sets "include_stdio_in_messages", [pipes.Open] forwards
// the process's stdout and stderr too (see [pipes.CaptureStdio]).
type MessageWriter struct {
	// Client uploads the chunks. Required.
	Client Client
	// Options tune the uploads; the zero value uploads every 10 s, as the
	// reference does. See [pipes.BlobStoreOptions].
	Options pipes.BlobStoreOptions
}

var _ pipes.MessageWriter = MessageWriter{}

// Open implements [pipes.MessageWriter]. The channel it returns is a
// [*pipes.BlobStoreChannel]; its Close performs the final upload and returns an error if some messages
// could not be delivered.
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

// NewChannel returns a channel that uploads the messages written to it as
// chunks [ChunkKey](keyPrefix, n) in bucket, n = 1, 2, 3, … It is the
// reference's PipesS3MessageWriterChannel, for a job that does not take its
// bucket and prefix from Dagster's params.
func NewChannel(client Client, bucket, keyPrefix string, opts pipes.BlobStoreOptions) *pipes.BlobStoreChannel {
	return pipes.NewBlobStoreChannel(func(ctx context.Context, chunk []byte, index int) error {
		key := ChunkKey(keyPrefix, index)
		_, err := client.PutObject(ctx, &s3.PutObjectInput{
			Bucket:        aws.String(bucket),
			Key:           aws.String(key),
			Body:          bytes.NewReader(chunk),
			ContentLength: aws.Int64(int64(len(chunk))),
		})
		if err != nil {
			return fmt.Errorf("s3pipes: upload to s3://%s/%s: %w", bucket, key, err)
		}
		return nil
	}, opts)
}

// ChunkKey returns the object key of message chunk index:
// "<keyPrefix>/<index>.json", or "<index>.json" when keyPrefix is empty.
func ChunkKey(keyPrefix string, index int) string { return pipes.ChunkKey(keyPrefix, index) }

// ContextLoader is a [pipes.ContextLoader] that reads the context data from
// the S3 object named by the context params of Dagster's
// PipesS3ContextInjector: "bucket" and "key".
type ContextLoader struct {
	// Client downloads the object. Required.
	Client Client
	// Timeout bounds the download; 0 means the deadline of the ctx given
	// to LoadContext or, without one, pipes.DefaultContextLoadTimeout.
	Timeout time.Duration
}

var _ pipes.ContextLoader = ContextLoader{}

// LoadContext implements [pipes.ContextLoader]. A failed download is an
// error matching [pipes.ErrInvalidContext] that also wraps the SDK's error.
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
	if l.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, l.Timeout)
		defer cancel()
	}
	return pipes.ReadContextBlob(ctx, "s3://"+bucket+"/"+key, func(ctx context.Context) (io.ReadCloser, error) {
		out, err := l.Client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
		if err != nil {
			return nil, err
		}
		return out.Body, nil
	})
}

// DefaultRegion is the region [NewClientFromEnv] uses when the
// configuration names none, as boto3 does for S3.
const DefaultRegion = "us-east-1"

// NewClientFromEnv returns an S3 client built from the default AWS
// configuration: the usual chain of environment variables (AWS_REGION,
// AWS_ACCESS_KEY_ID, AWS_PROFILE, …), shared config files, web identity,
// ECS and EC2 roles. The endpoint comes from AWS_ENDPOINT_URL_S3 or
// AWS_ENDPOINT_URL when set (as for boto3, so a job and Dagster can share
// one environment pointing at MinIO, LocalStack or moto); with such an
// endpoint the client uses path-style addressing. Without a configured
// region it uses [DefaultRegion]. optFns are applied last and can override
// any of this.
func NewClientFromEnv(ctx context.Context, optFns ...func(*s3.Options)) (*s3.Client, error) {
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, fmt.Errorf("s3pipes: load AWS configuration: %w", err)
	}
	if cfg.Region == "" {
		cfg.Region = DefaultRegion
	}
	opts := append([]func(*s3.Options){func(o *s3.Options) {
		if o.BaseEndpoint != nil && *o.BaseEndpoint != "" {
			o.UsePathStyle = true
		}
	}}, optFns...)
	return s3.NewFromConfig(cfg, opts...), nil
}
