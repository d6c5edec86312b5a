package dbxserver_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dagster-pipes-go/pipes/internal/dbxserver"
)

// call sends a request with a JSON (or raw) body and decodes a JSON answer.
func call(t *testing.T, s *dbxserver.Server, method, p string, body any) (int, map[string]any) {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case []byte:
		rd = bytes.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		require.NoError(t, err)
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, s.URL+p, rd)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer test")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	var out map[string]any
	if len(bytes.TrimSpace(raw)) > 0 && strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		require.NoError(t, json.Unmarshal(raw, &out), "%s", raw)
	} else if len(raw) > 0 {
		out = map[string]any{"raw": string(raw)}
	}
	return resp.StatusCode, out
}

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

func TestDBFS(t *testing.T) {
	s := dbxserver.New(t, dbxserver.Options{})

	code, out := call(t, s, "GET", "/api/2.0/dbfs/get-status?path=/tmp/none", nil)
	assert.Equal(t, 404, code)
	assert.Equal(t, "RESOURCE_DOES_NOT_EXIST", out["error_code"])

	code, _ = call(t, s, "POST", "/api/2.0/dbfs/mkdirs", map[string]any{"path": "/tmp/d"})
	require.Equal(t, 200, code)
	code, _ = call(t, s, "POST", "/api/2.0/dbfs/put", map[string]any{"path": "dbfs:/tmp/d/a.json", "contents": b64("hello"), "overwrite": true})
	require.Equal(t, 200, code)
	code, out = call(t, s, "POST", "/api/2.0/dbfs/put", map[string]any{"path": "/tmp/d/a.json", "contents": b64("x")})
	assert.Equal(t, 400, code)
	assert.Equal(t, "RESOURCE_ALREADY_EXISTS", out["error_code"])

	// Streaming upload: invisible until close.
	code, out = call(t, s, "POST", "/api/2.0/dbfs/create", map[string]any{"path": "/tmp/d/b.json", "overwrite": true})
	require.Equal(t, 200, code)
	h := out["handle"]
	call(t, s, "POST", "/api/2.0/dbfs/add-block", map[string]any{"handle": h, "data": b64("one ")})
	code, _ = call(t, s, "GET", "/api/2.0/dbfs/get-status?path=/tmp/d/b.json", nil)
	assert.Equal(t, 404, code, "a file being written is not visible")
	call(t, s, "POST", "/api/2.0/dbfs/add-block", map[string]any{"handle": h, "data": b64("two")})
	code, _ = call(t, s, "POST", "/api/2.0/dbfs/close", map[string]any{"handle": h})
	require.Equal(t, 200, code)
	code, out = call(t, s, "GET", "/api/2.0/dbfs/read?path=/tmp/d/b.json", nil)
	require.Equal(t, 200, code)
	assert.Equal(t, b64("one two"), out["data"])
	assert.EqualValues(t, 7, out["bytes_read"])
	code, out = call(t, s, "GET", "/api/2.0/dbfs/read?path=/tmp/d/b.json&offset=4&length=2", nil)
	require.Equal(t, 200, code)
	assert.Equal(t, b64("tw"), out["data"])

	code, out = call(t, s, "GET", "/api/2.0/dbfs/list?path=dbfs:/tmp/d", nil)
	require.Equal(t, 200, code)
	var paths []string
	for _, f := range out["files"].([]any) {
		paths = append(paths, f.(map[string]any)["path"].(string))
	}
	assert.ElementsMatch(t, []string{"/tmp/d/a.json", "/tmp/d/b.json"}, paths, "no dbfs: prefix in list answers")

	code, _ = call(t, s, "POST", "/api/2.0/dbfs/delete", map[string]any{"path": "/tmp/d"})
	assert.Equal(t, 400, code, "a non-empty directory needs recursive")
	code, _ = call(t, s, "POST", "/api/2.0/dbfs/delete", map[string]any{"path": "/tmp/d", "recursive": true})
	assert.Equal(t, 200, code)
	code, _ = call(t, s, "GET", "/api/2.0/dbfs/list?path=/tmp/d", nil)
	assert.Equal(t, 404, code)
}

func TestDBFSReadCap(t *testing.T) {
	s := dbxserver.New(t, dbxserver.Options{})
	big := bytes.Repeat([]byte("x"), dbxserver.DefaultReadLength+100)
	require.NoError(t, s.WriteFile("/tmp/big", big))
	_, out := call(t, s, "GET", "/api/2.0/dbfs/read?path=/tmp/big", nil)
	assert.EqualValues(t, dbxserver.DefaultReadLength, out["bytes_read"], "read without length stops at 0.5 MB")
	code, out := call(t, s, "GET", "/api/2.0/dbfs/read?path=/tmp/big&length=2000000", nil)
	assert.Equal(t, 400, code)
	assert.Equal(t, "MAX_READ_SIZE_EXCEEDED", out["error_code"])
}

func TestFilesAPI(t *testing.T) {
	s := dbxserver.New(t, dbxserver.Options{})
	code, _ := call(t, s, "PUT", "/api/2.0/fs/directories/Volumes/c/s/v/tmp/x", nil)
	require.Equal(t, 204, code)

	// A chunked body, as the Go SDK sends it.
	pr, pw := io.Pipe()
	go func() {
		_, _ = pw.Write([]byte("chunked "))
		_, _ = pw.Write([]byte("body"))
		_ = pw.Close()
	}()
	req, err := http.NewRequest("PUT", s.URL+"/api/2.0/fs/files/Volumes/c/s/v/tmp/x/1.json?overwrite=true", pr)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer test")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, 204, resp.StatusCode)

	code, out := call(t, s, "GET", "/api/2.0/fs/files/Volumes/c/s/v/tmp/x/1.json", nil)
	require.Equal(t, 200, code)
	assert.Equal(t, "chunked body", out["raw"])
	code, out = call(t, s, "PUT", "/api/2.0/fs/files/Volumes/c/s/v/tmp/x/1.json", []byte("again"))
	assert.Equal(t, 409, code)
	assert.Equal(t, "ALREADY_EXISTS", out["error_code"])
	code, out = call(t, s, "GET", "/api/2.0/fs/files/Volumes/c/s/v/tmp/x/2.json", nil)
	assert.Equal(t, 404, code)
	assert.Equal(t, "NOT_FOUND", out["error_code"])

	code, out = call(t, s, "GET", "/api/2.0/fs/directories/Volumes/c/s/v/tmp/x", nil)
	require.Equal(t, 200, code)
	require.Len(t, out["contents"], 1)
	assert.Equal(t, "1.json", out["contents"].([]any)[0].(map[string]any)["name"])
	code, _ = call(t, s, "DELETE", "/api/2.0/fs/directories/Volumes/c/s/v/tmp/x", nil)
	assert.Equal(t, 400, code, "not empty")
	code, _ = call(t, s, "DELETE", "/api/2.0/fs/files/Volumes/c/s/v/tmp/x/1.json", nil)
	assert.Equal(t, 204, code)
	code, _ = call(t, s, "DELETE", "/api/2.0/fs/directories/Volumes/c/s/v/tmp/x", nil)
	assert.Equal(t, 204, code)
}

func TestFaults(t *testing.T) {
	s := dbxserver.New(t, dbxserver.Options{})
	s.Fail(dbxserver.Rule{Match: dbxserver.Path("GET", "/api/2.0/dbfs/"), Status: 429, Times: 1})
	s.Fail(dbxserver.Rule{Match: dbxserver.Path("POST", "/api/2.0/dbfs/put"), Status: 500, AfterServe: true, Times: 1})
	code, out := call(t, s, "GET", "/api/2.0/dbfs/get-status?path=/", nil)
	assert.Equal(t, 429, code)
	assert.Equal(t, "REQUEST_LIMIT_EXCEEDED", out["error_code"])
	code, _ = call(t, s, "GET", "/api/2.0/dbfs/get-status?path=/", nil)
	assert.Equal(t, 200, code, "the rule fails one request")
	code, _ = call(t, s, "POST", "/api/2.0/dbfs/put", map[string]any{"path": "/f", "contents": b64("z")})
	assert.Equal(t, 500, code)
	got, err := s.ReadFile("/f")
	require.NoError(t, err, "served before failing")
	assert.Equal(t, "z", string(got))
	reqs := s.Requests()
	require.Len(t, reqs, 3)
	assert.Equal(t, 429, reqs[0].Injected)
	assert.Equal(t, 0, reqs[1].Injected)
}

// runState polls runs/get until the run terminates and returns every
// life-cycle state seen and the final state object.
func runState(t *testing.T, s *dbxserver.Server, id any) ([]string, map[string]any) {
	t.Helper()
	var seen []string
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		code, out := call(t, s, "GET", "/api/2.2/jobs/runs/get?run_id="+jsonNum(id), nil)
		require.Equal(t, 200, code, "%v", out)
		_, hasToken := out["next_page_token"]
		require.False(t, hasToken)
		st := out["state"].(map[string]any)
		lcs := st["life_cycle_state"].(string)
		if len(seen) == 0 || seen[len(seen)-1] != lcs {
			seen = append(seen, lcs)
		}
		if lcs == "TERMINATED" {
			return seen, st
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("run did not terminate")
	return nil, nil
}

func jsonNum(v any) string { b, _ := json.Marshal(v); return string(b) }

func TestRunsSubmitRunsTheTask(t *testing.T) {
	s := dbxserver.New(t, dbxserver.Options{})
	script := filepath.Join(t.TempDir(), "task.sh")
	require.NoError(t, os.WriteFile(script, []byte("#!/bin/sh\necho \"args=$* env=$MY_VAR cluster=$DB_CLUSTER_ID\"\necho err >&2\nexit ${EXIT:-0}\n"), 0o755))

	submit := func(env map[string]any, logs bool) any {
		nc := map[string]any{"spark_version": "15.4.x-scala2.12", "spark_env_vars": env}
		if logs {
			nc["cluster_log_conf"] = map[string]any{"dbfs": map[string]any{"destination": "dbfs:/cluster-logs"}}
		}
		code, out := call(t, s, "POST", "/api/2.2/jobs/runs/submit", map[string]any{
			"run_name": "r",
			"tasks": []any{map[string]any{"task_key": "t", "new_cluster": nc,
				"spark_python_task": map[string]any{"python_file": script, "parameters": []string{"--a", "b c"}}}},
		})
		require.Equal(t, 200, code, "%v", out)
		return out["run_id"]
	}

	id := submit(map[string]any{"MY_VAR": "v1"}, true)
	seen, st := runState(t, s, id)
	assert.Equal(t, "SUCCESS", st["result_state"])
	assert.Contains(t, seen, "TERMINATED")
	assert.NotContains(t, []string{"TERMINATED"}, seen[0], "the run is not terminated at first")
	out := s.RunLog(int64(id.(float64)))
	assert.Contains(t, out, "args=--a b c env=v1 cluster=0000-000000-run")
	// Log delivery: both files under <destination>/<cluster id>/driver.
	files := s.SortedPaths("/cluster-logs")
	require.Len(t, files, 2, "%q", files)
	assert.True(t, strings.HasSuffix(files[0], "/driver/stderr"))
	assert.True(t, strings.HasSuffix(files[1], "/driver/stdout"))
	// clusters/get of the run's new cluster shows its log configuration.
	clusterID := strings.Split(files[0], "/")[0]
	code, cl := call(t, s, "GET", "/api/2.1/clusters/get?cluster_id="+clusterID, nil)
	require.Equal(t, 200, code)
	assert.NotNil(t, cl["cluster_log_conf"])

	id = submit(map[string]any{"EXIT": "3"}, false)
	_, st = runState(t, s, id)
	assert.Equal(t, "FAILED", st["result_state"])
	assert.Contains(t, st["state_message"], "exited with status 3")

	code, cl = call(t, s, "GET", "/api/2.1/clusters/get?cluster_id=nope", nil)
	assert.Equal(t, 400, code)
	assert.Equal(t, "INVALID_PARAMETER_VALUE", cl["error_code"])
}

func TestRunsCancel(t *testing.T) {
	s := dbxserver.New(t, dbxserver.Options{})
	script := filepath.Join(t.TempDir(), "task.sh")
	require.NoError(t, os.WriteFile(script, []byte("#!/bin/sh\nexec sleep 30\n"), 0o755))
	s.AddCluster("c1", map[string]any{"cluster_name": "existing"})
	code, out := call(t, s, "POST", "/api/2.2/jobs/runs/submit", map[string]any{
		"tasks": []any{map[string]any{"task_key": "t", "existing_cluster_id": "c1",
			"spark_python_task": map[string]any{"python_file": script}}},
	})
	require.Equal(t, 200, code)
	id := out["run_id"]
	require.Eventually(t, func() bool {
		_, o := call(t, s, "GET", "/api/2.2/jobs/runs/get?run_id="+jsonNum(id), nil)
		return o["state"].(map[string]any)["life_cycle_state"] == "RUNNING"
	}, 10*time.Second, 10*time.Millisecond)
	code, _ = call(t, s, "POST", "/api/2.2/jobs/runs/cancel", map[string]any{"run_id": id})
	require.Equal(t, 200, code)
	_, st := runState(t, s, id)
	assert.Equal(t, "CANCELED", st["result_state"])
}

func TestNeedsToken(t *testing.T) {
	s := dbxserver.New(t, dbxserver.Options{})
	resp, err := http.Get(s.URL + "/api/2.0/dbfs/get-status?path=/")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)
}
