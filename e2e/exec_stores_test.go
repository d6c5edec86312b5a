package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/fsouza/fake-gcs-server/fakestorage"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// `pipes exec` with the cloud stores: Dagster's own injector and reader of
// each store launch `pipes exec --context-loader S --message-writer S --
// bash e2e/jobs/shell/job.sh report`, with the client of the store built
// from the environment Dagster passes on, and with include_stdio_in_messages
// so that the script's own output comes back through the store too.

// requireShellReport asserts what Dagster recorded from the shell job's
// report mode: the context it read, its logs, custom message,
// materialization and checks, and (include_stdio_in_messages) its stdout
// and stderr, forwarded through the store.
func requireShellReport(t *testing.T, res *Result) {
	t.Helper()
	require.True(t, res.Success, "Dagster's run failed: %+v", res.StepFailures)
	requireNoSessionWarnings(t, res)
	assert.Empty(t, res.PipesWarnings())
	assert.Equal(t, []LogRecord{
		{"INFO", "shell job starting: asset=shell_asset limit=7 run=" + res.RunID},
		{"WARNING", "a warning from bash"},
		{"DEBUG", "child reported"},
	}, res.UserLogs())
	assert.Equal(t, []any{map[string]any{"from": "child", "limit": json.Number("7")}}, res.Custom(t))
	mats := res.Materialized("shell_asset")
	require.Len(t, mats, 1, "materializations: %+v", res.Materializations)
	md := mats[0].Metadata
	assert.Equal(t, map[string]string{
		"rows": "IntMetadataValue", "ratio": "FloatMetadataValue", "ok": "BoolMetadataValue",
		"note": "TextMetadataValue", "page": "UrlMetadataValue", "cfg": "JsonMetadataValue",
	}, metadataTypes(md))
	assert.Equal(t, json.Number("7"), md["rows"].Value)
	assert.Equal(t, "v-7", mats[0].Tags["dagster/data_version"])
	byName := map[string]CheckEvaluation{}
	for _, c := range res.Checks {
		byName[c.CheckName] = c
	}
	require.Len(t, byName, 2, "checks: %+v", res.Checks)
	assert.True(t, byName["row_count"].Passed)
	assert.False(t, byName["freshness"].Passed)
	assert.Equal(t, "WARN", byName["freshness"].Severity)

	assert.Contains(t, res.DagsterStdout, "shell stdout line\n")
	assert.Contains(t, res.DagsterStdout, "done\n")
	assert.Contains(t, res.DagsterStderr, "shell stderr line\n")
}

func TestExecShellGCS(t *testing.T) {
	requireDagster(t)
	srv := startGCS(t)
	bucket := fmt.Sprintf("e2e-exec-gcs-%d", gcsBucketSeq.Add(1))
	srv.CreateBucketWithOpts(fakestorage.CreateBucketOpts{Name: bucket})

	sc := shellScenario(t, "report", "--context-loader", "gcs", "--message-writer", "gcs")
	sc.Injector, sc.Reader = "gcs", "gcs:stdio"
	sc.Env["STORAGE_EMULATOR_HOST"] = srv.URL
	sc.Env["PIPES_E2E_GCS_BUCKET"] = bucket
	sc.Env["PIPES_E2E_GCS_INTERVAL"] = "1"
	res, _ := runCommandScenario(t, sc)
	requireShellReport(t, res)

	// The messages went through the bucket; the context Dagster put there
	// is gone after the session.
	objects := srv.objects(t, bucket)
	chunks := 0
	for _, o := range objects {
		if chunkKeyRE.MatchString(o) {
			chunks++
		}
		assert.NotContains(t, o, "context.json")
	}
	assert.GreaterOrEqual(t, chunks, 1, "message chunks in the bucket: %q", objects)
}

func TestExecShellAzure(t *testing.T) {
	az := startAzure(t)
	container := fmt.Sprintf("e2e-exec-azure-%d", azureContainerSeq.Add(1))
	_, err := az.client.CreateContainer(context.Background(), container, nil)
	require.NoError(t, err)

	sc := shellScenario(t, "report", "--context-loader", "azure", "--message-writer", "azure")
	sc.Injector, sc.Reader = "azure", "azure:stdio"
	sc.Env["PIPES_E2E_AZURE_CONTAINER"] = container
	sc.Env["PIPES_E2E_AZURE_INTERVAL"] = "1"
	for _, kv := range az.srv.Env() {
		k, v, _ := strings.Cut(kv, "=")
		sc.Env[k] = v
	}
	res, _ := runCommandScenario(t, sc)
	requireShellReport(t, res)

	blobs := azureBlobs(t, az.client, container)
	chunks := 0
	for _, b := range blobs {
		if chunkKeyRE.MatchString(b) {
			chunks++
		}
		assert.NotContains(t, b, "context.json")
	}
	assert.GreaterOrEqual(t, chunks, 1, "message chunks in the container: %q", blobs)
}

// Without the store's environment, pipes exec cannot open the session:
// the step fails, and the reason is on the process's stderr, which
// Dagster's console shows.
func TestExecShellStoreWithoutCredentials(t *testing.T) {
	requireDagster(t)
	sc := shellScenario(t, "report", "--message-writer", "azure")
	for _, k := range []string{"AZURE_STORAGE_CONNECTION_STRING", "AZURE_STORAGE_ACCOUNT_URL", "AZURE_STORAGE_ACCOUNT"} {
		sc.Env[k] = ""
	}
	res, console := runCommandScenario(t, sc)
	assert.False(t, res.Success, "Dagster's run should fail")
	require.Len(t, res.StepFailures, 1)
	assert.True(t, chainHas(res.StepFailures[0], "External execution process failed with code 1"),
		"step failure: %+v", res.StepFailures[0])
	assert.Contains(t, console, "pipes exec: --message-writer azure: azurepipes: no storage account configured: "+
		"set AZURE_STORAGE_CONNECTION_STRING, AZURE_STORAGE_ACCOUNT_URL or AZURE_STORAGE_ACCOUNT\n")
	assert.Empty(t, res.Materializations)
}
