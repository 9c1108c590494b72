//go:build integration

package server

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/hoheit/hoheit/internal/api"
	"github.com/hoheit/hoheit/internal/attest/tpm/tpmtest"
	"github.com/hoheit/hoheit/internal/keys"
)

// softHSM initialises a fresh SoftHSM token; the test fails when SoftHSM is
// not installed (scripts/test-deps.sh installs it).
func softHSM(t *testing.T) keys.PKCS11Config {
	t.Helper()
	module := "/usr/lib/softhsm/libsofthsm2.so"
	if _, err := os.Stat(module); err != nil {
		t.Fatalf("SoftHSM is not installed: %v", err)
	}
	dir := t.TempDir()
	tokens := filepath.Join(dir, "tokens")
	os.Mkdir(tokens, 0o700)
	conf := filepath.Join(dir, "softhsm2.conf")
	os.WriteFile(conf, []byte("directories.tokendir = "+tokens+"\nobjectstore.backend = file\nlog.level = ERROR\n"), 0o600)
	t.Setenv("SOFTHSM2_CONF", conf)
	if out, err := exec.Command("softhsm2-util", "--init-token", "--free", "--label", "hoheit", "--pin", "1234", "--so-pin", "123456").CombinedOutput(); err != nil {
		t.Fatalf("softhsm2-util: %v\n%s", err, out)
	}
	return keys.PKCS11Config{Module: module, TokenLabel: "hoheit", PIN: "1234"}
}

// TestSoftHSMBackedServer: the master key, the CA key and the audit key
// live in SoftHSM; a node's disk key survives a restart of the HSM session.
func TestSoftHSMBackedServer(t *testing.T) {
	cfg := softHSM(t)
	ctx := context.Background()
	kb, err := keys.OpenPKCS11(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, harnessOpts{keys: kb})
	a := h.agent("hsm-node", "conf-a", h.snpIssuer(measureA))
	if err := a.Join(ctx); err != nil {
		t.Fatalf("join: %v", err)
	}
	disk, _ := a.Key(api.PurposeDisk)
	h.verifyAudit()
	kb.Close()

	// A new session on the same token derives the same disk key.
	kb2, err := keys.OpenPKCS11(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer kb2.Close()
	again, err := keys.NodeKey(ctx, kb2, keys.PurposeDisk, "hsm-node")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(again, disk) {
		t.Fatal("the HSM derived another disk key after reopening")
	}
}

// TestSwtpmJoin joins through the agent with a real swtpm whose EK
// certificate chains to swtpm's local CA: the response is wrapped by
// credential activation and only this TPM opens it.
func TestSwtpmJoin(t *testing.T) {
	ca := tpmtest.NewSwtpmCA(t)
	sw := tpmtest.StartSwtpm(t, ca)
	logPath := sw.Boot(t, tpmtest.BootEvents(), nil)
	h := newHarness(t, harnessOpts{ekRoots: sw.EKRoots, ekInter: sw.EKIntermediates})
	iss := sw.Open(t, logPath)
	a := h.agent("swtpm-node", "tpm-node", iss)
	if err := a.Join(context.Background()); err != nil {
		t.Fatalf("join with swtpm: %v", err)
	}
	if _, ok := a.Key(api.PurposeDisk); !ok {
		t.Fatal("no disk key")
	}
	if n := h.node("swtpm-node"); n.HardwareID == "" {
		t.Error("no hardware id for an EK-trusted TPM")
	}

	// A second swtpm with the same PCRs but another EK is another machine:
	// it may not take over the node.
	other := tpmtest.StartSwtpm(t, ca)
	otherLog := other.Boot(t, tpmtest.BootEvents(), nil)
	b := h.agent("swtpm-node", "tpm-node", other.Open(t, otherLog))
	if err := b.Join(context.Background()); err == nil {
		t.Fatal("another TPM re-joined as the node")
	}
	h.verifyAudit()
}
