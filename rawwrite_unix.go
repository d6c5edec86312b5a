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
