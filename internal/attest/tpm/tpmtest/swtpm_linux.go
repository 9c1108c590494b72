package tpmtest

import (
	"os/exec"
	"syscall"
)

// killWithParent has the kernel kill swtpm when the test process dies
// without running its cleanups (a panic, a timeout, a signal).
func killWithParent(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
