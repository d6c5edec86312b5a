//go:build !unix

package pipes

import (
	"errors"
	"os"
)

// rawFD reports false: outside Unix a FileChannel always writes through
// os.File.
func rawFD(*os.File) (int, bool) { return 0, false }

// writeRaw is never called outside Unix (rawFD reports false).
func writeRaw(int, string, []byte) (int, error) {
	return 0, errors.New("pipes: raw writes are Unix-only")
}

// logFast is never called outside Unix (Context.file is nil there).
func (c *FileChannel) logFast(p *Context, level, msg, attrs string, extra []byte) error {
	return logSlow(p, c, level, msg, attrs, extra)
}
