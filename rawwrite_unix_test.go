//go:build unix

package pipes

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A FileChannel writes a regular file with write(2) itself, and anything
// else (here a FIFO) through os.File, whose poller handles blocking.
func TestFileChannelRawWriteOnlyForRegularFiles(t *testing.T) {
	dir := t.TempDir()
	regular, err := NewFileChannel(filepath.Join(dir, "messages"))
	require.NoError(t, err)
	assert.True(t, regular.raw)
	require.NoError(t, regular.WriteMessage(Message{Method: MethodLog, Params: []byte(`{"message":"m","level":"INFO"}`)}))
	require.NoError(t, regular.writeLog("INFO", "m", "", nil))
	require.NoError(t, regular.Close())
	raw, err := os.ReadFile(filepath.Join(dir, "messages"))
	require.NoError(t, err)
	line := `{"__dagster_pipes_version":"0.1","method":"log","params":{"message":"m","level":"INFO"}}` + "\n"
	assert.Equal(t, line+line, string(raw))
	assert.ErrorIs(t, regular.writeLog("INFO", "late", "", nil), ErrClosed)

	fifo := filepath.Join(dir, "fifo")
	require.NoError(t, syscall.Mkfifo(fifo, 0o600))
	r, err := os.OpenFile(fifo, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	require.NoError(t, err)
	defer r.Close()
	pipe, err := NewFileChannel(fifo)
	require.NoError(t, err)
	assert.False(t, pipe.raw)
	require.NoError(t, pipe.writeLog("INFO", "m", "", nil))
	buf := make([]byte, 256)
	n, err := r.Read(buf)
	require.NoError(t, err)
	assert.Equal(t, line, string(buf[:n]))
	require.NoError(t, pipe.Close())
}
