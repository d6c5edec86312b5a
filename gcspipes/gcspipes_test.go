package gcspipes_test

import (
	"context"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/storage"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/api/googleapi"
	"google.golang.org/api/option"

	"github.com/dagster-pipes-go/pipes"
	"github.com/dagster-pipes-go/pipes/gcspipes"
	"github.com/dagster-pipes-go/pipes/internal/blobtest"
	"github.com/dagster-pipes-go/pipes/internal/faultproxy"
	"github.com/dagster-pipes-go/pipes/pipestest"
)

// readBackChunks is the ReadBack of the conformance kits: the chunks in
// order, joined by newlines.
func readBackChunks(t *testing.T, client *storage.Client, bucket, prefix string) func() ([]byte, error) {
	return func() ([]byte, error) {
		return []byte(strings.Join(chunks(t, client, bucket, prefix), "\n")), nil
	}
}

func TestConformanceMessageWriter(t *testing.T) {
	pipestest.TestMessageWriter(t, func(t *testing.T) pipestest.WriterHarness {
		client, bucket := newBucket(t)
		return pipestest.WriterHarness{
			// A short interval, so that the kit's messages spread over
			// several chunks.
			Writer:   gcspipes.MessageWriter{Client: client, Options: pipes.BlobStoreOptions{Interval: 20 * time.Millisecond}},
			Params:   pipes.Params{"bucket": bucket, "key_prefix": "kit", "include_stdio_in_messages": false},
			ReadBack: readBackChunks(t, client, bucket, "kit"),
		}
	})
}

func TestConformanceChannel(t *testing.T) {
	pipestest.TestChannel(t, func(t *testing.T) pipestest.ChannelHarness {
		client, bucket := newBucket(t)
		return pipestest.ChannelHarness{
			Channel:  gcspipes.NewChannel(client, bucket, "chan/nested", pipes.BlobStoreOptions{Interval: 20 * time.Millisecond}),
			ReadBack: readBackChunks(t, client, bucket, "chan/nested"),
		}
	})
}

func TestConformanceContextLoader(t *testing.T) {
	pipestest.TestContextLoader(t, func(t *testing.T, data []byte) (pipes.ContextLoader, pipes.Params) {
		client, bucket := newBucket(t)
		// The key layout of PipesGCSContextInjector.
		key := "prefix/ABCDEFGHIJKLMNOPQRSTUVWXYZabcd/context.json"
		putObject(t, client, bucket, key, string(data))
		return gcspipes.ContextLoader{Client: client}, pipes.Params{"bucket": bucket, "key": key}
	})
}

// store is GCS on fake-gcs-server, for the scenarios every blob-store
// backend runs.
var store = blobtest.Store{
	Scheme: "gs", WriterClass: "PipesGCSMessageWriter", LoaderClass: "PipesGCSContextLoader",
	ChunkKey: gcspipes.ChunkKey,
	NewBucket: func(tb testing.TB) blobtest.Bucket {
		client, bucket := newBucket(tb)
		return bucketOf(tb, client, bucket)
	},
	Faulty: func(t *testing.T) (*faultproxy.Proxy, func(pipes.BlobStoreOptions) pipes.MessageWriter) {
		proxy, faulty := proxied(t)
		return proxy, func(o pipes.BlobStoreOptions) pipes.MessageWriter {
			return gcspipes.MessageWriter{Client: faulty, Options: o}
		}
	},
	Busy: func(n int) faultproxy.Rule {
		return faultproxy.Rule{Match: isUpload, Status: http.StatusServiceUnavailable, Times: n}
	},
	Failure: func(n int) faultproxy.Rule {
		return faultproxy.Rule{Match: isUpload, Status: http.StatusInternalServerError, Times: n}
	},
	// The SDK retries uploads until their deadline.
	CloseTimeout: 500 * time.Millisecond,
	MissingObject: func(t *testing.T, err error) {
		require.ErrorIs(t, err, storage.ErrObjectNotExist)
	},
}

// bucketOf describes bucket, reached with client, to the scenarios.
func bucketOf(tb testing.TB, client *storage.Client, bucket string) blobtest.Bucket {
	return blobtest.Bucket{
		Name: bucket,
		Writer: func(o pipes.BlobStoreOptions) pipes.MessageWriter {
			return gcspipes.MessageWriter{Client: client, Options: o}
		},
		Channel: func(prefix string, o pipes.BlobStoreOptions) *pipes.BlobStoreChannel {
			return gcspipes.NewChannel(client, bucket, prefix, o)
		},
		Loader: gcspipes.ContextLoader{Client: client},
		Put: func(key, body string) error {
			w := client.Bucket(bucket).Object(key).NewWriter(context.Background())
			if _, err := io.WriteString(w, body); err != nil {
				_ = w.Close()
				return err
			}
			return w.Close()
		},
		Get:  func(key string) (string, error) { return getObject(tb, client, bucket, key) },
		List: func(prefix string) ([]string, error) { return listObjects(tb, client, bucket, prefix), nil },
	}
}

// TestStore runs the scenarios every blob-store backend runs.
func TestStore(t *testing.T) { blobtest.Run(t, store) }

var (
	noTicks = blobtest.NoTicks
	msg     = blobtest.Msg
	wire    = blobtest.Wire
)

func openChannel(t *testing.T, w gcspipes.MessageWriter, params pipes.Params) *pipes.BlobStoreChannel {
	t.Helper()
	return blobtest.OpenChannel(t, w, params)
}

// chunks returns the contents of the chunks under prefix, checking that
// the names are exactly ChunkKey(prefix, 1..N): no gap, nothing else.
func chunks(t *testing.T, client *storage.Client, bucket, prefix string) []string {
	t.Helper()
	return blobtest.Chunks(t, bucketOf(t, client, bucket), prefix)
}

func TestWithoutClient(t *testing.T) {
	_, err := gcspipes.MessageWriter{}.Open(context.Background(), pipes.Params{"bucket": "b"})
	require.ErrorIs(t, err, gcspipes.ErrNoClient)
	_, err = gcspipes.ContextLoader{}.LoadContext(context.Background(), pipes.Params{"bucket": "b", "key": "k"})
	require.ErrorIs(t, err, gcspipes.ErrNoClient)
}

func TestContextLoaderMissingBucket(t *testing.T) {
	client, bucket := newBucket(t)
	l := gcspipes.ContextLoader{Client: client}
	_, err := l.LoadContext(context.Background(), pipes.Params{"bucket": bucket + "-nope", "key": "k/context.json"})
	require.ErrorIs(t, err, pipes.ErrInvalidContext)
	assert.Contains(t, err.Error(), "gs://"+bucket+"-nope/k/context.json")
}

// A chunk larger than one upload request (16 MiB) goes through a
// resumable upload in pieces, and arrives whole.
func TestChunkLargerThanOneRequest(t *testing.T) {
	client, bucket := newBucket(t)
	ch := openChannel(t, gcspipes.MessageWriter{Client: client, Options: noTicks}, pipes.Params{"bucket": bucket, "key_prefix": "huge"})
	big := strings.Repeat("0123456789abcdef", 20<<20/16) // 20 MiB
	require.NoError(t, ch.WriteMessage(msg(pipes.MethodReportCustomMessage, `{"payload":"`+big+`"}`)))
	require.NoError(t, ch.WriteMessage(msg(pipes.MethodClosed, `{}`)))
	require.NoError(t, ch.Close())
	got := chunks(t, client, bucket, "huge")
	require.Len(t, got, 1)
	assert.Equal(t, wire(pipes.MethodReportCustomMessage, `{"payload":"`+big+`"}`)+"\n"+wire(pipes.MethodClosed, `{}`), got[0])
}

// isUpload matches the requests that store an object (JSON API uploads).
func isUpload(r *http.Request) bool {
	return r.Method == http.MethodPost && strings.HasPrefix(r.URL.Path, "/upload/")
}

// proxied returns a fault proxy in front of the shared server and a client
// that goes through it.
func proxied(t *testing.T) (*faultproxy.Proxy, *storage.Client) {
	t.Helper()
	p := faultproxy.New(t, fake(t))
	return p, newClient(t, p.URL)
}

func TestFailedUploadsLoseNothing(t *testing.T) {
	client, bucket := newBucket(t)
	proxy, faulty := proxied(t)
	var failed []int
	var mu sync.Mutex
	opts := noTicks
	opts.OnError = func(_ error, index int) {
		mu.Lock()
		defer mu.Unlock()
		failed = append(failed, index)
	}
	ch := openChannel(t, gcspipes.MessageWriter{Client: faulty, Options: opts}, pipes.Params{"bucket": bucket, "key_prefix": "f"})
	ctx := context.Background()
	m := func(i int) pipes.Message {
		return msg(pipes.MethodLog, `{"message":"m`+strconv.Itoa(i)+`","level":"INFO"}`)
	}
	w := func(i int) string { return string(m(i).AppendJSON(nil)) }

	// Throttled once (429), then a 503: the client's retries absorb both,
	// although the SDK does not retry unconditional writes by default.
	proxy.Inject(faultproxy.Rule{Match: isUpload, Status: http.StatusTooManyRequests, Times: 1})
	require.NoError(t, ch.WriteMessage(m(1)))
	require.NoError(t, ch.Flush(ctx))
	proxy.Inject(faultproxy.Rule{Match: isUpload, Status: http.StatusServiceUnavailable, Times: 1})
	require.NoError(t, ch.WriteMessage(m(2)))
	require.NoError(t, ch.Flush(ctx))
	assert.Equal(t, 2, proxy.Injected())

	// The store fails until further notice: the client retries until the
	// flush's deadline, then the chunk stays queued.
	proxy.Inject(faultproxy.Rule{Match: isUpload, Status: http.StatusInternalServerError, Times: -1})
	require.NoError(t, ch.WriteMessage(m(3)))
	require.NoError(t, ch.WriteMessage(m(4)))
	err := flushWithin(ch, 300*time.Millisecond)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "gs://"+bucket+"/f/3.json")
	assert.Greater(t, proxy.Injected(), 3, "the client retried")
	proxy.Clear()
	// Messages written meanwhile come after it, in a chunk of their own.
	require.NoError(t, ch.WriteMessage(m(5)))
	require.NoError(t, ch.Flush(ctx))

	// The server stores the chunk but every answer is lost: the retries
	// write the same chunk under the same number.
	proxy.Inject(faultproxy.Rule{Match: isUpload, AfterForward: true, Times: -1})
	require.NoError(t, ch.WriteMessage(m(6)))
	require.Error(t, flushWithin(ch, 300*time.Millisecond))
	got, err := getObject(t, client, bucket, "f/5.json")
	require.NoError(t, err)
	assert.Equal(t, w(6), got)
	proxy.Clear()
	require.NoError(t, ch.WriteMessage(m(7)))
	require.NoError(t, ch.WriteMessage(msg(pipes.MethodClosed, `{}`)))
	require.NoError(t, ch.Close())

	assert.Equal(t, []string{
		w(1),
		w(2),
		w(3) + "\n" + w(4),
		w(5),
		w(6),
		w(7) + "\n" + wire(pipes.MethodClosed, `{}`),
	}, chunks(t, client, bucket, "f"))
	mu.Lock()
	assert.Equal(t, []int{3, 5}, failed)
	mu.Unlock()
}

// flushWithin flushes ch with a deadline.
func flushWithin(ch *pipes.BlobStoreChannel, d time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	return ch.Flush(ctx)
}

// A missing bucket is no error at Open (nothing is looked up), but Close
// reports that the messages were not delivered.
func TestMissingBucket(t *testing.T) {
	client := newClient(t, fake(t))
	ch := openChannel(t, gcspipes.MessageWriter{Client: client, Options: pipes.BlobStoreOptions{Interval: time.Hour, FinalAttempts: 1, CloseTimeout: 5 * time.Second}},
		pipes.Params{"bucket": "no-such-bucket-pipes", "key_prefix": "x"})
	require.NoError(t, ch.WriteMessage(msg(pipes.MethodClosed, `{}`)))
	err := ch.Close()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "gs://no-such-bucket-pipes/x/1.json")
}

func TestNewClientFromEnv(t *testing.T) {
	base := fake(t)
	client, bucket := newBucket(t)
	putObject(t, client, bucket, "ctx/context.json", `{"run_id":"from-env","extras":{}}`)
	// Go's client takes the host with or without a scheme (Python's needs
	// the scheme).
	for _, host := range []string{base, strings.TrimPrefix(base, "http://")} {
		t.Run(host, func(t *testing.T) {
			t.Setenv(gcspipes.EmulatorHostEnvVar, host)
			envClient, err := gcspipes.NewClientFromEnv(context.Background())
			require.NoError(t, err)
			defer envClient.Close()

			data, err := gcspipes.ContextLoader{Client: envClient}.LoadContext(context.Background(),
				pipes.Params{"bucket": bucket, "key": "ctx/context.json"})
			require.NoError(t, err)
			assert.Equal(t, "from-env", data.RunID)

			prefix := "env" + strconv.Itoa(len(host))
			ch := gcspipes.NewChannel(envClient, bucket, prefix, noTicks)
			require.NoError(t, ch.WriteMessage(msg(pipes.MethodClosed, `{}`)))
			require.NoError(t, ch.Close())
			got, err := getObject(t, client, bucket, prefix+"/1.json")
			require.NoError(t, err)
			assert.Equal(t, wire(pipes.MethodClosed, `{}`), got)
		})
	}

	// Options come last: here, an endpoint that overrides the emulator's.
	t.Setenv(gcspipes.EmulatorHostEnvVar, "127.0.0.1:1")
	envClient, err := gcspipes.NewClientFromEnv(context.Background(), option.WithEndpoint(base+"/storage/v1/"))
	require.NoError(t, err)
	defer envClient.Close()
	data, err := gcspipes.ContextLoader{Client: envClient}.LoadContext(context.Background(),
		pipes.Params{"bucket": bucket, "key": "ctx/context.json"})
	require.NoError(t, err)
	assert.Equal(t, "from-env", data.RunID)
}

// A client of the user's own making, with the SDK's default XML reads
// (path-style against the emulator's public host) and its default retries.
func TestOwnClientWithXMLReads(t *testing.T) {
	client, bucket := newBucket(t)
	putObject(t, client, bucket, "a/context.json", `{"run_id":"xml","extras":{}}`)
	own, err := storage.NewClient(context.Background(), option.WithEndpoint(fake(t)+"/storage/v1/"), option.WithoutAuthentication())
	require.NoError(t, err)
	defer own.Close()
	data, err := gcspipes.ContextLoader{Client: own}.LoadContext(context.Background(), pipes.Params{"bucket": bucket, "key": "a/context.json"})
	require.NoError(t, err)
	assert.Equal(t, "xml", data.RunID)
}

func TestErrorsWrapTheClientError(t *testing.T) {
	client, bucket := newBucket(t)
	proxy, faulty := proxied(t)
	proxy.Inject(faultproxy.Rule{Status: http.StatusForbidden, Times: -1})
	_, err := gcspipes.ContextLoader{Client: faulty}.LoadContext(context.Background(), pipes.Params{"bucket": bucket, "key": "k"})
	require.ErrorIs(t, err, pipes.ErrInvalidContext)
	var apiErr *googleapi.Error
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, http.StatusForbidden, apiErr.Code)

	ch := gcspipes.NewChannel(faulty, bucket, "p", pipes.BlobStoreOptions{Interval: time.Hour, FinalAttempts: 1})
	require.NoError(t, ch.WriteMessage(msg(pipes.MethodClosed, `{}`)))
	err = ch.Close()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "gs://"+bucket+"/p/1.json")
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, http.StatusForbidden, apiErr.Code)
	assert.Equal(t, 2, proxy.Injected(), "a 403 is not retried")
	assert.Empty(t, listObjects(t, client, bucket, "p"))
}

// Without an emulator, the client needs credentials: a missing key file is
// an error that says what to set.
func TestNewClientFromEnvWithoutCredentials(t *testing.T) {
	t.Setenv(gcspipes.EmulatorHostEnvVar, "")
	t.Setenv("GOOGLE_APPLICATION_CREDENTIALS", t.TempDir()+"/missing.json")
	client, err := gcspipes.NewClientFromEnv(context.Background())
	if client != nil {
		_ = client.Close()
	}
	require.Error(t, err)
	assert.Contains(t, err.Error(), "gcspipes: create the storage client")
	assert.Contains(t, err.Error(), "STORAGE_EMULATOR_HOST")
	assert.Contains(t, err.Error(), "missing.json")
}
