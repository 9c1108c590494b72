//go:build integration

package keys

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ThalesGroup/crypto11"
	"github.com/miekg/pkcs11"

	"github.com/hoheit/hoheit/internal/ca"
)

const (
	softHSMPIN   = "1234-test-pin"
	softHSMSOPIN = "5678-test-so-pin"
)

// softHSMModule finds Debian's softhsm2 module; the integration tier
// requires it (scripts/test-deps.sh installs it).
func softHSMModule(t testing.TB) string {
	t.Helper()
	for _, p := range []string{
		os.Getenv("HOHEIT_SOFTHSM_MODULE"),
		"/usr/lib/softhsm/libsofthsm2.so",
		"/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
		"/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so",
	} {
		if p == "" {
			continue
		}
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	t.Fatal("softhsm2 module not found: install softhsm2 (scripts/test-deps.sh) or set HOHEIT_SOFTHSM_MODULE")
	return ""
}

// newSoftHSMToken initialises a fresh softhsm2 token in a temporary
// directory and returns a config for it.
func newSoftHSMToken(t testing.TB, label string) PKCS11Config {
	t.Helper()
	module := softHSMModule(t)
	util, err := exec.LookPath("softhsm2-util")
	if err != nil {
		t.Fatal("softhsm2-util not found: install softhsm2 (scripts/test-deps.sh)")
	}
	dir := t.TempDir()
	tokens := filepath.Join(dir, "tokens")
	if err := os.Mkdir(tokens, 0o700); err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(dir, "softhsm2.conf")
	if err := os.WriteFile(conf, []byte("directories.tokendir = "+tokens+"\nobjectstore.backend = file\nlog.level = ERROR\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("SOFTHSM2_CONF", conf)
	out, err := exec.Command(util, "--init-token", "--free", "--label", label, "--pin", softHSMPIN, "--so-pin", softHSMSOPIN).CombinedOutput()
	if err != nil {
		t.Fatalf("softhsm2-util --init-token: %v\n%s", err, out)
	}
	return PKCS11Config{Module: module, TokenLabel: label, PIN: softHSMPIN}
}

func openTestPKCS11(t testing.TB, cfg PKCS11Config) *pkcs11Backend {
	t.Helper()
	b, err := OpenPKCS11(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return b.(*pkcs11Backend)
}

func TestPKCS11DeriveDeterministicAcrossReopen(t *testing.T) {
	ctx := context.Background()
	cfg := newSoftHSMToken(t, "hoheit-derive")

	b := openTestPKCS11(t, cfg)
	want := map[string][]byte{}
	for _, p := range []Purpose{PurposeDisk, PurposeMesh, PurposeWorkload} {
		for _, node := range []string{"node-1", "node-2"} {
			k, err := NodeKey(ctx, b, p, node)
			if err != nil {
				t.Fatal(err)
			}
			if len(k) != NodeKeySize {
				t.Fatalf("node key of %d bytes", len(k))
			}
			for name, other := range want {
				if bytes.Equal(k, other) {
					t.Fatalf("%s/%s and %s derive the same key", p, node, name)
				}
			}
			want[string(p)+"/"+node] = k
		}
	}
	long, err := b.Derive(ctx, "multi-block", []byte("info"), 100)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Derive(ctx, "x", nil, 32); !errors.Is(err, ErrClosed) {
		t.Errorf("derive after close: %v", err)
	}

	// A restart: the module is finalised and loaded again.
	b2 := openTestPKCS11(t, cfg)
	defer b2.Close()
	for name, k := range want {
		purpose, node, _ := strings.Cut(name, "/")
		got, err := NodeKey(ctx, b2, Purpose(purpose), node)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, k) {
			t.Errorf("%s: key differs after reopen", name)
		}
	}
	long2, err := b2.Derive(ctx, "multi-block", []byte("info"), 100)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(long, long2) {
		t.Error("multi-block derivation differs after reopen")
	}

	// Another master key label in the same token is another master key.
	cfg3 := cfg
	cfg3.KeyLabel = "other-master"
	b3 := openTestPKCS11(t, cfg3)
	defer b3.Close()
	k3, err := NodeKey(ctx, b3, PurposeDisk, "node-1")
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(k3, want["disk/node-1"]) {
		t.Error("two master keys derive the same node key")
	}
}

func TestPKCS11MasterKeyNeverLeavesToken(t *testing.T) {
	cfg := newSoftHSMToken(t, "hoheit-sensitive")
	b := openTestPKCS11(t, cfg)
	defer b.Close()

	attrs, err := b.ctx.GetAttributes(b.master, []crypto11.AttributeType{
		crypto11.CkaSensitive, crypto11.CkaExtractable, crypto11.CkaNeverExtractable, crypto11.CkaAlwaysSensitive, crypto11.CkaKeyType,
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		t    crypto11.AttributeType
		want bool
		name string
	}{
		{crypto11.CkaSensitive, true, "CKA_SENSITIVE"},
		{crypto11.CkaExtractable, false, "CKA_EXTRACTABLE"},
		{crypto11.CkaNeverExtractable, true, "CKA_NEVER_EXTRACTABLE"},
		{crypto11.CkaAlwaysSensitive, true, "CKA_ALWAYS_SENSITIVE"},
	} {
		if v, ok := attrBool(attrs[c.t]); !ok || v != c.want {
			t.Errorf("%s = %v, want %t", c.name, attrs[c.t], c.want)
		}
	}
	if kt, _ := attrULong(attrs[crypto11.CkaKeyType]); kt != pkcs11.CKK_GENERIC_SECRET {
		t.Errorf("key type %#x, want CKK_GENERIC_SECRET", kt)
	}

	// Reading the key's value must be refused by the token.
	v, err := b.ctx.GetAttribute(b.master, crypto11.CkaValue)
	if err == nil {
		t.Fatalf("token returned CKA_VALUE of the master key (%d bytes)", len(v.Value))
	}
	var perr pkcs11.Error
	if !errors.As(err, &perr) || perr != pkcs11.CKR_ATTRIBUTE_SENSITIVE {
		t.Errorf("reading CKA_VALUE: %v, want CKR_ATTRIBUTE_SENSITIVE", err)
	}
	// Nor may it be wrapped out: no wrapping key can export it.
	if v, ok := attrBool(attrs[crypto11.CkaExtractable]); !ok || v {
		t.Error("master key is extractable")
	}
}

func TestPKCS11Signer(t *testing.T) {
	ctx := context.Background()
	cfg := newSoftHSMToken(t, "hoheit-signer")
	b := openTestPKCS11(t, cfg)
	ca1, err := b.Signer(ctx, "ca")
	if err != nil {
		t.Fatal(err)
	}
	audit1, err := b.Signer(ctx, "audit")
	if err != nil {
		t.Fatal(err)
	}
	if ca1.Public().(*ecdsa.PublicKey).Equal(audit1.Public()) {
		t.Error("ca and audit are the same key")
	}
	again, err := b.Signer(ctx, "ca")
	if err != nil {
		t.Fatal(err)
	}
	if !ca1.Public().(*ecdsa.PublicKey).Equal(again.Public()) {
		t.Error("second Signer call returned another key")
	}
	digest := sha256.Sum256([]byte("audit checkpoint"))
	sig, err := ca1.Sign(rand.Reader, digest[:], nil)
	if err != nil {
		t.Fatal(err)
	}
	if !ecdsa.VerifyASN1(ca1.Public().(*ecdsa.PublicKey), digest[:], sig) {
		t.Fatal("token signature does not verify")
	}
	// The private key is sensitive: its value cannot be read.
	if _, err := b.ctx.GetAttribute(ca1, crypto11.CkaValue); err == nil {
		t.Error("token returned the signing key's CKA_VALUE")
	}
	caPub := ca1.Public().(*ecdsa.PublicKey)
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}

	b2 := openTestPKCS11(t, cfg)
	defer b2.Close()
	ca2, err := b2.Signer(ctx, "ca")
	if err != nil {
		t.Fatal(err)
	}
	if !caPub.Equal(ca2.Public()) {
		t.Error("signing key differs after reopen")
	}
	sig2, err := ca2.Sign(rand.Reader, digest[:], nil)
	if err != nil {
		t.Fatal(err)
	}
	if !ecdsa.VerifyASN1(caPub, digest[:], sig2) {
		t.Error("signature after reopen does not verify")
	}
}

func TestPKCS11Refuses(t *testing.T) {
	ctx := context.Background()
	cfg := newSoftHSMToken(t, "hoheit-refuse")

	t.Run("wrong PIN", func(t *testing.T) {
		bad := cfg
		bad.PIN = "9999-wrong-pin"
		b, err := OpenPKCS11(ctx, bad)
		if err == nil {
			b.Close()
			t.Fatal("opened with a wrong PIN")
		}
		if strings.Contains(err.Error(), bad.PIN) || strings.Contains(err.Error(), softHSMPIN) {
			t.Errorf("error leaks the PIN: %v", err)
		}
	})
	t.Run("unknown token", func(t *testing.T) {
		bad := cfg
		bad.TokenLabel = "no-such-token"
		if b, err := OpenPKCS11(ctx, bad); err == nil {
			b.Close()
			t.Fatal("opened an unknown token")
		}
	})
	t.Run("bad key label", func(t *testing.T) {
		bad := cfg
		bad.KeyLabel = "has space"
		if b, err := OpenPKCS11(ctx, bad); err == nil {
			b.Close()
			t.Fatal("accepted a bad key label")
		}
	})
	t.Run("imported master key", func(t *testing.T) {
		// A key created from known bytes (C_CreateObject) has been outside
		// the token: CKA_ALWAYS_SENSITIVE and CKA_NEVER_EXTRACTABLE are
		// false, and OpenPKCS11 must refuse it.
		importSecret(t, cfg, "imported", testMaster())
		bad := cfg
		bad.KeyLabel = "imported"
		b, err := OpenPKCS11(ctx, bad)
		if err == nil {
			b.Close()
			t.Fatal("accepted a master key that was imported")
		}
		if !strings.Contains(err.Error(), "may have left the token") {
			t.Errorf("error %v, want a refusal naming the attribute", err)
		}
	})
	t.Run("PIN redacted in String", func(t *testing.T) {
		for _, s := range []string{cfg.String(), cfg.GoString()} {
			if strings.Contains(s, softHSMPIN) {
				t.Errorf("config string leaks the PIN: %s", s)
			}
		}
	})
}

// TestPKCS11MatchesGolden checks the in-token construction against the
// golden vectors: a token key with the test master key's bytes derives
// exactly what the file backend derives.
func TestPKCS11MatchesGolden(t *testing.T) {
	ctx := context.Background()
	cfg := newSoftHSMToken(t, "hoheit-golden")
	importSecret(t, cfg, "golden", testMaster())

	c11, err := crypto11.Configure(&crypto11.Config{Path: cfg.Module, TokenLabel: cfg.TokenLabel, Pin: cfg.PIN})
	if err != nil {
		t.Fatal(err)
	}
	key, err := c11.FindKey(nil, []byte("golden"))
	if err != nil {
		t.Fatal(err)
	}
	// Bypass OpenPKCS11's refusal of imported keys: this test is about the
	// arithmetic, not the key's provenance.
	b := &pkcs11Backend{ctx: c11, master: key, keyLabel: "golden", signers: map[string]crypto.Signer{}}
	defer b.Close()
	soft := newFileBackend(testMaster())
	defer soft.Close()
	for _, tc := range []struct {
		label string
		info  string
		n     int
	}{
		{"hoheit/v1/node-key/disk", "node-1", 32},
		{"test", "", 1},
		{"test", "\x00\xff", 80},
		{"x", "", 255 * 32},
	} {
		got, err := b.Derive(ctx, tc.label, []byte(tc.info), tc.n)
		if err != nil {
			t.Fatal(err)
		}
		want, err := soft.Derive(ctx, tc.label, []byte(tc.info), tc.n)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s/%q/%d: token derivation differs from the software one", tc.label, tc.info, tc.n)
		}
	}
}

// importSecret creates a generic secret object with known bytes through
// the raw PKCS#11 API (test only).
func importSecret(t *testing.T, cfg PKCS11Config, label string, value []byte) {
	t.Helper()
	p := pkcs11.New(cfg.Module)
	if p == nil {
		t.Fatalf("loading %s failed", cfg.Module)
	}
	if err := p.Initialize(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		p.Finalize()
		p.Destroy()
	}()
	slots, err := p.GetSlotList(true)
	if err != nil {
		t.Fatal(err)
	}
	var slot uint
	found := false
	for _, s := range slots {
		ti, err := p.GetTokenInfo(s)
		if err == nil && ti.Label == cfg.TokenLabel {
			slot, found = s, true
		}
	}
	if !found {
		t.Fatalf("token %q not found", cfg.TokenLabel)
	}
	sh, err := p.OpenSession(slot, pkcs11.CKF_SERIAL_SESSION|pkcs11.CKF_RW_SESSION)
	if err != nil {
		t.Fatal(err)
	}
	defer p.CloseSession(sh)
	if err := p.Login(sh, pkcs11.CKU_USER, cfg.PIN); err != nil {
		t.Fatal(err)
	}
	defer p.Logout(sh)
	_, err = p.CreateObject(sh, []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_SECRET_KEY),
		pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, pkcs11.CKK_GENERIC_SECRET),
		pkcs11.NewAttribute(pkcs11.CKA_TOKEN, true),
		pkcs11.NewAttribute(pkcs11.CKA_PRIVATE, true),
		pkcs11.NewAttribute(pkcs11.CKA_SENSITIVE, true),
		pkcs11.NewAttribute(pkcs11.CKA_EXTRACTABLE, false),
		pkcs11.NewAttribute(pkcs11.CKA_SIGN, true),
		pkcs11.NewAttribute(pkcs11.CKA_LABEL, label),
		pkcs11.NewAttribute(pkcs11.CKA_ID, objectID(label)),
		pkcs11.NewAttribute(pkcs11.CKA_VALUE, value),
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestPKCS11CA runs the internal CA on the token's "ca" key: the CA key
// lives in the same backend as the master key.
func TestPKCS11CA(t *testing.T) {
	ctx := context.Background()
	cfg := newSoftHSMToken(t, "hoheit-ca")
	b := openTestPKCS11(t, cfg)
	signer, err := b.Signer(ctx, "ca")
	if err != nil {
		t.Fatal(err)
	}
	authority, err := ca.New(ctx, signer, "example.org", nil)
	if err != nil {
		t.Fatal(err)
	}
	rootDER := authority.RootDER()
	nodeKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	der, serial, _, err := authority.IssueNode("node-1", nodeKey.Public(), 0, now)
	if err != nil {
		t.Fatal(err)
	}
	crlDER, err := authority.CRL([]x509.RevocationListEntry{{SerialNumber: serial, RevocationTime: now}}, big.NewInt(1), now)
	if err != nil {
		t.Fatal(err)
	}
	b.Close()

	// After a restart the stored root and the token's key make the same CA.
	b2 := openTestPKCS11(t, cfg)
	defer b2.Close()
	signer2, err := b2.Signer(ctx, "ca")
	if err != nil {
		t.Fatal(err)
	}
	authority2, err := ca.New(ctx, signer2, "example.org", rootDER)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(authority2.Root())
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cert.Verify(x509.VerifyOptions{Roots: pool, CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Fatalf("node certificate signed in the token does not verify: %v", err)
	}
	if id, err := ca.NodeID(cert, "example.org"); err != nil || id != "node-1" {
		t.Errorf("NodeID = %q, %v", id, err)
	}
	crl, err := x509.ParseRevocationList(crlDER)
	if err != nil {
		t.Fatal(err)
	}
	if err := crl.CheckSignatureFrom(authority2.Root()); err != nil {
		t.Errorf("CRL: %v", err)
	}
	if _, _, _, err := authority2.IssueNode("node-2", nodeKey.Public(), 0, now); err != nil {
		t.Errorf("issuing after restart: %v", err)
	}
}

// BenchmarkNodeKeyPKCS11 measures one node key derived inside softhsm2
// (one C_SignInit/C_SignUpdate/C_SignFinal HMAC).
func BenchmarkNodeKeyPKCS11(b *testing.B) {
	ctx := context.Background()
	backend := openTestPKCS11(b, newSoftHSMToken(b, "hoheit-bench"))
	defer backend.Close()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := NodeKey(ctx, backend, PurposeDisk, "node-1"); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
