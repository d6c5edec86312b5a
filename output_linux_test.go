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
	// A FileChannel whose write is cut short: RLIMIT_FSIZE lets the file
	// grow by 50 more bytes only, as a disk that fills up would.
	children["file-short-write"] = func() {
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
		err = ch.WriteMessage(Message{Method: MethodLog, Params: []byte(`{"message":"a message longer than fifty bytes, so only part of it fits","level":"INFO"}`)})
		fmt.Println(err)
		must(syscall.Setrlimit(syscall.RLIMIT_FSIZE, &saved))
		must(ch.WriteMessage(Message{Method: MethodClosed, Params: []byte(`{}`)}))
		must(ch.Close())
	}
}

func must(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(4)
	}
}

// Regression (issue 10): a short write to the messages file left half a
// line, the next message was glued onto it and Dagster's reader died.
func TestFileChannelShortWrite(t *testing.T) {
	path := filepath.Join(t.TempDir(), "messages")
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"=file-short-write", "PIPES_TEST_PATH="+path)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	assert.Contains(t, string(out), "the log message was not written (50 of")
	assert.Contains(t, string(out), "then cut off again")
	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	msgs := parseMessages(t, raw) // every line is one whole message
	assert.Equal(t, []string{"opened", "closed"}, methods(msgs))
}
