//go:build !linux

package tpmtest

import "os/exec"

// killWithParent does nothing here: only Linux has a parent-death signal.
// The test's cleanup still kills swtpm.
func killWithParent(*exec.Cmd) {}
