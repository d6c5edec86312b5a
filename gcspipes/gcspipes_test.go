package gcspipes_test

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/storage"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/api/googleapi"
	"google.golang.org/api/option"

	"github.com/dagster-pipes-go/pipes"
	"github.com/dagster-pipes-go/pipes/gcspipes"
	"github.com/dagster-pipes-go/pipes/internal/faultproxy"
	"github.com/dagster-pipes-go/pipes/pipestest"
)

// noTicks keeps the periodic upload out of the way: the test decides when
// chunks are made with Flush.
var noTicks = pipes.BlobStoreOptions{Interval: time.Hour}

func msg(method pipes.Method, params string) pipes.Message {
	return pipes.Message{Method: method, Params: []byte(params)}
}

func wire(method pipes.Method, params string) string {
	return string(msg(method, params).AppendJSON(nil))
}

func openChannel(t *testing.T, w gcspipes.MessageWriter, params pipes.Params) *pipes.BlobStoreChannel {
	t.Helper()
	ch, err := w.Open(context.Background(), params)
	require.NoError(t, err)
	bc, ok := ch.(*pipes.BlobStoreChannel)
	require.True(t, ok, "Open returns a *pipes.BlobStoreChannel, got %T", ch)
	return bc
}

// chunks returns the contents of the chunks under prefix, checking that
// the names are exactly ChunkKey(prefix, 1..N): no gap, nothing else.
func chunks(t *testing.T, client *storage.Client, bucket, prefix string) []string {
	t.Helper()
	names := listObjects(t, client, bucket, prefix)
	var want []string
	for i := range names {
		want = append(want, gcspipes.ChunkKey(prefix, i+1))
	}
	slices.Sort(names)
	slices.Sort(want)
	require.Equal(t, want, names, "chunk names are 1..N with no gap")
	out := make([]string, len(names))
	for i := range out {
		var err error
		out[i], err = getObject(t, client, bucket, gcspipes.ChunkKey(prefix, i+1))
		require.NoError(t, err)
	}
	return out
}

// lines splits chunks into messages and decodes them.
func lines(t *testing.T, chunks []string) []map[string]any {
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

func TestChunkKey(t *testing.T) {
	assert.Equal(t, "abc/1.json", gcspipes.ChunkKey("abc", 1))
	assert.Equal(t, "a/b/12.json", gcspipes.ChunkKey("a/b", 12))
	assert.Equal(t, "3.json", gcspipes.ChunkKey("", 3))
}

// readBackChunks is the ReadBack of the conformance kits: the chunks in
// order, joined by newlines.
func readBackChunks(t *testing.T, client *storage.Client, bucket, prefix string) func() ([]byte, error) {
	return func() ([]byte, error) {
		return []byte(strings.Join(chunks(t, client, bucket, prefix), "\n")), nil
	}
}

func TestConformanceMessageWriter(t *testing.T) {
	pipestest.TestMessageWriter(t, func(t *testing.T) pipestest.WriterHarness {
		client, bucket := newBucket(t)
		return pipestest.WriterHarness{
			// A short interval, so that the kit's messages spread over
			// several chunks.
			Writer:   gcspipes.MessageWriter{Client: client, Options: pipes.BlobStoreOptions{Interval: 20 * time.Millisecond}},
			Params:   pipes.Params{"bucket": bucket, "key_prefix": "kit", "include_stdio_in_messages": false},
			ReadBack: readBackChunks(t, client, bucket, "kit"),
		}
	})
}

func TestConformanceChannel(t *testing.T) {
	pipestest.TestChannel(t, func(t *testing.T) pipestest.ChannelHarness {
		client, bucket := newBucket(t)
		return pipestest.ChannelHarness{
			Channel:  gcspipes.NewChannel(client, bucket, "chan/nested", pipes.BlobStoreOptions{Interval: 20 * time.Millisecond}),
			ReadBack: readBackChunks(t, client, bucket, "chan/nested"),
		}
	})
}

func TestConformanceContextLoader(t *testing.T) {
	pipestest.TestContextLoader(t, func(t *testing.T, data []byte) (pipes.ContextLoader, pipes.Params) {
		client, bucket := newBucket(t)
		// The key layout of PipesGCSContextInjector.
		key := "prefix/ABCDEFGHIJKLMNOPQRSTUVWXYZabcd/context.json"
		putObject(t, client, bucket, key, string(data))
		return gcspipes.ContextLoader{Client: client}, pipes.Params{"bucket": bucket, "key": key}
	})
}

func TestMessageWriterChunksNumberingAndFinalFlush(t *testing.T) {
	client, bucket := newBucket(t)
	ch := openChannel(t, gcspipes.MessageWriter{Client: client, Options: noTicks}, pipes.Params{
		"bucket": bucket, "key_prefix": "abcdefghij", "include_stdio_in_messages": false,
	})
	ctx := context.Background()

	require.NoError(t, ch.WriteMessage(msg(pipes.MethodOpened, `{"extras":{}}`)))
	require.NoError(t, ch.WriteMessage(msg(pipes.MethodLog, `{"message":"one","level":"INFO"}`)))
	require.NoError(t, ch.Flush(ctx))
	require.NoError(t, ch.Flush(ctx), "nothing queued: no empty chunk")
	require.NoError(t, ch.WriteMessage(msg(pipes.MethodReportCustomMessage, `{"payload":"é\n\u2028"}`)))
	require.NoError(t, ch.Flush(ctx))
	require.NoError(t, ch.WriteMessage(msg(pipes.MethodLog, `{"message":"two","level":"INFO"}`)))
	require.NoError(t, ch.WriteMessage(msg(pipes.MethodClosed, `{}`)))
	require.NoError(t, ch.Close())
	require.NoError(t, ch.Close(), "Close is idempotent")
	require.ErrorIs(t, ch.WriteMessage(msg(pipes.MethodLog, `{}`)), pipes.ErrClosed)

	assert.Equal(t, []string{
		wire(pipes.MethodOpened, `{"extras":{}}`) + "\n" + wire(pipes.MethodLog, `{"message":"one","level":"INFO"}`),
		wire(pipes.MethodReportCustomMessage, `{"payload":"é\n\u2028"}`),
		// The final flush on Close includes closed.
		wire(pipes.MethodLog, `{"message":"two","level":"INFO"}`) + "\n" + wire(pipes.MethodClosed, `{}`),
	}, chunks(t, client, bucket, "abcdefghij"))
}

func TestMessageWriterWithoutPrefix(t *testing.T) {
	for name, params := range map[string]pipes.Params{
		"absent": {},
		"null":   {"key_prefix": nil},
		"empty":  {"key_prefix": ""},
	} {
		t.Run(name, func(t *testing.T) {
			client, bucket := newBucket(t)
			params["bucket"] = bucket
			ch := openChannel(t, gcspipes.MessageWriter{Client: client, Options: noTicks}, params)
			require.NoError(t, ch.WriteMessage(msg(pipes.MethodClosed, `{}`)))
			require.NoError(t, ch.Close())
			assert.Equal(t, []string{"1.json"}, listObjects(t, client, bucket, ""))
			got, err := getObject(t, client, bucket, "1.json")
			require.NoError(t, err)
			assert.Equal(t, wire(pipes.MethodClosed, `{}`), got)
		})
	}
}

func TestMessageWriterParamErrors(t *testing.T) {
	client := newClient(t, fake(t))
	w := gcspipes.MessageWriter{Client: client}
	_, err := w.Open(context.Background(), pipes.Params{"key_prefix": "x"})
	require.ErrorIs(t, err, pipes.ErrInvalidParams)
	assert.EqualError(t, err, "Invalid type for parameter `bucket` passed from orchestration side to `PipesGCSMessageWriter`. Expected `<class 'str'>`, got `<class 'NoneType'>`.")

	_, err = w.Open(context.Background(), pipes.Params{"bucket": "b", "key_prefix": json.Number("3")})
	require.ErrorIs(t, err, pipes.ErrInvalidParams)
	assert.EqualError(t, err, "Invalid type for parameter `key_prefix` passed from orchestration side to `PipesGCSMessageWriter`. Expected `Optional[<class 'str'>]`, got `<class 'int'>`.")

	_, err = gcspipes.MessageWriter{}.Open(context.Background(), pipes.Params{"bucket": "b"})
	require.ErrorIs(t, err, gcspipes.ErrNoClient)
}

func TestMessageWriterUploadsEveryInterval(t *testing.T) {
	client, bucket := newBucket(t)
	ch := openChannel(t, gcspipes.MessageWriter{Client: client, Options: pipes.BlobStoreOptions{Interval: 50 * time.Millisecond}},
		pipes.Params{"bucket": bucket, "key_prefix": "p"})
	require.NoError(t, ch.WriteMessage(msg(pipes.MethodOpened, `{"extras":{}}`)))
	// Without Flush or Close, the ticker uploads chunk 1.
	require.Eventually(t, func() bool {
		_, err := getObject(t, client, bucket, "p/1.json")
		return err == nil
	}, 20*time.Second, 20*time.Millisecond)
	require.NoError(t, ch.WriteMessage(msg(pipes.MethodClosed, `{}`)))
	require.NoError(t, ch.Close())
	assert.Equal(t, []string{wire(pipes.MethodOpened, `{"extras":{}}`), wire(pipes.MethodClosed, `{}`)}, chunks(t, client, bucket, "p"))
}

func TestHundredThousandMessages(t *testing.T) {
	client, bucket := newBucket(t)
	ch := openChannel(t, gcspipes.MessageWriter{Client: client, Options: pipes.BlobStoreOptions{Interval: 100 * time.Millisecond}},
		pipes.Params{"bucket": bucket, "key_prefix": "many"})
	const writers, each = 4, 25_000
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				params := `{"payload":{"w":` + strconv.Itoa(w) + `,"i":` + strconv.Itoa(i) + `}}`
				if err := ch.WriteMessage(msg(pipes.MethodReportCustomMessage, params)); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	require.NoError(t, ch.WriteMessage(msg(pipes.MethodClosed, `{}`)))
	require.NoError(t, ch.Close())

	msgs := lines(t, chunks(t, client, bucket, "many"))
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

// A chunk larger than one upload request (16 MiB) goes through a
// resumable upload in pieces, and arrives whole.
func TestChunkLargerThanOneRequest(t *testing.T) {
	client, bucket := newBucket(t)
	ch := openChannel(t, gcspipes.MessageWriter{Client: client, Options: noTicks}, pipes.Params{"bucket": bucket, "key_prefix": "huge"})
	big := strings.Repeat("0123456789abcdef", 20<<20/16) // 20 MiB
	require.NoError(t, ch.WriteMessage(msg(pipes.MethodReportCustomMessage, `{"payload":"`+big+`"}`)))
	require.NoError(t, ch.WriteMessage(msg(pipes.MethodClosed, `{}`)))
	require.NoError(t, ch.Close())
	got := chunks(t, client, bucket, "huge")
	require.Len(t, got, 1)
	assert.Equal(t, wire(pipes.MethodReportCustomMessage, `{"payload":"`+big+`"}`)+"\n"+wire(pipes.MethodClosed, `{}`), got[0])
}

// A whole session, context and messages through GCS, with a 5 MiB message.
func TestSessionThroughGCS(t *testing.T) {
	client, bucket := newBucket(t)
	contextData := `{"asset_keys":["big"],"code_version_by_asset_key":null,"provenance_by_asset_key":null,` +
		`"partition_key":null,"partition_key_range":null,"partition_time_window":null,` +
		`"run_id":"run-1","job_name":"job","retry_number":0,"extras":{"n":1}}`
	putObject(t, client, bucket, "ctxprefix/context.json", contextData)

	ctxParam, err := pipes.EncodeParam(map[string]any{"bucket": bucket, "key": "ctxprefix/context.json"})
	require.NoError(t, err)
	msgParam, err := pipes.EncodeParam(map[string]any{"bucket": bucket, "key_prefix": "big", "include_stdio_in_messages": false})
	require.NoError(t, err)
	pc, err := pipes.New(context.Background(),
		pipes.WithParamsLoader(pipes.MappingParamsLoader{Mapping: map[string]string{
			pipes.ContextEnvVar: ctxParam, pipes.MessagesEnvVar: msgParam,
		}}),
		pipes.WithContextLoader(gcspipes.ContextLoader{Client: client}),
		pipes.WithMessageWriter(gcspipes.MessageWriter{Client: client, Options: noTicks}))
	require.NoError(t, err)
	require.Equal(t, "run-1", pc.RunID())

	big := strings.Repeat("0123456789abcdef", 5<<20/16) // 5 MiB
	require.NoError(t, pc.ReportCustomMessage(map[string]any{"blob": big}))
	require.NoError(t, pc.Close())

	got := chunks(t, client, bucket, "big")
	require.Len(t, got, 1, "no interval passed: everything in the final flush")
	msgs := lines(t, got)
	require.Len(t, msgs, 3)
	assert.Equal(t, "opened", msgs[0]["method"])
	assert.Equal(t, "report_custom_message", msgs[1]["method"])
	assert.Equal(t, big, msgs[1]["params"].(map[string]any)["payload"].(map[string]any)["blob"])
	assert.Equal(t, "closed", msgs[2]["method"])
}

func TestContextLoader(t *testing.T) {
	client, bucket := newBucket(t)
	putObject(t, client, bucket, "k/context.json",
		`{"asset_keys":["a/b"],"code_version_by_asset_key":{"a/b":"v1"},"provenance_by_asset_key":null,`+
			`"partition_key":"2024-01-01","partition_key_range":{"start":"2024-01-01","end":"2024-01-01"},"partition_time_window":null,`+
			`"run_id":"r","job_name":"j","retry_number":2,"extras":{"big":12345678901234567890}}`)
	l := gcspipes.ContextLoader{Client: client}
	data, err := l.LoadContext(context.Background(), pipes.Params{"bucket": bucket, "key": "k/context.json"})
	require.NoError(t, err)
	assert.Equal(t, []string{"a/b"}, data.AssetKeys)
	assert.Equal(t, "r", data.RunID)
	assert.Equal(t, 2, data.RetryNumber)
	assert.Equal(t, json.Number("12345678901234567890"), data.Extras["big"])

	t.Run("missing object", func(t *testing.T) {
		_, err := l.LoadContext(context.Background(), pipes.Params{"bucket": bucket, "key": "nope.json"})
		require.ErrorIs(t, err, pipes.ErrInvalidContext)
		require.ErrorIs(t, err, storage.ErrObjectNotExist)
		assert.Contains(t, err.Error(), "gs://"+bucket+"/nope.json")
	})
	t.Run("missing bucket", func(t *testing.T) {
		_, err := l.LoadContext(context.Background(), pipes.Params{"bucket": bucket + "-nope", "key": "k/context.json"})
		require.ErrorIs(t, err, pipes.ErrInvalidContext)
		assert.Contains(t, err.Error(), "gs://"+bucket+"-nope/k/context.json")
	})
	t.Run("not JSON", func(t *testing.T) {
		putObject(t, client, bucket, "bad.json", "{not json")
		_, err := l.LoadContext(context.Background(), pipes.Params{"bucket": bucket, "key": "bad.json"})
		require.ErrorIs(t, err, pipes.ErrInvalidContext)
		assert.Contains(t, err.Error(), "gs://"+bucket+"/bad.json")
	})
	t.Run("param errors", func(t *testing.T) {
		_, err := l.LoadContext(context.Background(), pipes.Params{"bucket": bucket})
		require.ErrorIs(t, err, pipes.ErrInvalidParams)
		assert.EqualError(t, err, "Invalid type for parameter `key` passed from orchestration side to `PipesGCSContextLoader`. Expected `<class 'str'>`, got `<class 'NoneType'>`.")
		_, err = l.LoadContext(context.Background(), pipes.Params{"bucket": true, "key": "k"})
		assert.EqualError(t, err, "Invalid type for parameter `bucket` passed from orchestration side to `PipesGCSContextLoader`. Expected `<class 'str'>`, got `<class 'bool'>`.")
		_, err = gcspipes.ContextLoader{}.LoadContext(context.Background(), pipes.Params{"bucket": "b", "key": "k"})
		require.ErrorIs(t, err, gcspipes.ErrNoClient)
	})
}

// isUpload matches the requests that store an object (JSON API uploads).
func isUpload(r *http.Request) bool {
	return r.Method == http.MethodPost && strings.HasPrefix(r.URL.Path, "/upload/")
}

// proxied returns a fault proxy in front of the shared server and a client
// that goes through it.
func proxied(t *testing.T) (*faultproxy.Proxy, *storage.Client) {
	t.Helper()
	p := faultproxy.New(t, fake(t))
	return p, newClient(t, p.URL)
}

func TestFailedUploadsLoseNothing(t *testing.T) {
	client, bucket := newBucket(t)
	proxy, faulty := proxied(t)
	var failed []int
	var mu sync.Mutex
	opts := noTicks
	opts.OnError = func(_ error, index int) {
		mu.Lock()
		defer mu.Unlock()
		failed = append(failed, index)
	}
	ch := openChannel(t, gcspipes.MessageWriter{Client: faulty, Options: opts}, pipes.Params{"bucket": bucket, "key_prefix": "f"})
	ctx := context.Background()
	m := func(i int) pipes.Message {
		return msg(pipes.MethodLog, `{"message":"m`+strconv.Itoa(i)+`","level":"INFO"}`)
	}
	w := func(i int) string { return string(m(i).AppendJSON(nil)) }

	// Throttled once (429), then a 503: the client's retries absorb both,
	// although the SDK does not retry unconditional writes by default.
	proxy.Inject(faultproxy.Rule{Match: isUpload, Status: http.StatusTooManyRequests, Times: 1})
	require.NoError(t, ch.WriteMessage(m(1)))
	require.NoError(t, ch.Flush(ctx))
	proxy.Inject(faultproxy.Rule{Match: isUpload, Status: http.StatusServiceUnavailable, Times: 1})
	require.NoError(t, ch.WriteMessage(m(2)))
	require.NoError(t, ch.Flush(ctx))
	assert.Equal(t, 2, proxy.Injected())

	// The store fails until further notice: the client retries until the
	// flush's deadline, then the chunk stays queued.
	proxy.Inject(faultproxy.Rule{Match: isUpload, Status: http.StatusInternalServerError, Times: -1})
	require.NoError(t, ch.WriteMessage(m(3)))
	require.NoError(t, ch.WriteMessage(m(4)))
	err := flushWithin(ch, 300*time.Millisecond)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "gs://"+bucket+"/f/3.json")
	assert.Greater(t, proxy.Injected(), 3, "the client retried")
	proxy.Clear()
	// Messages written meanwhile come after it, in a chunk of their own.
	require.NoError(t, ch.WriteMessage(m(5)))
	require.NoError(t, ch.Flush(ctx))

	// The server stores the chunk but every answer is lost: the retries
	// write the same chunk under the same number.
	proxy.Inject(faultproxy.Rule{Match: isUpload, AfterForward: true, Times: -1})
	require.NoError(t, ch.WriteMessage(m(6)))
	require.Error(t, flushWithin(ch, 300*time.Millisecond))
	got, err := getObject(t, client, bucket, "f/5.json")
	require.NoError(t, err)
	assert.Equal(t, w(6), got)
	proxy.Clear()
	require.NoError(t, ch.WriteMessage(m(7)))
	require.NoError(t, ch.WriteMessage(msg(pipes.MethodClosed, `{}`)))
	require.NoError(t, ch.Close())

	assert.Equal(t, []string{
		w(1),
		w(2),
		w(3) + "\n" + w(4),
		w(5),
		w(6),
		w(7) + "\n" + wire(pipes.MethodClosed, `{}`),
	}, chunks(t, client, bucket, "f"))
	mu.Lock()
	assert.Equal(t, []int{3, 5}, failed)
	mu.Unlock()
}

// flushWithin flushes ch with a deadline.
func flushWithin(ch *pipes.BlobStoreChannel, d time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	return ch.Flush(ctx)
}

func TestFailedUploadsRetriedOnTicksAndClose(t *testing.T) {
	client, bucket := newBucket(t)
	proxy, faulty := proxied(t)
	// Nine failed attempts, retried by the client, while ticks come and
	// messages keep being written.
	proxy.Inject(faultproxy.Rule{Match: isUpload, Status: http.StatusServiceUnavailable, Times: 9})
	ch := openChannel(t, gcspipes.MessageWriter{Client: faulty, Options: pipes.BlobStoreOptions{Interval: 50 * time.Millisecond}},
		pipes.Params{"bucket": bucket, "key_prefix": "t"})
	const n = 2000
	for i := range n {
		require.NoError(t, ch.WriteMessage(msg(pipes.MethodReportCustomMessage, `{"payload":`+strconv.Itoa(i)+`}`)))
		if i == n/2 {
			require.Eventually(t, func() bool { return proxy.Injected() >= 6 }, 20*time.Second, 10*time.Millisecond)
		}
	}
	require.NoError(t, ch.WriteMessage(msg(pipes.MethodClosed, `{}`)))
	require.NoError(t, ch.Close())
	require.Equal(t, 9, proxy.Injected())

	msgs := lines(t, chunks(t, client, bucket, "t"))
	require.Len(t, msgs, n+1)
	for i, m := range msgs[:n] {
		require.Equal(t, float64(i), m["params"].(map[string]any)["payload"])
	}
	require.Equal(t, "closed", msgs[n]["method"])
}

func TestCloseReportsUndeliveredMessages(t *testing.T) {
	client, bucket := newBucket(t)
	proxy, faulty := proxied(t)
	proxy.Inject(faultproxy.Rule{Match: isUpload, Status: http.StatusInternalServerError, Times: -1})
	ch := openChannel(t, gcspipes.MessageWriter{Client: faulty, Options: pipes.BlobStoreOptions{
		Interval: time.Hour, FinalAttempts: 2, CloseTimeout: 500 * time.Millisecond,
	}}, pipes.Params{"bucket": bucket, "key_prefix": "down"})
	require.NoError(t, ch.WriteMessage(msg(pipes.MethodClosed, `{}`)))
	err := ch.Close()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "gs://"+bucket+"/down/1.json")
	assert.Contains(t, err.Error(), "not delivered")
	assert.Empty(t, listObjects(t, client, bucket, "down"))
	assert.Greater(t, proxy.Injected(), 1, "the client retried")
}

// A missing bucket is no error at Open (nothing is looked up), but Close
// reports that the messages were not delivered.
func TestMissingBucket(t *testing.T) {
	client := newClient(t, fake(t))
	ch := openChannel(t, gcspipes.MessageWriter{Client: client, Options: pipes.BlobStoreOptions{Interval: time.Hour, FinalAttempts: 1, CloseTimeout: 5 * time.Second}},
		pipes.Params{"bucket": "no-such-bucket-pipes", "key_prefix": "x"})
	require.NoError(t, ch.WriteMessage(msg(pipes.MethodClosed, `{}`)))
	err := ch.Close()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "gs://no-such-bucket-pipes/x/1.json")
}

func TestNewClientFromEnv(t *testing.T) {
	base := fake(t)
	client, bucket := newBucket(t)
	putObject(t, client, bucket, "ctx/context.json", `{"run_id":"from-env","extras":{}}`)
	// Go's client takes the host with or without a scheme (Python's needs
	// the scheme).
	for _, host := range []string{base, strings.TrimPrefix(base, "http://")} {
		t.Run(host, func(t *testing.T) {
			t.Setenv(gcspipes.EmulatorHostEnvVar, host)
			envClient, err := gcspipes.NewClientFromEnv(context.Background())
			require.NoError(t, err)
			defer envClient.Close()

			data, err := gcspipes.ContextLoader{Client: envClient}.LoadContext(context.Background(),
				pipes.Params{"bucket": bucket, "key": "ctx/context.json"})
			require.NoError(t, err)
			assert.Equal(t, "from-env", data.RunID)

			prefix := "env" + strconv.Itoa(len(host))
			ch := gcspipes.NewChannel(envClient, bucket, prefix, noTicks)
			require.NoError(t, ch.WriteMessage(msg(pipes.MethodClosed, `{}`)))
			require.NoError(t, ch.Close())
			got, err := getObject(t, client, bucket, prefix+"/1.json")
			require.NoError(t, err)
			assert.Equal(t, wire(pipes.MethodClosed, `{}`), got)
		})
	}

	// Options come last: here, an endpoint that overrides the emulator's.
	t.Setenv(gcspipes.EmulatorHostEnvVar, "127.0.0.1:1")
	envClient, err := gcspipes.NewClientFromEnv(context.Background(), option.WithEndpoint(base+"/storage/v1/"))
	require.NoError(t, err)
	defer envClient.Close()
	data, err := gcspipes.ContextLoader{Client: envClient}.LoadContext(context.Background(),
		pipes.Params{"bucket": bucket, "key": "ctx/context.json"})
	require.NoError(t, err)
	assert.Equal(t, "from-env", data.RunID)
}

// A client of the user's own making, with the SDK's default XML reads
// (path-style against the emulator's public host) and its default retries.
func TestOwnClientWithXMLReads(t *testing.T) {
	client, bucket := newBucket(t)
	putObject(t, client, bucket, "a/context.json", `{"run_id":"xml","extras":{}}`)
	own, err := storage.NewClient(context.Background(), option.WithEndpoint(fake(t)+"/storage/v1/"), option.WithoutAuthentication())
	require.NoError(t, err)
	defer own.Close()
	data, err := gcspipes.ContextLoader{Client: own}.LoadContext(context.Background(), pipes.Params{"bucket": bucket, "key": "a/context.json"})
	require.NoError(t, err)
	assert.Equal(t, "xml", data.RunID)
}

func TestErrorsWrapTheClientError(t *testing.T) {
	client, bucket := newBucket(t)
	proxy, faulty := proxied(t)
	proxy.Inject(faultproxy.Rule{Status: http.StatusForbidden, Times: -1})
	_, err := gcspipes.ContextLoader{Client: faulty}.LoadContext(context.Background(), pipes.Params{"bucket": bucket, "key": "k"})
	require.ErrorIs(t, err, pipes.ErrInvalidContext)
	var apiErr *googleapi.Error
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, http.StatusForbidden, apiErr.Code)

	ch := gcspipes.NewChannel(faulty, bucket, "p", pipes.BlobStoreOptions{Interval: time.Hour, FinalAttempts: 1})
	require.NoError(t, ch.WriteMessage(msg(pipes.MethodClosed, `{}`)))
	err = ch.Close()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "gs://"+bucket+"/p/1.json")
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, http.StatusForbidden, apiErr.Code)
	assert.Equal(t, 2, proxy.Injected(), "a 403 is not retried")
	assert.Empty(t, listObjects(t, client, bucket, "p"))
}

// Without an emulator, the client needs credentials: a missing key file is
// an error that says what to set.
func TestNewClientFromEnvWithoutCredentials(t *testing.T) {
	t.Setenv(gcspipes.EmulatorHostEnvVar, "")
	t.Setenv("GOOGLE_APPLICATION_CREDENTIALS", t.TempDir()+"/missing.json")
	client, err := gcspipes.NewClientFromEnv(context.Background())
	if client != nil {
		_ = client.Close()
	}
	require.Error(t, err)
	assert.Contains(t, err.Error(), "gcspipes: create the storage client")
	assert.Contains(t, err.Error(), "STORAGE_EMULATOR_HOST")
	assert.Contains(t, err.Error(), "missing.json")
}
