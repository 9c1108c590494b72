package refvalues

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"strings"
	"testing"

	"github.com/hoheit/hoheit/internal/attest"
)

func newKey(t testing.TB, alg string) (crypto.Signer, crypto.PublicKey) {
	t.Helper()
	privPEM, pubPEM, err := GenerateKey(alg)
	if err != nil {
		t.Fatal(err)
	}
	priv, err := ParsePrivateKey(privPEM)
	if err != nil {
		t.Fatal(err)
	}
	pubs, err := ParsePublicKeys(pubPEM)
	if err != nil || len(pubs) != 1 {
		t.Fatalf("public key: %v", err)
	}
	return priv, pubs[0]
}

// wantProblem checks err is a ReasonRefValues refusal whose detail starts with problem.
func wantProblem(t *testing.T, err error, problem string) {
	t.Helper()
	if err == nil {
		t.Fatalf("accepted, want %q", problem)
	}
	r, ok := err.(*attest.Refusal)
	if !ok || r.Reason != attest.ReasonRefValues || !strings.HasPrefix(r.Detail, problem) {
		t.Fatalf("got %v, want %s: %s...", err, attest.ReasonRefValues, problem)
	}
}

func TestSignVerify(t *testing.T) {
	data := []byte("apiVersion: hoheit/v1\nkind: ReferenceValues\nclass: web\ninsecure: {allowed: true}\n")
	for _, alg := range []string{AlgEd25519, AlgECDSAP256} {
		t.Run(alg, func(t *testing.T) {
			priv, pub := newKey(t, alg)
			_, otherPub := newKey(t, alg)
			otherPriv, _ := newKey(t, AlgEd25519)
			sig, err := Sign(data, priv)
			if err != nil {
				t.Fatal(err)
			}
			var sf signatureFile
			if err := json.Unmarshal(sig, &sf); err != nil || sf.Algorithm != alg || sf.Format != SignatureFormat {
				t.Fatalf("signature file %s: %v", sig, err)
			}
			if err := Verify(data, sig, []crypto.PublicKey{otherPub, pub}); err != nil {
				t.Fatalf("valid signature refused: %v", err)
			}

			tampered := append([]byte{}, data...)
			tampered[len(tampered)-6] ^= 1
			wantProblem(t, Verify(tampered, sig, []crypto.PublicKey{pub}), ProblemInvalid)
			wantProblem(t, Verify(data, sig, []crypto.PublicKey{otherPub}), ProblemUntrustedKey)
			wantProblem(t, Verify(data, nil, []crypto.PublicKey{pub}), ProblemUnsigned)
			wantProblem(t, Verify(data, []byte("\n"), []crypto.PublicKey{pub}), ProblemUnsigned)
			wantProblem(t, Verify(data, []byte("not json"), []crypto.PublicKey{pub}), ProblemInvalid)

			// Re-signed by someone else: a valid signature by an untrusted key.
			resigned, err := Sign(tampered, otherPriv)
			if err != nil {
				t.Fatal(err)
			}
			wantProblem(t, Verify(tampered, resigned, []crypto.PublicKey{pub}), ProblemUntrustedKey)

			// A changed signature byte, the digest field kept honest.
			sf.Signature[0] ^= 1
			bad, _ := json.Marshal(sf)
			wantProblem(t, Verify(data, bad, []crypto.PublicKey{pub}), ProblemInvalid)

			// The key id is claimed for the trusted key but the signature is
			// another key's: still invalid.
			forged, _ := Sign(data, otherPriv)
			var ff signatureFile
			_ = json.Unmarshal(forged, &ff)
			ff.KeyID, ff.Algorithm = sf.KeyID, alg
			bad, _ = json.Marshal(ff)
			wantProblem(t, Verify(data, bad, []crypto.PublicKey{pub}), ProblemInvalid)
		})
	}
}

func TestKeysRefused(t *testing.T) {
	if _, _, err := GenerateKey("rsa"); err == nil {
		t.Error("rsa key generated")
	}
	rk, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Sign([]byte("x"), rk); err == nil {
		t.Error("signed with RSA")
	}
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if _, err := Sign([]byte("x"), p384); err == nil {
		t.Error("signed with P-384")
	}
	der, _ := x509.MarshalPKIXPublicKey(&rk.PublicKey)
	if _, err := ParsePublicKeys(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})); err == nil {
		t.Error("RSA public key accepted")
	}
	privPEM, _, _ := GenerateKey(AlgEd25519)
	if _, err := ParsePublicKeys(privPEM); err == nil {
		t.Error("private key accepted as public key")
	}
	if _, err := ParsePrivateKey([]byte("junk")); err == nil {
		t.Error("junk accepted as private key")
	}
	// openssl's SEC 1 EC keys are accepted.
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	sec1, _ := x509.MarshalECPrivateKey(ec)
	if _, err := ParsePrivateKey(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: sec1})); err != nil {
		t.Errorf("SEC 1 key: %v", err)
	}
}

func TestParsePublicKeysSeveral(t *testing.T) {
	_, a, _ := GenerateKey(AlgEd25519)
	_, b, _ := GenerateKey(AlgECDSAP256)
	keys, err := ParsePublicKeys(append(a, b...))
	if err != nil || len(keys) != 2 {
		t.Fatalf("got %d keys, %v", len(keys), err)
	}
}
