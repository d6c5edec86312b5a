//go:build unix

package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dagster-pipes-go/pipes"
	"github.com/dagster-pipes-go/pipes/pipestest"
)

// execScript runs `pipes exec [flags] -- sh -c script` as Dagster's
// PipesSubprocessClient would, with the test binary as the pipes command
// (also for the verbs the script calls), and returns what it reported.
func execScript(t *testing.T, c pipestest.Context, script string, flags ...string) *pipestest.Result {
	t.Helper()
	wrapper := pipesOnPath(t)
	args := append(append([]string{"exec"}, flags...), "--", "sh", "-c", script)
	cmd := exec.Command(wrapper, args...)
	return pipestest.NewSession(t, c).RunCommand(cmd)
}

func exitCodeOf(t *testing.T, err error) int {
	t.Helper()
	if err == nil {
		return 0
	}
	var ee *exec.ExitError
	require.ErrorAs(t, err, &ee)
	return ee.ExitCode()
}

func TestExecReportsEverything(t *testing.T) {
	res := execScript(t, pipestest.Context{
		AssetKeys: []string{"orders"}, PartitionKey: "2024-03-01",
		Extras: map[string]any{"limit": 3, "name": "x y", "nested": map[string]any{"k": []any{1, "a"}}},
	}, `set -e
echo "limit=$(pipes context extras.limit) part=$(pipes context partition_key) name=$(pipes context extras.name)"
pipes context asset_keys
pipes context extras.nested
pipes log --level DEBUG "debug line"
pipes log starting the job
pipes log --level warn careful
pipes log --level CRITICAL "on fire"
pipes materialize --data-version v7 --meta rows=3 --meta ratio=0.25 --meta ok=true --meta note="two words" \
  --meta big=123456789012345678901234 --meta page=https://example.com --meta-type page=url \
  --meta at=2024-03-01T00:00:00Z --meta-type at=timestamp --meta-json cfg='{"a":[1,2]}' \
  --meta none= --meta-type none=null --meta n=7 --meta-type n=float
pipes check --name fresh --passed --meta age=2
pipes check --name complete --failed --severity warn --asset orders
pipes message '{"k": [1, "two", null]}'
echo on stderr >&2
`)
	require.NoError(t, res.Err, res.Stderr)
	assert.Empty(t, res.ProtocolErrors)
	assert.Equal(t, "limit=3 part=2024-03-01 name=x y\norders\n{\"k\":[1,\"a\"]}\n", res.Stdout)
	assert.Contains(t, res.Stderr, "on stderr\n")
	assert.Equal(t, []pipestest.Log{
		{Level: "DEBUG", Message: "debug line"}, {Level: "INFO", Message: "starting the job"},
		{Level: "WARNING", Message: "careful"}, {Level: "CRITICAL", Message: "on fire"},
	}, res.Logs)

	m, ok := res.Materialization("orders")
	require.True(t, ok)
	assert.Equal(t, "v7", m.DataVersion)
	types := map[string]pipes.MetadataType{}
	for k, v := range m.Metadata {
		types[k] = v.Type
	}
	assert.Equal(t, map[string]pipes.MetadataType{
		"rows": "int", "ratio": "float", "ok": "bool", "note": "text", "big": "text", "page": "url",
		"at": "timestamp", "cfg": "json", "none": "null", "n": "float",
	}, types)
	assert.Equal(t, json.Number("3"), m.Metadata["rows"].Raw)
	assert.Equal(t, json.Number("0.25"), m.Metadata["ratio"].Raw)
	assert.Equal(t, true, m.Metadata["ok"].Raw)
	assert.Equal(t, "two words", m.Metadata["note"].Raw)
	assert.Equal(t, "123456789012345678901234", m.Metadata["big"].Raw, "too large for int64: kept exactly, as text")
	assert.Equal(t, json.Number("1709251200.0"), m.Metadata["at"].Raw)
	assert.Equal(t, map[string]any{"a": []any{json.Number("1"), json.Number("2")}}, m.Metadata["cfg"].Raw)
	assert.Nil(t, m.Metadata["none"].Raw)
	assert.Equal(t, "7.0", string(m.Metadata["n"].RawJSON))

	fresh, ok := res.Check("orders", "fresh")
	require.True(t, ok)
	assert.True(t, fresh.Passed)
	assert.Equal(t, pipes.SeverityError, fresh.Severity)
	assert.Equal(t, json.Number("2"), fresh.Metadata["age"].Raw)
	complete, ok := res.Check("orders", "complete")
	require.True(t, ok)
	assert.False(t, complete.Passed)
	assert.Equal(t, pipes.SeverityWarn, complete.Severity)
	assert.Equal(t, []any{map[string]any{"k": []any{json.Number("1"), "two", nil}}}, res.CustomMessages)
	assert.True(t, res.Closed)
	assert.Nil(t, res.Exception)
}

// Every error the library returns reaches the script: printed on stderr,
// non-zero exit, so that set -e stops there.
func TestExecVerbErrors(t *testing.T) {
	res := execScript(t, pipestest.Context{AssetKeys: []string{"a", "b"}}, `
try() { "$@" 2>>"$ERRS"; echo "$1 $2 -> $?"; }
ERRS=$(mktemp)
try pipes materialize --meta rows=1
try pipes materialize --asset nope
try pipes materialize --asset a --meta x=1 --meta-type x=int
try pipes materialize --asset a
try pipes check --name c --passed
try pipes log --level LOUD hi
try pipes context extras.missing
try pipes context partition_key
try pipes materialize --asset b --meta f=abc --meta-type f=float
try pipes message '{bad'
cat "$ERRS" >&2
rm -f "$ERRS"
`)
	require.NoError(t, res.Err, res.Stderr)
	assert.Equal(t, `pipes materialize -> 1
pipes materialize -> 1
pipes materialize -> 0
pipes materialize -> 1
pipes check -> 1
pipes log -> 2
pipes context -> 1
pipes context -> 1
pipes materialize -> 2
pipes message -> 2
`, res.Stdout)
	for _, want := range []string{
		"pipes materialize: Calling `report_asset_materialization` without passing an asset key is undefined. Current step targets multiple assets.",
		"pipes materialize: Invalid asset key. Expected one of `['a', 'b']`, got `nope`.",
		"pipes materialize: Calling `report_asset_materialization` with asset key `a` is undefined. Asset has already been materialized",
		"pipes check: Calling `report_asset_check` without passing an asset key is undefined.",
		`pipes log: unknown log level "LOUD"`,
		`pipes context: no field "extras.missing" in the context`,
		"pipes context: partition_key is null in this step's context",
		`pipes materialize: --meta f=abc: not a finite float: "abc"`,
		"pipes message: not valid JSON: {bad",
	} {
		assert.Contains(t, res.Stderr, want)
	}
	require.Len(t, res.Materializations, 1)
	assert.Equal(t, "a", res.Materializations[0].AssetKey)
}

func TestExecFailureStatusAndException(t *testing.T) {
	for _, tc := range []struct {
		name, script string
		code         int
		message      string
	}{
		{"exit status", "echo one >&2; echo two >&2; printf 'no newline' >&2; exit 3", 3,
			"command `sh -c '…'` exited with status 3\nlast lines of stderr:\none\ntwo\nno newline"},
		{"signal", "echo dying >&2; kill -9 $$", 137,
			"command `sh -c '…'` was killed by SIGKILL (signal 9) (exit status 137)\nlast lines of stderr:\ndying"},
		{"no stderr", "exit 42", 42, "command `sh -c '…'` exited with status 42"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := execScript(t, pipestest.Context{}, tc.script)
			assert.Equal(t, tc.code, exitCodeOf(t, res.Err))
			require.True(t, res.Closed, "closed is always sent")
			require.NotNil(t, res.Exception)
			assert.Equal(t, "*main.CommandError", res.Exception.Name)
			msg := strings.Replace(res.Exception.Message, quoteCommand([]string{tc.script}), "'…'", 1)
			assert.Equal(t, tc.message, msg)
		})
	}

	t.Run("not found", func(t *testing.T) {
		wrapper := pipesOnPath(t)
		res := pipestest.NewSession(t, pipestest.Context{}).RunCommand(exec.Command(wrapper, "exec", "--", "no-such-command-xyz"))
		assert.Equal(t, 127, exitCodeOf(t, res.Err))
		require.NotNil(t, res.Exception)
		assert.Contains(t, res.Exception.Message, "command `no-such-command-xyz` could not be started: exec: \"no-such-command-xyz\": executable file not found")
	})

	t.Run("stderr lines bound", func(t *testing.T) {
		res := execScript(t, pipestest.Context{}, "for i in 1 2 3 4 5; do echo line$i >&2; done; exit 1", "--stderr-lines", "2")
		require.NotNil(t, res.Exception)
		assert.True(t, strings.HasSuffix(res.Exception.Message, "last lines of stderr:\nline4\nline5"), res.Exception.Message)
	})
}

// The command's output passes through unchanged; with --log-stdout and
// --log-stderr each line is also a log message.
func TestExecStdio(t *testing.T) {
	script := `printf 'out 1\nout 2\n'; printf 'err 1\n' >&2; printf 'partial'`
	res := execScript(t, pipestest.Context{}, script)
	require.NoError(t, res.Err)
	assert.Equal(t, "out 1\nout 2\npartial", res.Stdout)
	assert.Equal(t, "err 1\n", res.Stderr)
	assert.Empty(t, res.Logs)

	res = execScript(t, pipestest.Context{}, script, "--log-stdout", "INFO", "--log-stderr", "warning")
	require.NoError(t, res.Err)
	assert.Equal(t, "out 1\nout 2\npartial", res.Stdout)
	assert.ElementsMatch(t, []pipestest.Log{
		{Level: "INFO", Message: "out 1"}, {Level: "INFO", Message: "out 2"},
		{Level: "WARNING", Message: "err 1"}, {Level: "INFO", Message: "partial"},
	}, res.Logs)

	// stdin is passed through.
	wrapper := pipesOnPath(t)
	cmd := exec.Command(wrapper, "exec", "--", "sh", "-c", "read x; echo got $x")
	cmd.Stdin = strings.NewReader("hello\n")
	res = pipestest.NewSession(t, pipestest.Context{}).RunCommand(cmd)
	require.NoError(t, res.Err)
	assert.Equal(t, "got hello\n", res.Stdout)
}

// The bootstrap values may be given to pipes exec as arguments, as
// Dagster does on Databricks; the command does not see Dagster's variables.
func TestExecBootstrapArgsAndEnv(t *testing.T) {
	pipesOnPath(t)
	// pipestest appends --dagster-pipes-context … to the command line; the
	// shell puts them in front of "--", where pipes exec reads its flags.
	cmd := exec.Command("sh", "-c", `exec pipes exec "$@" -- sh -c 'echo "ctx=${DAGSTER_PIPES_CONTEXT:-unset} msgs=${DAGSTER_PIPES_MESSAGES:-unset}"; pipes log from-args'`, "sh")
	res := pipestest.NewSession(t, pipestest.Context{}, pipestest.BootstrapWithArgs()).RunCommand(cmd)
	require.NoError(t, res.Err, res.Stderr)
	assert.Equal(t, "ctx=unset msgs=unset\n", res.Stdout)
	assert.Equal(t, []string{"from-args"}, res.LogMessages(""))

	// With the environment, the command does not see Dagster's variables either.
	res = execScript(t, pipestest.Context{}, `echo "ctx=${DAGSTER_PIPES_CONTEXT:-unset} msgs=${DAGSTER_PIPES_MESSAGES:-unset}"`)
	require.NoError(t, res.Err, res.Stderr)
	assert.Equal(t, "ctx=unset msgs=unset\n", res.Stdout)
}

// The report socket: a private directory, a secret; anything else refused.
func TestExecSocketIsPrivate(t *testing.T) {
	res := execScript(t, pipestest.Context{}, `set -e
stat -c '%a' "$(dirname "$PIPES_EXEC_SOCKET")"
test -S "$PIPES_EXEC_SOCKET"
echo "secret length ${#PIPES_EXEC_SECRET}"
err=$(mktemp)
if PIPES_EXEC_SECRET=wrong pipes log sneaky 2>"$err"; then echo accepted; else echo "refused $?"; fi
cat "$err"; rm -f "$err"
if env -u PIPES_EXEC_SECRET pipes log sneaky 2>/dev/null; then echo accepted; else echo "refused $?"; fi
`)
	require.NoError(t, res.Err, res.Stderr)
	assert.Equal(t, "700\nsecret length 64\nrefused 1\n"+
		"pipes log: refused by pipes exec: wrong or missing session secret (PIPES_EXEC_SECRET)\nrefused 1\n", res.Stdout)
	assert.Equal(t, 2, strings.Count(res.Stderr, "pipes exec: refused a report: wrong or missing session secret"), res.Stderr)
	assert.Equal(t, []string{
		"pipes exec refused a report: wrong or missing session secret (PIPES_EXEC_SECRET)",
		"pipes exec refused a report: wrong or missing session secret (PIPES_EXEC_SECRET)",
	}, res.LogMessages("WARNING"))
	assert.NotContains(t, res.LogMessages(""), "sneaky")
}

// Many processes report at once; all of it arrives, whole.
func TestExecConcurrentReporters(t *testing.T) {
	res := execScript(t, pipestest.Context{AssetKeys: []string{"a"}}, `
for i in $(seq 1 20); do pipes log "reporter $i" & done
for i in $(seq 1 5); do pipes message "{\"i\": $i}" & done
pipes materialize --meta n=1 &
wait
`)
	require.NoError(t, res.Err, res.Stderr)
	assert.Empty(t, res.ProtocolErrors)
	var want []string
	for i := 1; i <= 20; i++ {
		want = append(want, fmt.Sprintf("reporter %d", i))
	}
	assert.ElementsMatch(t, want, res.LogMessages(""))
	assert.Len(t, res.CustomMessages, 5)
	assert.Len(t, res.Materializations, 1)
}

// A reporter that outlives the command: it is told the session has ended,
// and nothing arrives after closed.
func TestExecReporterAfterCommandExit(t *testing.T) {
	dir := t.TempDir()
	res := execScript(t, pipestest.Context{}, fmt.Sprintf(`
env | grep '^PIPES_EXEC_' > %[1]s/env
( while [ ! -e %[1]s/go ]; do sleep 0.05; done
  pipes log late 2>%[1]s/late.err; echo $? > %[1]s/late.code.tmp; mv %[1]s/late.code.tmp %[1]s/late.code
) </dev/null >/dev/null 2>&1 &
pipes log early
`, dir))
	require.NoError(t, res.Err, res.Stderr)
	assert.Equal(t, []string{"early"}, res.LogMessages(""))

	// In process, with the command's environment.
	env := readEnvFile(t, filepath.Join(dir, "env"))
	_, err := callReport(context.Background(), func(k string) string { return env[k] }, request{Verb: "log", Text: "late"})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "cannot reach `pipes exec` at "+env[SocketEnv]+": the session has ended")
	_, statErr := os.Stat(filepath.Dir(env[SocketEnv]))
	assert.True(t, os.IsNotExist(statErr), "the socket's directory is removed")

	// The real background process.
	require.NoError(t, os.WriteFile(filepath.Join(dir, "go"), nil, 0o600))
	code := waitForFile(t, filepath.Join(dir, "late.code"))
	assert.Equal(t, "1\n", code)
	errText, _ := os.ReadFile(filepath.Join(dir, "late.err"))
	assert.Contains(t, string(errText), "pipes log: cannot reach `pipes exec`")
}

// A reporter whose pipes exec was killed: a clear error, no hang.
func TestExecDeadParent(t *testing.T) {
	wrapper := pipesOnPath(t)
	dir := t.TempDir()
	cmd := exec.Command(wrapper, "exec", "--", "sh", "-c",
		fmt.Sprintf(`env | grep '^PIPES_EXEC_' > %[1]s/env; echo $$ > %[1]s/pid; echo ready; exec sleep 60`, dir))
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	ctxParam, err := pipes.EncodeParam(map[string]any{"data": map[string]any{"run_id": "r"}})
	require.NoError(t, err)
	msgParam, err := pipes.EncodeParam(map[string]any{"path": filepath.Join(dir, "messages")})
	require.NoError(t, err)
	cmd.Env = append(os.Environ(), pipes.ContextEnvVar+"="+ctxParam, pipes.MessagesEnvVar+"="+msgParam)
	require.NoError(t, cmd.Start())
	line, err := bufio.NewReader(out).ReadString('\n')
	require.NoError(t, err)
	require.Equal(t, "ready\n", line)
	require.NoError(t, cmd.Process.Kill())
	_ = cmd.Wait()
	pid, err := strconv.Atoi(strings.TrimSpace(waitForFile(t, filepath.Join(dir, "pid"))))
	require.NoError(t, err)
	t.Cleanup(func() { _ = syscall.Kill(-pid, syscall.SIGKILL) })

	env := readEnvFile(t, filepath.Join(dir, "env"))
	_, err = callReport(context.Background(), func(k string) string { return env[k] }, request{Verb: "log", Text: "orphan"})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "the session has ended (its command exited, or pipes exec was killed)")
}

// SIGINT and SIGTERM go to the command's process group; SIGKILL follows
// after --grace; closed is sent either way.
func TestExecSignals(t *testing.T) {
	for _, tc := range []struct {
		name   string
		sig    syscall.Signal
		script string
		code   int
		msg    string
	}{
		{"term stops the group", syscall.SIGTERM, `sleep 60 & echo ready; wait`, 143,
			"was killed by SIGTERM (signal 15) (exit status 143) after pipes exec received SIGTERM (signal 15) and passed it on"},
		{"int handled by the command", syscall.SIGINT, `trap 'echo cleaning up >&2; exit 5' INT; echo ready; while :; do sleep 0.05; done`, 5,
			"exited with status 5 after pipes exec received SIGINT (signal 2) and passed it on\nlast lines of stderr:\ncleaning up"},
		{"ignored, then killed", syscall.SIGTERM, `trap '' TERM; echo ready; while :; do sleep 0.05; done`, 137,
			"was killed by SIGKILL (signal 9) (exit status 137) after pipes exec received SIGTERM (signal 15) and passed it on"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wrapper := pipesOnPath(t)
			cmd := exec.Command(wrapper, "exec", "--grace", "200ms", "--", "sh", "-c", tc.script)
			cmd.Stdout = &onReady{send: func() { _ = cmd.Process.Signal(tc.sig) }}
			res := pipestest.NewSession(t, pipestest.Context{}).RunCommand(cmd)
			assert.Equal(t, tc.code, exitCodeOf(t, res.Err))
			require.True(t, res.Closed)
			require.NotNil(t, res.Exception)
			assert.Contains(t, res.Exception.Message, tc.msg)
		})
	}
}

// onReady calls send once "ready" has been printed.
type onReady struct {
	once sync.Once
	buf  bytes.Buffer
	send func()
}

func (o *onReady) Write(p []byte) (int, error) {
	o.buf.Write(p)
	if strings.Contains(o.buf.String(), "ready\n") {
		o.once.Do(o.send)
	}
	return len(p), nil
}

// The server refuses what is not a request, and answers each connection.
func TestReportServerProtocol(t *testing.T) {
	res := pipestest.Run(t, pipestest.Context{AssetKeys: []string{"a"}}, func() {
		p, err := pipes.Open(context.Background())
		require.NoError(t, err)
		var logged bytes.Buffer
		var mu sync.Mutex
		srv, err := startReportServer(p, func(f string, a ...any) {
			mu.Lock()
			defer mu.Unlock()
			fmt.Fprintf(&logged, f+"\n", a...)
		})
		require.NoError(t, err)
		env := map[string]string{}
		for _, kv := range srv.env() {
			k, v, _ := strings.Cut(kv, "=")
			env[k] = v
		}
		raw := func(s string) string {
			conn, err := net.Dial("unix", env[SocketEnv])
			require.NoError(t, err)
			defer conn.Close()
			_, _ = conn.Write([]byte(s))
			_ = conn.(*net.UnixConn).CloseWrite()
			line, _ := bufio.NewReader(conn).ReadString('\n')
			return line
		}
		assert.Equal(t, `{"ok":false,"error":"refused by pipes exec: malformed request: invalid character 'n' looking for beginning of object key string"}`+"\n", raw("{not json}\n"))
		assert.Contains(t, raw(""), "refused by pipes exec: incomplete request")
		assert.Contains(t, raw(`{"secret":"`+env[SecretEnv]+`","verb":"fly"}`+"\n"), `"error":"unknown verb \"fly\""`)
		data, err := callReport(context.Background(), func(k string) string { return env[k] }, request{Verb: "context"})
		require.NoError(t, err)
		var d pipes.ContextData
		require.NoError(t, json.Unmarshal(data, &d))
		assert.Equal(t, []string{"a"}, d.AssetKeys)

		// Concurrent reporters in process.
		var wg sync.WaitGroup
		for i := range 50 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := callReport(context.Background(), func(k string) string { return env[k] }, request{Verb: "message", Payload: json.RawMessage(strconv.Itoa(i))})
				assert.NoError(t, err)
			}()
		}
		wg.Wait()

		// A connection that never sends its request does not hold up stop.
		stuck, err := net.Dial("unix", env[SocketEnv])
		require.NoError(t, err)
		defer stuck.Close()
		require.NoError(t, stuck.SetReadDeadline(time.Now().Add(30*time.Second)))
		_, err = stuck.Write([]byte(`{"secret":`))
		require.NoError(t, err)
		for accepted := false; !accepted; time.Sleep(time.Millisecond) {
			srv.mu.Lock()
			accepted = len(srv.conns) == 1
			srv.mu.Unlock()
		}
		srv.stop()
		line, _ := bufio.NewReader(stuck).ReadString('\n')
		assert.Contains(t, line, "refused by pipes exec: incomplete request: the command exited before the request was sent", "the stuck reporter is answered")
		require.NoError(t, p.Close())
		mu.Lock()
		assert.Equal(t, 3, strings.Count(logged.String(), "refused a report"), logged.String())
		mu.Unlock()
	})
	assert.Len(t, res.CustomMessages, 50)
	assert.Len(t, res.LogMessages("WARNING"), 3)
}

func TestVerbOutsideExec(t *testing.T) {
	t.Setenv(SocketEnv, "")
	var out, errOut bytes.Buffer
	assert.Equal(t, 1, dispatch(context.Background(), []string{"log", "hi"}, &out, &errOut))
	assert.Equal(t, "pipes log: not running under `pipes exec` (PIPES_EXEC_SOCKET is not set): run this command from a program that `pipes exec` started\n", errOut.String())
}

func readEnvFile(t *testing.T, path string) map[string]string {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	env := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		k, v, _ := strings.Cut(line, "=")
		env[k] = v
	}
	require.NotEmpty(t, env[SocketEnv])
	return env
}

// waitForFile waits for a file another process writes, for at most 30 s.
func waitForFile(t *testing.T, path string) string {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		b, err := os.ReadFile(path)
		if err == nil && len(b) > 0 {
			return string(b)
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not appear", path)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
