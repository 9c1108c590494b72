package keys

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// testArgon is a cheap Argon2id cost so the unit tests stay fast; the
// format and code path are the production ones.
var testArgon = argonParams{Time: 1, MemoryKiB: 64, Threads: 1}

const testPassphrase = "correct horse battery staple"

// newTestFile creates a key file with the cheap test cost and returns its path.
func newTestFile(t testing.TB) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "master.key")
	if err := createFile(path, []byte(testPassphrase), testArgon); err != nil {
		t.Fatal(err)
	}
	return path
}

func openTestFile(t testing.TB, path string) Backend {
	t.Helper()
	b, err := OpenFile(path, []byte(testPassphrase))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

func TestCreateFileRealCost(t *testing.T) {
	if testing.Short() {
		t.Skip("Argon2id with 64 MiB")
	}
	path := filepath.Join(t.TempDir(), "master.key")
	if err := CreateFile(path, []byte(testPassphrase)); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	sf, err := parseSealed(data, openLimits)
	if err != nil {
		t.Fatal(err)
	}
	if sf.Argon != defaultArgon {
		t.Errorf("stored Argon2id parameters %+v, want %+v", sf.Argon, defaultArgon)
	}
	b := openTestFile(t, path)
	if _, err := NodeKey(context.Background(), b, PurposeDisk, "node-1"); err != nil {
		t.Fatal(err)
	}
}

func TestCreateFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "master.key")
	if err := createFile(path, []byte(testPassphrase), testArgon); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", fi.Mode().Perm())
	}
	before, _ := os.ReadFile(path)
	err = createFile(path, []byte("other"), testArgon)
	if err == nil || !strings.Contains(err.Error(), "refusing to overwrite") {
		t.Errorf("second create: %v, want a refusal", err)
	}
	after, _ := os.ReadFile(path)
	if !bytes.Equal(before, after) {
		t.Error("refused create changed the file")
	}
	if err := createFile(filepath.Join(dir, "empty.key"), nil, testArgon); err == nil {
		t.Error("empty passphrase accepted")
	}
	// Two files never share a master key.
	path2 := filepath.Join(dir, "master2.key")
	if err := createFile(path2, []byte(testPassphrase), testArgon); err != nil {
		t.Fatal(err)
	}
	k1, _ := NodeKey(context.Background(), openTestFile(t, path), PurposeDisk, "n")
	k2, _ := NodeKey(context.Background(), openTestFile(t, path2), PurposeDisk, "n")
	if bytes.Equal(k1, k2) {
		t.Error("two new master keys derive the same node key")
	}
}

func TestOpenFileRefuses(t *testing.T) {
	path := newTestFile(t)
	good, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	saltLen := int(good[19])
	flip := func(i int) []byte {
		b := bytes.Clone(good)
		b[i] ^= 0x01
		return b
	}
	tests := []struct {
		name       string
		data       []byte
		passphrase string
		wantErr    error // nil: any error other than ErrWrongPassphrase
	}{
		{"wrong passphrase", good, "correct horse battery stapler", ErrWrongPassphrase},
		{"empty passphrase", good, "", ErrWrongPassphrase},
		{"ciphertext altered", flip(len(good) - 20), testPassphrase, ErrWrongPassphrase},
		{"tag altered", flip(len(good) - 1), testPassphrase, ErrWrongPassphrase},
		{"salt altered", flip(20), testPassphrase, ErrWrongPassphrase},
		{"nonce altered", flip(21 + saltLen), testPassphrase, ErrWrongPassphrase},
		{"argon time altered", func() []byte { b := bytes.Clone(good); b[13] = 2; return b }(), testPassphrase, ErrWrongPassphrase},
		{"magic altered", flip(0), testPassphrase, errFormat},
		{"version altered", flip(8), testPassphrase, errFormat},
		{"kdf altered", flip(9), testPassphrase, errFormat},
		{"aead altered", flip(20 + saltLen), testPassphrase, errFormat},
		{"truncated", good[:len(good)-1], testPassphrase, errFormat},
		{"extended", append(bytes.Clone(good), 0), testPassphrase, errFormat},
		{"empty", nil, testPassphrase, errFormat},
		{"huge memory", func() []byte { b := bytes.Clone(good); b[14] = 0xff; return b }(), testPassphrase, errFormat},
		{"zero threads", func() []byte { b := bytes.Clone(good); b[18] = 0; return b }(), testPassphrase, errFormat},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "k")
			if err := os.WriteFile(p, tt.data, 0o600); err != nil {
				t.Fatal(err)
			}
			b, err := OpenFile(p, []byte(tt.passphrase))
			if err == nil {
				b.Close()
				t.Fatal("opened")
			}
			if !errors.Is(err, tt.wantErr) {
				t.Errorf("error %v, want %v", err, tt.wantErr)
			}
			if tt.passphrase != "" && strings.Contains(err.Error(), tt.passphrase) {
				t.Errorf("error leaks the passphrase: %v", err)
			}
		})
	}
	if _, err := OpenFile(filepath.Join(t.TempDir(), "missing"), []byte(testPassphrase)); err == nil {
		t.Error("missing file opened")
	}
}

func TestNodeKeyDeterministicAcrossReopen(t *testing.T) {
	ctx := context.Background()
	path := newTestFile(t)
	first := openTestFile(t, path)
	second := openTestFile(t, path)
	seen := map[[32]byte]string{}
	for _, p := range []Purpose{PurposeDisk, PurposeMesh, PurposeWorkload} {
		for _, node := range []string{"node-1", "node-2", "a", "node-1.example"} {
			k1, err := NodeKey(ctx, first, p, node)
			if err != nil {
				t.Fatal(err)
			}
			k2, err := NodeKey(ctx, second, p, node)
			if err != nil {
				t.Fatal(err)
			}
			if len(k1) != NodeKeySize || !bytes.Equal(k1, k2) {
				t.Fatalf("%s/%s: keys differ across reopen", p, node)
			}
			var a [32]byte
			copy(a[:], k1)
			name := string(p) + "/" + node
			if prev, ok := seen[a]; ok {
				t.Fatalf("%s and %s derive the same key", prev, name)
			}
			seen[a] = name
		}
	}
}

func TestNodeKeyRefuses(t *testing.T) {
	b := openTestFile(t, newTestFile(t))
	tests := []struct {
		name    string
		purpose Purpose
		node    string
	}{
		{"unknown purpose", "backup", "node-1"},
		{"empty purpose", "", "node-1"},
		{"empty node", PurposeDisk, ""},
		{"upper case node", PurposeDisk, "Node-1"},
		{"slash in node", PurposeDisk, "node/1"},
		{"leading dot", PurposeDisk, ".node"},
		{"too long", PurposeDisk, strings.Repeat("a", 64)},
		{"NUL", PurposeDisk, "node\x00"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if k, err := NodeKey(context.Background(), b, tt.purpose, tt.node); err == nil {
				t.Errorf("derived %d bytes", len(k))
			}
		})
	}
}

func TestDeriveArguments(t *testing.T) {
	ctx := context.Background()
	b := openTestFile(t, newTestFile(t))
	tests := []struct {
		name  string
		label string
		info  []byte
		n     int
		ok    bool
	}{
		{"plain", "x", nil, 32, true},
		{"one byte", "x", []byte("i"), 1, true},
		{"max length", "x", nil, 255 * 32, true},
		{"too long", "x", nil, 255*32 + 1, false},
		{"zero", "x", nil, 0, false},
		{"negative", "x", nil, -1, false},
		{"empty label", "", nil, 32, false},
		{"label too long", strings.Repeat("l", 256), nil, 32, false},
		{"reserved label", "hoheit/v1/signer/ca", []byte{0}, 32, false},
		{"info too long", "x", make([]byte, maxInfoLen+1), 32, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := b.Derive(ctx, tt.label, tt.info, tt.n)
			if tt.ok != (err == nil) {
				t.Fatalf("err = %v, want ok=%t", err, tt.ok)
			}
			if tt.ok && len(out) != tt.n {
				t.Errorf("got %d bytes, want %d", len(out), tt.n)
			}
		})
	}
	// Label and info are not confused: ("ab", "c") differs from ("a", "bc").
	x, _ := b.Derive(ctx, "ab", []byte("c"), 32)
	y, _ := b.Derive(ctx, "a", []byte("bc"), 32)
	if bytes.Equal(x, y) {
		t.Error("label/info boundary is ambiguous")
	}
	// A shorter output is a prefix of a longer one (HKDF), not a different key.
	short, _ := b.Derive(ctx, "x", nil, 16)
	long, _ := b.Derive(ctx, "x", nil, 64)
	if !bytes.Equal(short, long[:16]) {
		t.Error("HKDF prefix property broken")
	}
	canceled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := b.Derive(canceled, "x", nil, 32); err == nil {
		t.Error("derive with a canceled context succeeded")
	}
}

func TestFileSigner(t *testing.T) {
	ctx := context.Background()
	path := newTestFile(t)
	b1 := openTestFile(t, path)
	ca1, err := b1.Signer(ctx, "ca")
	if err != nil {
		t.Fatal(err)
	}
	audit1, err := b1.Signer(ctx, "audit")
	if err != nil {
		t.Fatal(err)
	}
	if ca1.Public().(*ecdsa.PublicKey).Equal(audit1.Public()) {
		t.Error("ca and audit signers are the same key")
	}
	b2 := openTestFile(t, path)
	ca2, err := b2.Signer(ctx, "ca")
	if err != nil {
		t.Fatal(err)
	}
	if !ca1.Public().(*ecdsa.PublicKey).Equal(ca2.Public()) {
		t.Error("signer differs across reopen")
	}
	digest := sha256.Sum256([]byte("message"))
	sig, err := ca2.Sign(rand.Reader, digest[:], nil)
	if err != nil {
		t.Fatal(err)
	}
	if !ecdsa.VerifyASN1(ca1.Public().(*ecdsa.PublicKey), digest[:], sig) {
		t.Error("signature does not verify")
	}
	for _, bad := range []string{"", "CA", "ca/x", strings.Repeat("a", 33)} {
		if _, err := b1.Signer(ctx, bad); err == nil {
			t.Errorf("signer name %q accepted", bad)
		}
	}
}

func TestFileClose(t *testing.T) {
	path := newTestFile(t)
	b, err := OpenFile(path, []byte(testPassphrase))
	if err != nil {
		t.Fatal(err)
	}
	fb := b.(*fileBackend)
	master := fb.master
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(master, make([]byte, len(master))) {
		t.Error("Close did not wipe the master key")
	}
	if _, err := b.Derive(context.Background(), "x", nil, 32); !errors.Is(err, ErrClosed) {
		t.Errorf("derive after close: %v", err)
	}
	if _, err := b.Signer(context.Background(), "ca"); !errors.Is(err, ErrClosed) {
		t.Errorf("signer after close: %v", err)
	}
}
