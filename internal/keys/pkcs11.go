//go:build cgo

package keys

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"regexp"
	"sync"

	"github.com/ThalesGroup/crypto11"
	"github.com/miekg/pkcs11"
)

// The pkcs11 backend keeps the master key in the token as a CKK_GENERIC_SECRET
// object (32 bytes, CKA_SENSITIVE, not CKA_EXTRACTABLE, CKA_SIGN only) and
// computes every HMAC of the derivation (derive.go) with C_Sign
// (CKM_SHA256_HMAC) inside the token. The signing keys are ECDSA P-256 key
// pairs generated in the token, equally non-extractable.

var keyLabelPattern = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

type pkcs11Backend struct {
	ctx      *crypto11.Context
	master   *crypto11.SecretKey
	keyLabel string

	mu      sync.Mutex
	closed  bool
	signers map[string]crypto.Signer
}

var _ Backend = (*pkcs11Backend)(nil)

// OpenPKCS11 opens the token cfg names and its master key, creating the
// master key (a 32-byte generic secret, sensitive, never extractable) on
// first use. An existing master key must have the same properties, or
// OpenPKCS11 refuses it.
func OpenPKCS11(ctx context.Context, cfg PKCS11Config) (Backend, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if cfg.Module == "" || cfg.TokenLabel == "" {
		return nil, errors.New("keys: pkcs11 needs the module path and the token label")
	}
	label := cfg.keyLabel()
	if !keyLabelPattern.MatchString(label) {
		return nil, fmt.Errorf("keys: invalid PKCS#11 key label %q: want 1-64 characters of A-Z, a-z, 0-9, '.', '_', '-'", truncate(label))
	}
	c11, err := crypto11.Configure(&crypto11.Config{
		Path:        cfg.Module,
		TokenLabel:  cfg.TokenLabel,
		Pin:         cfg.PIN,
		MaxSessions: 64,
	})
	if err != nil {
		// crypto11's errors name the PKCS#11 return code, never the PIN.
		return nil, fmt.Errorf("keys: opening PKCS#11 token %q with module %s: %w", cfg.TokenLabel, cfg.Module, err)
	}
	b := &pkcs11Backend{ctx: c11, keyLabel: label, signers: map[string]crypto.Signer{}}
	master, err := b.openMaster()
	if err != nil {
		c11.Close()
		return nil, err
	}
	b.master = master
	return b, nil
}

// objectID is the CKA_ID of the object labelled label: crypto11 needs one
// to pair private and public keys.
func objectID(label string) []byte {
	h := sha256.Sum256([]byte("hoheit pkcs11 id\x00" + label))
	return h[:16]
}

func (b *pkcs11Backend) openMaster() (*crypto11.SecretKey, error) {
	found, err := b.ctx.FindKeys(nil, []byte(b.keyLabel))
	if err != nil {
		return nil, fmt.Errorf("keys: looking up master key %q: %w", b.keyLabel, err)
	}
	var key *crypto11.SecretKey
	switch len(found) {
	case 0:
		key, err = b.createMaster()
		if err != nil {
			return nil, err
		}
	case 1:
		key = found[0]
	default:
		return nil, fmt.Errorf("keys: the token holds %d secret keys labelled %q; refusing to guess which is the master key", len(found), b.keyLabel)
	}
	if err := b.checkMaster(key); err != nil {
		return nil, err
	}
	return key, nil
}

func (b *pkcs11Backend) createMaster() (*crypto11.SecretKey, error) {
	tmpl, err := crypto11.NewAttributeSetWithIDAndLabel(objectID(b.keyLabel), []byte(b.keyLabel))
	if err != nil {
		return nil, fmt.Errorf("keys: master key template: %w", err)
	}
	for _, a := range []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_TOKEN, true),
		pkcs11.NewAttribute(pkcs11.CKA_PRIVATE, true),
		pkcs11.NewAttribute(pkcs11.CKA_SENSITIVE, true),
		pkcs11.NewAttribute(pkcs11.CKA_EXTRACTABLE, false),
		pkcs11.NewAttribute(pkcs11.CKA_SIGN, true),
		pkcs11.NewAttribute(pkcs11.CKA_VERIFY, false),
		pkcs11.NewAttribute(pkcs11.CKA_ENCRYPT, false),
		pkcs11.NewAttribute(pkcs11.CKA_DECRYPT, false),
		pkcs11.NewAttribute(pkcs11.CKA_WRAP, false),
		pkcs11.NewAttribute(pkcs11.CKA_UNWRAP, false),
		pkcs11.NewAttribute(pkcs11.CKA_DERIVE, false),
		pkcs11.NewAttribute(pkcs11.CKA_MODIFIABLE, false),
	} {
		tmpl[a.Type] = a
	}
	key, err := b.ctx.GenerateSecretKeyWithAttributes(tmpl, masterKeySize*8, crypto11.CipherGeneric)
	if err != nil {
		return nil, fmt.Errorf("keys: generating master key %q in the token: %w", b.keyLabel, err)
	}
	return key, nil
}

// checkMaster refuses a master key that is not a sensitive, never
// extractable HMAC key of at least 32 bytes: such a key could have left the
// token.
func (b *pkcs11Backend) checkMaster(key *crypto11.SecretKey) error {
	attrs, err := b.ctx.GetAttributes(key, []crypto11.AttributeType{
		crypto11.CkaKeyType, crypto11.CkaValueLen, crypto11.CkaSign,
		crypto11.CkaSensitive, crypto11.CkaAlwaysSensitive,
		crypto11.CkaExtractable, crypto11.CkaNeverExtractable,
	})
	if err != nil {
		return fmt.Errorf("keys: reading master key attributes: %w", err)
	}
	keyType, ok := attrULong(attrs[crypto11.CkaKeyType])
	if !ok || (keyType != pkcs11.CKK_GENERIC_SECRET && keyType != pkcs11.CKK_SHA256_HMAC) {
		return fmt.Errorf("keys: master key %q is not a generic secret or HMAC-SHA256 key", b.keyLabel)
	}
	if n, ok := attrULong(attrs[crypto11.CkaValueLen]); !ok || n < masterKeySize {
		return fmt.Errorf("keys: master key %q is shorter than %d bytes", b.keyLabel, masterKeySize)
	}
	for _, want := range []struct {
		t    crypto11.AttributeType
		v    bool
		name string
	}{
		{crypto11.CkaSign, true, "CKA_SIGN"},
		{crypto11.CkaSensitive, true, "CKA_SENSITIVE"},
		{crypto11.CkaAlwaysSensitive, true, "CKA_ALWAYS_SENSITIVE"},
		{crypto11.CkaExtractable, false, "CKA_EXTRACTABLE"},
		{crypto11.CkaNeverExtractable, true, "CKA_NEVER_EXTRACTABLE"},
	} {
		if v, ok := attrBool(attrs[want.t]); !ok || v != want.v {
			return fmt.Errorf("keys: master key %q must have %s=%t; refusing a key that may have left the token", b.keyLabel, want.name, want.v)
		}
	}
	return nil
}

func attrBool(a *crypto11.Attribute) (bool, bool) {
	if a == nil || len(a.Value) != 1 {
		return false, false
	}
	return a.Value[0] != 0, true
}

// attrULong decodes a CK_ULONG, which the module returns in native byte
// order and size.
func attrULong(a *crypto11.Attribute) (uint64, bool) {
	if a == nil {
		return 0, false
	}
	switch len(a.Value) {
	case 8:
		return binary.NativeEndian.Uint64(a.Value), true
	case 4:
		return uint64(binary.NativeEndian.Uint32(a.Value)), true
	}
	return 0, false
}

func (b *pkcs11Backend) Derive(ctx context.Context, label string, info []byte, n int) ([]byte, error) {
	if err := checkDeriveArgs(label, info, n, false); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	b.mu.Lock()
	closed := b.closed
	b.mu.Unlock()
	if closed {
		return nil, ErrClosed
	}
	return hkdfExpand(b.tokenHMAC, expandInfo(label, info), n)
}

// tokenHMAC computes HMAC-SHA256 with the master key inside the token.
func (b *pkcs11Backend) tokenHMAC(msg []byte) (sum []byte, err error) {
	h, err := b.master.NewHMAC(pkcs11.CKM_SHA256_HMAC, 0)
	if err != nil {
		return nil, fmt.Errorf("keys: HMAC in the token: %w", err)
	}
	// crypto11's Sum panics when C_SignFinal fails; it returns the session
	// to the pool first, so recovering is safe.
	defer func() {
		if r := recover(); r != nil {
			sum, err = nil, fmt.Errorf("keys: HMAC in the token: %v", r)
		}
	}()
	if _, werr := h.Write(msg); werr != nil {
		h.Sum(nil) // ends the operation and releases the session
		return nil, fmt.Errorf("keys: HMAC in the token: %w", werr)
	}
	sum = h.Sum(nil)
	if len(sum) != sha256.Size {
		return nil, fmt.Errorf("keys: HMAC in the token returned %d bytes", len(sum))
	}
	return sum, nil
}

// Signer finds the ECDSA P-256 key pair labelled "<KeyLabel>/signer/<name>"
// in the token, generating it (sensitive, not extractable) on first use.
func (b *pkcs11Backend) Signer(ctx context.Context, name string) (crypto.Signer, error) {
	if err := checkSignerName(name); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	// One lock for find-or-create, so two callers in this process cannot
	// create two keys of one name.
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil, ErrClosed
	}
	if s, ok := b.signers[name]; ok {
		return s, nil
	}
	label := b.keyLabel + "/signer/" + name
	found, err := b.ctx.FindKeyPairs(nil, []byte(label))
	if err != nil {
		return nil, fmt.Errorf("keys: looking up signing key %q: %w", label, err)
	}
	var s crypto11.Signer
	switch len(found) {
	case 0:
		pub, err := crypto11.NewAttributeSetWithIDAndLabel(objectID(label), []byte(label))
		if err != nil {
			return nil, fmt.Errorf("keys: signing key template: %w", err)
		}
		priv := pub.Copy()
		for _, a := range []*pkcs11.Attribute{
			pkcs11.NewAttribute(pkcs11.CKA_PRIVATE, true),
			pkcs11.NewAttribute(pkcs11.CKA_SENSITIVE, true),
			pkcs11.NewAttribute(pkcs11.CKA_EXTRACTABLE, false),
			pkcs11.NewAttribute(pkcs11.CKA_SIGN, true),
			pkcs11.NewAttribute(pkcs11.CKA_DERIVE, false),
		} {
			priv[a.Type] = a
		}
		s, err = b.ctx.GenerateECDSAKeyPairWithAttributes(pub, priv, elliptic.P256())
		if err != nil {
			return nil, fmt.Errorf("keys: generating signing key %q in the token: %w", label, err)
		}
	case 1:
		s = found[0]
	default:
		return nil, fmt.Errorf("keys: the token holds %d key pairs labelled %q; refusing to guess", len(found), label)
	}
	if pk, ok := s.Public().(*ecdsa.PublicKey); !ok || pk.Curve != elliptic.P256() {
		return nil, fmt.Errorf("keys: signing key %q is not an ECDSA P-256 key", label)
	}
	attrs, err := b.ctx.GetAttributes(s, []crypto11.AttributeType{crypto11.CkaSensitive, crypto11.CkaExtractable})
	if err != nil {
		return nil, fmt.Errorf("keys: reading signing key attributes: %w", err)
	}
	if v, ok := attrBool(attrs[crypto11.CkaSensitive]); !ok || !v {
		return nil, fmt.Errorf("keys: signing key %q is not sensitive; refusing it", label)
	}
	if v, ok := attrBool(attrs[crypto11.CkaExtractable]); !ok || v {
		return nil, fmt.Errorf("keys: signing key %q is extractable; refusing it", label)
	}
	b.signers[name] = s
	return s, nil
}

func (b *pkcs11Backend) Close() error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil
	}
	b.closed = true
	b.mu.Unlock()
	return b.ctx.Close()
}
