//go:build unix

package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/dagster-pipes-go/pipes"
)

// BenchmarkExecOverhead measures what `pipes exec` adds to a command, from
// process start to exit: the command alone (sh -c with a no-op where the
// report would be) against `pipes exec -- sh -c 'pipes materialize --meta
// rows=1'` (open the session, start the command, one materialization from a
// second process over the socket, close), both with the bootstrap variables
// Dagster's default injector and reader set. The two run interleaved; the
// medians are reported, with their ratio, and the size of the stripped
// static binary (CGO_ENABLED=0, -trimpath -ldflags="-s -w") that is used.
func BenchmarkExecOverhead(b *testing.B) {
	dir := b.TempDir()
	bin := filepath.Join(dir, "pipes")
	build := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", bin, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		b.Fatalf("go build: %v\n%s", err, out)
	}
	st, err := os.Stat(bin)
	if err != nil {
		b.Fatal(err)
	}
	ctxParam, err := pipes.EncodeParam(map[string]any{"data": map[string]any{
		"asset_keys": []string{"a"}, "run_id": "bench", "extras": map[string]any{}}})
	if err != nil {
		b.Fatal(err)
	}
	msgParam, err := pipes.EncodeParam(map[string]any{"path": filepath.Join(dir, "messages")})
	if err != nil {
		b.Fatal(err)
	}
	env := append(os.Environ(), "PATH="+dir+string(os.PathListSeparator)+os.Getenv("PATH"),
		pipes.ContextEnvVar+"="+ctxParam, pipes.MessagesEnvVar+"="+msgParam)
	run := func(args ...string) time.Duration {
		cmd := exec.Command(args[0], args[1:]...)
		cmd.Env = env
		start := time.Now()
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("%q: %v\n%s", args, err, out)
		}
		return time.Since(start)
	}
	var direct, wrapped []time.Duration
	b.ResetTimer()
	for b.Loop() {
		direct = append(direct, run("sh", "-c", ": pipes materialize --meta rows=1"))
		wrapped = append(wrapped, run(bin, "exec", "--", "sh", "-c", "pipes materialize --meta rows=1"))
	}
	d, w := median(direct), median(wrapped)
	b.ReportMetric(float64(d.Microseconds())/1000, "direct-ms")
	b.ReportMetric(float64(w.Microseconds())/1000, "exec-ms")
	b.ReportMetric(float64(w)/float64(d), "ratio")
	b.ReportMetric(float64(st.Size())/1e6, "binary-MB")
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}
