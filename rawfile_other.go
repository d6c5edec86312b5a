//go:build !unix

package pipes

import (
	"errors"
	"io"
	"log/slog"
	"os"
)

// openAppend opens path for appending; outside Unix a FileChannel always
// writes through os.File (raw is false).
func openAppend(path string) (f *os.File, fd int, raw bool, err error) {
	f, err = os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	return f, 0, false, err
}

// readFileLimit reads the file at path whole if it holds at most limit
// bytes, and limit+1 bytes of it otherwise, so that the caller can tell.
func readFileLimit(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, limit+1))
}

// writeRaw is never called outside Unix (openAppend reports no raw file).
func writeRaw(int, string, []byte) (int, error) {
	return 0, errors.New("pipes: raw writes are Unix-only")
}

// logFast is never called outside Unix (Context.file is nil there).
func (c *FileChannel) logFast(p *Context, level slog.Level, msg, attrs string, extra []byte) error {
	return logSlow(p, c, levelName(level), msg, attrs, extra)
}
