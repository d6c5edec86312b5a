//go:build unix

package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
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
	bin, size := buildStripped(b, dir)
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
	b.ReportMetric(float64(size)/1e6, "binary-MB")
}

// buildStripped builds cmd/pipes as it goes into an image (static,
// stripped) into dir, and returns its path and size.
func buildStripped(b *testing.B, dir string) (string, int64) {
	b.Helper()
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
	return bin, st.Size()
}

// BenchmarkVerb measures one report verb as a script runs it: the process
// `pipes log MESSAGE`, from start to exit, against a running `pipes exec`
// (Dagster's default bootstrap, messages to a file). Each verb is a fresh
// process, so this is where the package initialisation of everything the
// binary links (the stores' SDKs included) is paid, once per verb. The
// median is reported, with that of `pipes help` (start-up alone, no
// socket) and the size of the stripped static binary.
func BenchmarkVerb(b *testing.B) {
	dir := b.TempDir()
	bin, size := buildStripped(b, dir)
	ctxParam, err := pipes.EncodeParam(map[string]any{"data": map[string]any{
		"asset_keys": []string{"a"}, "run_id": "bench", "extras": map[string]any{}}})
	if err != nil {
		b.Fatal(err)
	}
	msgParam, err := pipes.EncodeParam(map[string]any{"path": filepath.Join(dir, "messages")})
	if err != nil {
		b.Fatal(err)
	}
	// pipes exec runs a command that hands over its report address, then
	// waits for its stdin to close.
	addr := filepath.Join(dir, "addr")
	session := exec.Command(bin, "exec", "--", "sh", "-c",
		`printf '%s\n%s\n' "$`+SocketEnv+`" "$`+SecretEnv+`" > `+addr+`.tmp && mv `+addr+`.tmp `+addr+` && cat >/dev/null`)
	session.Env = append(os.Environ(), pipes.ContextEnvVar+"="+ctxParam, pipes.MessagesEnvVar+"="+msgParam)
	stdin, err := session.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := session.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() {
		_ = stdin.Close()
		if err := session.Wait(); err != nil {
			b.Errorf("pipes exec: %v", err)
		}
	}()
	var raw []byte
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		if raw, err = os.ReadFile(addr); err == nil || time.Now().After(deadline) {
			break
		}
	}
	if err != nil {
		b.Fatalf("pipes exec did not start its command: %v", err)
	}
	socket, secret, _ := strings.Cut(strings.TrimSpace(string(raw)), "\n")
	env := append(os.Environ(), SocketEnv+"="+socket, SecretEnv+"="+secret)
	run := func(args ...string) time.Duration {
		cmd := exec.Command(bin, args...)
		cmd.Env = env
		start := time.Now()
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("%q: %v\n%s", args, err, out)
		}
		return time.Since(start)
	}
	var verbs, helps []time.Duration
	b.ResetTimer()
	for b.Loop() {
		verbs = append(verbs, run("log", "one line from a script"))
		helps = append(helps, run("help"))
	}
	b.StopTimer()
	b.ReportMetric(float64(median(verbs).Microseconds())/1000, "log-ms")
	b.ReportMetric(float64(median(helps).Microseconds())/1000, "help-ms")
	b.ReportMetric(float64(size)/1e6, "binary-MB")
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}
