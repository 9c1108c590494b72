// Package luks formats and opens LUKS2 volumes with a key released by the
// control plane, through cryptsetup. The key goes to cryptsetup on stdin
// (--key-file=-), never through a file or the command line. Only the agent
// commands import it.
package luks

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
)

// Cryptsetup runs the cryptsetup binary.
type Cryptsetup struct {
	// Path is the binary, "cryptsetup" on PATH (or /usr/sbin) by default.
	Path string
}

func (c Cryptsetup) bin() (string, error) {
	if c.Path != "" {
		return c.Path, nil
	}
	if p, err := exec.LookPath("cryptsetup"); err == nil {
		return p, nil
	}
	if p, err := exec.LookPath("/usr/sbin/cryptsetup"); err == nil {
		return p, nil
	}
	return "", errors.New("cryptsetup not found: install it (Debian: apt-get install cryptsetup-bin)")
}

func (c Cryptsetup) run(ctx context.Context, key []byte, args ...string) error {
	bin, err := c.bin()
	if err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Stdin = bytes.NewReader(key)
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(out.String())
		var ee *exec.ExitError
		if errors.As(err, &ee) && ee.ExitCode() == 2 {
			return fmt.Errorf("%w: %s", ErrWrongKey, msg)
		}
		return fmt.Errorf("cryptsetup %s: %v: %s", args[0], err, msg)
	}
	return nil
}

// ErrWrongKey is returned when the key opens no key slot of the volume.
var ErrWrongKey = errors.New("the key opens no key slot of this volume")

// Format makes device a LUKS2 volume whose key slot 0 opens with key. The
// key is a full-entropy 256-bit secret, so the key slot uses PBKDF2 with
// few iterations: a slow password hash adds nothing to a random key and
// would slow every unlock.
func (c Cryptsetup) Format(ctx context.Context, device string, key []byte) error {
	return c.run(ctx, key, "luksFormat", "--batch-mode", "--type", "luks2", "--pbkdf", "pbkdf2", "--pbkdf-force-iterations", "1000",
		"--key-file=-", "--key-slot", "0", device)
}

// Test checks that key opens the volume, without mapping it.
func (c Cryptsetup) Test(ctx context.Context, device string, key []byte) error {
	return c.run(ctx, key, "open", "--test-passphrase", "--key-file=-", device)
}

// Open maps the volume as /dev/mapper/name.
func (c Cryptsetup) Open(ctx context.Context, device, name string, key []byte) error {
	return c.run(ctx, key, "open", "--type", "luks2", "--key-file=-", device, name)
}
