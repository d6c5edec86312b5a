//go:build !linux

package azurite

import "os/exec"

func setDeathSignal(*exec.Cmd) {}
