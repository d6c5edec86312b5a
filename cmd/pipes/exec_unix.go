//go:build unix

package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"syscall"
)

// reportSupported: the verbs reach pipes exec over a Unix socket.
const reportSupported = true

// setProcessGroup starts the command in a process group of its own, so that
// a signal reaches it and everything it started.
func setProcessGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
}

// signalGroup sends s to the command's process group.
func signalGroup(cmd *exec.Cmd, s os.Signal) error {
	sig, ok := s.(syscall.Signal)
	if !ok {
		return cmd.Process.Signal(s)
	}
	return syscall.Kill(-cmd.Process.Pid, sig)
}

// killGroup sends SIGKILL to the command's process group.
func killGroup(cmd *exec.Cmd) error {
	return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
}

// exitStatus is the status a shell reports for the command: its exit code,
// or 128+n when it died of signal n (then also returned).
func exitStatus(err error, cmd *exec.Cmd) (int, syscall.Signal) {
	if err == nil {
		return 0, 0
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return 128 + int(ws.Signal()), ws.Signal()
		}
		if c := ee.ExitCode(); c > 0 {
			return c, 0
		}
	}
	if cmd.ProcessState != nil && cmd.ProcessState.Success() {
		// Exited 0, but its output could not be copied to the end
		// (exec.ErrWaitDelay): a grandchild held it. Not a failure.
		return 0, 0
	}
	return 1, 0
}

var signalNames = map[syscall.Signal]string{
	syscall.SIGHUP: "SIGHUP", syscall.SIGINT: "SIGINT", syscall.SIGQUIT: "SIGQUIT",
	syscall.SIGILL: "SIGILL", syscall.SIGTRAP: "SIGTRAP", syscall.SIGABRT: "SIGABRT",
	syscall.SIGBUS: "SIGBUS", syscall.SIGFPE: "SIGFPE", syscall.SIGKILL: "SIGKILL",
	syscall.SIGUSR1: "SIGUSR1", syscall.SIGSEGV: "SIGSEGV", syscall.SIGUSR2: "SIGUSR2",
	syscall.SIGPIPE: "SIGPIPE", syscall.SIGALRM: "SIGALRM", syscall.SIGTERM: "SIGTERM",
	syscall.SIGXCPU: "SIGXCPU", syscall.SIGXFSZ: "SIGXFSZ",
}

// signalName is "SIGTERM (signal 15)".
func signalName(s syscall.Signal) string {
	if n, ok := signalNames[s]; ok {
		return fmt.Sprintf("%s (signal %d)", n, int(s))
	}
	return fmt.Sprintf("signal %d", int(s))
}
