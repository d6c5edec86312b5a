package gcspipes_test

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/fsouza/fake-gcs-server/fakestorage"

	"github.com/dagster-pipes-go/pipes"
	"github.com/dagster-pipes-go/pipes/internal/blobbench"
	"github.com/dagster-pipes-go/pipes/internal/blobtest"
	"github.com/dagster-pipes-go/pipes/internal/testserver"
)

// BenchmarkHundredThousandMessages writes 100,000 messages through a GCS
// channel on fake-gcs-server (in a child process), uploading every 100 ms,
// and closes it. It fails unless the server holds every message of every
// run, in order, in chunks 1..N.
func BenchmarkHundredThousandMessages(b *testing.B) {
	bucket, runs := benchBucket(b)
	blobtest.BenchHundredThousandMessages(b, bucket)
	checkRuns(b, bucket, runs(), 100_000, func(i int) string {
		return blobtest.Wire(pipes.MethodLog, `{"message":"line `+strconv.Itoa(i)+`","level":"INFO"}`)
	})
}

// BenchmarkMillionMessages writes 1,000,000 log messages (20,000 with
// -short) through a GCS channel on fake-gcs-server and closes it:
// messages/s and the peak live heap (internal/blobbench; bench/compare
// runs it). The server runs in a child process, so that the heap is the
// channel's and the SDK's, not the objects the server keeps in memory. It
// fails unless the server holds every message of every run, in order, in
// chunks 1..N.
func BenchmarkMillionMessages(b *testing.B) {
	bucket, runs := benchBucket(b)
	blobtest.BenchMillionMessages(b, bucket)
	want := blobtest.Wire(pipes.MethodLog, blobbench.Line)
	checkRuns(b, bucket, runs(), blobbench.Messages(), func(int) string { return want })
}

// benchBucket returns a bucket of fake-gcs-server in a child process, and
// a function that returns the key prefixes of the channels opened on it.
func benchBucket(b *testing.B) (blobtest.Bucket, func() []string) {
	url := startBenchServer(b)
	bucket := bucketOf(b, newClient(b, url), benchBucketName)
	var mu sync.Mutex
	var prefixes []string
	open := bucket.Channel
	bucket.Channel = func(prefix string, o pipes.BlobStoreOptions) *pipes.BlobStoreChannel {
		mu.Lock()
		prefixes = append(prefixes, prefix)
		mu.Unlock()
		return open(prefix, o)
	}
	return bucket, func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), prefixes...)
	}
}

// checkRuns checks, through the client and outside the timed runs, that
// the server holds under each prefix exactly the chunks 1.json … N.json
// with the n messages of the run, the i-th (from 0) being want(i), and
// nothing else.
func checkRuns(b *testing.B, bucket blobtest.Bucket, prefixes []string, n int, want func(i int) string) {
	b.Helper()
	if len(prefixes) == 0 {
		b.Fatal("no run wrote anything")
	}
	for _, prefix := range prefixes {
		if err := checkStored(bucket, prefix, n, want); err != nil {
			b.Fatalf("what the server stored under %s/: %v", prefix, err)
		}
	}
}

func checkStored(bucket blobtest.Bucket, prefix string, n int, want func(i int) string) error {
	// The slash keeps "run1" from listing "run10".
	names, err := bucket.List(prefix + "/")
	if err != nil {
		return err
	}
	seen := make(map[string]bool, len(names))
	for _, name := range names {
		seen[name] = true
	}
	total := 0
	for c := 1; c <= len(names); c++ {
		key := pipes.ChunkKey(prefix, c)
		if !seen[key] {
			return fmt.Errorf("chunks are not 1..%d.json with no gap: %v", len(names), names)
		}
		data, err := bucket.Get(key)
		if err != nil {
			return fmt.Errorf("reading %s: %w", key, err)
		}
		if data == "" {
			return fmt.Errorf("chunk %s is empty", key)
		}
		for l := range strings.SplitSeq(data, "\n") {
			if total >= n {
				return fmt.Errorf("more than %d messages (chunk %s)", n, key)
			}
			if w := want(total); l != w {
				return fmt.Errorf("message %d (in chunk %s) is %.200q, want %q", total+1, key, l, w)
			}
			total++
		}
	}
	if total != n {
		return fmt.Errorf("%d messages in %d chunks, want %d", total, len(names), n)
	}
	return nil
}

// benchServerEnv makes the test binary serve fake-gcs-server instead of
// running tests (see TestMain). fake-gcs-server keeps every object in
// memory: in the benchmark's process, the heap it reports would count
// everything stored.
const benchServerEnv = "GCSPIPES_BENCH_SERVER"

// benchBucketName is the bucket the child process creates.
const benchBucketName = "pipes-bench"

// serveBenchServer is the child process: it starts fake-gcs-server with
// the bucket benchBucketName, prints its URL on a line, and serves until
// its stdin closes.
func serveBenchServer() int {
	srv, url, err := startFake()
	if err != nil {
		fmt.Fprintln(os.Stderr, "fake-gcs-server:", err)
		return 1
	}
	defer srv.Stop()
	srv.CreateBucketWithOpts(fakestorage.CreateBucketOpts{Name: benchBucketName})
	testserver.ServeChild(url)
	return 0
}

// startBenchServer starts fake-gcs-server in a child process (this test
// binary again), returns its URL, and stops it when the benchmark ends.
func startBenchServer(b *testing.B) string {
	b.Helper()
	url := testserver.StartChild(b, benchServerEnv, "fake-gcs-server", 1)[0]
	if !strings.HasPrefix(url, "http://127.0.0.1:") {
		b.Fatalf("fake-gcs-server process: unexpected address %q", url)
	}
	return url
}
