//go:build linux

package pipes

import (
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
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
		must(syscall.Setrlimit(syscall.RLIMIT_FSIZE, &saved))
		must(ch.writeLog("INFO", "after", "", nil))
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
	assert.Contains(t, string(out), "the log message was not written (50 of")
	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	msgs := parseMessages(t, raw)
	assert.Equal(t, []string{"opened", "log", "closed"}, methods(msgs))
}
