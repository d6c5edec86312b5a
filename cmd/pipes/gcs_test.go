package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fsouza/fake-gcs-server/fakestorage"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dagster-pipes-go/pipes"
	"github.com/dagster-pipes-go/pipes/internal/faultproxy"
	"github.com/dagster-pipes-go/pipes/pipestest"
)

// The gcs store against fake-gcs-server, a real HTTP server on 127.0.0.1
// in this process (one per test), through the JSON API as in production.

var gcsBucketSeq atomic.Int64

// startFakeGCS starts fake-gcs-server and returns it with its base URL;
// it is stopped when the test ends.
func startFakeGCS(t *testing.T) (*fakestorage.Server, string) {
	t.Helper()
	var lastErr error
	for range 5 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		port := l.Addr().(*net.TCPAddr).Port
		require.NoError(t, l.Close())
		host := "127.0.0.1:" + strconv.Itoa(port)
		srv, err := fakestorage.NewServerWithOptions(fakestorage.Options{
			Scheme: "http", Host: "127.0.0.1", Port: uint16(port), PublicHost: host, ExternalURL: "http://" + host,
		})
		if err == nil {
			t.Cleanup(srv.Stop)
			return srv, "http://" + host
		}
		lastErr = err
	}
	t.Fatalf("starting fake-gcs-server: %v", lastErr)
	return nil, ""
}

func newGCSBucket(t *testing.T, srv *fakestorage.Server) string {
	t.Helper()
	bucket := fmt.Sprintf("pipes-exec-%d", gcsBucketSeq.Add(1))
	srv.CreateBucketWithOpts(fakestorage.CreateBucketOpts{Name: bucket})
	return bucket
}

// gcsChunks reads back the chunks under prefix, 1.json, 2.json, … in order,
// joined by newlines, as Dagster's reader would.
func gcsChunks(t *testing.T, srv *fakestorage.Server, bucket, prefix string) func() ([]byte, error) {
	return func() ([]byte, error) {
		var parts []string
		for i := 1; ; i++ {
			obj, err := srv.GetObject(bucket, pipes.ChunkKey(prefix, i))
			if err != nil {
				break
			}
			parts = append(parts, string(obj.Content))
		}
		return []byte(strings.Join(parts, "\n")), nil
	}
}

func testGCSClient(t *testing.T, base string) *gcsClient {
	t.Helper()
	t.Setenv(gcsEmulatorHostEnv, base)
	c, err := newGCSClientFromEnv(t.Context())
	require.NoError(t, err)
	t.Cleanup(c.http.CloseIdleConnections)
	return c
}

func TestGCSStoreConformance(t *testing.T) {
	srv, base := startFakeGCS(t)
	client := testGCSClient(t, base)
	t.Run("writer", func(t *testing.T) {
		pipestest.TestMessageWriter(t, func(t *testing.T) pipestest.WriterHarness {
			bucket := newGCSBucket(t, srv)
			return pipestest.WriterHarness{
				// A short interval, so that the kit's messages spread over
				// several chunks.
				Writer:   gcsWriter{client: client, opts: pipes.BlobStoreOptions{Interval: 20 * time.Millisecond}},
				Params:   pipes.Params{"bucket": bucket, "key_prefix": "kit/nested", "include_stdio_in_messages": false},
				ReadBack: gcsChunks(t, srv, bucket, "kit/nested"),
			}
		})
	})
	t.Run("loader", func(t *testing.T) {
		pipestest.TestContextLoader(t, func(t *testing.T, data []byte) (pipes.ContextLoader, pipes.Params) {
			bucket := newGCSBucket(t, srv)
			// The key layout of PipesGCSContextInjector.
			key := "prefix/ABCDEFGHIJ/context.json"
			srv.CreateObject(fakestorage.Object{ObjectAttrs: fakestorage.ObjectAttrs{BucketName: bucket, Name: key}, Content: data})
			return gcsLoader{client: client}, pipes.Params{"bucket": bucket, "key": key}
		})
	})
}

func TestGCSStoreWriterWithoutPrefix(t *testing.T) {
	srv, base := startFakeGCS(t)
	bucket := newGCSBucket(t, srv)
	w := gcsWriter{client: testGCSClient(t, base)}
	ch, err := w.Open(t.Context(), pipes.Params{"bucket": bucket})
	require.NoError(t, err)
	require.NoError(t, ch.WriteMessage(pipes.Message{Method: pipes.MethodClosed}))
	require.NoError(t, ch.Close())
	obj, err := srv.GetObject(bucket, "1.json")
	require.NoError(t, err)
	assert.Contains(t, string(obj.Content), `"method":"closed"`)
	assert.Equal(t, "application/json", obj.ContentType)
}

func TestGCSStoreParamErrors(t *testing.T) {
	c := &gcsClient{base: "http://127.0.0.1:1", http: &http.Client{}}
	_, err := gcsWriter{client: c}.Open(t.Context(), pipes.Params{"key_prefix": "p"})
	require.Error(t, err)
	assert.ErrorIs(t, err, pipes.ErrInvalidParams)
	assert.Contains(t, err.Error(), "PipesGCSMessageWriter")
	_, err = gcsLoader{client: c}.LoadContext(t.Context(), pipes.Params{"bucket": "b"})
	require.Error(t, err)
	assert.ErrorIs(t, err, pipes.ErrInvalidParams)
	assert.Contains(t, err.Error(), "PipesGCSContextLoader")
}

func TestGCSStoreMissingContext(t *testing.T) {
	srv, base := startFakeGCS(t)
	bucket := newGCSBucket(t, srv)
	_, err := gcsLoader{client: testGCSClient(t, base)}.LoadContext(t.Context(), pipes.Params{"bucket": bucket, "key": "no/such.json"})
	require.Error(t, err)
	assert.ErrorIs(t, err, pipes.ErrInvalidContext)
	assert.Contains(t, err.Error(), "gs://"+bucket+"/no/such.json")
	assert.Contains(t, err.Error(), "404")
}

// Transient failures (503, 429) are retried within one upload; a
// permanent one (403) is not, and the chunk stays queued for the next
// attempt under the same number.
func TestGCSStoreUploadRetries(t *testing.T) {
	srv, base := startFakeGCS(t)
	bucket := newGCSBucket(t, srv)
	proxy := faultproxy.New(t, base)
	c := testGCSClient(t, proxy.URL)

	proxy.Inject(faultproxy.Rule{Match: faultproxy.Method(http.MethodPost), Status: http.StatusServiceUnavailable, Times: 2})
	require.NoError(t, c.upload(t.Context(), bucket, "a/1.json", []byte("one")))
	assert.Equal(t, 2, proxy.Injected())
	obj, err := srv.GetObject(bucket, "a/1.json")
	require.NoError(t, err)
	assert.Equal(t, "one", string(obj.Content))

	// A failure after the server stored the chunk: the retry stores the
	// same bytes under the same name.
	proxy.Inject(faultproxy.Rule{Match: faultproxy.Method(http.MethodPost), Status: http.StatusTooManyRequests, Times: 1, AfterForward: true})
	require.NoError(t, c.upload(t.Context(), bucket, "a/1.json", []byte("one")))
	assert.Equal(t, 3, proxy.Injected())

	proxy.Inject(faultproxy.Rule{Match: faultproxy.Method(http.MethodPost), Status: http.StatusForbidden, Times: 1})
	err = c.upload(t.Context(), bucket, "a/2.json", []byte("two"))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "HTTP 403")
	assert.Equal(t, 4, proxy.Injected(), "a 403 is not retried")

	// Beyond the attempts: the error, after gcsUploadTries requests.
	proxy.Inject(faultproxy.Rule{Match: faultproxy.Method(http.MethodPost), Status: http.StatusInternalServerError, Times: gcsUploadTries})
	err = c.upload(t.Context(), bucket, "a/2.json", []byte("two"))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "HTTP 500")
	assert.Equal(t, 4+gcsUploadTries, proxy.Injected())

	// A cancelled upload stops waiting between attempts.
	proxy.Inject(faultproxy.Rule{Match: faultproxy.Method(http.MethodPost), Status: http.StatusInternalServerError, Times: -1})
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	err = c.upload(ctx, bucket, "a/3.json", []byte("three"))
	require.ErrorIs(t, err, context.Canceled)
	proxy.Clear()
}
