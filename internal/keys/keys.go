// Package keys holds the data owner's master key and everything derived
// from it: the Backend interface with its two implementations, pkcs11 (an
// HSM: the master secret never leaves the token) and file (a master secret
// sealed with a passphrase, for small setups); the per-node key derivation
// (NodeKey) with fixed, documented labels; and the HPKE sealing
// (ML-KEM-768 + X25519) of every secret the server releases to a node.
// The server imports the backends and Seal; the agent imports HPKEKey.
// docs/keys.md describes the formats and constructions.
package keys

import (
	"context"
	"crypto"
	"errors"
	"fmt"
	"regexp"

	"github.com/hoheit/hoheit/internal/ca"
)

// Backend is the owner's master key.
type Backend interface {
	// Derive returns n bytes derived deterministically from the master key
	// for label and info (HKDF semantics; see docs/keys.md for the exact
	// construction). Labels starting with "hoheit/v1/signer/" are reserved.
	Derive(ctx context.Context, label string, info []byte, n int) ([]byte, error)
	// Signer returns the named long-term ECDSA P-256 signing key ("ca",
	// "audit"), creating it on first use; the same name gives the same key
	// across restarts.
	Signer(ctx context.Context, name string) (crypto.Signer, error)
	// Close releases the backend and wipes what it holds in memory. Signers
	// it returned stop working.
	Close() error
}

// Purpose names what a node key is for; each has its own derivation label.
type Purpose string

// The purposes of node keys.
const (
	// PurposeDisk is the LUKS2 passphrase of the node's data volume.
	PurposeDisk Purpose = "disk"
	// PurposeMesh is the node's mesh secret (WireGuard pre-shared keys).
	PurposeMesh Purpose = "mesh"
	// PurposeWorkload is the root of the node's workload secrets.
	PurposeWorkload Purpose = "workload"
)

// NodeKeyLabelPrefix prefixes the derivation label of a node key; the
// purpose follows: "hoheit/v1/node-key/disk". Changing it changes every
// node's keys.
const NodeKeyLabelPrefix = "hoheit/v1/node-key/"

// NodeKeySize is the length of a node key in bytes.
const NodeKeySize = 32

// signerLabelPrefix is the reserved derivation label space of the file
// backend's signing keys; Derive refuses it.
const signerLabelPrefix = "hoheit/v1/signer/"

// Limits of Derive's arguments.
const (
	maxLabelLen  = 255
	maxInfoLen   = 4096
	maxDeriveLen = 255 * 32 // HKDF-SHA256's limit
)

var signerNamePattern = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,31}$`)

// NodeKey returns the 32-byte key of purpose p for the node nodeID:
// b.Derive(ctx, "hoheit/v1/node-key/<purpose>", []byte(nodeID), 32). The
// same master key, purpose and node id always give the same key, so a node
// that re-joins gets its disk key back. The caller wipes the key after use.
func NodeKey(ctx context.Context, b Backend, p Purpose, nodeID string) ([]byte, error) {
	switch p {
	case PurposeDisk, PurposeMesh, PurposeWorkload:
	default:
		return nil, fmt.Errorf("keys: unknown node key purpose %q", truncate(string(p)))
	}
	if err := ca.ValidateNodeID(nodeID); err != nil {
		return nil, fmt.Errorf("keys: %w", err)
	}
	return b.Derive(ctx, NodeKeyLabelPrefix+string(p), []byte(nodeID), NodeKeySize)
}

// checkDeriveArgs validates Derive's arguments the same way for every
// backend. reserved says whether the signer label space is allowed.
func checkDeriveArgs(label string, info []byte, n int, reservedOK bool) error {
	if label == "" || len(label) > maxLabelLen {
		return fmt.Errorf("keys: derivation label must have 1-%d bytes", maxLabelLen)
	}
	if !reservedOK && len(label) >= len(signerLabelPrefix) && label[:len(signerLabelPrefix)] == signerLabelPrefix {
		return fmt.Errorf("keys: derivation label prefix %q is reserved for signing keys", signerLabelPrefix)
	}
	if len(info) > maxInfoLen {
		return fmt.Errorf("keys: derivation info longer than %d bytes", maxInfoLen)
	}
	if n <= 0 || n > maxDeriveLen {
		return fmt.Errorf("keys: derived length must be 1-%d bytes", maxDeriveLen)
	}
	return nil
}

func checkSignerName(name string) error {
	if !signerNamePattern.MatchString(name) {
		return fmt.Errorf("keys: invalid signing key name %q: want 1-32 characters of a-z, 0-9, '-'", truncate(name))
	}
	return nil
}

// ErrClosed is returned by a backend used after Close.
var ErrClosed = errors.New("keys: master key backend is closed")

// wipe overwrites a secret buffer.
func wipe(b []byte) { clear(b) }

func truncate(s string) string {
	const max = 64
	if len(s) > max {
		return s[:max] + "..."
	}
	return s
}
