package keys

import (
	"bytes"
	"crypto/hpke"
	"errors"
	"strings"
	"testing"
)

// fixedHPKEKey returns a deterministic HPKE key for seed corpora and tests.
func fixedHPKEKey(t testing.TB) *HPKEKey {
	t.Helper()
	priv, err := hpke.MLKEM768X25519().DeriveKeyPair([]byte("hoheit test HPKE key seed, 32+ bytes"))
	if err != nil {
		t.Fatal(err)
	}
	return &HPKEKey{priv: priv}
}

func TestSealOpen(t *testing.T) {
	k, err := NewHPKEKey()
	if err != nil {
		t.Fatal(err)
	}
	other, err := NewHPKEKey()
	if err != nil {
		t.Fatal(err)
	}
	if len(k.PublicKey()) != 1216 {
		t.Errorf("public key of %d bytes, want 1216", len(k.PublicKey()))
	}
	secret := []byte("disk key: 32 bytes of something.")
	sealed, err := Seal(k.PublicKey(), "node-1", "req-1", secret)
	if err != nil {
		t.Fatal(err)
	}
	if len(sealed) != len(secret)+sealOverhead {
		t.Errorf("sealed %d bytes, want %d", len(sealed), len(secret)+sealOverhead)
	}
	if bytes.Contains(sealed, secret) {
		t.Fatal("plaintext visible in the sealed blob")
	}
	got, err := k.Open("node-1", "req-1", sealed)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, secret) {
		t.Fatal("round trip changed the secret")
	}
	// Sealing twice gives different blobs (fresh encapsulation).
	again, _ := Seal(k.PublicKey(), "node-1", "req-1", secret)
	if bytes.Equal(again, sealed) {
		t.Error("two seals are identical")
	}

	flip := func(i int) []byte {
		b := bytes.Clone(sealed)
		b[i] ^= 0x80
		return b
	}
	tests := []struct {
		name      string
		key       *HPKEKey
		node, req string
		blob      []byte
	}{
		{"wrong node id", k, "node-2", "req-1", sealed},
		{"wrong request id", k, "node-1", "req-2", sealed},
		{"ids shifted", k, "node-1r", "eq-1", sealed},
		{"other key", other, "node-1", "req-1", sealed},
		{"version altered", k, "node-1", "req-1", flip(0)},
		{"ML-KEM ciphertext altered", k, "node-1", "req-1", flip(1)},
		{"X25519 share altered", k, "node-1", "req-1", flip(sealEncSize)},
		{"ciphertext altered", k, "node-1", "req-1", flip(1 + sealEncSize)},
		{"tag altered", k, "node-1", "req-1", flip(len(sealed) - 1)},
		{"truncated", k, "node-1", "req-1", sealed[:len(sealed)-1]},
		{"too short", k, "node-1", "req-1", sealed[:sealOverhead-1]},
		{"extended", k, "node-1", "req-1", append(bytes.Clone(sealed), 0)},
		{"empty", k, "node-1", "req-1", nil},
		{"empty node id", k, "", "req-1", sealed},
		{"empty request id", k, "node-1", "", sealed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pt, err := tt.key.Open(tt.node, tt.req, tt.blob)
			if err == nil {
				t.Fatalf("opened %d bytes", len(pt))
			}
		})
	}
	if _, err := k.Open("node-2", "req-1", sealed); !errors.Is(err, ErrSealedOpen) {
		t.Errorf("wrong node id: %v, want ErrSealedOpen", err)
	}
}

func TestSealRefuses(t *testing.T) {
	k := fixedHPKEKey(t)
	tests := []struct {
		name      string
		pub       []byte
		node, req string
	}{
		{"empty key", nil, "n", "r"},
		{"short key", k.PublicKey()[:100], "n", "r"},
		{"long key", append(k.PublicKey(), 0), "n", "r"},
		{"empty node id", k.PublicKey(), "", "r"},
		{"empty request id", k.PublicKey(), "n", ""},
		{"huge node id", k.PublicKey(), strings.Repeat("n", maxIDLen+1), "r"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := Seal(tt.pub, tt.node, tt.req, []byte("s")); err == nil {
				t.Error("sealed")
			}
		})
	}
}

func TestSealAADUnambiguous(t *testing.T) {
	a, _ := sealAAD("ab", "c")
	b, _ := sealAAD("a", "bc")
	if bytes.Equal(a, b) {
		t.Error("AAD encoding is ambiguous")
	}
}

func TestSealEmptyPlaintext(t *testing.T) {
	k := fixedHPKEKey(t)
	sealed, err := Seal(k.PublicKey(), "n", "r", nil)
	if err != nil {
		t.Fatal(err)
	}
	pt, err := k.Open("n", "r", sealed)
	if err != nil || len(pt) != 0 {
		t.Fatalf("empty plaintext: %v, %d bytes", err, len(pt))
	}
}
