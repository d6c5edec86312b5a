// Package blobtest holds the scenarios every blob-store backend (S3, GCS,
// Azure Blob Storage) runs against its real server: chunk numbering,
// periodic and final uploads, concurrency, a whole session, context loading
// and upload faults through a fault proxy. A backend describes how to reach
// its store with a Store, and calls Run and the benchmarks.
package blobtest

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dagster-pipes-go/pipes"
	"github.com/dagster-pipes-go/pipes/internal/blobbench"
	"github.com/dagster-pipes-go/pipes/internal/faultproxy"
)

// Bucket is a fresh bucket (or container) of the store under test, with
// the backend's ways to write into it and to look at what it holds.
type Bucket struct {
	// Name is what the "bucket" param holds.
	Name string
	// Writer returns the backend's MessageWriter on a client of the store.
	Writer func(opts pipes.BlobStoreOptions) pipes.MessageWriter
	// Channel returns the backend's NewChannel under prefix.
	Channel func(prefix string, opts pipes.BlobStoreOptions) *pipes.BlobStoreChannel
	// Loader is the backend's ContextLoader on a client of the store.
	Loader pipes.ContextLoader
	// Put stores an object; Get reads one; List returns the names of the
	// objects under prefix, in any order.
	Put  func(key, body string) error
	Get  func(key string) (string, error)
	List func(prefix string) ([]string, error)
}

// Store describes a backend to the scenarios.
type Store struct {
	// Scheme starts the locations that errors name ("s3", "gs", "az").
	Scheme string
	// WriterClass and LoaderClass are the Python classes that param errors
	// name (e.g. "PipesS3MessageWriter").
	WriterClass, LoaderClass string
	// ChunkKey is the backend's ChunkKey.
	ChunkKey func(prefix string, index int) string
	// NewBucket returns a fresh bucket on the shared server.
	NewBucket func(tb testing.TB) Bucket
	// Faulty returns a fault proxy in front of the shared server and a
	// writer whose client goes through it and retries quickly.
	Faulty func(t *testing.T) (*faultproxy.Proxy, func(pipes.BlobStoreOptions) pipes.MessageWriter)
	// Busy is a rule that answers uploads as the store does when it is
	// throttling or unavailable (retried by the SDK); Failure one that
	// answers them with a server error.
	Busy, Failure func(times int) faultproxy.Rule
	// Attempts is how many attempts the client of Faulty makes of one
	// upload, for the stores whose SDK stops after a fixed number (zero:
	// it retries until a deadline, and FailedUploadsLoseNothing is the
	// backend's own).
	Attempts int
	// UploadError checks the backend's error for a failed upload, beyond
	// the location every backend names (optional).
	UploadError func(t *testing.T, err error)
	// Throttled is a rule that answers uploads as throttled in another way
	// than Busy, also retried by the SDK (optional).
	Throttled func(times int) faultproxy.Rule
	// CloseTimeout bounds Close when every upload fails (zero: the
	// default), for SDKs that retry uploads until their deadline.
	CloseTimeout time.Duration
	// MissingObject checks the backend's error for a missing context
	// object, beyond what every backend says (optional).
	MissingObject func(t *testing.T, err error)
}

// NoTicks keeps the periodic upload out of the way: the test decides when
// chunks are made with Flush.
var NoTicks = pipes.BlobStoreOptions{Interval: time.Hour}

// Msg returns a message with raw JSON params.
func Msg(method pipes.Method, params string) pipes.Message {
	return pipes.Message{Method: method, Params: []byte(params)}
}

// Wire returns a message as it is written on the wire.
func Wire(method pipes.Method, params string) string {
	return string(Msg(method, params).AppendJSON(nil))
}

// OpenChannel opens w and returns its channel, which must be a blob-store
// channel.
func OpenChannel(t *testing.T, w pipes.MessageWriter, params pipes.Params) *pipes.BlobStoreChannel {
	t.Helper()
	ch, err := w.Open(context.Background(), params)
	require.NoError(t, err)
	bc, ok := ch.(*pipes.BlobStoreChannel)
	require.True(t, ok, "Open returns a *pipes.BlobStoreChannel, got %T", ch)
	return bc
}

// Chunks returns the contents of the chunks under prefix, checking that
// the names are exactly ChunkKey(prefix, 1..N): no gap, nothing else.
func Chunks(t *testing.T, b Bucket, prefix string) []string {
	t.Helper()
	out, err := ReadChunks(b, prefix)
	require.NoError(t, err)
	return out
}

// ReadChunks is Chunks that returns an error (for conformance ReadBacks).
func ReadChunks(b Bucket, prefix string) ([]string, error) {
	names, err := b.List(prefix)
	if err != nil {
		return nil, err
	}
	seen := make(map[string]bool, len(names))
	for _, n := range names {
		seen[n] = true
	}
	out := make([]string, len(names))
	for i := range out {
		key := pipes.ChunkKey(prefix, i+1)
		if !seen[key] {
			return nil, &gapError{prefix: prefix, names: names}
		}
		if out[i], err = b.Get(key); err != nil {
			return nil, err
		}
	}
	return out, nil
}

type gapError struct {
	prefix string
	names  []string
}

func (e *gapError) Error() string {
	return "chunk names under " + strconv.Quote(e.prefix) + " are not 1..N with no gap: " + strings.Join(e.names, ", ")
}

// Lines splits chunks into messages and decodes them.
func Lines(t *testing.T, chunks []string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, c := range chunks {
		require.NotEmpty(t, c)
		require.False(t, strings.HasSuffix(c, "\n"), "no trailing newline")
		for _, l := range strings.Split(c, "\n") {
			var m map[string]any
			require.NoError(t, json.Unmarshal([]byte(l), &m), "line %.200q", l)
			out = append(out, m)
		}
	}
	return out
}

// Run runs every shared scenario against s, each as a subtest
// (FailedUploadsLoseNothing only where s.Attempts is set).
func Run(t *testing.T, s Store) {
	type scenario struct {
		name string
		run  func(*testing.T, Store)
	}
	scenarios := []scenario{
		{"ChunkKey", chunkKey},
		{"ChunksNumberingAndFinalFlush", chunksNumberingAndFinalFlush},
		{"WithoutPrefix", withoutPrefix},
		{"WriterParamErrors", writerParamErrors},
		{"UploadsEveryInterval", uploadsEveryInterval},
		{"HundredThousandMessages", hundredThousandMessages},
		{"LargePayloadThroughContext", largePayloadThroughContext},
		{"ContextLoader", contextLoader},
		{"FailedUploadsRetriedOnTicksAndClose", failedUploadsRetriedOnTicksAndClose},
		{"CloseReportsUndeliveredMessages", closeReportsUndeliveredMessages},
	}
	if s.Attempts > 0 {
		scenarios = append(scenarios, scenario{"FailedUploadsLoseNothing", failedUploadsLoseNothing})
	}
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) { sc.run(t, s) })
	}
}

func chunkKey(t *testing.T, s Store) {
	assert.Equal(t, "abc/1.json", s.ChunkKey("abc", 1))
	assert.Equal(t, "a/b/12.json", s.ChunkKey("a/b", 12))
	assert.Equal(t, "3.json", s.ChunkKey("", 3))
}

func chunksNumberingAndFinalFlush(t *testing.T, s Store) {
	b := s.NewBucket(t)
	ch := OpenChannel(t, b.Writer(NoTicks), pipes.Params{
		"bucket": b.Name, "key_prefix": "abcdefghij", "include_stdio_in_messages": false,
	})
	ctx := context.Background()

	require.NoError(t, ch.WriteMessage(Msg(pipes.MethodOpened, `{"extras":{}}`)))
	require.NoError(t, ch.WriteMessage(Msg(pipes.MethodLog, `{"message":"one","level":"INFO"}`)))
	require.NoError(t, ch.Flush(ctx))
	require.NoError(t, ch.Flush(ctx), "nothing queued: no empty chunk")
	require.NoError(t, ch.WriteMessage(Msg(pipes.MethodReportCustomMessage, `{"payload":"é\n\u2028"}`)))
	require.NoError(t, ch.Flush(ctx))
	require.NoError(t, ch.WriteMessage(Msg(pipes.MethodLog, `{"message":"two","level":"INFO"}`)))
	require.NoError(t, ch.WriteMessage(Msg(pipes.MethodClosed, `{}`)))
	require.NoError(t, ch.Close())
	require.NoError(t, ch.Close(), "Close is idempotent")
	require.ErrorIs(t, ch.WriteMessage(Msg(pipes.MethodLog, `{}`)), pipes.ErrClosed)

	require.Equal(t, []string{
		Wire(pipes.MethodOpened, `{"extras":{}}`) + "\n" + Wire(pipes.MethodLog, `{"message":"one","level":"INFO"}`),
		Wire(pipes.MethodReportCustomMessage, `{"payload":"é\n\u2028"}`),
		// The final flush on Close includes closed.
		Wire(pipes.MethodLog, `{"message":"two","level":"INFO"}`) + "\n" + Wire(pipes.MethodClosed, `{}`),
	}, Chunks(t, b, "abcdefghij"))
}

func withoutPrefix(t *testing.T, s Store) {
	for name, params := range map[string]pipes.Params{
		"absent": {},
		"null":   {"key_prefix": nil},
		"empty":  {"key_prefix": ""},
	} {
		t.Run(name, func(t *testing.T) {
			b := s.NewBucket(t)
			params["bucket"] = b.Name
			ch := OpenChannel(t, b.Writer(NoTicks), params)
			require.NoError(t, ch.WriteMessage(Msg(pipes.MethodClosed, `{}`)))
			require.NoError(t, ch.Close())
			names, err := b.List("")
			require.NoError(t, err)
			assert.Equal(t, []string{"1.json"}, names)
			got, err := b.Get("1.json")
			require.NoError(t, err)
			assert.Equal(t, Wire(pipes.MethodClosed, `{}`), got)
		})
	}
}

func writerParamErrors(t *testing.T, s Store) {
	w := s.NewBucket(t).Writer(NoTicks)
	_, err := w.Open(context.Background(), pipes.Params{"key_prefix": "x"})
	require.ErrorIs(t, err, pipes.ErrInvalidParams)
	assert.EqualError(t, err, "Invalid type for parameter `bucket` passed from orchestration side to `"+s.WriterClass+"`. Expected `<class 'str'>`, got `<class 'NoneType'>`.")

	_, err = w.Open(context.Background(), pipes.Params{"bucket": "b", "key_prefix": json.Number("3")})
	require.ErrorIs(t, err, pipes.ErrInvalidParams)
	assert.EqualError(t, err, "Invalid type for parameter `key_prefix` passed from orchestration side to `"+s.WriterClass+"`. Expected `Optional[<class 'str'>]`, got `<class 'int'>`.")
}

func uploadsEveryInterval(t *testing.T, s Store) {
	b := s.NewBucket(t)
	ch := OpenChannel(t, b.Writer(pipes.BlobStoreOptions{Interval: 50 * time.Millisecond}),
		pipes.Params{"bucket": b.Name, "key_prefix": "p"})
	require.NoError(t, ch.WriteMessage(Msg(pipes.MethodOpened, `{"extras":{}}`)))
	// Without Flush or Close, the ticker uploads chunk 1.
	require.Eventually(t, func() bool {
		_, err := b.Get("p/1.json")
		return err == nil
	}, 20*time.Second, 20*time.Millisecond)
	require.NoError(t, ch.WriteMessage(Msg(pipes.MethodClosed, `{}`)))
	require.NoError(t, ch.Close())
	require.Equal(t, []string{Wire(pipes.MethodOpened, `{"extras":{}}`), Wire(pipes.MethodClosed, `{}`)}, Chunks(t, b, "p"))
}

func hundredThousandMessages(t *testing.T, s Store) {
	b := s.NewBucket(t)
	ch := OpenChannel(t, b.Writer(pipes.BlobStoreOptions{Interval: 100 * time.Millisecond}),
		pipes.Params{"bucket": b.Name, "key_prefix": "many"})
	const writers, each = 4, 25_000
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				params := `{"payload":{"w":` + strconv.Itoa(w) + `,"i":` + strconv.Itoa(i) + `}}`
				if err := ch.WriteMessage(Msg(pipes.MethodReportCustomMessage, params)); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	require.NoError(t, ch.WriteMessage(Msg(pipes.MethodClosed, `{}`)))
	require.NoError(t, ch.Close())

	msgs := Lines(t, Chunks(t, b, "many"))
	require.Len(t, msgs, writers*each+1)
	require.Equal(t, "closed", msgs[len(msgs)-1]["method"])
	next := make([]int, writers)
	for _, m := range msgs[:len(msgs)-1] {
		p := m["params"].(map[string]any)["payload"].(map[string]any)
		w, i := int(p["w"].(float64)), int(p["i"].(float64))
		require.Equal(t, next[w], i, "messages of one writer arrive once each, in order")
		next[w]++
	}
}

// A whole session, context and messages through the store, with a 5 MiB
// message.
func largePayloadThroughContext(t *testing.T, s Store) {
	b := s.NewBucket(t)
	contextData := `{"asset_keys":["big"],"code_version_by_asset_key":null,"provenance_by_asset_key":null,` +
		`"partition_key":null,"partition_key_range":null,"partition_time_window":null,` +
		`"run_id":"run-1","job_name":"job","retry_number":0,"extras":{"n":1}}`
	require.NoError(t, b.Put("ctxprefix/context.json", contextData))

	ctxParam, err := pipes.EncodeParam(map[string]any{"bucket": b.Name, "key": "ctxprefix/context.json"})
	require.NoError(t, err)
	msgParam, err := pipes.EncodeParam(map[string]any{"bucket": b.Name, "key_prefix": "big", "include_stdio_in_messages": false})
	require.NoError(t, err)
	pc, err := pipes.New(context.Background(),
		pipes.WithParamsLoader(pipes.MappingParamsLoader{Mapping: map[string]string{
			pipes.ContextEnvVar: ctxParam, pipes.MessagesEnvVar: msgParam,
		}}),
		pipes.WithContextLoader(b.Loader),
		pipes.WithMessageWriter(b.Writer(NoTicks)),
		pipes.WithoutSignalHandling())
	require.NoError(t, err)
	require.Equal(t, "run-1", pc.RunID())

	big := strings.Repeat("0123456789abcdef", 5<<20/16) // 5 MiB
	require.NoError(t, pc.ReportCustomMessage(map[string]any{"blob": big}))
	require.NoError(t, pc.Close())

	got := Chunks(t, b, "big")
	require.Len(t, got, 1, "no interval passed: everything in the final flush")
	msgs := Lines(t, got)
	require.Len(t, msgs, 3)
	assert.Equal(t, "opened", msgs[0]["method"])
	assert.Equal(t, "report_custom_message", msgs[1]["method"])
	assert.Equal(t, big, msgs[1]["params"].(map[string]any)["payload"].(map[string]any)["blob"])
	assert.Equal(t, "closed", msgs[2]["method"])
}

func contextLoader(t *testing.T, s Store) {
	b := s.NewBucket(t)
	require.NoError(t, b.Put("k/context.json",
		`{"asset_keys":["a/b"],"code_version_by_asset_key":{"a/b":"v1"},"provenance_by_asset_key":null,`+
			`"partition_key":"2024-01-01","partition_key_range":{"start":"2024-01-01","end":"2024-01-01"},"partition_time_window":null,`+
			`"run_id":"r","job_name":"j","retry_number":2,"extras":{"big":12345678901234567890}}`))
	l := b.Loader
	data, err := l.LoadContext(context.Background(), pipes.Params{"bucket": b.Name, "key": "k/context.json"})
	require.NoError(t, err)
	assert.Equal(t, []string{"a/b"}, data.AssetKeys)
	assert.Equal(t, "r", data.RunID)
	assert.Equal(t, 2, data.RetryNumber)
	assert.Equal(t, json.Number("12345678901234567890"), data.Extras["big"])

	t.Run("missing object", func(t *testing.T) {
		_, err := l.LoadContext(context.Background(), pipes.Params{"bucket": b.Name, "key": "nope.json"})
		require.ErrorIs(t, err, pipes.ErrInvalidContext)
		if s.MissingObject != nil {
			s.MissingObject(t, err)
		}
		assert.Contains(t, err.Error(), s.Scheme+"://"+b.Name+"/nope.json")
	})
	t.Run("not JSON", func(t *testing.T) {
		require.NoError(t, b.Put("bad.json", "{not json"))
		_, err := l.LoadContext(context.Background(), pipes.Params{"bucket": b.Name, "key": "bad.json"})
		require.ErrorIs(t, err, pipes.ErrInvalidContext)
		assert.Contains(t, err.Error(), s.Scheme+"://"+b.Name+"/bad.json")
	})
	t.Run("param errors", func(t *testing.T) {
		_, err := l.LoadContext(context.Background(), pipes.Params{"bucket": b.Name})
		require.ErrorIs(t, err, pipes.ErrInvalidParams)
		assert.EqualError(t, err, "Invalid type for parameter `key` passed from orchestration side to `"+s.LoaderClass+"`. Expected `<class 'str'>`, got `<class 'NoneType'>`.")
		_, err = l.LoadContext(context.Background(), pipes.Params{"bucket": true, "key": "k"})
		assert.EqualError(t, err, "Invalid type for parameter `bucket` passed from orchestration side to `"+s.LoaderClass+"`. Expected `<class 'str'>`, got `<class 'bool'>`.")
	})
}

func failedUploadsLoseNothing(t *testing.T, s Store) {
	b := s.NewBucket(t)
	proxy, faulty := s.Faulty(t)
	var failed []int
	var mu sync.Mutex
	opts := NoTicks
	opts.OnError = func(_ error, index int) {
		mu.Lock()
		defer mu.Unlock()
		failed = append(failed, index)
	}
	ch := OpenChannel(t, faulty(opts), pipes.Params{"bucket": b.Name, "key_prefix": "f"})
	ctx := context.Background()
	m := func(i int) pipes.Message {
		return Msg(pipes.MethodLog, `{"message":"m`+strconv.Itoa(i)+`","level":"INFO"}`)
	}
	w := func(i int) string { return string(m(i).AppendJSON(nil)) }

	// One throttled attempt: the SDK's retries absorb it.
	proxy.Inject(s.Busy(1))
	require.NoError(t, ch.WriteMessage(m(1)))
	require.NoError(t, ch.Flush(ctx))
	assert.Equal(t, 1, proxy.Injected())

	// Every attempt of the SDK fails: the chunk stays queued.
	proxy.Inject(s.Failure(s.Attempts))
	require.NoError(t, ch.WriteMessage(m(2)))
	require.NoError(t, ch.WriteMessage(m(3)))
	err := ch.Flush(ctx)
	require.Error(t, err)
	assert.Contains(t, err.Error(), s.Scheme+"://"+b.Name+"/f/2.json")
	if s.UploadError != nil {
		s.UploadError(t, err)
	}
	// Messages written meanwhile come after it, in a chunk of their own.
	require.NoError(t, ch.WriteMessage(m(4)))
	require.NoError(t, ch.Flush(ctx))

	// The store keeps the chunk but the answer is lost: the retry writes
	// the same chunk under the same number.
	lost := s.Failure(s.Attempts)
	lost.Status, lost.AfterForward = 0, true
	proxy.Inject(lost)
	require.NoError(t, ch.WriteMessage(m(5)))
	require.Error(t, ch.Flush(ctx))
	got, err := b.Get("f/4.json")
	require.NoError(t, err)
	assert.Equal(t, w(5), got)
	injected := 1 + 2*s.Attempts
	if s.Throttled != nil {
		// Throttled mid-run, absorbed by the retries.
		proxy.Inject(s.Throttled(s.Attempts - 1))
		injected += s.Attempts - 1
	}
	require.NoError(t, ch.WriteMessage(m(6)))
	require.NoError(t, ch.WriteMessage(Msg(pipes.MethodClosed, `{}`)))
	require.NoError(t, ch.Close())

	assert.Equal(t, []string{
		w(1),
		w(2) + "\n" + w(3),
		w(4),
		w(5),
		w(6) + "\n" + Wire(pipes.MethodClosed, `{}`),
	}, Chunks(t, b, "f"))
	mu.Lock()
	assert.Equal(t, []int{2, 4}, failed)
	mu.Unlock()
	assert.Equal(t, injected, proxy.Injected())
}

func failedUploadsRetriedOnTicksAndClose(t *testing.T, s Store) {
	b := s.NewBucket(t)
	proxy, faulty := s.Faulty(t)
	// Nine failed attempts, retried by the client (three whole uploads of
	// three attempts each, where the SDK stops there), while ticks come and
	// messages keep being written, and possibly the first attempts of Close.
	proxy.Inject(s.Busy(9))
	ch := OpenChannel(t, faulty(pipes.BlobStoreOptions{Interval: 50 * time.Millisecond}),
		pipes.Params{"bucket": b.Name, "key_prefix": "t"})
	const n = 2000
	for i := range n {
		require.NoError(t, ch.WriteMessage(Msg(pipes.MethodReportCustomMessage, `{"payload":`+strconv.Itoa(i)+`}`)))
		if i == n/2 {
			require.Eventually(t, func() bool { return proxy.Injected() >= 6 }, 20*time.Second, 10*time.Millisecond)
		}
	}
	require.NoError(t, ch.WriteMessage(Msg(pipes.MethodClosed, `{}`)))
	require.NoError(t, ch.Close())
	require.Equal(t, 9, proxy.Injected())

	msgs := Lines(t, Chunks(t, b, "t"))
	require.Len(t, msgs, n+1)
	for i, m := range msgs[:n] {
		require.Equal(t, float64(i), m["params"].(map[string]any)["payload"])
	}
	require.Equal(t, "closed", msgs[n]["method"])
}

func closeReportsUndeliveredMessages(t *testing.T, s Store) {
	b := s.NewBucket(t)
	proxy, faulty := s.Faulty(t)
	proxy.Inject(s.Failure(-1))
	ch := OpenChannel(t, faulty(pipes.BlobStoreOptions{Interval: time.Hour, FinalAttempts: 2, CloseTimeout: s.CloseTimeout}),
		pipes.Params{"bucket": b.Name, "key_prefix": "down"})
	require.NoError(t, ch.WriteMessage(Msg(pipes.MethodClosed, `{}`)))
	err := ch.Close()
	require.Error(t, err)
	assert.Contains(t, err.Error(), s.Scheme+"://"+b.Name+"/down/1.json")
	assert.Contains(t, err.Error(), "not delivered")
	names, err := b.List("down")
	require.NoError(t, err)
	assert.Empty(t, names)
	assert.Greater(t, proxy.Injected(), 1, "the client retried")
}

// BenchHundredThousandMessages writes 100,000 messages through a channel
// on the store, uploading every 100 ms, and closes it: the time of a
// chatty job's whole message traffic, final flush included.
func BenchHundredThousandMessages(b *testing.B, bucket Bucket) {
	msgs := make([]pipes.Message, 100_000)
	for i := range msgs {
		msgs[i] = pipes.Message{Method: pipes.MethodLog, Params: []byte(`{"message":"line ` + strconv.Itoa(i) + `","level":"INFO"}`)}
	}
	b.ReportAllocs()
	run := 0
	for b.Loop() {
		run++
		ch := bucket.Channel("run"+strconv.Itoa(run), pipes.BlobStoreOptions{Interval: 100 * time.Millisecond})
		for _, m := range msgs {
			if err := ch.WriteMessage(m); err != nil {
				b.Fatal(err)
			}
		}
		if err := ch.Close(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(msgs)*b.N)/b.Elapsed().Seconds(), "msgs/s")
	// The chunks exist: at least chunk 1 of the last run.
	if _, err := bucket.Get(pipes.ChunkKey("run"+strconv.Itoa(run), 1)); err != nil {
		b.Fatalf("chunk 1 of the last run: %v", err)
	}
}

// BenchMillionMessages writes 1,000,000 log messages (20,000 with -short)
// through a channel on the store and closes it: messages/s and the peak
// live heap, which follows one interval's chunk, not the total (issue 16;
// bench/compare reports it).
func BenchMillionMessages(b *testing.B, bucket Bucket) {
	blobbench.Run(b, func(name string) pipes.MessageWriterChannel {
		return bucket.Channel(strings.ReplaceAll(name, "/", "-"), pipes.BlobStoreOptions{Interval: blobbench.Interval})
	})
}
