//go:build unix

package pipes

import (
	"io"
	"os"
	"syscall"
)

// rawFD returns the descriptor of f if f is a regular file, which never
// blocks and is not in the runtime's poller, so that it can be written
// with write(2) directly; ok is false otherwise (a FIFO, a terminal).
func rawFD(f *os.File) (fd int, ok bool) {
	rc, err := f.SyscallConn()
	if err != nil {
		return 0, false
	}
	var st syscall.Stat_t
	cerr := rc.Control(func(u uintptr) {
		fd = int(u)
		if syscall.Fstat(fd, &st) != nil || st.Mode&syscall.S_IFMT != syscall.S_IFREG {
			ok = false
			return
		}
		ok = true
	})
	return fd, ok && cerr == nil
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

// logFast is the log path of a Context whose channel is a FileChannel on a
// regular file (see Context.file): one function from the call to write(2),
// so that the little code a message runs stays together in the instruction
// cache that each write(2) cools, and no lock or counter of the Context's.
// The Context's closed flag is read under c.mu, which closeWith's closed
// message also takes, so a message that finds the Context open is written
// before closed, and one that finds it closed is refused.
func (c *FileChannel) logFast(p *Context, level, msg, attrs string, extra []byte) error {
	c.mu.Lock()
	if p.closed.Load() || c.f == nil || c.broken {
		c.mu.Unlock()
		return logSlow(p, c, level, msg, attrs, extra)
	}
	line := append(c.line[:0], logEnvelope+`{"message":"`...)
	line = appendStringContent(line, msg)
	line = append(line, attrs...)
	line = append(line, extra...)
	line = append(line, `","level":"`...)
	line = append(line, level...)
	line = append(line, `"}}`+"\n"...)
	c.line = line
	n, err := syscall.Write(c.fd, line)
	if err != nil || n != len(line) {
		err = c.finishLog(n, err)
	}
	c.mu.Unlock()
	return err
}

// finishLog completes logFast's line after a write(2) that did not write
// it whole: it goes on after EINTR or a short write, as writeRaw does.
func (c *FileChannel) finishLog(n int, err error) error {
	if err != nil && err != syscall.EINTR {
		return c.lineWritten(MethodLog, 0, &os.PathError{Op: "write", Path: c.f.Name(), Err: err})
	}
	n = max(n, 0)
	m, err := writeRaw(c.fd, c.f.Name(), c.line[n:])
	return c.lineWritten(MethodLog, n+m, err)
}
