package faultproxy_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dagster-pipes-go/pipes/internal/faultproxy"
)

func do(t *testing.T, method, url, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	require.NoError(t, err)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b)
}

func TestProxy(t *testing.T) {
	var hits atomic.Int32
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		b, _ := io.ReadAll(r.Body)
		_, _ = io.WriteString(w, r.Method+" "+r.URL.Path+" "+string(b)+" host="+r.Host)
	}))
	defer backend.Close()
	p := faultproxy.New(t, backend.URL)

	// No rule: forwarded, Host header kept as the client sent it.
	code, body := do(t, "PUT", p.URL+"/b/k", "x")
	require.Equal(t, 200, code)
	require.Equal(t, "PUT /b/k x host="+strings.TrimPrefix(p.URL, "http://"), body)

	// Two PUTs fail with throttling, GETs pass.
	p.Inject(faultproxy.Rule{Match: faultproxy.Method("PUT"), Status: 503, Code: "SlowDown", Times: 2})
	code, body = do(t, "PUT", p.URL+"/b/1", "a")
	require.Equal(t, 503, code)
	require.Contains(t, body, "<Code>SlowDown</Code>")
	code, _ = do(t, "GET", p.URL+"/b/1", "")
	require.Equal(t, 200, code)
	code, _ = do(t, "PUT", p.URL+"/b/1", "a")
	require.Equal(t, 503, code)
	code, _ = do(t, "PUT", p.URL+"/b/1", "a")
	require.Equal(t, 200, code)
	require.Equal(t, int32(3), hits.Load(), "failed requests did not reach the server")

	// After forwarding: the server sees the request, the client an error.
	p.Inject(faultproxy.Rule{AfterForward: true, Times: -1})
	for range 3 {
		code, body = do(t, "PUT", p.URL+"/b/2", "z")
		require.Equal(t, 500, code)
		require.Contains(t, body, "<Code>InternalError</Code>")
	}
	require.Equal(t, int32(6), hits.Load())
	p.Clear()
	code, _ = do(t, "PUT", p.URL+"/b/2", "z")
	require.Equal(t, 200, code)

	reqs := p.Requests()
	require.Len(t, reqs, 9)
	require.Equal(t, faultproxy.Request{Method: "PUT", Path: "/b/1", Injected: 503}, reqs[1])
	require.Equal(t, 0, reqs[2].Injected)
	require.Equal(t, 5, p.Injected())
}
