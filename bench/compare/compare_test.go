package main

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// BenchmarkCompare runs the comparison in a short mode (2,000 messages, one
// measured run, no blob-store runs), so that CI's `go test -run '^$' -bench . -benchtime 1x
// ./...` keeps the script, the jobs and their checks working. The numbers
// of a short run are not the ones in BENCHMARKS.md: run `go run
// ./bench/compare` for those.
func BenchmarkCompare(b *testing.B) {
	cfg := Config{N: 2000, Runs: 1, ProcessRuns: 1}
	if os.Getenv("PIPES_E2E") == "" {
		// Outside scripts/test.sh the venv may be missing: skip rather than fail.
		root, err := findRoot()
		if err != nil {
			b.Fatal(err)
		}
		py := os.Getenv("PIPES_E2E_PYTHON")
		if py == "" {
			py = root + "/.venv/bin/python"
		}
		if err := exec.Command(py, "-c", "import dagster_pipes").Run(); err != nil {
			b.Skipf("no Python with dagster-pipes (%s): run scripts/test.sh to create .venv", py)
		}
	}
	for b.Loop() {
		res, err := Compare(cfg)
		if err != nil {
			b.Fatal(err)
		}
		var sb strings.Builder
		res.WriteText(&sb)
		b.Log("\n" + sb.String())
		b.ReportMetric(res.FloorRatio(), "x-floor-slog")
		b.ReportMetric(res.DirectFloorRatio(), "x-floor-logmessage")
		b.ReportMetric(res.LogSpeedup(), "x-python-logs")
		b.ReportMetric(ms(res.JobSignalsWall), "ms-small-job")
		b.ReportMetric(res.MiniGoRatio(), "x-minimal-go-port")
		b.ReportMetric(res.ProcessSpeedup(), "x-python-process")
		b.ReportMetric(res.RSSRatio(), "rss-ratio")
	}
}

func TestParseBlobBench(t *testing.T) {
	out := `=== RUN   BenchmarkMillionMessages
BenchmarkMillionMessages/burst-2         	       1	1455049525 ns/op	    689389 msgs/s	       268.5 peak-heap-MB	       174.5 peak-live-MB	       125.9 sent-MB
BenchmarkMillionMessages/paced-2         	       1	10012830873 ns/op	         1.259 interval-MB	     99960 msgs/s	         7.766 peak-heap-MB	         3.161 peak-live-MB	       125.9 sent-MB
`
	rs := parseBlobBench(out, "BenchmarkMillionMessages", "S3", "moto")
	if len(rs) != 2 || rs[0].Mode != "burst" || rs[1].Mode != "paced" {
		t.Fatalf("parsed %+v", rs)
	}
	if rs[0].Metrics["msgs/s"] != 689389 || rs[1].Metrics["peak-live-MB"] != 3.161 || rs[1].Metrics["interval-MB"] != 1.259 {
		t.Fatalf("metrics %+v", rs)
	}
	skipped := parseBlobBench("    bench_test.go:62: azurite unavailable\n--- SKIP: BenchmarkMillionMessages\n", "BenchmarkMillionMessages", "Azure Blob", "Azurite")
	if len(skipped) != 1 || skipped[0].Skipped != "bench_test.go:62: azurite unavailable" {
		t.Fatalf("skip parsed as %+v", skipped)
	}
	// databrickspipes runs two benchmarks in one package: each parse takes
	// its own lines only.
	dbx := `BenchmarkMillionMessages/burst-2    	       1	  99717435 ns/op	    202246 msgs/s	        11.11 peak-heap-MB	         6.548 peak-live-MB	         2.518 sent-MB
BenchmarkMillionMessages/paced-2    	       1	 234873718 ns/op	         1.259 interval-MB	     85574 msgs/s	        11.60 peak-heap-MB	         6.252 peak-live-MB	         2.518 sent-MB
BenchmarkMillionMessagesVolumes/burst-2         	       1	  32071861 ns/op	    643263 msgs/s	         7.728 peak-heap-MB	         4.723 peak-live-MB	         2.518 sent-MB
BenchmarkMillionMessagesVolumes/paced-2         	       1	 202668638 ns/op	         1.259 interval-MB	    100119 msgs/s	         4.697 peak-heap-MB	         2.802 peak-live-MB	         2.518 sent-MB
`
	dbfs := parseBlobBench(dbx, "BenchmarkMillionMessages", "DBFS (REST)", "internal/dbxserver")
	if len(dbfs) != 2 || dbfs[0].Mode != "burst" || dbfs[0].Metrics["msgs/s"] != 202246 || dbfs[1].Mode != "paced" || dbfs[1].Metrics["peak-live-MB"] != 6.252 {
		t.Fatalf("DBFS parsed as %+v", dbfs)
	}
	vol := parseBlobBench(dbx, "BenchmarkMillionMessagesVolumes", "UC volumes (Files API)", "internal/dbxserver")
	if len(vol) != 2 || vol[0].Mode != "burst" || vol[0].Metrics["msgs/s"] != 643263 || vol[1].Mode != "paced" || vol[1].Metrics["peak-live-MB"] != 2.802 {
		t.Fatalf("volumes parsed as %+v", vol)
	}
}

func TestMedian(t *testing.T) {
	if got := median([]int64{5, 1, 3}); got != 3 {
		t.Fatalf("median = %d", got)
	}
	if got := median([]int64{4, 1, 3, 2}); got != 2 {
		t.Fatalf("median = %d", got)
	}
}

func TestCheckSession(t *testing.T) {
	open := `{"__dagster_pipes_version":"0.1","method":"opened","params":{"extras":{}}}`
	closed := `{"__dagster_pipes_version":"0.1","method":"closed","params":{}}`
	if err := checkSession([]string{open, closed}, 2); err != nil {
		t.Fatal(err)
	}
	if err := checkSession([]string{open}, 2); err == nil {
		t.Fatal("a session without the closed message passed")
	}
	if err := checkSession([]string{closed, open}, 2); err == nil {
		t.Fatal("a session in the wrong order passed")
	}
}
