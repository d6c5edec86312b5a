package moto_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dagster-pipes-go/pipes/internal/moto"
)

// do sends a request to the server. moto does not verify signatures, but
// without an Authorization header it treats a read as anonymous and denies it.
func do(t *testing.T, method, url, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential="+moto.AccessKeyID+
		"/20260101/"+moto.Region+"/s3/aws4_request, SignedHeaders=host, Signature=0")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b)
}

func TestStartServesS3(t *testing.T) {
	srv := moto.Start(t)
	require.True(t, strings.HasPrefix(srv.Endpoint, "http://127.0.0.1:"), srv.Endpoint)
	srv.CreateBucket(t, "moto-test")

	code, body := do(t, http.MethodPut, srv.Endpoint+"/moto-test/a/b.json", `{"x":1}`)
	require.Equal(t, http.StatusOK, code, body)
	code, body = do(t, http.MethodGet, srv.Endpoint+"/moto-test/a/b.json", "")
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, `{"x":1}`, body)

	srv.Reset(t)
	code, _ = do(t, http.MethodGet, srv.Endpoint+"/moto-test/a/b.json", "")
	require.Equal(t, http.StatusNotFound, code, "reset removes buckets and objects")

	env := srv.Env()
	require.Contains(t, env, "AWS_ENDPOINT_URL="+srv.Endpoint)

	srv.Stop()
	srv.Stop() // idempotent
}

func TestRepoRoot(t *testing.T) {
	root, err := moto.RepoRoot()
	require.NoError(t, err)
	require.FileExists(t, root+"/go.work")
	require.FileExists(t, root+"/go.mod")
}
