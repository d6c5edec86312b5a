package databrickspipes_test

import (
	"bytes"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/databricks/databricks-sdk-go"

	"github.com/dagster-pipes-go/pipes"
	"github.com/dagster-pipes-go/pipes/databrickspipes"
	"github.com/dagster-pipes-go/pipes/internal/blobbench"
	"github.com/dagster-pipes-go/pipes/internal/dbxserver"
	"github.com/dagster-pipes-go/pipes/internal/testserver"
)

// BenchmarkMillionMessages writes 1,000,000 log messages (20,000 with
// -short) through a DBFS channel (DBFS API put, chunks of at most
// MaxDBFSChunkSize) on the loopback Databricks server and closes it:
// messages/s and the peak live heap (internal/blobbench; bench/compare
// runs it). It fails unless the server holds every message of every run,
// in order, in chunks 1..N that Dagster's DBFS reader can read.
//
// The client keeps the SDK's defaults, as a job gets them: its rate limit
// of 15 requests/s (DATABRICKS_RATE_LIMIT) with one put per 0.5 MB chunk
// caps the channel near 7.5 MB/s, about 58,000 of these messages/s, so a
// faster writer, even at the paced rate, queues what the uploads cannot
// take yet.
func BenchmarkMillionMessages(b *testing.B) {
	srv := startBenchServer(b)
	benchChannel(b, srv, "/tmp/pipes-bench", databrickspipes.MaxDBFSChunkSize,
		func(w *databricks.WorkspaceClient, dir string) pipes.MessageWriterChannel {
			return databrickspipes.NewDBFSChannel(w.Dbfs, dir, pipes.BlobStoreOptions{Interval: blobbench.Interval})
		})
}

// BenchmarkMillionMessagesVolumes is [BenchmarkMillionMessages] for the
// Unity Catalog volumes channel (Files API upload, chunks of any size).
func BenchmarkMillionMessagesVolumes(b *testing.B) {
	srv := startBenchServer(b)
	benchChannel(b, srv, "/Volumes/main/default/pipes/bench", 0,
		func(w *databricks.WorkspaceClient, dir string) pipes.MessageWriterChannel {
			return databrickspipes.NewVolumesChannel(w.Files, dir, pipes.BlobStoreOptions{Interval: blobbench.Interval})
		})
}

// benchChannel runs blobbench on the channels that open returns, each in
// its own directory under base, then checks what the server stored
// (outside the timed runs). maxChunk, if positive, bounds each chunk.
func benchChannel(b *testing.B, srv benchServer, base string, maxChunk int,
	open func(w *databricks.WorkspaceClient, dir string) pipes.MessageWriterChannel) {
	w, err := databrickspipes.NewWorkspaceClient(&databricks.Config{Host: srv.url, Token: "bench-token"})
	if err != nil {
		b.Fatal(err)
	}
	var mu sync.Mutex
	var dirs []string
	blobbench.Run(b, func(name string) pipes.MessageWriterChannel {
		dir := base + "/" + strings.ReplaceAll(name, "/", "-")
		mu.Lock()
		dirs = append(dirs, dir)
		mu.Unlock()
		return open(w, dir)
	})
	if len(dirs) == 0 {
		b.Fatal("no run wrote anything")
	}
	for _, dir := range dirs {
		if err := checkStored(srv.local(dir), blobbench.Messages(), maxChunk); err != nil {
			b.Fatalf("what the server stored under %s: %v", dir, err)
		}
		// The next runs need no copy of this one on disk.
		_ = os.RemoveAll(srv.local(dir))
	}
}

// checkStored checks that the directory of the server's tree holds exactly
// the chunks 1.json … N.json, each at most maxChunk bytes (if positive),
// with n benchmark log messages in all and nothing else.
func checkStored(local string, n, maxChunk int) error {
	entries, err := os.ReadDir(local)
	if err != nil {
		return err
	}
	want := string(pipes.Message{Method: pipes.MethodLog, Params: []byte(blobbench.Line)}.AppendJSON(nil))
	total := 0
	for i := range entries {
		name := pipes.ChunkKey("", i+1)
		data, err := os.ReadFile(filepath.Join(local, name))
		if err != nil {
			names := make([]string, len(entries))
			for j, e := range entries {
				names[j] = e.Name()
			}
			return fmt.Errorf("chunks are not 1..%d.json with no gap (%v): %w", len(entries), names, err)
		}
		if maxChunk > 0 && len(data) > maxChunk {
			return fmt.Errorf("chunk %s holds %d bytes, more than %d", name, len(data), maxChunk)
		}
		if len(data) == 0 {
			return fmt.Errorf("chunk %s is empty", name)
		}
		for l := range bytes.SplitSeq(data, []byte("\n")) {
			if string(l) != want {
				return fmt.Errorf("message %d (in chunk %s) is %.200q, want %q", total+1, name, l, want)
			}
			total++
		}
	}
	if total != n {
		return fmt.Errorf("%d messages in %d chunks, want %d", total, len(entries), n)
	}
	return nil
}

// benchServerEnv makes the test binary serve dbxserver instead of running
// tests (see TestMain): the benchmarks' server runs in its own process, as
// moto and Azurite do for the other stores, so that the heap the
// benchmarks report is the channel's and the SDK's, not the server's
// request buffers.
const benchServerEnv = "DATABRICKSPIPES_BENCH_SERVER"

// serveBenchServer is the child process: it starts the server, prints its
// URL and root directory on two lines, and serves until its stdin closes.
func serveBenchServer() int {
	srv, err := dbxserver.Start(dbxserver.Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, "dbxserver:", err)
		return 1
	}
	defer srv.Close()
	testserver.ServeChild(srv.URL, srv.Root)
	return 0
}

// benchServer is a dbxserver in a child process.
type benchServer struct{ url, root string }

// local is the file of the server's tree that holds a DBFS or volume path.
func (s benchServer) local(p string) string {
	return filepath.Join(s.root, filepath.FromSlash(path.Clean("/"+p)))
}

// startBenchServer starts the server in a child process (this test binary
// again) and stops it when the benchmark ends.
func startBenchServer(b *testing.B) benchServer {
	b.Helper()
	lines := testserver.StartChild(b, benchServerEnv, "dbxserver", 2)
	if !strings.HasPrefix(lines[0], "http://127.0.0.1:") || !filepath.IsAbs(lines[1]) {
		b.Fatalf("dbxserver process: unexpected address %q, root %q", lines[0], lines[1])
	}
	return benchServer{url: lines[0], root: lines[1]}
}
