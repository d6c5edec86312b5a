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
// else (here a FIFO) through os.File, blocking.
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

// readFileLimit reads a regular file whole, or limit+1 bytes of a larger
// one; a file whose size is wrong (a kernel file says 0) and a FIFO are
// read to their end all the same.
func TestReadFileLimit(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte(text), 0o600))
		return p
	}
	for _, tc := range []struct {
		text  string
		limit int64
		want  string
	}{
		{"", 10, ""},
		{"0123456789", 10, "0123456789"},
		{"0123456789a", 10, "0123456789a"},
		{"0123456789abcdef", 10, "0123456789a"},
	} {
		got, err := readFileLimit(write("f", tc.text), tc.limit)
		require.NoError(t, err)
		assert.Equal(t, tc.want, string(got), "%q with limit %d", tc.text, tc.limit)
	}

	status, err := readFileLimit("/proc/self/status", 1<<20)
	if !os.IsNotExist(err) { // no /proc outside Linux
		require.NoError(t, err)
		assert.Contains(t, string(status), "Name:", "a kernel file reports size 0 and is still read")
	}

	fifo := filepath.Join(dir, "fifo")
	require.NoError(t, syscall.Mkfifo(fifo, 0o600))
	go func() {
		w, err := os.OpenFile(fifo, os.O_WRONLY, 0)
		if err == nil {
			_, _ = w.WriteString("through a fifo")
			_ = w.Close()
		}
	}()
	got, err := readFileLimit(fifo, 100)
	require.NoError(t, err)
	assert.Equal(t, "through a fifo", string(got))

	_, err = readFileLimit(filepath.Join(dir, "missing"), 10)
	var pe *os.PathError
	require.ErrorAs(t, err, &pe)
	assert.Equal(t, "open", pe.Op)
}
