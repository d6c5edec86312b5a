package azurepipes_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/bloberror"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/dagster-pipes-go/pipes"
	"github.com/dagster-pipes-go/pipes/azurepipes"
	"github.com/dagster-pipes-go/pipes/internal/azurite"
	"github.com/dagster-pipes-go/pipes/internal/faultproxy"
	"github.com/dagster-pipes-go/pipes/pipestest"
)

// sharedRun runs the tests and then stops the shared emulator, so that
// goleak looks for leaks once it is gone.
type sharedRun struct{ m *testing.M }

func (r sharedRun) Run() int { return azurite.RunTests(r.m) }

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(sharedRun{m})
}

var containerSeq atomic.Int64

// newContainer returns the shared emulator, a client on it and a fresh
// container.
func newContainer(t *testing.T) (*azurite.Server, *azblob.Client, string) {
	t.Helper()
	srv := azurite.Shared(t)
	client := newClient(t, srv.Endpoint, nil)
	name := fmt.Sprintf("pipes-%d-%d", time.Now().UnixNano()%1e9, containerSeq.Add(1))
	_, err := client.CreateContainer(context.Background(), name, nil)
	require.NoError(t, err)
	return srv, client, name
}

// newClient returns a client for the development account at endpoint
// (the emulator, or a proxy in front of it).
func newClient(t *testing.T, endpoint string, opts *azblob.ClientOptions) *azblob.Client {
	t.Helper()
	client, err := azurepipes.NewClientFromConnectionString(azurite.ConnectionString(endpoint), opts)
	require.NoError(t, err)
	return client
}

// fastRetries makes the SDK retry quickly (three attempts in all), so
// that tests of failed uploads do not wait for the production backoff.
var fastRetries = &azblob.ClientOptions{ClientOptions: azcore.ClientOptions{Retry: policy.RetryOptions{
	MaxRetries: 2, RetryDelay: time.Millisecond, MaxRetryDelay: 5 * time.Millisecond,
}}}

// noTicks keeps the periodic upload out of the way: the test decides when
// chunks are made with Flush.
var noTicks = pipes.BlobStoreOptions{Interval: time.Hour}

func msg(method pipes.Method, params string) pipes.Message {
	return pipes.Message{Method: method, Params: []byte(params)}
}

func wire(method pipes.Method, params string) string {
	return string(msg(method, params).AppendJSON(nil))
}

func openChannel(t *testing.T, w azurepipes.MessageWriter, params pipes.Params) *pipes.BlobStoreChannel {
	t.Helper()
	ch, err := w.Open(context.Background(), params)
	require.NoError(t, err)
	bc, ok := ch.(*pipes.BlobStoreChannel)
	require.True(t, ok, "Open returns a *pipes.BlobStoreChannel, got %T", ch)
	return bc
}

// listChunks returns the contents of the chunks under prefix, checking
// that the names are exactly ChunkKey(prefix, 1..N): no gap, nothing else.
func listChunks(t *testing.T, client *azblob.Client, container, prefix string) ([]string, error) {
	var names []string
	opts := &azblob.ListBlobsFlatOptions{}
	if prefix != "" {
		opts.Prefix = &prefix
	}
	pager := client.NewListBlobsFlatPager(container, opts)
	for pager.More() {
		page, err := pager.NextPage(context.Background())
		if err != nil {
			return nil, err
		}
		for _, b := range page.Segment.BlobItems {
			names = append(names, *b.Name)
		}
	}
	var want []string
	for i := range names {
		want = append(want, pipes.ChunkKey(prefix, i+1))
	}
	slices.Sort(names)
	slices.Sort(want)
	if !slices.Equal(want, names) {
		return nil, fmt.Errorf("chunk names are not 1..N with no gap: %q", names)
	}
	out := make([]string, len(names))
	for i := range out {
		b, err := download(client, container, pipes.ChunkKey(prefix, i+1))
		if err != nil {
			return nil, err
		}
		out[i] = b
	}
	return out, nil
}

func chunks(t *testing.T, client *azblob.Client, container, prefix string) []string {
	t.Helper()
	out, err := listChunks(t, client, container, prefix)
	require.NoError(t, err)
	return out
}

func download(client *azblob.Client, container, name string) (string, error) {
	resp, err := client.DownloadStream(context.Background(), container, name, nil)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

func getBlob(t *testing.T, client *azblob.Client, container, name string) string {
	t.Helper()
	b, err := download(client, container, name)
	require.NoError(t, err)
	return b
}

func putBlob(t *testing.T, client *azblob.Client, container, name, body string) {
	t.Helper()
	_, err := client.UploadBuffer(context.Background(), container, name, []byte(body), nil)
	require.NoError(t, err)
}

func TestChunkKey(t *testing.T) {
	assert.Equal(t, "abc/1.json", azurepipes.ChunkKey("abc", 1))
	assert.Equal(t, "a/b/12.json", azurepipes.ChunkKey("a/b", 12))
	assert.Equal(t, "3.json", azurepipes.ChunkKey("", 3))
}

func TestMessageWriterConformance(t *testing.T) {
	pipestest.TestMessageWriter(t, func(t *testing.T) pipestest.WriterHarness {
		_, client, container := newContainer(t)
		return pipestest.WriterHarness{
			Writer: azurepipes.MessageWriter{Client: client, Options: pipes.BlobStoreOptions{Interval: 20 * time.Millisecond}},
			Params: pipes.Params{"bucket": container, "key_prefix": "conformance", "include_stdio_in_messages": false},
			ReadBack: func() ([]byte, error) {
				c, err := listChunks(t, client, container, "conformance")
				return []byte(strings.Join(c, "\n")), err
			},
		}
	})
}

func TestChannelConformance(t *testing.T) {
	pipestest.TestChannel(t, func(t *testing.T) pipestest.ChannelHarness {
		_, client, container := newContainer(t)
		return pipestest.ChannelHarness{
			Channel: azurepipes.NewChannel(client, container, "", pipes.BlobStoreOptions{Interval: 20 * time.Millisecond}),
			ReadBack: func() ([]byte, error) {
				c, err := listChunks(t, client, container, "")
				return []byte(strings.Join(c, "\n")), err
			},
		}
	})
}

func TestContextLoaderConformance(t *testing.T) {
	_, client, container := newContainer(t)
	n := 0
	pipestest.TestContextLoader(t, func(t *testing.T, data []byte) (pipes.ContextLoader, pipes.Params) {
		n++
		key := "ctx" + strconv.Itoa(n) + "/context.json"
		putBlob(t, client, container, key, string(data))
		return azurepipes.ContextLoader{Client: client}, pipes.Params{"bucket": container, "key": key}
	})
}

func TestMessageWriterChunksNumberingAndFinalFlush(t *testing.T) {
	_, client, container := newContainer(t)
	ch := openChannel(t, azurepipes.MessageWriter{Client: client, Options: noTicks}, pipes.Params{
		"bucket": container, "key_prefix": "abcdefghij", "include_stdio_in_messages": false,
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
	}, chunks(t, client, container, "abcdefghij"))
}

func TestMessageWriterWithoutPrefix(t *testing.T) {
	for name, params := range map[string]pipes.Params{
		"absent": {},
		"null":   {"key_prefix": nil},
		"empty":  {"key_prefix": ""},
	} {
		t.Run(name, func(t *testing.T) {
			_, client, container := newContainer(t)
			params["bucket"] = container
			ch := openChannel(t, azurepipes.MessageWriter{Client: client, Options: noTicks}, params)
			require.NoError(t, ch.WriteMessage(msg(pipes.MethodClosed, `{}`)))
			require.NoError(t, ch.Close())
			assert.Equal(t, wire(pipes.MethodClosed, `{}`), getBlob(t, client, container, "1.json"))
		})
	}
}

func TestMessageWriterParamErrors(t *testing.T) {
	client, err := azurepipes.NewClientFromConnectionString("UseDevelopmentStorage=true", nil)
	require.NoError(t, err)
	w := azurepipes.MessageWriter{Client: client}
	_, err = w.Open(context.Background(), pipes.Params{"key_prefix": "x"})
	require.ErrorIs(t, err, pipes.ErrInvalidParams)
	assert.EqualError(t, err, "Invalid type for parameter `bucket` passed from orchestration side to `PipesAzureBlobStorageMessageWriter`. Expected `<class 'str'>`, got `<class 'NoneType'>`.")

	_, err = w.Open(context.Background(), pipes.Params{"bucket": "b", "key_prefix": json.Number("3")})
	require.ErrorIs(t, err, pipes.ErrInvalidParams)
	assert.EqualError(t, err, "Invalid type for parameter `key_prefix` passed from orchestration side to `PipesAzureBlobStorageMessageWriter`. Expected `Optional[<class 'str'>]`, got `<class 'int'>`.")

	// "container" is the Python constructor's name, not a param.
	_, err = w.Open(context.Background(), pipes.Params{"container": "b"})
	require.ErrorIs(t, err, pipes.ErrInvalidParams)

	_, err = azurepipes.MessageWriter{}.Open(context.Background(), pipes.Params{"bucket": "b"})
	require.ErrorIs(t, err, azurepipes.ErrNoClient)
	var nilClient *azblob.Client
	_, err = azurepipes.MessageWriter{Client: nilClient}.Open(context.Background(), pipes.Params{"bucket": "b"})
	require.ErrorIs(t, err, azurepipes.ErrNoClient)
}

func TestMessageWriterUploadsEveryInterval(t *testing.T) {
	_, client, container := newContainer(t)
	ch := openChannel(t, azurepipes.MessageWriter{Client: client, Options: pipes.BlobStoreOptions{Interval: 50 * time.Millisecond}},
		pipes.Params{"bucket": container, "key_prefix": "p"})
	first := wire(pipes.MethodOpened, `{"extras":{}}`)
	require.NoError(t, ch.WriteMessage(msg(pipes.MethodOpened, `{"extras":{}}`)))
	// Without Flush or Close, the ticker uploads chunk 1.
	require.Eventually(t, func() bool {
		_, err := download(client, container, "p/1.json")
		return err == nil
	}, 20*time.Second, 20*time.Millisecond)
	require.NoError(t, ch.WriteMessage(msg(pipes.MethodClosed, `{}`)))
	require.NoError(t, ch.Close())

	assert.Equal(t, []string{first, wire(pipes.MethodClosed, `{}`)}, chunks(t, client, container, "p"))
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

func TestHundredThousandMessages(t *testing.T) {
	_, client, container := newContainer(t)
	ch := openChannel(t, azurepipes.MessageWriter{Client: client, Options: pipes.BlobStoreOptions{Interval: 100 * time.Millisecond}},
		pipes.Params{"bucket": container, "key_prefix": "many"})
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

	msgs := lines(t, chunks(t, client, container, "many"))
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

func TestLargePayloadThroughContext(t *testing.T) {
	_, client, container := newContainer(t)
	contextData := `{"asset_keys":["big"],"code_version_by_asset_key":null,"provenance_by_asset_key":null,` +
		`"partition_key":null,"partition_key_range":null,"partition_time_window":null,` +
		`"run_id":"run-1","job_name":"job","retry_number":0,"extras":{"n":1}}`
	putBlob(t, client, container, "ctxprefix/context.json", contextData)

	ctxParam, err := pipes.EncodeParam(map[string]any{"bucket": container, "key": "ctxprefix/context.json"})
	require.NoError(t, err)
	msgParam, err := pipes.EncodeParam(map[string]any{"bucket": container, "key_prefix": "big", "include_stdio_in_messages": false})
	require.NoError(t, err)
	pc, err := pipes.New(context.Background(),
		pipes.WithParamsLoader(pipes.MappingParamsLoader{Mapping: map[string]string{
			pipes.ContextEnvVar: ctxParam, pipes.MessagesEnvVar: msgParam,
		}}),
		pipes.WithContextLoader(azurepipes.ContextLoader{Client: client}),
		pipes.WithMessageWriter(azurepipes.MessageWriter{Client: client, Options: noTicks}),
		pipes.WithoutSignalHandling())
	require.NoError(t, err)
	require.Equal(t, "run-1", pc.RunID())

	big := strings.Repeat("0123456789abcdef", 5<<20/16) // 5 MiB
	require.NoError(t, pc.ReportCustomMessage(map[string]any{"blob": big}))
	require.NoError(t, pc.Close())

	got := chunks(t, client, container, "big")
	require.Len(t, got, 1, "no interval passed: everything in the final flush")
	msgs := lines(t, got)
	require.Len(t, msgs, 3)
	assert.Equal(t, "opened", msgs[0]["method"])
	assert.Equal(t, "report_custom_message", msgs[1]["method"])
	assert.Equal(t, big, msgs[1]["params"].(map[string]any)["payload"].(map[string]any)["blob"])
	assert.Equal(t, "closed", msgs[2]["method"])
}

func TestContextLoader(t *testing.T) {
	_, client, container := newContainer(t)
	putBlob(t, client, container, "k/context.json",
		`{"asset_keys":["a/b"],"code_version_by_asset_key":{"a/b":"v1"},"provenance_by_asset_key":null,`+
			`"partition_key":"2024-01-01","partition_key_range":{"start":"2024-01-01","end":"2024-01-01"},"partition_time_window":null,`+
			`"run_id":"r","job_name":"j","retry_number":2,"extras":{"big":12345678901234567890}}`)
	l := azurepipes.ContextLoader{Client: client}
	data, err := l.LoadContext(context.Background(), pipes.Params{"bucket": container, "key": "k/context.json"})
	require.NoError(t, err)
	assert.Equal(t, []string{"a/b"}, data.AssetKeys)
	assert.Equal(t, "r", data.RunID)
	assert.Equal(t, 2, data.RetryNumber)
	assert.Equal(t, json.Number("12345678901234567890"), data.Extras["big"])

	t.Run("missing blob", func(t *testing.T) {
		_, err := l.LoadContext(context.Background(), pipes.Params{"bucket": container, "key": "nope.json"})
		require.ErrorIs(t, err, pipes.ErrInvalidContext)
		assert.True(t, bloberror.HasCode(err, bloberror.BlobNotFound), "%v", err)
		assert.Contains(t, err.Error(), "az://"+container+"/nope.json")
	})
	t.Run("missing container", func(t *testing.T) {
		_, err := l.LoadContext(context.Background(), pipes.Params{"bucket": "no-such-container", "key": "k"})
		require.ErrorIs(t, err, pipes.ErrInvalidContext)
		assert.True(t, bloberror.HasCode(err, bloberror.ContainerNotFound), "%v", err)
	})
	t.Run("not JSON", func(t *testing.T) {
		putBlob(t, client, container, "bad.json", "{not json")
		_, err := l.LoadContext(context.Background(), pipes.Params{"bucket": container, "key": "bad.json"})
		require.ErrorIs(t, err, pipes.ErrInvalidContext)
		assert.Contains(t, err.Error(), "az://"+container+"/bad.json")
	})
	t.Run("empty blob", func(t *testing.T) {
		putBlob(t, client, container, "empty.json", "")
		_, err := l.LoadContext(context.Background(), pipes.Params{"bucket": container, "key": "empty.json"})
		require.ErrorIs(t, err, pipes.ErrInvalidContext)
	})
	t.Run("param errors", func(t *testing.T) {
		_, err := l.LoadContext(context.Background(), pipes.Params{"bucket": container})
		require.ErrorIs(t, err, pipes.ErrInvalidParams)
		assert.EqualError(t, err, "Invalid type for parameter `key` passed from orchestration side to `PipesAzureBlobStorageContextLoader`. Expected `<class 'str'>`, got `<class 'NoneType'>`.")
		_, err = l.LoadContext(context.Background(), pipes.Params{"bucket": true, "key": "k"})
		assert.EqualError(t, err, "Invalid type for parameter `bucket` passed from orchestration side to `PipesAzureBlobStorageContextLoader`. Expected `<class 'str'>`, got `<class 'bool'>`.")
		_, err = azurepipes.ContextLoader{}.LoadContext(context.Background(), pipes.Params{"bucket": "b", "key": "k"})
		require.ErrorIs(t, err, azurepipes.ErrNoClient)
		var nilClient *azblob.Client
		_, err = azurepipes.ContextLoader{Client: nilClient}.LoadContext(context.Background(), pipes.Params{"bucket": "b", "key": "k"})
		require.ErrorIs(t, err, azurepipes.ErrNoClient)
	})
}

// proxied returns a client that reaches the emulator through a fault
// proxy, with quick retries.
func proxied(t *testing.T, srv *azurite.Server) (*faultproxy.Proxy, *azblob.Client) {
	t.Helper()
	p := faultproxy.New(t, strings.TrimSuffix(srv.Endpoint, "/"+azurite.AccountName))
	return p, newClient(t, p.URL+"/"+azurite.AccountName, fastRetries)
}

func TestFailedUploadsLoseNothing(t *testing.T) {
	srv, client, container := newContainer(t)
	proxy, faulty := proxied(t, srv)
	var failed []int
	var mu sync.Mutex
	opts := noTicks
	opts.OnError = func(_ error, index int) {
		mu.Lock()
		defer mu.Unlock()
		failed = append(failed, index)
	}
	ch := openChannel(t, azurepipes.MessageWriter{Client: faulty, Options: opts}, pipes.Params{"bucket": container, "key_prefix": "f"})
	ctx := context.Background()
	m := func(i int) pipes.Message {
		return msg(pipes.MethodLog, `{"message":"m`+strconv.Itoa(i)+`","level":"INFO"}`)
	}
	w := func(i int) string { return string(m(i).AppendJSON(nil)) }

	// One throttled attempt: the SDK's retry policy absorbs it.
	proxy.Inject(faultproxy.Rule{Match: faultproxy.Method("PUT"), Status: 503, Code: "ServerBusy", Times: 1})
	require.NoError(t, ch.WriteMessage(m(1)))
	require.NoError(t, ch.Flush(ctx))
	assert.Equal(t, 1, proxy.Injected())

	// Every attempt of the SDK fails: the chunk stays queued.
	proxy.Inject(faultproxy.Rule{Match: faultproxy.Method("PUT"), Status: 500, Times: 3})
	require.NoError(t, ch.WriteMessage(m(2)))
	require.NoError(t, ch.WriteMessage(m(3)))
	err := ch.Flush(ctx)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "az://"+container+"/f/2.json")
	var respErr *azcore.ResponseError
	require.ErrorAs(t, err, &respErr)
	assert.Equal(t, 500, respErr.StatusCode)
	// Messages written meanwhile come after it, in a chunk of their own.
	require.NoError(t, ch.WriteMessage(m(4)))
	require.NoError(t, ch.Flush(ctx))

	// The service stores the chunk but the answer is lost: the retry
	// overwrites the same blob under the same number.
	proxy.Inject(faultproxy.Rule{Match: faultproxy.Method("PUT"), AfterForward: true, Times: 3})
	require.NoError(t, ch.WriteMessage(m(5)))
	require.Error(t, ch.Flush(ctx))
	assert.Equal(t, w(5), getBlob(t, client, container, "f/4.json"))
	// Throttling (429) mid-run, absorbed by the retry policy.
	proxy.Inject(faultproxy.Rule{Match: faultproxy.Method("PUT"), Status: 429, Code: "TooManyRequests", Times: 2})
	require.NoError(t, ch.WriteMessage(m(6)))
	require.NoError(t, ch.WriteMessage(msg(pipes.MethodClosed, `{}`)))
	require.NoError(t, ch.Close())

	assert.Equal(t, []string{
		w(1),
		w(2) + "\n" + w(3),
		w(4),
		w(5),
		w(6) + "\n" + wire(pipes.MethodClosed, `{}`),
	}, chunks(t, client, container, "f"))
	mu.Lock()
	assert.Equal(t, []int{2, 4}, failed)
	mu.Unlock()
	assert.Equal(t, 9, proxy.Injected())
}

func TestFailedUploadsRetriedOnTicksAndClose(t *testing.T) {
	srv, client, container := newContainer(t)
	proxy, faulty := proxied(t, srv)
	// Nine failed PUTs: three whole uploads (of three SDK attempts each)
	// fail, across ticks, and possibly the first attempts of Close.
	proxy.Inject(faultproxy.Rule{Match: faultproxy.Method("PUT"), Status: 503, Code: "ServerBusy", Times: 9})
	ch := openChannel(t, azurepipes.MessageWriter{Client: faulty, Options: pipes.BlobStoreOptions{Interval: 50 * time.Millisecond}},
		pipes.Params{"bucket": container, "key_prefix": "t"})
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

	msgs := lines(t, chunks(t, client, container, "t"))
	require.Len(t, msgs, n+1)
	for i, m := range msgs[:n] {
		require.Equal(t, float64(i), m["params"].(map[string]any)["payload"])
	}
	require.Equal(t, "closed", msgs[n]["method"])
}

func TestCloseReportsUndeliveredMessages(t *testing.T) {
	srv, client, container := newContainer(t)
	proxy, faulty := proxied(t, srv)
	proxy.Inject(faultproxy.Rule{Match: faultproxy.Method("PUT"), Status: 500, Times: -1})
	ch := openChannel(t, azurepipes.MessageWriter{Client: faulty, Options: pipes.BlobStoreOptions{Interval: time.Hour, FinalAttempts: 2}},
		pipes.Params{"bucket": container, "key_prefix": "down"})
	require.NoError(t, ch.WriteMessage(msg(pipes.MethodClosed, `{}`)))
	err := ch.Close()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "az://"+container+"/down/1.json")
	assert.Empty(t, chunks(t, client, container, "down"))
}

func TestContextLoaderThroughFaults(t *testing.T) {
	srv, client, container := newContainer(t)
	putBlob(t, client, container, "c.json", `{"run_id":"through-faults"}`)
	proxy, faulty := proxied(t, srv)
	// Two failed attempts out of three: the download succeeds.
	proxy.Inject(faultproxy.Rule{Match: faultproxy.Method("GET"), Status: 503, Code: "ServerBusy", Times: 2})
	data, err := azurepipes.ContextLoader{Client: faulty}.LoadContext(context.Background(), pipes.Params{"bucket": container, "key": "c.json"})
	require.NoError(t, err)
	assert.Equal(t, "through-faults", data.RunID)
	assert.Equal(t, 2, proxy.Injected())

	// Every attempt fails: a clear error that wraps the service's answer.
	proxy.Inject(faultproxy.Rule{Match: faultproxy.Method("GET"), Status: 500, Times: -1})
	_, err = azurepipes.ContextLoader{Client: faulty}.LoadContext(context.Background(), pipes.Params{"bucket": container, "key": "c.json"})
	require.ErrorIs(t, err, pipes.ErrInvalidContext)
	var respErr *azcore.ResponseError
	require.ErrorAs(t, err, &respErr)
	assert.Equal(t, 500, respErr.StatusCode)
}

func TestNewClientFromConnectionString(t *testing.T) {
	srv, client, container := newContainer(t)
	c, err := azurepipes.NewClientFromConnectionString(srv.ConnectionString(), nil)
	require.NoError(t, err)
	assert.Equal(t, srv.Endpoint+"/", c.URL())
	ch := azurepipes.NewChannel(c, container, "cs", noTicks)
	require.NoError(t, ch.WriteMessage(msg(pipes.MethodClosed, `{}`)))
	require.NoError(t, ch.Close())
	assert.Equal(t, wire(pipes.MethodClosed, `{}`), getBlob(t, client, container, "cs/1.json"))

	// The Python SDK's shorthand for the emulator on its default port.
	for _, s := range []string{"UseDevelopmentStorage=true", "UseDevelopmentStorage=true;", " usedevelopmentstorage=TRUE "} {
		dev, err := azurepipes.NewClientFromConnectionString(s, nil)
		require.NoError(t, err, s)
		assert.Equal(t, "http://127.0.0.1:10000/devstoreaccount1/", dev.URL())
	}

	// As in the Python SDK: keys in any case, blanks and empty parts.
	loose := " defaultendpointsprotocol=http ; ACCOUNTNAME=" + azurite.AccountName + ";;accountkey=" + azurite.AccountKey +
		"; blobendpoint = " + srv.Endpoint + " ;"
	c, err = azurepipes.NewClientFromConnectionString(loose, nil)
	require.NoError(t, err)
	assert.Equal(t, srv.Endpoint+"/", c.URL())
	ch = azurepipes.NewChannel(c, container, "loose", noTicks)
	require.NoError(t, ch.WriteMessage(msg(pipes.MethodClosed, `{}`)))
	require.NoError(t, ch.Close())
	assert.Equal(t, wire(pipes.MethodClosed, `{}`), getBlob(t, client, container, "loose/1.json"))

	// A bad string is refused without repeating the secret it holds.
	_, err = azurepipes.NewClientFromConnectionString("AccountName=acct;SecretPart", nil)
	require.Error(t, err)
	assert.NotContains(t, err.Error(), "SecretPart")
	assert.Contains(t, err.Error(), "connection string")
	_, err = azurepipes.NewClientFromConnectionString("AccountName=acct", nil)
	require.Error(t, err)
}

func TestNewClientFromEnv(t *testing.T) {
	srv, client, container := newContainer(t)
	t.Setenv("AZURE_STORAGE_CONNECTION_STRING", srv.ConnectionString())
	t.Setenv("AZURE_STORAGE_ACCOUNT_URL", "https://ignored.example/")
	c, err := azurepipes.NewClientFromEnv(nil)
	require.NoError(t, err)
	ch := azurepipes.NewChannel(c, container, "env", noTicks)
	require.NoError(t, ch.WriteMessage(msg(pipes.MethodClosed, `{}`)))
	require.NoError(t, ch.Close())
	assert.Equal(t, wire(pipes.MethodClosed, `{}`), getBlob(t, client, container, "env/1.json"))

	// Without a connection string: the default credential on the account
	// URL, or on the account name's public endpoint. (Building the client
	// asks for no token yet.)
	t.Setenv("AZURE_STORAGE_CONNECTION_STRING", "")
	t.Setenv("AZURE_STORAGE_ACCOUNT_URL", "https://acct.blob.core.windows.net/")
	c, err = azurepipes.NewClientFromEnv(nil)
	require.NoError(t, err)
	assert.Equal(t, "https://acct.blob.core.windows.net/", c.URL())

	t.Setenv("AZURE_STORAGE_ACCOUNT_URL", "")
	t.Setenv("AZURE_STORAGE_ACCOUNT", "other")
	c, err = azurepipes.NewClientFromEnv(nil)
	require.NoError(t, err)
	assert.Equal(t, "https://other.blob.core.windows.net/", c.URL())

	t.Setenv("AZURE_STORAGE_ACCOUNT", "")
	_, err = azurepipes.NewClientFromEnv(nil)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "AZURE_STORAGE_CONNECTION_STRING")
}

func TestNewClientWithDefaultCredential(t *testing.T) {
	c, err := azurepipes.NewClientWithDefaultCredential("https://acct.blob.core.windows.net/", &azblob.ClientOptions{})
	require.NoError(t, err)
	assert.Equal(t, "https://acct.blob.core.windows.net/", c.URL())
	_, err = azurepipes.NewClientWithDefaultCredential("", nil)
	require.Error(t, err)
}

// failingClient fails every call: for the errors that need no server.
type failingClient struct{ err error }

func (f failingClient) UploadBuffer(context.Context, string, string, []byte, *azblob.UploadBufferOptions) (azblob.UploadBufferResponse, error) {
	return azblob.UploadBufferResponse{}, f.err
}

func (f failingClient) DownloadStream(context.Context, string, string, *azblob.DownloadStreamOptions) (azblob.DownloadStreamResponse, error) {
	return azblob.DownloadStreamResponse{}, f.err
}

func TestNewChannelWithoutClient(t *testing.T) {
	var nilClient *azblob.Client
	for _, c := range []azurepipes.Client{nil, nilClient} {
		ch := azurepipes.NewChannel(c, "b", "p", pipes.BlobStoreOptions{Interval: time.Hour, FinalAttempts: 1})
		require.NoError(t, ch.WriteMessage(msg(pipes.MethodClosed, `{}`)))
		require.ErrorIs(t, ch.Close(), azurepipes.ErrNoClient)
	}
}

func TestErrorsWrapTheClientError(t *testing.T) {
	boom := errors.New("boom")
	_, err := azurepipes.ContextLoader{Client: failingClient{boom}}.LoadContext(context.Background(), pipes.Params{"bucket": "b", "key": "k"})
	require.ErrorIs(t, err, boom)
	require.ErrorIs(t, err, pipes.ErrInvalidContext)

	ch := azurepipes.NewChannel(failingClient{boom}, "b", "p", pipes.BlobStoreOptions{Interval: time.Hour, FinalAttempts: 1})
	require.NoError(t, ch.WriteMessage(msg(pipes.MethodClosed, `{}`)))
	err = ch.Close()
	require.ErrorIs(t, err, boom)
	assert.Contains(t, err.Error(), "az://b/p/1.json")
}

// bodyClient answers downloads with a fixed body, or none.
type bodyClient struct {
	failingClient
	body io.ReadCloser
}

func (b bodyClient) DownloadStream(context.Context, string, string, *azblob.DownloadStreamOptions) (azblob.DownloadStreamResponse, error) {
	var resp azblob.DownloadStreamResponse
	resp.Body = b.body
	return resp, nil
}

func TestContextLoaderWithoutBody(t *testing.T) {
	// A client wrapper that returns no body is an invalid context, not a
	// panic.
	_, err := azurepipes.ContextLoader{Client: bodyClient{}}.LoadContext(context.Background(), pipes.Params{"bucket": "b", "key": "k"})
	require.ErrorIs(t, err, pipes.ErrInvalidContext)

	data, err := azurepipes.ContextLoader{Client: bodyClient{body: io.NopCloser(bytes.NewReader([]byte(`{"run_id":"x"}`)))}}.
		LoadContext(context.Background(), pipes.Params{"bucket": "b", "key": "k"})
	require.NoError(t, err)
	assert.Equal(t, "x", data.RunID)
}
