package mesh

import (
	"crypto/ecdh"
	"crypto/rand"
	"testing"
)

func probeKeys(t testing.TB) (aPub, bPub Key, ka, kb *[32]byte) {
	t.Helper()
	a, _ := ecdh.X25519().GenerateKey(rand.Reader)
	b, _ := ecdh.X25519().GenerateKey(rand.Reader)
	copy(aPub[:], a.PublicKey().Bytes())
	copy(bPub[:], b.PublicKey().Bytes())
	var err error
	if ka, err = pairProbeKey(a, aPub, bPub); err != nil {
		t.Fatal(err)
	}
	if kb, err = pairProbeKey(b, bPub, aPub); err != nil {
		t.Fatal(err)
	}
	return
}

func TestProbeRoundTrip(t *testing.T) {
	aPub, bPub, ka, kb := probeKeys(t)
	if *ka != *kb {
		t.Fatal("the two sides derive different probe keys")
	}
	msg := probeMsg{sender: aPub, nonce: [8]byte{1, 2, 3}}.marshal(ka)
	keyOf := func(k Key) (*[32]byte, bool) { return kb, k == aPub }
	m, err := parseProbe(msg, keyOf)
	if err != nil || m.answer || m.sender != aPub || m.nonce != [8]byte{1, 2, 3} {
		t.Fatal(m, err)
	}
	for i := range msg {
		bad := append([]byte(nil), msg...)
		bad[i] ^= 1
		if _, err := parseProbe(bad, keyOf); err == nil {
			t.Fatalf("flipping byte %d still verifies", i)
		}
	}
	if _, err := parseProbe(msg, func(Key) (*[32]byte, bool) { return nil, false }); err == nil {
		t.Fatal("probe from an unknown peer verified")
	}
	_ = bPub
}

func TestProbeNotWireGuard(t *testing.T) {
	// WireGuard messages start with type 1..4 and three zero bytes.
	for typ := byte(1); typ <= 4; typ++ {
		b := make([]byte, probeSize)
		b[0] = typ
		if isProbe(b) {
			t.Fatalf("WireGuard message type %d taken for a probe", typ)
		}
	}
}

func FuzzParseProbe(f *testing.F) {
	aPub, _, ka, _ := probeKeys(f)
	f.Add(probeMsg{sender: aPub}.marshal(ka))
	f.Add(probeMsg{answer: true, sender: aPub}.marshal(ka))
	f.Add([]byte("hmP?"))
	f.Fuzz(func(t *testing.T, b []byte) {
		keyOf := func(k Key) (*[32]byte, bool) { return ka, true }
		m, err := parseProbe(b, keyOf)
		if err != nil {
			return
		}
		// Whatever verifies must re-encode to the same bytes.
		if got := m.marshal(ka); string(got) != string(b) {
			t.Fatalf("re-encoding differs")
		}
	})
}
