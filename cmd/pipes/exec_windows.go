//go:build windows

package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"syscall"
)

// reportSupported: the report verbs need a Unix socket with owner-only
// permissions, which pipes exec does not set up on Windows; the command
// still runs, with its output, exit status and closed message.
const reportSupported = false

func setProcessGroup(*exec.Cmd) {}

// signalGroup: Windows has no process-group signals; the command is killed.
func signalGroup(cmd *exec.Cmd, _ os.Signal) error { return cmd.Process.Kill() }

func killGroup(cmd *exec.Cmd) error { return cmd.Process.Kill() }

func exitStatus(err error, cmd *exec.Cmd) (int, syscall.Signal) {
	if err == nil {
		return 0, 0
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) && ee.ExitCode() > 0 {
		return ee.ExitCode(), 0
	}
	if cmd.ProcessState != nil && cmd.ProcessState.Success() {
		return 0, 0
	}
	return 1, 0
}

func signalName(s syscall.Signal) string { return fmt.Sprintf("signal %d", int(s)) }
