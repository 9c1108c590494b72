package keys

import (
	"crypto/hpke"
	"encoding/binary"
	"errors"
	"fmt"
)

// The sealing format (version 1) of a secret the server sends to a node:
//
//	sealed = 0x01 || enc (1120 bytes) || ciphertext
//
// HPKE base mode (RFC 9180) with KEM MLKEM768-X25519 (X-Wing, ID 0x647a),
// KDF HKDF-SHA256 (0x0001) and AEAD AES-256-GCM (0x0002); info is
// SealInfo, and the single Seal's associated data is
//
//	aad = len(nodeID) (4 bytes) || nodeID || len(requestID) (4 bytes) || requestID
//
// The sealed blob opens only with the node's HPKE private key, and only for
// the node id and request id it was sealed for.
const (
	// SealInfo is the HPKE info string of every sealed secret.
	SealInfo = "hoheit/v1/seal"
	// sealVersion is the first byte of a sealed blob.
	sealVersion = 1
	// sealEncSize is the length of an MLKEM768-X25519 encapsulated key.
	sealEncSize = 1088 + 32
	// sealOverhead is what Seal adds to the plaintext.
	sealOverhead = 1 + sealEncSize + 16
	// maxIDLen bounds the node and request ids bound into the AAD.
	maxIDLen = 1024
)

// HPKEKey is a node's HPKE private key (ML-KEM-768 + X25519). The agent
// creates one per join, binds its public key into the evidence, and opens
// the secrets the server seals to it. It is held in memory only.
type HPKEKey struct {
	priv hpke.PrivateKey
}

// NewHPKEKey generates a fresh ML-KEM-768 + X25519 key.
func NewHPKEKey() (*HPKEKey, error) {
	priv, err := hpke.MLKEM768X25519().GenerateKey()
	if err != nil {
		return nil, fmt.Errorf("keys: generating HPKE key: %w", err)
	}
	return &HPKEKey{priv: priv}, nil
}

// PublicKey returns the serialized public key (1216 bytes), as bound into
// the evidence (attest.Binding.HPKEPublicKey) and passed to Seal.
func (k *HPKEKey) PublicKey() []byte { return k.priv.PublicKey().Bytes() }

// ErrSealedOpen is returned by Open for every sealed blob that does not
// open: wrong key, wrong node or request id, or altered bytes.
var ErrSealedOpen = errors.New("keys: sealed secret does not open (wrong key, node id or request id, or altered)")

// Seal encrypts plaintext to the node HPKE public key recipientPub, bound to
// nodeID and requestID.
func Seal(recipientPub []byte, nodeID, requestID string, plaintext []byte) ([]byte, error) {
	aad, err := sealAAD(nodeID, requestID)
	if err != nil {
		return nil, err
	}
	pub, err := hpke.MLKEM768X25519().NewPublicKey(recipientPub)
	if err != nil {
		return nil, errors.New("keys: recipient's HPKE public key is not an ML-KEM-768 + X25519 key")
	}
	enc, sender, err := hpke.NewSender(pub, hpke.HKDFSHA256(), hpke.AES256GCM(), []byte(SealInfo))
	if err != nil {
		return nil, fmt.Errorf("keys: HPKE setup: %w", err)
	}
	if len(enc) != sealEncSize {
		return nil, fmt.Errorf("keys: HPKE encapsulated key of %d bytes, want %d", len(enc), sealEncSize)
	}
	ct, err := sender.Seal(aad, plaintext)
	if err != nil {
		return nil, fmt.Errorf("keys: HPKE seal: %w", err)
	}
	out := make([]byte, 0, 1+len(enc)+len(ct))
	out = append(out, sealVersion)
	out = append(out, enc...)
	return append(out, ct...), nil
}

// Open decrypts a blob Seal made for this key, nodeID and requestID. Any
// mismatch or alteration gives an error (ErrSealedOpen once the blob parses).
func (k *HPKEKey) Open(nodeID, requestID string, sealed []byte) ([]byte, error) {
	aad, err := sealAAD(nodeID, requestID)
	if err != nil {
		return nil, err
	}
	if len(sealed) < sealOverhead {
		return nil, fmt.Errorf("keys: sealed secret of %d bytes is too short", len(sealed))
	}
	if sealed[0] != sealVersion {
		return nil, fmt.Errorf("keys: sealed secret has unsupported version %d", sealed[0])
	}
	enc, ct := sealed[1:1+sealEncSize], sealed[1+sealEncSize:]
	r, err := hpke.NewRecipient(enc, k.priv, hpke.HKDFSHA256(), hpke.AES256GCM(), []byte(SealInfo))
	if err != nil {
		return nil, ErrSealedOpen
	}
	pt, err := r.Open(aad, ct)
	if err != nil {
		return nil, ErrSealedOpen
	}
	return pt, nil
}

// sealAAD encodes node id and request id unambiguously.
func sealAAD(nodeID, requestID string) ([]byte, error) {
	if nodeID == "" || requestID == "" {
		return nil, errors.New("keys: sealing needs a node id and a request id")
	}
	if len(nodeID) > maxIDLen || len(requestID) > maxIDLen {
		return nil, fmt.Errorf("keys: node id or request id longer than %d bytes", maxIDLen)
	}
	aad := make([]byte, 0, 8+len(nodeID)+len(requestID))
	aad = binary.BigEndian.AppendUint32(aad, uint32(len(nodeID)))
	aad = append(aad, nodeID...)
	aad = binary.BigEndian.AppendUint32(aad, uint32(len(requestID)))
	return append(aad, requestID...), nil
}
