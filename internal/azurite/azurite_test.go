package azurite_test

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/dagster-pipes-go/pipes/internal/azurite"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestStartServesBlobAndStopsOnSIGTERM(t *testing.T) {
	srv := azurite.Start(t)
	require.True(t, strings.HasPrefix(srv.Endpoint, "http://127.0.0.1:"), srv.Endpoint)
	require.True(t, strings.HasSuffix(srv.Endpoint, "/"+azurite.AccountName), srv.Endpoint)

	// An unsigned request reaches the blob service, which refuses it.
	resp, err := http.Get(srv.Endpoint + "?comp=list")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusForbidden, resp.StatusCode)
	assert.Equal(t, "AuthorizationFailure", resp.Header.Get("x-ms-error-code"))
	assert.Contains(t, resp.Header.Get("Server"), "Azurite-Blob/"+azurite.Version)

	cs := srv.ConnectionString()
	assert.Contains(t, cs, ";BlobEndpoint="+srv.Endpoint+";")
	assert.Contains(t, cs, "AccountName=devstoreaccount1;")
	assert.Equal(t, []string{"AZURE_STORAGE_CONNECTION_STRING=" + cs}, srv.Env())

	srv.Stop()
	srv.Stop() // idempotent
	_, err = http.Get(srv.Endpoint + "?comp=list")
	require.Error(t, err, "stopped: nothing listens")
}

func TestMissingBinaryIsUnavailable(t *testing.T) {
	t.Setenv(azurite.BinaryEnvVar, filepath.Join(t.TempDir(), "no-such-azurite-blob"))
	_, err := azurite.Launch()
	require.ErrorIs(t, err, azurite.ErrUnavailable)
}

func TestBinaryDefaultsToTheRepositoryCache(t *testing.T) {
	t.Setenv(azurite.BinaryEnvVar, "")
	bin, err := azurite.Binary()
	if err != nil {
		require.ErrorIs(t, err, azurite.ErrUnavailable)
		assert.Contains(t, err.Error(), filepath.Join(".cache", "azurite", "node_modules", ".bin", "azurite-blob"))
		if os.Getenv("PIPES_E2E") == "1" {
			t.Fatalf("PIPES_E2E=1 but Azurite is not installed: %v", err)
		}
		return
	}
	assert.True(t, strings.HasSuffix(bin, filepath.Join(".cache", "azurite", "node_modules", ".bin", "azurite-blob")), bin)
}

func TestConnectionStringForAProxy(t *testing.T) {
	assert.Equal(t, "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey="+azurite.AccountKey+
		";BlobEndpoint=http://127.0.0.1:9/devstoreaccount1;", azurite.ConnectionString("http://127.0.0.1:9/devstoreaccount1"))
}
