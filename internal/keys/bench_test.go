package keys

import (
	"context"
	"testing"
)

func BenchmarkSeal(b *testing.B) {
	k := fixedHPKEKey(b)
	pub := k.PublicKey()
	secret := make([]byte, 3*NodeKeySize) // what one join releases
	b.SetBytes(int64(len(secret)))
	for b.Loop() {
		if _, err := Seal(pub, "node-1", "req-1", secret); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkOpen(b *testing.B) {
	k := fixedHPKEKey(b)
	sealed, err := Seal(k.PublicKey(), "node-1", "req-1", make([]byte, 3*NodeKeySize))
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := k.Open("node-1", "req-1", sealed); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkNodeKey(b *testing.B) {
	ctx := context.Background()
	backend := newFileBackend(testMaster())
	defer backend.Close()
	for b.Loop() {
		if _, err := NodeKey(ctx, backend, PurposeDisk, "node-1"); err != nil {
			b.Fatal(err)
		}
	}
}
