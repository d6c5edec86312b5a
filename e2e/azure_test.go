package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dagster-pipes-go/pipes/azurepipes"
	"github.com/dagster-pipes-go/pipes/internal/azurite"
	"github.com/dagster-pipes-go/pipes/internal/faultproxy"
)

// The Azure Blob Storage tests: Dagster's PipesAzureBlobStorageContextInjector
// and PipesAzureBlobStorageMessageReader (dagster-azure, with the Python
// client on Azurite), PipesSubprocessClient launching the Go job
// e2e/jobs/azure, which uses azurepipes. The probe side is
// e2e/probe/azureext.py. Dagster's reader polls every second and the job
// uploads every 200 ms, so that each run takes a few seconds. One Azurite
// serves all the runs of a test; each run has a container of its own.

var azureContainerSeq atomic.Int64

// azureBlobs lists the blobs left in container after a run.
func azureBlobs(t *testing.T, client *azblob.Client, container string) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var names []string
	pager := client.NewListBlobsFlatPager(container, nil)
	for pager.More() {
		page, err := pager.NextPage(ctx)
		require.NoError(t, err)
		for _, b := range page.Segment.BlobItems {
			names = append(names, *b.Name)
		}
	}
	return names
}

// azureEnv is one Azurite for a test, and a client on it.
type azureEnv struct {
	srv    *azurite.Server
	client *azblob.Client
}

func startAzure(t *testing.T) azureEnv {
	t.Helper()
	requireDagster(t) // skip before starting Azurite when the e2e tests are off
	srv := azurite.Start(t)
	client, err := azurepipes.NewClientFromConnectionString(srv.ConnectionString(), nil)
	require.NoError(t, err)
	return azureEnv{srv: srv, client: client}
}

// scenario returns a scenario of the azure job with Dagster's given
// injector and reader ("azure…" for dagster-azure's, else the probe's), on
// a fresh container. The job's side of each channel follows Dagster's.
func (a azureEnv) scenario(t *testing.T, injector, reader string, args ...string) Scenario {
	t.Helper()
	container := fmt.Sprintf("e2e-azure-%d", azureContainerSeq.Add(1))
	_, err := a.client.CreateContainer(context.Background(), container, nil)
	require.NoError(t, err)

	env := map[string]string{
		"PIPES_E2E_AZURE_CONTAINER": container,
		"PIPES_E2E_AZURE_INTERVAL":  "1",
	}
	for _, kv := range a.srv.Env() {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	return storeScenario("azure", injector, reader, env, args...)
}

// Context and messages through Azure Blob Storage, the mixed pairs
// (Dagster's env and temp-file injectors with Azure messages, the Azure
// injector with Dagster's default temp-file message reader), a failing
// job, and forwarded stdout/stderr.
func TestAzure(t *testing.T) {
	az := startAzure(t)

	for _, tc := range []struct{ name, injector, reader string }{
		{"azure-context/azure-messages", "azure", "azure"},
		{"env-context/azure-messages", "env", "azure"},
		{"tempfile-context/azure-messages", "tempfile", "azure"},
		{"azure-context/tempfile-messages", "azure", "tempfile"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sc := az.scenario(t, tc.injector, tc.reader)
			res := runScenario(t, sc)
			requireStoreReport(t, res, "azure")
			blobs := azureBlobs(t, az.client, sc.Env["PIPES_E2E_AZURE_CONTAINER"])
			if tc.reader == "azure" {
				// The premise of the test: the messages went in several
				// chunks (Dagster's reader read them all, in order, above).
				chunks := 0
				for _, b := range blobs {
					if chunkKeyRE.MatchString(b) {
						chunks++
					}
				}
				assert.GreaterOrEqual(t, chunks, batches, "message chunks in the container: %q", blobs)
			}
			for _, b := range blobs {
				assert.NotContains(t, b, "context.json", "Dagster's Azure injector deletes the context after the session")
			}
		})
	}

	// examples/azure: its own definitions.py, unchanged, on the same
	// emulator.
	t.Run("example", func(t *testing.T) {
		container := fmt.Sprintf("e2e-examples-azure-%d", azureContainerSeq.Add(1))
		_, err := az.client.CreateContainer(context.Background(), container, nil)
		require.NoError(t, err)
		env := map[string]string{"PIPES_AZURE_CONTAINER": container, "PIPES_AZURE_INTERVAL": "1"}
		for _, kv := range az.srv.Env() {
			k, v, _ := strings.Cut(kv, "=")
			env[k] = v
		}
		res := runExample(t, "azure", "PIPES_AZURE_JOB", exampleRun{Env: env})
		requireSucceeded(t, res)
		assert.Equal(t, []LogRecord{
			{"INFO", "starting run_id=" + res.RunID},
			{"INFO", "rows computed rows=5000"},
		}, res.UserLogs())
		mats := res.Materialized("go_azure_rows")
		require.Len(t, mats, 1, "materializations: %+v", res.Materializations)
		md := mats[0].Metadata
		assert.Equal(t, map[string]string{
			"rows": "IntMetadataValue", "total": "IntMetadataValue",
			"duration": "FloatMetadataValue", "storage": "TextMetadataValue",
		}, metadataTypes(md))
		assert.Equal(t, json.Number("5000"), md["rows"].Value, "extras={'rows': 5000} reached the job")
		assert.Equal(t, json.Number("14995"), md["total"].Value)
		assert.Equal(t, "azure", md["storage"].Value)

		// The messages went through the container: the job's chunks are
		// there, the context Dagster put there is gone after the session.
		blobs := azureBlobs(t, az.client, container)
		chunks := 0
		for _, b := range blobs {
			if chunkKeyRE.MatchString(b) {
				chunks++
			}
			assert.NotContains(t, b, "context.json")
		}
		assert.GreaterOrEqual(t, chunks, 1, "message chunks in the container: %q", blobs)
	})

	// Throttling mid-run: the job reaches Azurite through a proxy that
	// answers 503 ServerBusy (Azure's throttling) to six uploads after the
	// first chunk, more than the SDK's retries absorb; Dagster's side reads
	// Azurite directly. Dagster still records every message, in order.
	t.Run("throttled-mid-run", func(t *testing.T) {
		proxy := faultproxy.New(t, strings.TrimSuffix(az.srv.Endpoint, "/"+azurite.AccountName))
		proxy.Inject(faultproxy.Rule{
			Match: func(r *http.Request) bool {
				return r.Method == http.MethodPut && !strings.HasSuffix(r.URL.Path, "/1.json")
			},
			Status: http.StatusServiceUnavailable, Code: "ServerBusy", Times: 6,
		})
		sc := az.scenario(t, "azure", "azure", "-retry-delay=50ms")
		sc.Env["PIPES_E2E_AZURE_DAGSTER_CONNECTION_STRING"] = sc.Env["AZURE_STORAGE_CONNECTION_STRING"]
		sc.Env["AZURE_STORAGE_CONNECTION_STRING"] = azurite.ConnectionString(proxy.URL + "/" + azurite.AccountName)
		res := runScenario(t, sc)
		requireStoreReport(t, res, "azure")
		assert.Equal(t, 6, proxy.Injected(), "requests: %+v", proxy.Requests())
	})

	// A failing job: the closed message, uploaded with the exception,
	// reaches Dagster, which records the exception, and the step fails
	// because the process exited with status 1.
	t.Run("failure", func(t *testing.T) {
		res := runScenario(t, az.scenario(t, "azure", "azure", "fail"))
		requireStoreFailure(t, res, "azure")
	})

	// include_stdio_in_messages on the Azure reader, and without it.
	t.Run("stdio", func(t *testing.T) {
		testStoreStdio(t, "azure", func(t *testing.T, reader string) Scenario {
			return az.scenario(t, "azure", reader, "stdio")
		})
	})
}
