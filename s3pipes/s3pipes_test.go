package s3pipes_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dagster-pipes-go/pipes"
	"github.com/dagster-pipes-go/pipes/internal/faultproxy"
	"github.com/dagster-pipes-go/pipes/internal/moto"
	"github.com/dagster-pipes-go/pipes/s3pipes"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	code := moto.RunTests(m)
	if code == 0 {
		// After the moto server stopped: the SDK's idle keep-alive
		// connections are the HTTP client's, not ours.
		if err := goleak.Find(goleak.IgnoreTopFunction("net/http.(*persistConn).readLoop"),
			goleak.IgnoreTopFunction("net/http.(*persistConn).writeLoop")); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.Exit(code)
}

var bucketSeq atomic.Int64

// newBucket returns the shared moto server, a client on it and a fresh
// bucket.
func newBucket(t *testing.T) (*moto.Server, *s3.Client, string) {
	t.Helper()
	srv := moto.Shared(t)
	bucket := fmt.Sprintf("pipes-%d-%d", time.Now().UnixNano()%1e9, bucketSeq.Add(1))
	srv.CreateBucket(t, bucket)
	return srv, newClient(srv.Endpoint), bucket
}

// newClient returns an S3 client for a moto server (or a proxy in front of
// one) at endpoint: path-style addressing, moto's static test credentials.
// optFns are applied last.
func newClient(endpoint string, optFns ...func(*s3.Options)) *s3.Client {
	opts := []func(*s3.Options){func(o *s3.Options) {
		o.BaseEndpoint = aws.String(endpoint)
		o.UsePathStyle = true
	}}
	return s3.New(s3.Options{
		Region:      moto.Region,
		Credentials: credentials.NewStaticCredentialsProvider(moto.AccessKeyID, moto.SecretAccessKey, ""),
	}, append(opts, optFns...)...)
}

// fastRetries makes the SDK retry quickly, so that tests of failed uploads
// do not wait for the production backoff.
func fastRetries(o *s3.Options) {
	o.Retryer = retry.NewStandard(func(so *retry.StandardOptions) {
		so.MaxAttempts = 3
		so.MaxBackoff = 5 * time.Millisecond
	})
}

// noTicks keeps the periodic upload out of the way: the test decides when
// chunks are made with Flush.
var noTicks = pipes.BlobStoreOptions{Interval: time.Hour}

func msg(method pipes.Method, params string) pipes.Message {
	return pipes.Message{Method: method, Params: []byte(params)}
}

func wire(method pipes.Method, params string) string {
	return string(msg(method, params).AppendJSON(nil))
}

func openChannel(t *testing.T, w s3pipes.MessageWriter, params pipes.Params) *pipes.BlobStoreChannel {
	t.Helper()
	ch, err := w.Open(context.Background(), params)
	require.NoError(t, err)
	bc, ok := ch.(*pipes.BlobStoreChannel)
	require.True(t, ok, "Open returns a *pipes.BlobStoreChannel, got %T", ch)
	return bc
}

// chunks returns the contents of the chunks under prefix, checking that
// the keys are exactly ChunkKey(prefix, 1..N): no gap, nothing else.
func chunks(t *testing.T, client *s3.Client, bucket, prefix string) []string {
	t.Helper()
	ctx := context.Background()
	var keys []string
	p := s3.NewListObjectsV2Paginator(client, &s3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String(prefix)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		require.NoError(t, err)
		for _, o := range page.Contents {
			keys = append(keys, *o.Key)
		}
	}
	var want []string
	for i := range keys {
		want = append(want, s3pipes.ChunkKey(prefix, i+1))
	}
	slices.Sort(keys)
	slices.Sort(want)
	require.Equal(t, want, keys, "chunk keys are 1..N with no gap")
	out := make([]string, len(keys))
	for i := range out {
		out[i] = getObject(t, client, bucket, s3pipes.ChunkKey(prefix, i+1))
	}
	return out
}

func getObject(t *testing.T, client *s3.Client, bucket, key string) string {
	t.Helper()
	out, err := client.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	require.NoError(t, err)
	defer out.Body.Close()
	b, err := io.ReadAll(out.Body)
	require.NoError(t, err)
	return string(b)
}

func putObject(t *testing.T, client *s3.Client, bucket, key, body string) {
	t.Helper()
	_, err := client.PutObject(context.Background(), &s3.PutObjectInput{
		Bucket: aws.String(bucket), Key: aws.String(key), Body: strings.NewReader(body),
	})
	require.NoError(t, err)
}

func TestChunkKey(t *testing.T) {
	assert.Equal(t, "abc/1.json", s3pipes.ChunkKey("abc", 1))
	assert.Equal(t, "a/b/12.json", s3pipes.ChunkKey("a/b", 12))
	assert.Equal(t, "3.json", s3pipes.ChunkKey("", 3))
}

func TestMessageWriterChunksNumberingAndFinalFlush(t *testing.T) {
	_, client, bucket := newBucket(t)
	ch := openChannel(t, s3pipes.MessageWriter{Client: client, Options: noTicks}, pipes.Params{
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

	got := chunks(t, client, bucket, "abcdefghij")
	require.Equal(t, []string{
		wire(pipes.MethodOpened, `{"extras":{}}`) + "\n" + wire(pipes.MethodLog, `{"message":"one","level":"INFO"}`),
		wire(pipes.MethodReportCustomMessage, `{"payload":"é\n\u2028"}`),
		// The final flush on Close includes closed.
		wire(pipes.MethodLog, `{"message":"two","level":"INFO"}`) + "\n" + wire(pipes.MethodClosed, `{}`),
	}, got)
}

func TestMessageWriterWithoutPrefix(t *testing.T) {
	for name, params := range map[string]pipes.Params{
		"absent": {},
		"null":   {"key_prefix": nil},
		"empty":  {"key_prefix": ""},
	} {
		t.Run(name, func(t *testing.T) {
			_, client, bucket := newBucket(t)
			params["bucket"] = bucket
			ch := openChannel(t, s3pipes.MessageWriter{Client: client, Options: noTicks}, params)
			require.NoError(t, ch.WriteMessage(msg(pipes.MethodClosed, `{}`)))
			require.NoError(t, ch.Close())
			assert.Equal(t, wire(pipes.MethodClosed, `{}`), getObject(t, client, bucket, "1.json"))
		})
	}
}

func TestMessageWriterParamErrors(t *testing.T) {
	w := s3pipes.MessageWriter{Client: s3.New(s3.Options{Region: "us-east-1"})}
	_, err := w.Open(context.Background(), pipes.Params{"key_prefix": "x"})
	require.ErrorIs(t, err, pipes.ErrInvalidParams)
	assert.EqualError(t, err, "Invalid type for parameter `bucket` passed from orchestration side to `PipesS3MessageWriter`. Expected `<class 'str'>`, got `<class 'NoneType'>`.")

	_, err = w.Open(context.Background(), pipes.Params{"bucket": "b", "key_prefix": json.Number("3")})
	require.ErrorIs(t, err, pipes.ErrInvalidParams)
	assert.EqualError(t, err, "Invalid type for parameter `key_prefix` passed from orchestration side to `PipesS3MessageWriter`. Expected `Optional[<class 'str'>]`, got `<class 'int'>`.")

	_, err = s3pipes.MessageWriter{}.Open(context.Background(), pipes.Params{"bucket": "b"})
	require.ErrorIs(t, err, s3pipes.ErrNoClient)
}

func TestMessageWriterUploadsEveryInterval(t *testing.T) {
	_, client, bucket := newBucket(t)
	ch := openChannel(t, s3pipes.MessageWriter{Client: client, Options: pipes.BlobStoreOptions{Interval: 50 * time.Millisecond}},
		pipes.Params{"bucket": bucket, "key_prefix": "p"})
	first := wire(pipes.MethodOpened, `{"extras":{}}`)
	require.NoError(t, ch.WriteMessage(msg(pipes.MethodOpened, `{"extras":{}}`)))
	// Without Flush or Close, the ticker uploads chunk 1.
	require.Eventually(t, func() bool {
		_, err := client.HeadObject(context.Background(), &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String("p/1.json")})
		return err == nil
	}, 20*time.Second, 20*time.Millisecond)
	require.NoError(t, ch.WriteMessage(msg(pipes.MethodClosed, `{}`)))
	require.NoError(t, ch.Close())

	got := chunks(t, client, bucket, "p")
	require.Equal(t, []string{first, wire(pipes.MethodClosed, `{}`)}, got)
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
	_, client, bucket := newBucket(t)
	ch := openChannel(t, s3pipes.MessageWriter{Client: client, Options: pipes.BlobStoreOptions{Interval: 100 * time.Millisecond}},
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

func TestLargePayloadThroughContext(t *testing.T) {
	_, client, bucket := newBucket(t)
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
		pipes.WithContextLoader(s3pipes.ContextLoader{Client: client}),
		pipes.WithMessageWriter(s3pipes.MessageWriter{Client: client, Options: noTicks}),
		pipes.WithoutSignalHandling())
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
	_, client, bucket := newBucket(t)
	putObject(t, client, bucket, "k/context.json",
		`{"asset_keys":["a/b"],"code_version_by_asset_key":{"a/b":"v1"},"provenance_by_asset_key":null,`+
			`"partition_key":"2024-01-01","partition_key_range":{"start":"2024-01-01","end":"2024-01-01"},"partition_time_window":null,`+
			`"run_id":"r","job_name":"j","retry_number":2,"extras":{"big":12345678901234567890}}`)
	l := s3pipes.ContextLoader{Client: client}
	data, err := l.LoadContext(context.Background(), pipes.Params{"bucket": bucket, "key": "k/context.json"})
	require.NoError(t, err)
	assert.Equal(t, []string{"a/b"}, data.AssetKeys)
	assert.Equal(t, "r", data.RunID)
	assert.Equal(t, 2, data.RetryNumber)
	assert.Equal(t, json.Number("12345678901234567890"), data.Extras["big"])

	t.Run("missing object", func(t *testing.T) {
		_, err := l.LoadContext(context.Background(), pipes.Params{"bucket": bucket, "key": "nope.json"})
		require.ErrorIs(t, err, pipes.ErrInvalidContext)
		var noKey *types.NoSuchKey
		require.ErrorAs(t, err, &noKey)
		assert.Contains(t, err.Error(), "s3://"+bucket+"/nope.json")
	})
	t.Run("not JSON", func(t *testing.T) {
		putObject(t, client, bucket, "bad.json", "{not json")
		_, err := l.LoadContext(context.Background(), pipes.Params{"bucket": bucket, "key": "bad.json"})
		require.ErrorIs(t, err, pipes.ErrInvalidContext)
		assert.Contains(t, err.Error(), "s3://"+bucket+"/bad.json")
	})
	t.Run("param errors", func(t *testing.T) {
		_, err := l.LoadContext(context.Background(), pipes.Params{"bucket": bucket})
		require.ErrorIs(t, err, pipes.ErrInvalidParams)
		assert.EqualError(t, err, "Invalid type for parameter `key` passed from orchestration side to `PipesS3ContextLoader`. Expected `<class 'str'>`, got `<class 'NoneType'>`.")
		_, err = l.LoadContext(context.Background(), pipes.Params{"bucket": true, "key": "k"})
		assert.EqualError(t, err, "Invalid type for parameter `bucket` passed from orchestration side to `PipesS3ContextLoader`. Expected `<class 'str'>`, got `<class 'bool'>`.")
		_, err = s3pipes.ContextLoader{}.LoadContext(context.Background(), pipes.Params{"bucket": "b", "key": "k"})
		require.ErrorIs(t, err, s3pipes.ErrNoClient)
	})
}

// proxied returns a client that reaches moto through a fault proxy.
func proxied(t *testing.T, srv *moto.Server) (*faultproxy.Proxy, *s3.Client) {
	t.Helper()
	p := faultproxy.New(t, srv.Endpoint)
	return p, newClient(p.URL, fastRetries)
}

func TestFailedUploadsLoseNothing(t *testing.T) {
	srv, client, bucket := newBucket(t)
	proxy, faulty := proxied(t, srv)
	var failed []int
	var mu sync.Mutex
	opts := noTicks
	opts.OnError = func(_ error, index int) {
		mu.Lock()
		defer mu.Unlock()
		failed = append(failed, index)
	}
	ch := openChannel(t, s3pipes.MessageWriter{Client: faulty, Options: opts}, pipes.Params{"bucket": bucket, "key_prefix": "f"})
	ctx := context.Background()
	m := func(i int) pipes.Message {
		return msg(pipes.MethodLog, `{"message":"m`+strconv.Itoa(i)+`","level":"INFO"}`)
	}
	w := func(i int) string { return string(m(i).AppendJSON(nil)) }

	// One throttled attempt: the SDK's retryer absorbs it.
	proxy.Inject(faultproxy.Rule{Match: faultproxy.Method("PUT"), Status: 503, Code: "SlowDown", Times: 1})
	require.NoError(t, ch.WriteMessage(m(1)))
	require.NoError(t, ch.Flush(ctx))
	assert.Equal(t, 1, proxy.Injected())

	// Every attempt of the SDK fails: the chunk stays queued.
	proxy.Inject(faultproxy.Rule{Match: faultproxy.Method("PUT"), Status: 500, Times: 3})
	require.NoError(t, ch.WriteMessage(m(2)))
	require.NoError(t, ch.WriteMessage(m(3)))
	err := ch.Flush(ctx)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "s3://"+bucket+"/f/2.json")
	// Messages written meanwhile come after it, in a chunk of their own.
	require.NoError(t, ch.WriteMessage(m(4)))
	require.NoError(t, ch.Flush(ctx))

	// The server stores the chunk but the answer is lost: the retry writes
	// the same chunk under the same number.
	proxy.Inject(faultproxy.Rule{Match: faultproxy.Method("PUT"), AfterForward: true, Times: 3})
	require.NoError(t, ch.WriteMessage(m(5)))
	require.Error(t, ch.Flush(ctx))
	assert.Equal(t, w(5), getObject(t, client, bucket, "f/4.json"))
	require.NoError(t, ch.WriteMessage(m(6)))
	require.NoError(t, ch.WriteMessage(msg(pipes.MethodClosed, `{}`)))
	require.NoError(t, ch.Close())

	assert.Equal(t, []string{
		w(1),
		w(2) + "\n" + w(3),
		w(4),
		w(5),
		w(6) + "\n" + wire(pipes.MethodClosed, `{}`),
	}, chunks(t, client, bucket, "f"))
	mu.Lock()
	assert.Equal(t, []int{2, 4}, failed)
	mu.Unlock()
	assert.Equal(t, 7, proxy.Injected())
}

func TestFailedUploadsRetriedOnTicksAndClose(t *testing.T) {
	srv, client, bucket := newBucket(t)
	proxy, faulty := proxied(t, srv)
	// Nine failed PUTs: three whole uploads (of three SDK attempts each)
	// fail, across ticks, and possibly the first attempts of Close.
	proxy.Inject(faultproxy.Rule{Match: faultproxy.Method("PUT"), Status: 503, Code: "SlowDown", Times: 9})
	ch := openChannel(t, s3pipes.MessageWriter{Client: faulty, Options: pipes.BlobStoreOptions{Interval: 50 * time.Millisecond}},
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
	srv, client, bucket := newBucket(t)
	proxy, faulty := proxied(t, srv)
	proxy.Inject(faultproxy.Rule{Match: faultproxy.Method("PUT"), Status: 500, Times: -1})
	ch := openChannel(t, s3pipes.MessageWriter{Client: faulty, Options: pipes.BlobStoreOptions{Interval: time.Hour, FinalAttempts: 2}},
		pipes.Params{"bucket": bucket, "key_prefix": "down"})
	require.NoError(t, ch.WriteMessage(msg(pipes.MethodClosed, `{}`)))
	err := ch.Close()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "s3://"+bucket+"/down/1.json")
	assert.Empty(t, chunks(t, client, bucket, "down"))
}

func TestNewClientFromEnv(t *testing.T) {
	srv, client, bucket := newBucket(t)
	// "localhost" only resolves for path-style requests, not for
	// virtual-hosted ones (<bucket>.localhost).
	endpoint := strings.Replace(srv.Endpoint, "127.0.0.1", "localhost", 1)
	t.Setenv("AWS_ENDPOINT_URL", endpoint)
	t.Setenv("AWS_ENDPOINT_URL_S3", "")
	t.Setenv("AWS_ACCESS_KEY_ID", moto.AccessKeyID)
	t.Setenv("AWS_SECRET_ACCESS_KEY", moto.SecretAccessKey)
	t.Setenv("AWS_SESSION_TOKEN", "")
	t.Setenv("AWS_PROFILE", "")
	t.Setenv("AWS_REGION", "")
	t.Setenv("AWS_DEFAULT_REGION", "")
	t.Setenv("AWS_CONFIG_FILE", t.TempDir()+"/none")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", t.TempDir()+"/none")

	envClient, err := s3pipes.NewClientFromEnv(context.Background())
	require.NoError(t, err)
	o := envClient.Options()
	assert.Equal(t, s3pipes.DefaultRegion, o.Region)
	assert.True(t, o.UsePathStyle)
	require.NotNil(t, o.BaseEndpoint)
	assert.Equal(t, endpoint, *o.BaseEndpoint)

	ch := s3pipes.NewChannel(envClient, bucket, "env", noTicks)
	require.NoError(t, ch.WriteMessage(msg(pipes.MethodClosed, `{}`)))
	require.NoError(t, ch.Close())
	assert.Equal(t, wire(pipes.MethodClosed, `{}`), getObject(t, client, bucket, "env/1.json"))

	// optFns come last and win.
	c2, err := s3pipes.NewClientFromEnv(context.Background(), func(o *s3.Options) { o.UsePathStyle = false })
	require.NoError(t, err)
	assert.False(t, c2.Options().UsePathStyle)

	// Without an endpoint: AWS, virtual-hosted style, region from the env.
	t.Setenv("AWS_ENDPOINT_URL", "")
	t.Setenv("AWS_REGION", "eu-west-3")
	c3, err := s3pipes.NewClientFromEnv(context.Background())
	require.NoError(t, err)
	assert.Nil(t, c3.Options().BaseEndpoint)
	assert.False(t, c3.Options().UsePathStyle)
	assert.Equal(t, "eu-west-3", c3.Options().Region)
}

// failingClient fails every call: for the errors that need no server.
type failingClient struct{ err error }

func (f failingClient) PutObject(context.Context, *s3.PutObjectInput, ...func(*s3.Options)) (*s3.PutObjectOutput, error) {
	return nil, f.err
}

func (f failingClient) GetObject(context.Context, *s3.GetObjectInput, ...func(*s3.Options)) (*s3.GetObjectOutput, error) {
	return nil, f.err
}

func TestErrorsWrapTheClientError(t *testing.T) {
	boom := errors.New("boom")
	_, err := s3pipes.ContextLoader{Client: failingClient{boom}}.LoadContext(context.Background(), pipes.Params{"bucket": "b", "key": "k"})
	require.ErrorIs(t, err, boom)
	require.ErrorIs(t, err, pipes.ErrInvalidContext)

	ch := s3pipes.NewChannel(failingClient{boom}, "b", "p", pipes.BlobStoreOptions{Interval: time.Hour, FinalAttempts: 1})
	require.NoError(t, ch.WriteMessage(msg(pipes.MethodClosed, `{}`)))
	err = ch.Close()
	require.ErrorIs(t, err, boom)
	assert.Contains(t, err.Error(), "s3://b/p/1.json")
}
