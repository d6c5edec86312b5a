package lambdaemu

import (
	"os/exec"
	"syscall"
)

// setDeathSignal makes the kernel kill the function when the test process
// dies, so that a crashed or killed test leaves no function process behind.
func setDeathSignal(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
