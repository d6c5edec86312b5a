package e2e

import (
	"encoding/json"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dagster-pipes-go/pipes/internal/dbxserver"
)

// The Databricks tests: dagster-databricks' PipesDatabricksClient (DBFS)
// and PipesDatabricksServerlessClient (Unity Catalog volumes), with the real
// Python databricks-sdk, on our loopback Databricks server
// (internal/dbxserver). The server runs the submitted spark_python_task
// here: e2e/jobs/databricks/launcher.py, which execs the Go job
// e2e/jobs/databricks with the task's parameters and environment. The
// probe side is e2e/probe/dbxext.py. Dagster polls every 0.5 s; a run takes
// a few seconds.

const dbxVolume = "/Volumes/main/default/pipes"

// dbxScenario starts a server for the test and returns it with a scenario
// of the databricks job: Dagster's client kind (see dbxext.py) and the
// job's store.
func dbxScenario(t *testing.T, kind, store string, args ...string) (*dbxserver.Server, Scenario) {
	t.Helper()
	p := requireDagster(t) // skip before starting the server when the e2e tests are off
	srv := dbxserver.New(t, dbxserver.Options{Python: p.python})
	srv.AddCluster("0101-existing", map[string]any{"cluster_name": "existing", "spark_version": "15.4.x-scala2.12"})
	env := map[string]string{
		"PIPES_E2E_DBX_LAUNCHER": filepath.Join(repoRoot, "e2e", "jobs", "databricks", "launcher.py"),
		"PIPES_E2E_DBX_CLUSTER":  "0101-existing",
		"PIPES_E2E_DBX_VOLUME":   dbxVolume,
	}
	for _, kv := range srv.Env() {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	jobArgs := []string{"-store=" + store, "-mount-root=" + srv.Root, "-upload-interval=200ms"}
	return srv, Scenario{
		Job:    "databricks",
		Args:   append(jobArgs, args...),
		Reader: "dbx:" + kind,
		Env:    env,
		Assets: []AssetDef{{Key: []string{"dbx", "asset"}, Checks: []string{"dbx_check"}}},
		Extras: json.RawMessage(`{"on": "databricks", "n": 2}`),
	}
}

// requireDbxReport asserts what Dagster recorded for the job's report mode.
func requireDbxReport(t *testing.T, res *Result) {
	t.Helper()
	require.True(t, res.Success, "Dagster's run failed: %+v", res.StepFailures)
	requireNoSessionWarnings(t, res)
	assert.Empty(t, res.PipesWarnings())

	require.Len(t, res.Contexts, 1)
	custom := res.Custom(t)
	require.Len(t, custom, 4, "custom messages: %v", custom)
	seen := custom[0].(map[string]any)
	assert.Equal(t, res.RunID, seen["run_id"])
	assert.Equal(t, res.Contexts[0]["run_id"], seen["run_id"])
	assert.Equal(t, []any{"dbx/asset"}, seen["asset_keys"])
	assert.Equal(t, decodeJSON(t, `{"on": "databricks", "n": 2}`), seen["extras"])
	for i, m := range custom[1:] {
		assert.Equal(t, map[string]any{"i": json.Number(string(rune('0' + i)))}, m)
	}

	assert.Equal(t, []LogRecord{
		{"INFO", "hello from databricks n=1"},
		{"WARNING", "warning from databricks"},
	}, userLogsWithoutRunStates(res))

	mats := res.Materialized("dbx", "asset")
	require.Len(t, mats, 1, "materializations: %+v", res.Materializations)
	assert.Equal(t, json.Number("42"), mats[0].Metadata["rows"].Value)
	assert.Equal(t, "IntMetadataValue", mats[0].Metadata["rows"].Type)
	assert.Equal(t, "databricks", mats[0].Metadata["where"].Value)
	assert.Equal(t, "dv-dbx", mats[0].Tags["dagster/data_version"])

	require.Len(t, res.Checks, 1, "checks: %+v", res.Checks)
	assert.Equal(t, "dbx_check", res.Checks[0].CheckName)
	assert.True(t, res.Checks[0].Passed)
	assert.Equal(t, true, res.Checks[0].Metadata["checked"].Value)
}

// userLogsWithoutRunStates drops Dagster's client's own INFO records about
// the Databricks run ("[pipes] Databricks run … observed state transition",
// "Passing Pipes bootstrap parameters via Databricks parameters …").
func userLogsWithoutRunStates(res *Result) []LogRecord {
	var out []LogRecord
	for _, l := range res.UserLogs() {
		if !strings.Contains(l.Message, "Databricks run") && !strings.HasPrefix(l.Message, "Passing Pipes bootstrap parameters") {
			out = append(out, l)
		}
	}
	return out
}

// Dagster's clients submit the task, the server runs the Go job, and
// everything the job reported reaches Dagster, through each pair of
// Dagster injector/reader and Go loader/writer:
//
//   - classic: a new cluster, bootstrap in spark_env_vars, DBFS API;
//   - existing: an existing cluster, bootstrap as command-line arguments;
//   - serverless: Unity Catalog volumes (Files API), command-line
//     arguments, stdout/stderr in messages (the reader's default);
//   - mount: the root package's mount-based DBFS types on the server's
//     tree standing in for /dbfs, Dagster reading through the API;
//   - logs: the cluster delivers its logs to DBFS; the job announces
//     cluster_driver_log_root, discovered through the Clusters API (with
//     the SDK, or with the standard library for the mount types), and
//     Dagster's log readers forward the driver's stdout and stderr.
func TestDatabricks(t *testing.T) {
	for _, tc := range []struct {
		name, kind, store string
		forwarded         bool
	}{
		{"classic-dbfs", "classic", "dbfs", false},
		{"existing-cluster-args", "existing", "dbfs", false},
		{"serverless-volumes", "serverless", "volumes", true},
		{"classic-mount", "classic", "mount", false},
		{"logs-dbfs", "logs", "dbfs", true},
		{"logs-mount", "logs", "mount", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv, sc := dbxScenario(t, tc.kind, tc.store)
			res := runScenario(t, sc)
			t.Cleanup(func() {
				if t.Failed() {
					t.Logf("task output:\n%s", srv.LastRunLog())
				}
			})
			requireDbxReport(t, res)
			out, errText := res.DagsterStdout, res.DagsterStderr
			if tc.forwarded {
				assert.Contains(t, out, "go stdout on databricks\n")
				assert.Contains(t, errText, "go stderr on databricks ✓\n")
				assert.NotContains(t, out, "go stderr")
			} else {
				assert.NotContains(t, out, "go stdout on databricks")
				assert.NotContains(t, errText, "go stderr on databricks")
			}
			// The job's messages went in several chunks (uploaded with the
			// Go SDK, or written to the mount), and Dagster removed its
			// temporary directories afterwards.
			if tc.store != "mount" {
				assert.Greater(t, goUploads(srv), 3)
			}
			assert.Empty(t, srv.SortedPaths("/tmp"), "Dagster deletes its DBFS temp dirs")
			assert.Empty(t, srv.SortedPaths(dbxVolume+"/tmp"), "Dagster deletes its volume temp dirs")
		})
	}
}

// A failing job: its closed message with the exception reaches Dagster,
// and the step fails because the Databricks run failed.
func TestDatabricksFailure(t *testing.T) {
	for _, kind := range []string{"classic", "serverless"} {
		t.Run(kind, func(t *testing.T) {
			store := map[string]string{"classic": "dbfs", "serverless": "volumes"}[kind]
			_, sc := dbxScenario(t, kind, store, "fail")
			res := runScenario(t, sc)
			assert.False(t, res.Success)
			require.Len(t, res.StepFailures, 1)
			assert.True(t, chainHas(res.StepFailures[0], "Error running Databricks job"), "%+v", res.StepFailures[0])
			assert.True(t, chainHas(res.StepFailures[0], "exited with status 1"), "%+v", res.StepFailures[0])
			requireNoSessionWarnings(t, res)
			assert.True(t, res.HasLog("INFO", "failing on databricks"), "logs: %+v", res.Logs)
			assert.Empty(t, res.Materializations)
			exc := closedError(t, res)
			assert.Equal(t, "databricks step failed: bad input on databricks", exc.Message)
			if kind == "serverless" {
				assert.Contains(t, res.DagsterStderr, "about to fail\n", "stderr in messages")
			}
		})
	}
}

// goUploads counts the chunk uploads the Go job made through the SDK.
func goUploads(srv *dbxserver.Server) int {
	n := 0
	for _, r := range srv.Requests() {
		upload := (r.Method == http.MethodPost && r.Path == "/api/2.0/dbfs/put") ||
			(r.Method == http.MethodPut && strings.HasPrefix(r.Path, "/api/2.0/fs/files/"))
		if upload && r.Injected == 0 && strings.Contains(r.UserAgent, "databricks-sdk-go") {
			n++
		}
	}
	return n
}

// Server errors and throttling on the job's uploads, mid-run: the SDK
// retries 429 and 503, our channel retries 500 under the same chunk
// number. Nothing is lost.
func TestDatabricksUploadFaults(t *testing.T) {
	for _, tc := range []struct{ kind, store, prefix string }{
		{"classic", "dbfs", "/api/2.0/dbfs/put"},
		{"serverless", "volumes", "/api/2.0/fs/files/"},
	} {
		t.Run(tc.kind, func(t *testing.T) {
			srv, sc := dbxScenario(t, tc.kind, tc.store)
			// Only the Go job's requests fail: Dagster's side is not under
			// test here.
			goUpload := func(r *http.Request) bool {
				return (r.Method == http.MethodPost || r.Method == http.MethodPut) &&
					strings.HasPrefix(r.URL.Path, tc.prefix) && strings.Contains(r.Header.Get("User-Agent"), "databricks-sdk-go")
			}
			srv.Fail(dbxserver.Rule{Match: goUpload, Status: http.StatusTooManyRequests, Times: 2})
			srv.Fail(dbxserver.Rule{Match: goUpload, Status: http.StatusInternalServerError, Times: 2})
			srv.Fail(dbxserver.Rule{Match: goUpload, Status: http.StatusInternalServerError, AfterServe: true, Times: 1})
			res := runScenario(t, sc)
			t.Cleanup(func() {
				if t.Failed() {
					t.Logf("task output:\n%s", srv.LastRunLog())
				}
			})
			requireDbxReport(t, res)
			injected := 0
			for _, r := range srv.Requests() {
				if r.Injected != 0 {
					injected++
				}
			}
			assert.Equal(t, 5, injected, "every injected failure happened")
		})
	}
}

// Bad params and an unreadable context: the job cannot start its Pipes
// session and says why; Dagster fails the step.
func TestDatabricksBadContext(t *testing.T) {
	for _, tc := range []struct{ kind, want string }{
		{"no-path", "Invalid type for parameter `path` passed from orchestration side to `PipesDbfsContextLoader`"},
		{"bad-context", "cannot read the context object Dagster named (dbfs:/tmp/no-such-dir/context.json)"},
	} {
		t.Run(tc.kind, func(t *testing.T) {
			srv, sc := dbxScenario(t, tc.kind, "dbfs")
			res := runScenario(t, sc)
			assert.False(t, res.Success)
			require.Len(t, res.StepFailures, 1)
			assert.True(t, chainHas(res.StepFailures[0], "Error running Databricks job"), "%+v", res.StepFailures[0])
			assert.Contains(t, srv.LastRunLog(), tc.want)
		})
	}
}
