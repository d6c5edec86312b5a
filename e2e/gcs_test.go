package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"cloud.google.com/go/storage"
	"github.com/fsouza/fake-gcs-server/fakestorage"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dagster-pipes-go/pipes/internal/faultproxy"
)

// The GCS tests: Dagster's PipesGCSContextInjector and PipesGCSMessageReader
// (dagster-gcp) with google-cloud-storage on fake-gcs-server (run in this
// process as a real HTTP server on 127.0.0.1, one per test function),
// PipesSubprocessClient launching the Go job e2e/jobs/gcs, which uses
// gcspipes. The probe side is e2e/probe/gcsext.py. Dagster's reader polls
// every second and the job uploads every 200 ms, so that each run takes a
// few seconds.

var gcsBucketSeq atomic.Int64

// gcsServer is a fake-gcs-server on a loopback port.
type gcsServer struct {
	*fakestorage.Server
	// URL is http://127.0.0.1:PORT, the value of STORAGE_EMULATOR_HOST
	// (Python's client needs the scheme).
	URL string
}

// startGCS starts fake-gcs-server and stops it when the test ends. Its
// public host (for the Go SDK's path-style XML reads) must be known before
// it starts, so the port is chosen first; a port taken in between is
// retried.
func startGCS(t *testing.T) *gcsServer {
	t.Helper()
	var lastErr error
	for range 5 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		port := l.Addr().(*net.TCPAddr).Port
		require.NoError(t, l.Close())
		host := "127.0.0.1:" + strconv.Itoa(port)
		srv, err := fakestorage.NewServerWithOptions(fakestorage.Options{
			Scheme: "http", Host: "127.0.0.1", Port: uint16(port),
			PublicHost: host, ExternalURL: "http://" + host,
		})
		if err == nil {
			t.Cleanup(srv.Stop)
			return &gcsServer{Server: srv, URL: "http://" + host}
		}
		lastErr = err
	}
	t.Fatalf("starting fake-gcs-server: %v", lastErr)
	return nil
}

// objects lists the names of the objects left in bucket.
func (s *gcsServer) objects(t *testing.T, bucket string) []string {
	t.Helper()
	var names []string
	opts := fakestorage.ListOptions{}
	for {
		page, err := s.ListObjectsWithOptionsPaginated(bucket, opts)
		require.NoError(t, err)
		for _, o := range page.Objects {
			names = append(names, o.Name)
		}
		if page.NextPageToken == "" {
			return names
		}
		opts.PageToken = page.NextPageToken
	}
}

// gcsScenario returns a scenario of the gcs job with Dagster's given
// injector and reader ("gcs…" for dagster-gcp's, else the probe's), on a
// fresh bucket of srv. The job's side of each channel follows Dagster's.
func gcsScenario(t *testing.T, srv *gcsServer, injector, reader string, args ...string) Scenario {
	t.Helper()
	bucket := fmt.Sprintf("e2e-gcs-%d", gcsBucketSeq.Add(1))
	srv.CreateBucketWithOpts(fakestorage.CreateBucketOpts{Name: bucket})
	return storeScenario("gcs", injector, reader, map[string]string{
		"STORAGE_EMULATOR_HOST":  srv.URL,
		"PIPES_E2E_GCS_BUCKET":   bucket,
		"PIPES_E2E_GCS_INTERVAL": "1",
	}, args...)
}

// requireGCSChunks asserts that the messages went in several chunks under
// the 30-letter prefix Dagster's reader chose (Dagster leaves them in the
// bucket), and that Dagster's injector deleted the context object.
func requireGCSChunks(t *testing.T, srv *gcsServer, sc Scenario, messagesThroughGCS bool) {
	t.Helper()
	names := srv.objects(t, sc.Env["PIPES_E2E_GCS_BUCKET"])
	if messagesThroughGCS {
		chunks := 0
		for _, n := range names {
			if chunkKeyRE.MatchString(n) {
				chunks++
			}
		}
		assert.GreaterOrEqual(t, chunks, batches, "message chunks in the bucket: %q", names)
	}
	for _, n := range names {
		assert.NotContains(t, n, "context.json", "Dagster's GCS injector deletes the context after the session")
	}
}

// Context and messages through GCS, and the mixed pairs: Dagster's env and
// temp-file injectors with GCS messages, and the GCS injector with
// Dagster's default temp-file message reader.
func TestGCS(t *testing.T) {
	requireDagster(t)
	srv := startGCS(t)
	for _, tc := range []struct{ name, injector, reader string }{
		{"gcs-context/gcs-messages", "gcs", "gcs"},
		{"gcs-context-key-prefix/gcs-messages", "gcs:ctx/prefix/", "gcs"},
		{"env-context/gcs-messages", "env", "gcs"},
		{"tempfile-context/gcs-messages", "tempfile", "gcs"},
		{"gcs-context/tempfile-messages", "gcs", "tempfile"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sc := gcsScenario(t, srv, tc.injector, tc.reader)
			res := runScenario(t, sc)
			requireStoreReport(t, res, "gcs")
			requireGCSChunks(t, srv, sc, tc.reader == "gcs")
		})
	}
}

// A failing job: the closed message, uploaded to GCS with the exception,
// reaches Dagster, which records the exception, and the step fails because
// the process exited with status 1.
func TestGCSFailure(t *testing.T) {
	requireDagster(t)
	srv := startGCS(t)
	res := runScenario(t, gcsScenario(t, srv, "gcs", "gcs", "fail"))
	requireStoreFailure(t, res, "gcs")
}

// include_stdio_in_messages on the GCS reader: what the job and its child
// process print comes back as log_external_stream messages, which
// Dagster's handler prints on its own stdout and stderr. Without the flag,
// none of it comes back.
func TestGCSStdio(t *testing.T) {
	requireDagster(t)
	srv := startGCS(t)
	testStoreStdio(t, "gcs", func(t *testing.T, reader string) Scenario {
		return gcsScenario(t, srv, "gcs", reader, "stdio")
	})
}

// Faults between the job and the store, mid-run: every other upload of the
// job is answered with a 503 (server error) or a 429 (throttling) by a
// proxy, while Dagster reads the store directly. The job's client retries;
// Dagster receives every message, in order, and nothing is lost.
func TestGCSFaults(t *testing.T) {
	requireDagster(t)
	srv := startGCS(t)
	for _, status := range []int{http.StatusServiceUnavailable, http.StatusTooManyRequests} {
		t.Run(strconv.Itoa(status), func(t *testing.T) {
			proxy := faultproxy.New(t, srv.URL)
			uploads := 0
			proxy.Inject(faultproxy.Rule{
				// Called under the proxy's lock: the counter needs no other.
				Match: func(r *http.Request) bool {
					if r.Method != http.MethodPost || !strings.HasPrefix(r.URL.Path, "/upload/") {
						return false
					}
					uploads++
					return uploads%2 == 0
				},
				Status: status,
				Times:  -1,
			})
			sc := gcsScenario(t, srv, "gcs", "gcs")
			// The job goes through the proxy; Dagster's side does not.
			sc.Env["PIPES_E2E_GCS_READER_HOST"] = srv.URL
			sc.Env["STORAGE_EMULATOR_HOST"] = proxy.URL
			res := runScenario(t, sc)
			requireStoreReport(t, res, "gcs")
			requireGCSChunks(t, srv, sc, true)
			assert.GreaterOrEqual(t, proxy.Injected(), batches/2, "faults were injected: %+v", proxy.Requests())
		})
	}
}

// examples/gcs: its definitions.py, unchanged, launches the example job
// through a GCS bucket (its own storage.Client() finds the server through
// STORAGE_EMULATOR_HOST).
func TestGCSExample(t *testing.T) {
	requireDagster(t)
	srv := startGCS(t)
	bucket := fmt.Sprintf("e2e-examples-gcs-%d", gcsBucketSeq.Add(1))
	srv.CreateBucketWithOpts(fakestorage.CreateBucketOpts{Name: bucket})
	res := runExample(t, "gcs", "PIPES_GCS_JOB", exampleRun{Env: map[string]string{
		"STORAGE_EMULATOR_HOST": srv.URL,
		"PIPES_GCS_BUCKET":      bucket,
		"PIPES_GCS_INTERVAL":    "1",
	}})
	requireSucceeded(t, res)
	assert.Contains(t, res.UserLogs(), LogRecord{"INFO", "rows computed rows=5000"}, "the extras of definitions.py reached the job")
	mats := res.Materialized("go_gcs_rows")
	require.Len(t, mats, 1, "materializations: %+v", res.Materializations)
	md := mats[0].Metadata
	assert.Equal(t, map[string]string{
		"rows": "IntMetadataValue", "total": "IntMetadataValue", "duration": "FloatMetadataValue", "storage": "TextMetadataValue",
	}, metadataTypes(md))
	assert.Equal(t, json.Number("5000"), md["rows"].Value)
	assert.Equal(t, json.Number("14995"), md["total"].Value) // 714 runs of 0..6 (21 each), then 0 and 1
	assert.Equal(t, "gcs", md["storage"].Value)
	require.Len(t, res.Checks, 1, "checks: %+v", res.Checks)
	assert.Equal(t, "has_rows", res.Checks[0].CheckName)
	assert.True(t, res.Checks[0].Passed)
	names := srv.objects(t, bucket)
	assert.NotEmpty(t, names, "the messages went through the bucket")
	for _, n := range names {
		assert.Regexp(t, chunkKeyRE, n, "only message chunks are left")
	}
}

// Dagster's GCS injector puts the context where the Go SDK's default
// client (XML reads, path-style) can read it from the emulator: a sanity
// check of the server set-up the other tests rely on.
func TestGCSServerSetup(t *testing.T) {
	srv := startGCS(t)
	srv.CreateObject(fakestorage.Object{
		ObjectAttrs: fakestorage.ObjectAttrs{BucketName: "setup", Name: "a/b.json"},
		Content:     []byte(`{}`),
	})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	t.Setenv("STORAGE_EMULATOR_HOST", srv.URL)
	client, err := storage.NewClient(ctx)
	require.NoError(t, err)
	defer client.Close()
	r, err := client.Bucket("setup").Object("a/b.json").NewReader(ctx)
	require.NoError(t, err)
	require.NoError(t, r.Close())
}
