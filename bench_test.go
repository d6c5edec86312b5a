package pipes

// Benchmarks for issue 6 (performance). Each report is measured through the
// file channel (the real thing: one write(2) per message) and through an
// in-memory channel that encodes the message and drops it (to separate
// encoding from I/O). Run them with
//
//	go test -run '^$' -bench . -benchmem
//
// They are quick with -benchtime 1x, as CI runs them. BENCHMARKS.md has the
// results and the cross-language comparison (bench/compare).

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"
)

const benchAsset = "bench_asset"

// memChannel encodes each message into a reused line buffer, as FileChannel
// does, and drops it.
type memChannel struct {
	mu    sync.Mutex
	line  []byte
	bytes int64
}

func (c *memChannel) WriteMessage(msg Message) error {
	c.mu.Lock()
	c.line = append(msg.AppendJSON(c.line[:0]), '\n')
	c.bytes += int64(len(c.line))
	c.mu.Unlock()
	return nil
}

func (c *memChannel) Close() error { return nil }

// channelWriter is a MessageWriter that hands out one given channel.
type channelWriter struct{ ch MessageWriterChannel }

func (w channelWriter) Open(context.Context, Params) (MessageWriterChannel, error) {
	return w.ch, nil
}

// benchBootstrap writes the context file and returns env-style params for a
// step that targets benchAsset, with messages going to msgPath, as Dagster's
// subprocess client launches a job (temp-file context, temp-file messages).
func benchBootstrap(tb testing.TB, dir, msgPath string) map[string]string {
	tb.Helper()
	ctxPath := filepath.Join(dir, "context.json")
	raw, err := json.Marshal(map[string]any{
		"asset_keys": []string{benchAsset}, "code_version_by_asset_key": nil,
		"provenance_by_asset_key": nil, "partition_key": nil, "partition_key_range": nil,
		"partition_time_window": nil, "run_id": "0b1f0b1f-0b1f-0b1f-0b1f-0b1f0b1f0b1f",
		"job_name": "bench", "retry_number": 0, "extras": map[string]any{},
	})
	if err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(ctxPath, raw, 0o644); err != nil {
		tb.Fatal(err)
	}
	c, err := EncodeParam(map[string]any{"path": ctxPath})
	if err != nil {
		tb.Fatal(err)
	}
	m, err := EncodeParam(map[string]any{"path": msgPath})
	if err != nil {
		tb.Fatal(err)
	}
	return map[string]string{ContextEnvVar: c, MessagesEnvVar: m}
}

// benchSink is where a benchmark's messages go.
type benchSink struct {
	p       *Context
	msgPath string // "" for the in-memory channel
	n       int
}

// newBenchContext opens a Context whose messages go to a file (kind "file")
// or are encoded and dropped (kind "memory").
func newBenchContext(b testing.TB, kind string) *benchSink {
	b.Helper()
	dir := b.TempDir()
	s := &benchSink{}
	var msgPath string
	opts := []Option{}
	switch kind {
	case "file":
		msgPath = filepath.Join(dir, "messages")
		s.msgPath = msgPath
	case "memory":
		msgPath = filepath.Join(dir, "unused")
		opts = append(opts, WithMessageWriter(channelWriter{&memChannel{}}))
	default:
		b.Fatalf("unknown sink %q", kind)
	}
	opts = append(opts, WithParamsLoader(MappingParamsLoader{Mapping: benchBootstrap(b, dir, msgPath)}))
	p, err := New(context.Background(), opts...)
	if err != nil {
		b.Fatal(err)
	}
	s.p = p
	b.Cleanup(func() { _ = p.Close() })
	return s
}

// tick keeps the messages file small during long runs; it stops the timer
// while it truncates. The file is opened with O_APPEND, so the next write
// goes to the new end.
func (s *benchSink) tick(b *testing.B) {
	s.n++
	if s.msgPath == "" || s.n%1024 != 0 {
		return
	}
	b.StopTimer()
	if fi, err := os.Stat(s.msgPath); err == nil && fi.Size() > 64<<20 {
		if err := os.Truncate(s.msgPath, 0); err != nil {
			b.Fatal(err)
		}
	}
	b.StartTimer()
}

var benchSinks = []string{"file", "memory"}

// benchEachSink runs a sub-benchmark per sink: setup gets a fresh Context on
// that sink and returns the operation to time, which runs once per
// iteration (followed by the sink's bookkeeping).
func benchEachSink(b *testing.B, setup func(b *testing.B, s *benchSink) func()) {
	for _, kind := range benchSinks {
		b.Run(kind, func(b *testing.B) {
			s := newBenchContext(b, kind)
			op := setup(b, s)
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				op()
				s.tick(b)
			}
		})
	}
}

// benchMessage is the log message of the benchmarks and of bench/compare.
const benchMessage = "processed batch 1234 of 100000 (250 records)"

func BenchmarkLog(b *testing.B) {
	benchEachSink(b, func(b *testing.B, s *benchSink) func() {
		log := s.p.Log()
		return func() { log.Info(benchMessage) }
	})
}

// BenchmarkLogAttrs is a log record with three attributes, which the handler
// appends to the message as key=value pairs.
func BenchmarkLogAttrs(b *testing.B) {
	benchEachSink(b, func(b *testing.B, s *benchSink) func() {
		log := s.p.Log()
		return func() { log.Info("processed batch", "batch", 1234, "records", 250, "table", "events") }
	})
}

// benchCustomPayload is a typical custom message: a small JSON object.
var benchCustomPayload = map[string]any{
	"rows": 1234, "source": "s3://bucket/key.parquet", "ok": true, "score": 0.97,
	"tags": []any{"a", "b"},
}

func BenchmarkCustomMessage(b *testing.B) {
	benchEachSink(b, func(b *testing.B, s *benchSink) func() {
		return func() {
			if err := s.p.ReportCustomMessage(benchCustomPayload); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// benchMetadata10 returns 10 metadata entries of mixed types: typed values
// and plain Go values typed by Dagster.
func benchMetadata10() Metadata {
	return Metadata{
		"row_count":   Int(1234567),
		"size_mb":     Float(12.5),
		"path":        Path("/data/out/part-0001.parquet"),
		"url":         URL("https://example.com/dashboards/42"),
		"description": Markdown("# Daily load\nAll **good**."),
		"ok":          Bool(true),
		"owner":       Text("data-team"),
		"updated_at":  Timestamp(time.Unix(1700000000, 0)),
		"partitions":  42,
		"source":      "warehouse.events",
	}
}

// benchTable returns a table of n rows and four columns.
func benchTable(n int) Table {
	records := make([]map[string]any, n)
	for i := range records {
		records[i] = map[string]any{
			"id": i, "name": "row-" + strconv.Itoa(i), "score": float64(i) / 7, "valid": i%3 != 0,
		}
	}
	return Table{Records: records, Schema: []TableColumn{
		{Name: "id", Type: "int"}, {Name: "name", Type: "string"},
		{Name: "score", Type: "float"}, {Name: "valid", Type: "bool"},
	}}
}

// reportMaterialization reports m and forgets it, so that the same asset can
// be reported again by the next iteration.
func reportMaterialization(b testing.TB, p *Context, m Materialization) {
	if err := p.ReportAssetMaterialization(m); err != nil {
		b.Fatal(err)
	}
	p.mu.Lock()
	delete(p.materialized, benchAsset)
	p.mu.Unlock()
}

func BenchmarkMaterialization10(b *testing.B) {
	benchEachSink(b, func(b *testing.B, s *benchSink) func() {
		m := Materialization{DataVersion: "v1", Metadata: benchMetadata10()}
		return func() { reportMaterialization(b, s.p, m) }
	})
}

// BenchmarkMaterialization10Built also counts building the metadata map, as
// a job does when it reports.
func BenchmarkMaterialization10Built(b *testing.B) {
	s := newBenchContext(b, "memory")
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		reportMaterialization(b, s.p, Materialization{DataVersion: "v1", Metadata: benchMetadata10()})
	}
}

func BenchmarkMaterializationTable1000(b *testing.B) {
	benchEachSink(b, func(b *testing.B, s *benchSink) func() {
		m := Materialization{Metadata: Metadata{"preview": TableValue(benchTable(1000))}}
		return func() { reportMaterialization(b, s.p, m) }
	})
}

// BenchmarkFileThroughput logs from 1 and from 8 goroutines through the file
// channel; msgs/s is the total rate.
func BenchmarkFileThroughput(b *testing.B) {
	for _, g := range []int{1, 8} {
		b.Run("goroutines="+strconv.Itoa(g), func(b *testing.B) {
			s := newBenchContext(b, "file")
			log := s.p.Log()
			b.ReportAllocs()
			b.ResetTimer()
			start := time.Now()
			var next atomic.Int64
			var wg sync.WaitGroup
			for range g {
				wg.Go(func() {
					for next.Add(1) <= int64(b.N) {
						log.Info(benchMessage)
					}
				})
			}
			wg.Wait()
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "msgs/s")
			if fi, err := os.Stat(s.msgPath); err == nil && fi.Size() > 256<<20 {
				_ = os.Truncate(s.msgPath, 0)
			}
		})
	}
}

// BenchmarkOpenClose is a whole session with the default loaders and the
// default file writer: env vars, context file, opened and closed messages.
func BenchmarkOpenClose(b *testing.B) {
	dir := b.TempDir()
	msgPath := filepath.Join(dir, "messages")
	for k, v := range benchBootstrap(b, dir, msgPath) {
		b.Setenv(k, v)
	}
	Set(nil)
	b.Cleanup(func() { Set(nil) })
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		p, err := Open(ctx)
		if err != nil {
			b.Fatal(err)
		}
		if err := p.Close(); err != nil {
			b.Fatal(err)
		}
		Set(nil)
		if i%4096 == 4095 {
			b.StopTimer()
			_ = os.Truncate(msgPath, 0)
			b.StartTimer()
		}
	}
}

// BenchmarkBlobStore1M writes 1,000,000 log messages through a blob-store
// channel whose uploader does nothing (interval 10 ms), and reports the peak
// heap (objects, including garbage not yet collected) and the peak live heap
// (as marked by each GC) next to the largest chunk (one interval's messages)
// and the total: the peak follows the chunk, not the total.
func BenchmarkBlobStore1M(b *testing.B) {
	const n = 1_000_000
	const interval = 10 * time.Millisecond
	for b.Loop() {
		var maxChunk, total atomic.Int64
		var chunks atomic.Int64
		upload := func(_ context.Context, chunk []byte, _ int) error {
			chunks.Add(1)
			total.Add(int64(len(chunk)))
			for {
				m := maxChunk.Load()
				if int64(len(chunk)) <= m || maxChunk.CompareAndSwap(m, int64(len(chunk))) {
					break
				}
			}
			return nil
		}
		runtime.GC()
		base, baseLive := heapBytes()
		var peak, peakLive atomic.Int64
		stop := make(chan struct{})
		sampled := make(chan struct{})
		go func() { // samples the live heap every millisecond
			defer close(sampled)
			t := time.NewTicker(time.Millisecond)
			defer t.Stop()
			for {
				h, live := heapBytes()
				if h-base > peak.Load() {
					peak.Store(h - base)
				}
				if live-baseLive > peakLive.Load() {
					peakLive.Store(live - baseLive)
				}
				select {
				case <-stop:
					return
				case <-t.C:
				}
			}
		}()
		start := time.Now()
		ch := NewBlobStoreChannel(upload, BlobStoreOptions{Interval: interval})
		p := &Context{data: &ContextData{}, channel: ch, materialized: map[string]struct{}{}}
		p.logger = slog.New(&handler{p: p})
		log := p.Log()
		for range n {
			log.Info(benchMessage)
		}
		if err := p.Close(); err != nil {
			b.Fatal(err)
		}
		elapsed := time.Since(start)
		close(stop)
		<-sampled
		b.ReportMetric(float64(peak.Load())/(1<<20), "peak-heap-MB")
		b.ReportMetric(float64(peakLive.Load())/(1<<20), "peak-live-MB")
		b.ReportMetric(float64(maxChunk.Load())/(1<<20), "max-chunk-MB")
		b.ReportMetric(float64(total.Load())/(1<<20), "total-MB")
		b.ReportMetric(float64(chunks.Load()), "chunks")
		b.ReportMetric(float64(n)/elapsed.Seconds(), "msgs/s")
	}
}

// heapBytes returns the bytes of heap objects (live or not yet swept) and
// the live heap marked by the last GC.
func heapBytes() (objects, live int64) {
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}, {Name: "/gc/heap/live:bytes"}}
	metrics.Read(s)
	return int64(s[0].Value.Uint64()), int64(s[1].Value.Uint64())
}

// Make sure that the file benchmarks write what they claim to.
func TestBenchSinkWritesMessages(t *testing.T) {
	dir := t.TempDir()
	msgPath := filepath.Join(dir, "messages")
	p, err := New(context.Background(), WithParamsLoader(MappingParamsLoader{Mapping: benchBootstrap(t, dir, msgPath)}))
	if err != nil {
		t.Fatal(err)
	}
	p.Log().Info(benchMessage)
	if err := p.ReportAssetMaterialization(Materialization{Metadata: benchMetadata10()}); err != nil {
		t.Fatal(err)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	msgs := readMessages(t, msgPath)
	if got := fmt.Sprint(methods(msgs)); got != "[opened log report_asset_materialization closed]" {
		t.Fatalf("methods = %s", got)
	}
}

// specStringContent is what appendStringContent must write, stated rune by
// rune: quote, backslash and control characters escaped (\n, \r, \t by
// name), U+2028 and U+2029 escaped, each invalid byte replaced by \ufffd,
// everything else as is. The fast path must not change a byte of it.
func specStringContent(s string) string {
	var sb strings.Builder
	for len(s) > 0 {
		r, size := utf8.DecodeRuneInString(s)
		switch {
		case r == utf8.RuneError && size == 1:
			sb.WriteString(`\ufffd`)
		case r == '"' || r == '\\':
			sb.WriteString(`\` + string(r))
		case r == '\n':
			sb.WriteString(`\n`)
		case r == '\r':
			sb.WriteString(`\r`)
		case r == '\t':
			sb.WriteString(`\t`)
		case r < 0x20 || r == '\u2028' || r == '\u2029':
			fmt.Fprintf(&sb, `\u%04x`, r)
		default:
			sb.WriteString(s[:size])
		}
		s = s[size:]
	}
	return sb.String()
}

func TestAppendStringContentFastPath(t *testing.T) {
	alphabet := []string{"a", "Z", " ", "~", "\x7f", "\x00", "\x1f", "\n", "\t", "\r", `"`, `\`, "/", "<", "é", "\u2028", "\u2029", "€", "😀", "\xff", "\xe2\x80", "!", "#", "]", "^", "A", "0123456789"}
	rng := rand.New(rand.NewPCG(1, 2))
	check := func(s string) {
		t.Helper()
		want := []byte(specStringContent(s))
		if got := appendStringContent(nil, s); !bytes.Equal(got, want) {
			t.Fatalf("string %q: got %q, want %q", s, got, want)
		}
		if got := appendStringContent(nil, []byte(s)); !bytes.Equal(got, want) {
			t.Fatalf("bytes %q: got %q, want %q", s, got, want)
		}
		if got := appendStringContentFast([]byte("prefix"), s); !bytes.Equal(got, append([]byte("prefix"), want...)) {
			t.Fatalf("log path %q: got %q, want prefix%q", s, got, want)
		}
	}
	for i := range 256 { // every byte at every position of a 16-byte block
		for pos := range 16 {
			b := []byte("abcdefghijklmnopq")[:16]
			b[pos] = byte(i)
			check(string(b))
		}
	}
	for range 20000 {
		var sb strings.Builder
		for range rng.IntN(40) {
			sb.WriteString(alphabet[rng.IntN(len(alphabet))])
		}
		check(sb.String())
	}
	check(benchMessage)
}

func BenchmarkAppendString(b *testing.B) {
	for _, s := range []string{benchMessage, "short", strings.Repeat("plain ascii text ", 20), "ünïcödé text with a \"quote\"\n"} {
		b.Run(strconv.Itoa(len(s)), func(b *testing.B) {
			buf := make([]byte, 0, 1024)
			b.SetBytes(int64(len(s)))
			for b.Loop() {
				buf = appendString(buf[:0], s)
			}
		})
	}
}

// TestLogIsInFileWhenCallReturns checks the durability that workload (a) of
// bench/compare relies on: each log call has written its whole line to the
// file (not to a user-space buffer) when it returns.
func TestLogIsInFileWhenCallReturns(t *testing.T) {
	dir := t.TempDir()
	msgPath := filepath.Join(dir, "messages")
	p, err := New(context.Background(), WithParamsLoader(MappingParamsLoader{Mapping: benchBootstrap(t, dir, msgPath)}))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	want := `{"__dagster_pipes_version":"0.1","method":"log","params":{"message":"` + benchMessage + `","level":"INFO"}}` + "\n"
	for i := range 50 {
		before, err := os.ReadFile(msgPath)
		if err != nil {
			t.Fatal(err)
		}
		p.Log().Info(benchMessage)
		after, err := os.ReadFile(msgPath)
		if err != nil {
			t.Fatal(err)
		}
		if string(after) != string(before)+want {
			t.Fatalf("call %d: the file grew by %q, want %q", i, after[len(before):], want)
		}
	}
}

// The three benchmarks below split the file log path into its parts, in the
// same run: the write itself (the floor), slog's own cost per record, and
// this package's path without slog.

// BenchmarkLogFloor writes the bytes of one log message, encoded beforehand,
// with one write per message: the physical floor of BenchmarkLog/file.
func BenchmarkLogFloor(b *testing.B) {
	f, err := os.OpenFile(filepath.Join(b.TempDir(), "messages"), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	line := []byte(`{"__dagster_pipes_version":"0.1","method":"log","params":{"message":"` + benchMessage + `","level":"INFO"}}` + "\n")
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if _, err := f.Write(line); err != nil {
			b.Fatal(err)
		}
		if i%(1<<19) == 0 {
			b.StopTimer()
			_ = f.Truncate(0)
			b.StartTimer()
		}
	}
}

// nopHandler is an enabled slog handler that does nothing.
type nopHandler struct{}

func (nopHandler) Enabled(context.Context, slog.Level) bool  { return true }
func (nopHandler) Handle(context.Context, slog.Record) error { return nil }
func (h nopHandler) WithAttrs([]slog.Attr) slog.Handler      { return h }
func (h nopHandler) WithGroup(string) slog.Handler           { return h }

// BenchmarkSlogFrontEnd is what slog.Logger.Info costs before it reaches any
// handler (the caller's PC, the time, the record).
func BenchmarkSlogFrontEnd(b *testing.B) {
	log := slog.New(nopHandler{})
	b.ReportAllocs()
	for b.Loop() {
		log.Info(benchMessage)
	}
}

// BenchmarkLogMessage is BenchmarkLog through Context.LogMessage, the log
// path without slog's front end.
func BenchmarkLogMessage(b *testing.B) {
	benchEachSink(b, func(b *testing.B, s *benchSink) func() {
		return func() {
			if err := s.p.LogMessage(slog.LevelInfo, benchMessage); err != nil {
				b.Fatal(err)
			}
		}
	})
}
