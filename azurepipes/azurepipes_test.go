package azurepipes_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
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
	"github.com/dagster-pipes-go/pipes/internal/blobtest"
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
func newContainer(t testing.TB) (*azurite.Server, *azblob.Client, string) {
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
func newClient(t testing.TB, endpoint string, opts *azblob.ClientOptions) *azblob.Client {
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

func TestMessageWriterConformance(t *testing.T) {
	pipestest.TestMessageWriter(t, func(t *testing.T) pipestest.WriterHarness {
		_, client, container := newContainer(t)
		return pipestest.WriterHarness{
			Writer:   azurepipes.MessageWriter{Client: client, Options: pipes.BlobStoreOptions{Interval: 20 * time.Millisecond}},
			Params:   pipes.Params{"bucket": container, "key_prefix": "conformance", "include_stdio_in_messages": false},
			ReadBack: readBack(client, container, "conformance"),
		}
	})
}

func TestChannelConformance(t *testing.T) {
	pipestest.TestChannel(t, func(t *testing.T) pipestest.ChannelHarness {
		_, client, container := newContainer(t)
		return pipestest.ChannelHarness{
			Channel:  azurepipes.NewChannel(client, container, "", pipes.BlobStoreOptions{Interval: 20 * time.Millisecond}),
			ReadBack: readBack(client, container, ""),
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

// store is Azure Blob Storage on Azurite, for the scenarios every
// blob-store backend runs.
var store = blobtest.Store{
	Scheme: "az", WriterClass: "PipesAzureBlobStorageMessageWriter", LoaderClass: "PipesAzureBlobStorageContextLoader",
	ChunkKey: azurepipes.ChunkKey,
	NewBucket: func(tb testing.TB) blobtest.Bucket {
		_, client, container := newContainer(tb)
		return containerOf(client, container)
	},
	Faulty: func(t *testing.T) (*faultproxy.Proxy, func(pipes.BlobStoreOptions) pipes.MessageWriter) {
		proxy, faulty := proxied(t, azurite.Shared(t))
		return proxy, func(o pipes.BlobStoreOptions) pipes.MessageWriter {
			return azurepipes.MessageWriter{Client: faulty, Options: o}
		}
	},
	Busy: func(n int) faultproxy.Rule {
		return faultproxy.Rule{Match: faultproxy.Method("PUT"), Status: 503, Code: "ServerBusy", Times: n}
	},
	Failure: func(n int) faultproxy.Rule {
		return faultproxy.Rule{Match: faultproxy.Method("PUT"), Status: 500, Times: n}
	},
	// fastRetries: three attempts of an upload.
	Attempts: 3,
	UploadError: func(t *testing.T, err error) {
		var respErr *azcore.ResponseError
		require.ErrorAs(t, err, &respErr)
		assert.Equal(t, 500, respErr.StatusCode)
	},
	Throttled: func(n int) faultproxy.Rule {
		return faultproxy.Rule{Match: faultproxy.Method("PUT"), Status: 429, Code: "TooManyRequests", Times: n}
	},
	MissingObject: func(t *testing.T, err error) {
		assert.True(t, bloberror.HasCode(err, bloberror.BlobNotFound), "%v", err)
	},
}

// containerOf describes container, reached with client, to the scenarios.
func containerOf(client *azblob.Client, container string) blobtest.Bucket {
	return blobtest.Bucket{
		Name: container,
		Writer: func(o pipes.BlobStoreOptions) pipes.MessageWriter {
			return azurepipes.MessageWriter{Client: client, Options: o}
		},
		Channel: func(prefix string, o pipes.BlobStoreOptions) *pipes.BlobStoreChannel {
			return azurepipes.NewChannel(client, container, prefix, o)
		},
		Loader: azurepipes.ContextLoader{Client: client},
		Put: func(name, body string) error {
			_, err := client.UploadBuffer(context.Background(), container, name, []byte(body), nil)
			return err
		},
		Get: func(name string) (string, error) { return download(client, container, name) },
		List: func(prefix string) ([]string, error) {
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
			return names, nil
		},
	}
}

// TestStore runs the scenarios every blob-store backend runs.
func TestStore(t *testing.T) { blobtest.Run(t, store) }

var (
	noTicks = blobtest.NoTicks
	msg     = blobtest.Msg
	wire    = blobtest.Wire
)

// readBack is the ReadBack of the conformance kits: the chunks in order,
// joined by newlines.
func readBack(client *azblob.Client, container, prefix string) func() ([]byte, error) {
	return func() ([]byte, error) {
		c, err := blobtest.ReadChunks(containerOf(client, container), prefix)
		return []byte(strings.Join(c, "\n")), err
	}
}

func TestMessageWriterParamErrors(t *testing.T) {
	client, err := azurepipes.NewClientFromConnectionString("UseDevelopmentStorage=true", nil)
	require.NoError(t, err)
	w := azurepipes.MessageWriter{Client: client}
	// "container" is the Python constructor's name, not a param.
	_, err = w.Open(context.Background(), pipes.Params{"container": "b"})
	require.ErrorIs(t, err, pipes.ErrInvalidParams)

	_, err = azurepipes.MessageWriter{}.Open(context.Background(), pipes.Params{"bucket": "b"})
	require.ErrorIs(t, err, azurepipes.ErrNoClient)
	var nilClient *azblob.Client
	_, err = azurepipes.MessageWriter{Client: nilClient}.Open(context.Background(), pipes.Params{"bucket": "b"})
	require.ErrorIs(t, err, azurepipes.ErrNoClient)
}

// The context loader's cases that only Azure has (the shared ones are in
// TestStore).
func TestContextLoader(t *testing.T) {
	_, client, container := newContainer(t)
	l := azurepipes.ContextLoader{Client: client}
	t.Run("missing container", func(t *testing.T) {
		_, err := l.LoadContext(context.Background(), pipes.Params{"bucket": "no-such-container", "key": "k"})
		require.ErrorIs(t, err, pipes.ErrInvalidContext)
		assert.True(t, bloberror.HasCode(err, bloberror.ContainerNotFound), "%v", err)
	})
	t.Run("empty blob", func(t *testing.T) {
		putBlob(t, client, container, "empty.json", "")
		_, err := l.LoadContext(context.Background(), pipes.Params{"bucket": container, "key": "empty.json"})
		require.ErrorIs(t, err, pipes.ErrInvalidContext)
	})
	t.Run("no client", func(t *testing.T) {
		_, err := azurepipes.ContextLoader{}.LoadContext(context.Background(), pipes.Params{"bucket": "b", "key": "k"})
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
