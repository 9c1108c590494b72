package audit

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
	"encoding/pem"
	"errors"
	"fmt"
	"time"
)

// Checkpoint is the server's signature over the chain up to entry Seq: whoever
// holds the audit public key can check that the entries up to Seq are exactly
// those the server wrote.
type Checkpoint struct {
	// Seq is the sequence number of the entry signed.
	Seq uint64
	// Hash is that entry's hash.
	Hash []byte
	// Time is when the checkpoint was signed (UTC).
	Time time.Time
	// KeyID names the signing key: KeyID of its public key.
	KeyID string
	// Signature is over CheckpointMessage (see docs/audit.md).
	Signature []byte
}

// checkpointLabel separates checkpoint signatures from every other signature
// the audit key could make.
const checkpointLabel = "hoheit audit checkpoint v1"

// CheckpointMessage is the byte string a checkpoint signature covers:
//
//	str("hoheit audit checkpoint v1") || u64(seq) || bytes(hash) ||
//	i64(unix seconds) || u32(nanoseconds) || str(key id)
//
// with the same integer and length-prefix encoding as EntryHash. Ed25519
// signs this message; ECDSA P-256 signs its SHA-256 digest (ASN.1 DER
// signature).
func CheckpointMessage(c Checkpoint) []byte {
	var b encoder
	b.str(checkpointLabel)
	b.u64(c.Seq)
	b.bytes(c.Hash)
	b.time(c.Time)
	b.str(c.KeyID)
	return b.buf
}

// SignCheckpoint signs head with the audit key. The signer may be an HSM key
// (crypto.Signer); it must be ECDSA P-256 or Ed25519. It refuses a head whose
// hash does not match its content, so a corrupted entry is never signed.
func SignCheckpoint(head Entry, signer crypto.Signer, now time.Time) (Checkpoint, error) {
	if head.Seq == 0 {
		return Checkpoint{}, errors.New("signing audit checkpoint: no entry to sign (seq 0)")
	}
	if !bytes.Equal(EntryHash(head.Seq, head.Prev, head.Record), head.Hash) {
		return Checkpoint{}, fmt.Errorf("signing audit checkpoint: entry seq %d does not match its hash", head.Seq)
	}
	pub := signer.Public()
	id, err := KeyID(pub)
	if err != nil {
		return Checkpoint{}, fmt.Errorf("signing audit checkpoint: %w", err)
	}
	c := Checkpoint{Seq: head.Seq, Hash: bytes.Clone(head.Hash), Time: now.UTC().Round(0), KeyID: id}
	msg := CheckpointMessage(c)
	switch pub.(type) {
	case ed25519.PublicKey:
		c.Signature, err = signer.Sign(rand.Reader, msg, crypto.Hash(0))
	case *ecdsa.PublicKey:
		d := sha256.Sum256(msg)
		c.Signature, err = signer.Sign(rand.Reader, d[:], crypto.SHA256)
	}
	if err != nil {
		return Checkpoint{}, fmt.Errorf("signing audit checkpoint at seq %d: %w", c.Seq, err)
	}
	// A signer that returns a wrong signature (a misconfigured HSM) must not
	// produce checkpoints that fail only later, at the auditor's.
	if err := verifyCheckpointSignature(c, pub); err != nil {
		return Checkpoint{}, fmt.Errorf("signing audit checkpoint at seq %d: signer produced an invalid signature", c.Seq)
	}
	return c, nil
}

// verifyCheckpointSignature checks c's signature with pub.
func verifyCheckpointSignature(c Checkpoint, pub crypto.PublicKey) error {
	msg := CheckpointMessage(c)
	switch k := pub.(type) {
	case ed25519.PublicKey:
		if len(k) == ed25519.PublicKeySize && ed25519.Verify(k, msg, c.Signature) {
			return nil
		}
	case *ecdsa.PublicKey:
		d := sha256.Sum256(msg)
		if ecdsa.VerifyASN1(k, d[:], c.Signature) {
			return nil
		}
	default:
		return fmt.Errorf("unsupported audit key type %T", pub)
	}
	return errors.New("signature does not verify")
}

// KeyID names an audit public key: the lowercase hex SHA-256 of its PKIX
// (SubjectPublicKeyInfo) DER encoding. Only ECDSA P-256 and Ed25519 keys are
// accepted.
func KeyID(pub crypto.PublicKey) (string, error) {
	if err := checkKeyType(pub); err != nil {
		return "", err
	}
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return "", fmt.Errorf("encoding audit public key: %w", err)
	}
	sum := sha256.Sum256(der)
	return hex.EncodeToString(sum[:]), nil
}

func checkKeyType(pub crypto.PublicKey) error {
	switch k := pub.(type) {
	case ed25519.PublicKey:
		if len(k) != ed25519.PublicKeySize {
			return errors.New("audit key: Ed25519 public key has the wrong length")
		}
		return nil
	case *ecdsa.PublicKey:
		if k.Curve != elliptic.P256() {
			return errors.New("audit key: ECDSA key is not on curve P-256")
		}
		return nil
	default:
		return fmt.Errorf("audit key: type %T is not supported: use ECDSA P-256 or Ed25519", pub)
	}
}

// ParsePublicKey reads an audit public key from PEM ("PUBLIC KEY", PKIX).
// Only ECDSA P-256 and Ed25519 keys are accepted.
func ParsePublicKey(pemBytes []byte) (crypto.PublicKey, error) {
	block, _ := pem.Decode(pemBytes)
	if block == nil {
		return nil, errors.New("audit key: no PEM block found")
	}
	if block.Type != "PUBLIC KEY" {
		return nil, fmt.Errorf("audit key: PEM block is %q, want \"PUBLIC KEY\"", block.Type)
	}
	pub, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("audit key: %w", err)
	}
	if err := checkKeyType(pub); err != nil {
		return nil, err
	}
	return pub, nil
}

// MarshalPublicKey writes an audit public key as PEM ("PUBLIC KEY"), the form
// ParsePublicKey and `hoheit audit verify --key` read.
func MarshalPublicKey(pub crypto.PublicKey) ([]byte, error) {
	if err := checkKeyType(pub); err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("encoding audit public key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), nil
}
