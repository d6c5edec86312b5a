//go:build linux

package pipes

import (
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func init() {
	// The in-place log path of a FileChannel, cut short as in
	// file-short-write.
	children["file-short-write-log"] = func() {
		signal.Ignore(syscall.SIGXFSZ)
		path := os.Getenv("PIPES_TEST_PATH")
		ch, err := NewFileChannel(path)
		must(err)
		must(ch.WriteMessage(Message{Method: MethodOpened, Params: []byte(`{"extras":{}}`)}))
		st, err := os.Stat(path)
		must(err)
		var lim syscall.Rlimit
		must(syscall.Getrlimit(syscall.RLIMIT_FSIZE, &lim))
		saved := lim
		lim.Cur = uint64(st.Size()) + 50
		must(syscall.Setrlimit(syscall.RLIMIT_FSIZE, &lim))
		fmt.Println(ch.writeLog("INFO", "a message longer than fifty bytes, so only part of it fits", "", nil))
		// The same through a Context, whose logs take FileChannel.logFast.
		p := &Context{data: &ContextData{}, channel: ch, file: ch}
		fmt.Println(p.LogMessage(slog.LevelInfo, "a message longer than fifty bytes, so only part of it fits"))
		must(syscall.Setrlimit(syscall.RLIMIT_FSIZE, &saved))
		must(ch.writeLog("INFO", "after", "", nil))
		must(p.LogMessage(slog.LevelInfo, "after, through the Context"))
		must(ch.WriteMessage(Message{Method: MethodClosed, Params: []byte(`{}`)}))
		must(ch.Close())
	}
}

// The in-place log path handles a short write as WriteMessage does: the
// partial line is cut off and the next message is whole.
func TestFileChannelLogShortWrite(t *testing.T) {
	path := filepath.Join(t.TempDir(), "messages")
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"=file-short-write-log", "PIPES_TEST_PATH="+path)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	assert.Equal(t, 2, strings.Count(string(out), "the log message was not written (50 of"), "%s", out)
	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	msgs := parseMessages(t, raw)
	assert.Equal(t, []string{"opened", "log", "log", "closed"}, methods(msgs))
}

// finishLog completes a line after EINTR or a short write, and reports
// any other error with nothing written.
func TestFileChannelFinishLog(t *testing.T) {
	path := filepath.Join(t.TempDir(), "messages")
	ch, err := NewFileChannel(path)
	require.NoError(t, err)
	require.True(t, ch.raw)
	line := `{"__dagster_pipes_version":"0.1","method":"log","params":{"message":"m","level":"INFO"}}` + "\n"

	require.NoError(t, ch.finishLog([]byte(line), -1, syscall.EINTR), "EINTR before anything was written: the whole line")
	_, err = ch.f.WriteString(line[:10])
	require.NoError(t, err)
	require.NoError(t, ch.finishLog([]byte(line), 10, nil), "a short write: the rest of the line")
	err = ch.finishLog([]byte(line), -1, syscall.ENOSPC)
	require.ErrorIs(t, err, syscall.ENOSPC)
	assert.Contains(t, err.Error(), "the log message was not written")
	require.NoError(t, ch.Close())

	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, line+line, string(raw))
}
