package s3pipes_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dagster-pipes-go/pipes"
	"github.com/dagster-pipes-go/pipes/internal/blobtest"
	"github.com/dagster-pipes-go/pipes/internal/faultproxy"
	"github.com/dagster-pipes-go/pipes/internal/moto"
	"github.com/dagster-pipes-go/pipes/s3pipes"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	code := moto.RunTests(m)
	if code == 0 {
		// After the moto server stopped: the SDK's idle keep-alive
		// connections are the HTTP client's, not ours.
		if err := goleak.Find(goleak.IgnoreTopFunction("net/http.(*persistConn).readLoop"),
			goleak.IgnoreTopFunction("net/http.(*persistConn).writeLoop")); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.Exit(code)
}

var bucketSeq atomic.Int64

// newBucket returns the shared moto server, a client on it and a fresh
// bucket.
func newBucket(t testing.TB) (*moto.Server, *s3.Client, string) {
	t.Helper()
	srv := moto.Shared(t)
	bucket := fmt.Sprintf("pipes-%d-%d", time.Now().UnixNano()%1e9, bucketSeq.Add(1))
	srv.CreateBucket(t, bucket)
	return srv, newClient(srv.Endpoint), bucket
}

// newClient returns an S3 client for a moto server (or a proxy in front of
// one) at endpoint: path-style addressing, moto's static test credentials.
// optFns are applied last.
func newClient(endpoint string, optFns ...func(*s3.Options)) *s3.Client {
	opts := []func(*s3.Options){func(o *s3.Options) {
		o.BaseEndpoint = aws.String(endpoint)
		o.UsePathStyle = true
	}}
	return s3.New(s3.Options{
		Region:      moto.Region,
		Credentials: credentials.NewStaticCredentialsProvider(moto.AccessKeyID, moto.SecretAccessKey, ""),
	}, append(opts, optFns...)...)
}

// fastRetries makes the SDK retry quickly, so that tests of failed uploads
// do not wait for the production backoff.
func fastRetries(o *s3.Options) {
	o.Retryer = retry.NewStandard(func(so *retry.StandardOptions) {
		so.MaxAttempts = 3
		so.MaxBackoff = 5 * time.Millisecond
	})
}

// store is S3 on moto, for the scenarios every blob-store backend runs.
var store = blobtest.Store{
	Scheme: "s3", WriterClass: "PipesS3MessageWriter", LoaderClass: "PipesS3ContextLoader",
	ChunkKey: s3pipes.ChunkKey,
	NewBucket: func(tb testing.TB) blobtest.Bucket {
		_, client, bucket := newBucket(tb)
		return bucketOf(client, bucket)
	},
	Faulty: func(t *testing.T) (*faultproxy.Proxy, func(pipes.BlobStoreOptions) pipes.MessageWriter) {
		proxy, faulty := proxied(t, moto.Shared(t))
		return proxy, func(o pipes.BlobStoreOptions) pipes.MessageWriter {
			return s3pipes.MessageWriter{Client: faulty, Options: o}
		}
	},
	Busy: func(n int) faultproxy.Rule {
		return faultproxy.Rule{Match: faultproxy.Method("PUT"), Status: 503, Code: "SlowDown", Times: n}
	},
	Failure: func(n int) faultproxy.Rule {
		return faultproxy.Rule{Match: faultproxy.Method("PUT"), Status: 500, Times: n}
	},
	// fastRetries: three attempts of an upload.
	Attempts: 3,
	MissingObject: func(t *testing.T, err error) {
		var noKey *types.NoSuchKey
		require.ErrorAs(t, err, &noKey)
	},
}

// bucketOf describes bucket, reached with client, to the scenarios.
func bucketOf(client *s3.Client, bucket string) blobtest.Bucket {
	ctx := context.Background()
	return blobtest.Bucket{
		Name: bucket,
		Writer: func(o pipes.BlobStoreOptions) pipes.MessageWriter {
			return s3pipes.MessageWriter{Client: client, Options: o}
		},
		Channel: func(prefix string, o pipes.BlobStoreOptions) *pipes.BlobStoreChannel {
			return s3pipes.NewChannel(client, bucket, prefix, o)
		},
		Loader: s3pipes.ContextLoader{Client: client},
		Put: func(key, body string) error {
			_, err := client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: strings.NewReader(body)})
			return err
		},
		Get: func(key string) (string, error) {
			out, err := client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
			if err != nil {
				return "", err
			}
			defer out.Body.Close()
			b, err := io.ReadAll(out.Body)
			return string(b), err
		},
		List: func(prefix string) ([]string, error) {
			var keys []string
			p := s3.NewListObjectsV2Paginator(client, &s3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String(prefix)})
			for p.HasMorePages() {
				page, err := p.NextPage(ctx)
				if err != nil {
					return nil, err
				}
				for _, o := range page.Contents {
					keys = append(keys, *o.Key)
				}
			}
			return keys, nil
		},
	}
}

// TestStore runs the scenarios every blob-store backend runs.
func TestStore(t *testing.T) { blobtest.Run(t, store) }

var (
	noTicks = blobtest.NoTicks
	msg     = blobtest.Msg
	wire    = blobtest.Wire
)

func chunks(t *testing.T, client *s3.Client, bucket, prefix string) []string {
	t.Helper()
	return blobtest.Chunks(t, bucketOf(client, bucket), prefix)
}

func getObject(t *testing.T, client *s3.Client, bucket, key string) string {
	t.Helper()
	s, err := bucketOf(client, bucket).Get(key)
	require.NoError(t, err)
	return s
}

func putObject(t *testing.T, client *s3.Client, bucket, key, body string) {
	t.Helper()
	require.NoError(t, bucketOf(client, bucket).Put(key, body))
}

// The checks of the scenarios that only S3 has: a writer or a loader
// without a client.
func TestWithoutClient(t *testing.T) {
	_, err := s3pipes.MessageWriter{}.Open(context.Background(), pipes.Params{"bucket": "b"})
	require.ErrorIs(t, err, s3pipes.ErrNoClient)
	_, err = s3pipes.ContextLoader{}.LoadContext(context.Background(), pipes.Params{"bucket": "b", "key": "k"})
	require.ErrorIs(t, err, s3pipes.ErrNoClient)
}

// proxied returns a client that reaches moto through a fault proxy.
func proxied(t *testing.T, srv *moto.Server) (*faultproxy.Proxy, *s3.Client) {
	t.Helper()
	p := faultproxy.New(t, srv.Endpoint)
	return p, newClient(p.URL, fastRetries)
}

func TestNewClientFromEnv(t *testing.T) {
	srv, client, bucket := newBucket(t)
	// "localhost" only resolves for path-style requests, not for
	// virtual-hosted ones (<bucket>.localhost).
	endpoint := strings.Replace(srv.Endpoint, "127.0.0.1", "localhost", 1)
	t.Setenv("AWS_ENDPOINT_URL", endpoint)
	t.Setenv("AWS_ENDPOINT_URL_S3", "")
	t.Setenv("AWS_ACCESS_KEY_ID", moto.AccessKeyID)
	t.Setenv("AWS_SECRET_ACCESS_KEY", moto.SecretAccessKey)
	t.Setenv("AWS_SESSION_TOKEN", "")
	t.Setenv("AWS_PROFILE", "")
	t.Setenv("AWS_REGION", "")
	t.Setenv("AWS_DEFAULT_REGION", "")
	t.Setenv("AWS_CONFIG_FILE", t.TempDir()+"/none")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", t.TempDir()+"/none")

	envClient, err := s3pipes.NewClientFromEnv(context.Background())
	require.NoError(t, err)
	o := envClient.Options()
	assert.Equal(t, s3pipes.DefaultRegion, o.Region)
	assert.True(t, o.UsePathStyle)
	require.NotNil(t, o.BaseEndpoint)
	assert.Equal(t, endpoint, *o.BaseEndpoint)

	ch := s3pipes.NewChannel(envClient, bucket, "env", noTicks)
	require.NoError(t, ch.WriteMessage(msg(pipes.MethodClosed, `{}`)))
	require.NoError(t, ch.Close())
	assert.Equal(t, wire(pipes.MethodClosed, `{}`), getObject(t, client, bucket, "env/1.json"))

	// optFns come last and win.
	c2, err := s3pipes.NewClientFromEnv(context.Background(), func(o *s3.Options) { o.UsePathStyle = false })
	require.NoError(t, err)
	assert.False(t, c2.Options().UsePathStyle)

	// Without an endpoint: AWS, virtual-hosted style, region from the env.
	t.Setenv("AWS_ENDPOINT_URL", "")
	t.Setenv("AWS_REGION", "eu-west-3")
	c3, err := s3pipes.NewClientFromEnv(context.Background())
	require.NoError(t, err)
	assert.Nil(t, c3.Options().BaseEndpoint)
	assert.False(t, c3.Options().UsePathStyle)
	assert.Equal(t, "eu-west-3", c3.Options().Region)
}

// failingClient fails every call: for the errors that need no server.
type failingClient struct{ err error }

func (f failingClient) PutObject(context.Context, *s3.PutObjectInput, ...func(*s3.Options)) (*s3.PutObjectOutput, error) {
	return nil, f.err
}

func (f failingClient) GetObject(context.Context, *s3.GetObjectInput, ...func(*s3.Options)) (*s3.GetObjectOutput, error) {
	return nil, f.err
}

func TestErrorsWrapTheClientError(t *testing.T) {
	boom := errors.New("boom")
	_, err := s3pipes.ContextLoader{Client: failingClient{boom}}.LoadContext(context.Background(), pipes.Params{"bucket": "b", "key": "k"})
	require.ErrorIs(t, err, boom)
	require.ErrorIs(t, err, pipes.ErrInvalidContext)

	ch := s3pipes.NewChannel(failingClient{boom}, "b", "p", pipes.BlobStoreOptions{Interval: time.Hour, FinalAttempts: 1})
	require.NoError(t, ch.WriteMessage(msg(pipes.MethodClosed, `{}`)))
	err = ch.Close()
	require.ErrorIs(t, err, boom)
	assert.Contains(t, err.Error(), "s3://b/p/1.json")
}
