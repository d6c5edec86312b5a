package main

import (
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
)

// BlobResult is one sub-benchmark of a cloud module's
// BenchmarkMillionMessages (internal/blobbench), or of another benchmark on
// the same body such as databrickspipes' BenchmarkMillionMessagesVolumes:
// a burst of messages, or messages at a steady rate, through the module's
// channel to its emulator.
type BlobResult struct {
	Store, Emulator, Mode string // Mode is "burst" or "paced"
	Skipped               string // why the benchmark skipped ("" if it ran)
	Metrics               map[string]float64
}

// runBlobBench runs the benchmark bench (BenchmarkMillionMessages, or
// another on internal/blobbench) in the module at dir once and parses its
// metrics.
func runBlobBench(dir, bench, store, emulator string) ([]BlobResult, error) {
	cmd := exec.Command("go", "test", "-run", "^$", "-bench", "^"+bench+"$", "-benchtime", "1x", "-v", ".")
	cmd.Dir = dir
	cmd.Env = os.Environ()
	out, err := cmd.CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("%s benchmark: %v\n%s", store, err, out)
	}
	return parseBlobBench(string(out), bench, store, emulator), nil
}

// parseBlobBench reads the output of `go test -bench -v` for the benchmark
// bench: its result lines ("BenchmarkMillionMessages/burst-2  1  123 ns/op
// 4.5 msgs/s …") and skip notices.
func parseBlobBench(out, bench, store, emulator string) []BlobResult {
	var rs []BlobResult
	lines := strings.Split(out, "\n")
	for i, l := range lines {
		f := strings.Fields(l)
		if len(f) >= 2 && f[0] == "---" && f[1] == "SKIP:" {
			reason := ""
			if i > 0 {
				reason = strings.TrimSpace(lines[i-1])
			}
			rs = append(rs, BlobResult{Store: store, Emulator: emulator, Skipped: reason})
			continue
		}
		if len(f) < 4 || !strings.HasPrefix(f[0], bench+"/") {
			continue
		}
		mode, _, _ := strings.Cut(strings.TrimPrefix(f[0], bench+"/"), "-")
		r := BlobResult{Store: store, Emulator: emulator, Mode: mode, Metrics: map[string]float64{}}
		for j := 2; j+1 < len(f); j += 2 {
			if v, err := strconv.ParseFloat(f[j], 64); err == nil {
				r.Metrics[f[j+1]] = v
			}
		}
		rs = append(rs, r)
	}
	return rs
}
