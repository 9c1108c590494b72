package refvalues

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"

	"github.com/hoheit/hoheit/internal/attest"
)

// Signature algorithms and key algorithms.
const (
	AlgEd25519   = "ed25519"
	AlgECDSAP256 = "ecdsa-p256"
	// SignatureFormat names the detached signature file format.
	SignatureFormat = "hoheit-refvalues-signature/v1"
	// SignatureSuffix is appended to a file's name to name its signature.
	SignatureSuffix = ".sig"
)

// The problems a signature check reports, at the start of the refusal's
// detail (the reason is attest.ReasonRefValues).
const (
	ProblemUnsigned     = "unsigned"
	ProblemInvalid      = "signature invalid"
	ProblemUntrustedKey = "signed by an untrusted key"
)

// signedLabel separates these signatures from any other use of the key.
const signedLabel = "hoheit refvalues signature v1\x00"

// signatureFile is the detached signature, JSON.
type signatureFile struct {
	Format string `json:"format"`
	// Algorithm is ed25519 or ecdsa-p256.
	Algorithm string `json:"algorithm"`
	// KeyID names the signing key: "sha256:" and the hex SHA-256 of its
	// PKIX DER public key.
	KeyID string `json:"key_id"`
	// SHA256 is the hex SHA-256 of the signed file, for messages and audit;
	// the signature covers it through the signed message.
	SHA256 string `json:"sha256"`
	// Signature is base64: Ed25519 over the message, or ECDSA P-256 (ASN.1
	// DER) over SHA-256 of the message.
	Signature []byte `json:"signature"`
}

// signedMessage is what is signed: the label, then SHA-256 of the file.
func signedMessage(data []byte) []byte {
	d := sha256.Sum256(data)
	return append([]byte(signedLabel), d[:]...)
}

// KeyID returns "sha256:" and the hex SHA-256 of the key's PKIX DER encoding.
func KeyID(pub crypto.PublicKey) (string, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return "", err
	}
	d := sha256.Sum256(der)
	return "sha256:" + hex.EncodeToString(d[:]), nil
}

func keyAlg(pub crypto.PublicKey) (string, error) {
	switch k := pub.(type) {
	case ed25519.PublicKey:
		return AlgEd25519, nil
	case *ecdsa.PublicKey:
		if k.Curve == elliptic.P256() {
			return AlgECDSAP256, nil
		}
		return "", fmt.Errorf("ECDSA key on curve %s: only P-256 is supported", k.Curve.Params().Name)
	default:
		return "", fmt.Errorf("%T keys are not supported: use Ed25519 or ECDSA P-256", pub)
	}
}

// Sign returns the detached signature of data by key, an Ed25519 or ECDSA
// P-256 signer (a key from ParsePrivateKey, or one held in an HSM).
func Sign(data []byte, key crypto.Signer) ([]byte, error) {
	pub := key.Public()
	alg, err := keyAlg(pub)
	if err != nil {
		return nil, err
	}
	id, err := KeyID(pub)
	if err != nil {
		return nil, err
	}
	msg := signedMessage(data)
	var sig []byte
	if alg == AlgEd25519 {
		sig, err = key.Sign(nil, msg, crypto.Hash(0))
	} else {
		d := sha256.Sum256(msg)
		sig, err = key.Sign(rand.Reader, d[:], crypto.SHA256)
	}
	if err != nil {
		return nil, fmt.Errorf("signing: %w", err)
	}
	d := sha256.Sum256(data)
	out, err := json.MarshalIndent(signatureFile{
		Format: SignatureFormat, Algorithm: alg, KeyID: id, SHA256: hex.EncodeToString(d[:]), Signature: sig,
	}, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(out, '\n'), nil
}

// Verify checks sig, a detached signature from Sign, over data against the
// trusted keys. Every failure is an *attest.Refusal with reason
// attest.ReasonRefValues whose detail starts with ProblemUnsigned,
// ProblemInvalid or ProblemUntrustedKey.
func Verify(data, sig []byte, trusted []crypto.PublicKey) error {
	_, err := VerifySigner(data, sig, trusted)
	return err
}

// VerifySigner is Verify that also returns the KeyID of the trusted key
// that signed, for messages and audit entries.
func VerifySigner(data, sig []byte, trusted []crypto.PublicKey) (string, error) {
	if len(bytes.TrimSpace(sig)) == 0 {
		return "", attest.Refuse(attest.ReasonRefValues, "%s: no signature", ProblemUnsigned)
	}
	if len(sig) > 64<<10 {
		return "", attest.Refuse(attest.ReasonRefValues, "%s: signature file too large", ProblemInvalid)
	}
	var sf signatureFile
	dec := json.NewDecoder(bytes.NewReader(sig))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&sf); err != nil {
		return "", attest.Refuse(attest.ReasonRefValues, "%s: malformed signature file: %v", ProblemInvalid, err)
	}
	if sf.Format != SignatureFormat {
		return "", attest.Refuse(attest.ReasonRefValues, "%s: signature format %q, want %q", ProblemInvalid, sf.Format, SignatureFormat)
	}
	var key crypto.PublicKey
	ids := make([]string, 0, len(trusted))
	for _, k := range trusted {
		id, err := KeyID(k)
		if err != nil {
			continue
		}
		ids = append(ids, id)
		if id == sf.KeyID {
			key = k
		}
	}
	if key == nil {
		return "", attest.Refuse(attest.ReasonRefValues, "%s: signed by key %s; trusted: %s", ProblemUntrustedKey, sf.KeyID, strings.Join(ids, ", "))
	}
	alg, err := keyAlg(key)
	if err != nil || alg != sf.Algorithm {
		return "", attest.Refuse(attest.ReasonRefValues, "%s: algorithm %q does not match the key", ProblemInvalid, sf.Algorithm)
	}
	msg := signedMessage(data)
	var ok bool
	switch k := key.(type) {
	case ed25519.PublicKey:
		ok = ed25519.Verify(k, msg, sf.Signature)
	case *ecdsa.PublicKey:
		d := sha256.Sum256(msg)
		ok = ecdsa.VerifyASN1(k, d[:], sf.Signature)
	}
	if !ok {
		d := sha256.Sum256(data)
		if sf.SHA256 != hex.EncodeToString(d[:]) {
			return "", attest.Refuse(attest.ReasonRefValues, "%s: the file changed after it was signed (sign it again after review)", ProblemInvalid)
		}
		return "", attest.Refuse(attest.ReasonRefValues, "%s: the signature does not verify with key %s", ProblemInvalid, sf.KeyID)
	}
	return sf.KeyID, nil
}

// GenerateKey makes an owner key pair, alg ed25519 or ecdsa-p256, and
// returns the private key as PKCS#8 PEM and the public key as PKIX PEM.
func GenerateKey(alg string) (privPEM, pubPEM []byte, err error) {
	var priv crypto.Signer
	switch alg {
	case AlgEd25519:
		_, priv, err = ed25519.GenerateKey(rand.Reader)
	case AlgECDSAP256:
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	default:
		return nil, nil, fmt.Errorf("unknown key algorithm %q: use %s or %s", alg, AlgEd25519, AlgECDSAP256)
	}
	if err != nil {
		return nil, nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, nil, err
	}
	pubDER, err := x509.MarshalPKIXPublicKey(priv.Public())
	if err != nil {
		return nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER}), nil
}

// ParsePrivateKey reads an Ed25519 or ECDSA P-256 private key from PEM
// (PKCS#8 "PRIVATE KEY", or SEC 1 "EC PRIVATE KEY" as openssl writes it).
func ParsePrivateKey(data []byte) (crypto.Signer, error) {
	b, _ := pem.Decode(data)
	if b == nil {
		return nil, errors.New("no PEM block: expected a PRIVATE KEY (PKCS#8)")
	}
	var k any
	var err error
	switch b.Type {
	case "PRIVATE KEY":
		k, err = x509.ParsePKCS8PrivateKey(b.Bytes)
	case "EC PRIVATE KEY":
		k, err = x509.ParseECPrivateKey(b.Bytes)
	default:
		return nil, fmt.Errorf("PEM block %q: expected a PRIVATE KEY (PKCS#8)", b.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("parsing the private key: %w", err)
	}
	s, ok := k.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("%T is not a signing key", k)
	}
	if _, err := keyAlg(s.Public()); err != nil {
		return nil, err
	}
	return s, nil
}

// ParsePublicKeys reads one or more Ed25519 or ECDSA P-256 public keys from
// PEM ("PUBLIC KEY", PKIX). Several keys let an owner rotate keys.
func ParsePublicKeys(data []byte) ([]crypto.PublicKey, error) {
	var out []crypto.PublicKey
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			break
		}
		if b.Type != "PUBLIC KEY" {
			return nil, fmt.Errorf("PEM block %q: expected PUBLIC KEY (a private key does not belong here)", b.Type)
		}
		k, err := x509.ParsePKIXPublicKey(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("parsing a public key: %w", err)
		}
		if _, err := keyAlg(k); err != nil {
			return nil, err
		}
		out = append(out, k)
	}
	if len(out) == 0 {
		return nil, errors.New("no PUBLIC KEY PEM block found")
	}
	return out, nil
}
