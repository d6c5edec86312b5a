//go:build unix

package pipes

import (
	"io"
	"log/slog"
	"os"
	"syscall"
)

// openAppend opens path as os.OpenFile(path, O_WRONLY|O_APPEND|O_CREATE,
// 0o644) does, but keeps the file out of the runtime's poller, which
// os.OpenFile tries every file with: for a regular file that is eight
// system calls more, and the poller's own creation, on a small job's
// start-up. raw reports a regular file, which never blocks, so that it
// can be written with write(2) directly; fd is then its descriptor.
// Another kind of file (a FIFO) is written through os.File, blocking.
func openAppend(path string) (f *os.File, fd int, raw bool, err error) {
	for {
		fd, err = syscall.Open(path, syscall.O_WRONLY|syscall.O_APPEND|syscall.O_CREAT|syscall.O_CLOEXEC, 0o644)
		if err != syscall.EINTR {
			break
		}
	}
	if err != nil {
		return nil, 0, false, &os.PathError{Op: "open", Path: path, Err: err}
	}
	return os.NewFile(uintptr(fd), path), fd, isRegular(fd), nil
}

// isRegular reports whether fd is a regular file.
func isRegular(fd int) bool {
	var st syscall.Stat_t
	return syscall.Fstat(fd, &st) == nil && st.Mode&syscall.S_IFMT == syscall.S_IFREG
}

// readFileLimit reads the file at path whole if it holds at most limit
// bytes, and limit+1 bytes of it otherwise, so that the caller can tell.
// A regular file is read with read(2) directly, into a buffer of its size
// (for the reason of openAppend); another kind of file through os.File.
func readFileLimit(path string, limit int64) ([]byte, error) {
	var fd int
	var err error
	for {
		fd, err = syscall.Open(path, syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
		if err != syscall.EINTR {
			break
		}
	}
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: path, Err: err}
	}
	var st syscall.Stat_t
	if syscall.Fstat(fd, &st) != nil || st.Mode&syscall.S_IFMT != syscall.S_IFREG {
		f := os.NewFile(uintptr(fd), path)
		defer f.Close()
		return io.ReadAll(io.LimitReader(f, limit+1))
	}
	defer syscall.Close(fd)
	// The size may be wrong (a file that grows, or a kernel file that
	// reports 0): read until end of file or limit+1 bytes, whatever it said.
	buf := make([]byte, 0, min(max(st.Size, 0), limit)+1)
	for int64(len(buf)) <= limit {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		want := buf[len(buf):min(int64(cap(buf)), limit+1)]
		n, err := syscall.Read(fd, want)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return nil, &os.PathError{Op: "read", Path: path, Err: err}
		}
		buf = buf[:len(buf)+n]
		if n == 0 || (n < len(want) && int64(len(buf)) == st.Size) {
			// The end: read(2) says so, or the file is all there, as
			// fstat said (a short read before that, which a FUSE mount
			// such as Databricks' /dbfs may give, goes on reading).
			break
		}
	}
	return buf, nil
}

// writeRaw writes b to the regular file fd with write(2), as os.File.Write
// would (whole, retried on EINTR and short writes) without its descriptor
// locking and poller bookkeeping, which the caller's lock makes useless:
// the FileChannel's mutex is held, and only its Close closes the file.
func writeRaw(fd int, name string, b []byte) (int, error) {
	written := 0
	for written < len(b) {
		n, err := syscall.Write(fd, b[written:])
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return written, &os.PathError{Op: "write", Path: name, Err: err}
		}
		if n == 0 {
			return written, io.ErrUnexpectedEOF
		}
		written += n
	}
	return written, nil
}

// logLinePrefix starts every log line that logFast writes.
const logLinePrefix = logEnvelope + `{"message":"`

// logFast is the log path of a Context whose channel is a FileChannel on a
// regular file (see Context.file): one function from the call to write(2),
// so that the little code a message runs stays together in the instruction
// cache that each write(2) cools, and no lock or counter of the Context's.
// The Context's closed flag is read under c.mu, which closeWith's closed
// message also takes, so a message that finds the Context open is written
// before closed, and one that finds it closed is refused.
func (c *FileChannel) logFast(p *Context, level slog.Level, msg, attrs string, extra []byte) error {
	c.mu.Lock()
	if p.closed.Load() || c.f == nil || c.broken {
		c.mu.Unlock()
		return logSlow(p, c, levelName(level), msg, attrs, extra)
	}
	line := c.logLine
	if len(line) < len(logLinePrefix) {
		line = append(make([]byte, 0, 512), logLinePrefix...)
	}
	line = appendStringContentFast(line[:len(logLinePrefix)], msg)
	if len(attrs) > 0 {
		line = append(line, attrs...)
	}
	if len(extra) > 0 {
		line = append(line, extra...)
	}
	line = append(line, logTail(level)...)
	c.logLine = line
	n, err := syscall.Write(c.fd, line)
	if err != nil || n != len(line) {
		err = c.finishLog(line, n, err)
	}
	c.mu.Unlock()
	return err
}

// finishLog completes logFast's line after a write(2) that did not write
// it whole: it goes on after EINTR or a short write, as writeRaw does.
func (c *FileChannel) finishLog(line []byte, n int, err error) error {
	c.line = line // for lineWritten's account of a short write
	if err != nil && err != syscall.EINTR {
		return c.lineWritten(MethodLog, 0, &os.PathError{Op: "write", Path: c.f.Name(), Err: err})
	}
	n = max(n, 0)
	m, err := writeRaw(c.fd, c.f.Name(), line[n:])
	return c.lineWritten(MethodLog, n+m, err)
}
