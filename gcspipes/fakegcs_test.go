package gcspipes_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"cloud.google.com/go/storage"
	"github.com/fsouza/fake-gcs-server/fakestorage"
	"github.com/googleapis/gax-go/v2"
	"go.uber.org/goleak"
	"google.golang.org/api/iterator"
	"google.golang.org/api/option"
)

// The tests run against fake-gcs-server, started in this process as a real
// HTTP server on 127.0.0.1 (shared by every test of the binary, a fresh
// bucket per test) and stopped by TestMain.

var (
	fakeOnce sync.Once
	fakeSrv  *fakestorage.Server
	fakeErr  error
	fakeURL  string // http://127.0.0.1:PORT

	bucketSeq atomic.Int64
)

func TestMain(m *testing.M) {
	if os.Getenv(benchServerEnv) == "1" {
		// The benchmarks' server process (bench_test.go), not a test run.
		os.Exit(serveBenchServer())
	}
	code := m.Run()
	if fakeSrv != nil {
		fakeSrv.Stop()
	}
	if code == 0 {
		if err := goleak.Find(
			// Started by an init function of go.opencensus.io (a dependency
			// of the storage SDK), for the life of the process.
			goleak.IgnoreTopFunction("go.opencensus.io/stats/view.(*worker).start"),
		); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.Exit(code)
}

// startFake starts fake-gcs-server on a loopback port. Its public host
// (where it answers the SDK's path-style XML reads) must be known before it
// starts, so the port is chosen first; a port taken in between is retried.
func startFake() (*fakestorage.Server, string, error) {
	var lastErr error
	for range 5 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, "", err
		}
		port := l.Addr().(*net.TCPAddr).Port
		_ = l.Close()
		host := "127.0.0.1:" + strconv.Itoa(port)
		srv, err := fakestorage.NewServerWithOptions(fakestorage.Options{
			Scheme:      "http",
			Host:        "127.0.0.1",
			Port:        uint16(port),
			PublicHost:  host,
			ExternalURL: "http://" + host,
		})
		if err == nil {
			return srv, "http://" + host, nil
		}
		lastErr = err
	}
	return nil, "", lastErr
}

// fake returns the shared server's base URL.
func fake(tb testing.TB) string {
	tb.Helper()
	fakeOnce.Do(func() { fakeSrv, fakeURL, fakeErr = startFake() })
	if fakeErr != nil {
		tb.Fatalf("starting fake-gcs-server: %v", fakeErr)
	}
	return fakeURL
}

// newBucket returns a client of the shared server and a fresh bucket.
func newBucket(tb testing.TB) (*storage.Client, string) {
	tb.Helper()
	base := fake(tb)
	bucket := fmt.Sprintf("pipes-%d-%d", time.Now().UnixNano()%1e9, bucketSeq.Add(1))
	fakeSrv.CreateBucketWithOpts(fakestorage.CreateBucketOpts{Name: bucket})
	return newClient(tb, base), bucket
}

// newClient returns an unauthenticated client of the server (or a proxy in
// front of it) at base, reading through the JSON API, with quick retries:
// a few milliseconds apart (at most 3 attempts, except uploads: the SDK retries
// those until their deadline).
func newClient(tb testing.TB, base string, opts ...option.ClientOption) *storage.Client {
	tb.Helper()
	opts = append([]option.ClientOption{
		option.WithEndpoint(base + "/storage/v1/"),
		option.WithoutAuthentication(),
		storage.WithJSONReads(),
	}, opts...)
	client, err := storage.NewClient(context.Background(), opts...)
	if err != nil {
		tb.Fatal(err)
	}
	client.SetRetry(
		storage.WithBackoff(gax.Backoff{Initial: time.Millisecond, Max: 5 * time.Millisecond}),
		storage.WithMaxAttempts(3))
	tb.Cleanup(func() { _ = client.Close() })
	return client
}

// getObject reads an object through the server's JSON API.
func getObject(tb testing.TB, client *storage.Client, bucket, name string) (string, error) {
	tb.Helper()
	r, err := client.Bucket(bucket).Object(name).NewReader(context.Background())
	if err != nil {
		return "", err
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	return string(b), err
}

// putObject uploads an object.
func putObject(tb testing.TB, client *storage.Client, bucket, name, content string) {
	tb.Helper()
	w := client.Bucket(bucket).Object(name).NewWriter(context.Background())
	if _, err := io.WriteString(w, content); err != nil {
		tb.Fatal(err)
	}
	if err := w.Close(); err != nil {
		tb.Fatal(err)
	}
}

// listObjects lists the names of the objects in bucket under prefix.
func listObjects(tb testing.TB, client *storage.Client, bucket, prefix string) []string {
	tb.Helper()
	var names []string
	it := client.Bucket(bucket).Objects(context.Background(), &storage.Query{Prefix: prefix})
	for {
		attrs, err := it.Next()
		if errors.Is(err, iterator.Done) {
			return names
		}
		if err != nil {
			tb.Fatal(err)
		}
		names = append(names, attrs.Name)
	}
}
