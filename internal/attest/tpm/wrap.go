package tpm

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
)

// A wrapped response is
//
//	magic (16 bytes) | version (1 byte)
//	| u32 length | credential blob (TPM2B_ID_OBJECT)
//	| u32 length | encrypted secret (TPM2B_ENCRYPTED_SECRET)
//	| GCM nonce (12 bytes) | AES-256-GCM ciphertext of the payload
//
// The secret carried by the credential is 32 random bytes; the AES key is
// HKDF-SHA256 of it. Everything before the ciphertext is the GCM additional
// data, so no byte of the header can be changed unnoticed. The magic starts
// with a zero byte, which no JSON document (the join response) starts with,
// and WrapResponse refuses to pass a plain payload that starts with it, so a
// plain and a wrapped response can never be mistaken for each other.
var wrapMagic = []byte("\x00hoheit-tpm-cred")

const (
	wrapVersion = 1
	// maxCredentialPart bounds the credential blob and encrypted secret; an
	// RSA-4096 or ECC P-521 EK needs far less.
	maxCredentialPart = 2048
	secretSize        = 32
	hkdfInfo          = "hoheit tpm response key v1"
)

type wrapped struct {
	credBlob  []byte // TPM2B_ID_OBJECT, with its size prefix
	encSecret []byte // TPM2B_ENCRYPTED_SECRET, with its size prefix
	aad       []byte
	nonce     []byte
	sealed    []byte
}

// isWrapped tells whether b is a wrapped response (by its magic only).
func isWrapped(b []byte) bool { return bytes.HasPrefix(b, wrapMagic) }

func responseAEAD(secret []byte) (cipher.AEAD, error) {
	key, err := hkdf.Key(sha256.New, secret, nil, hkdfInfo, 32)
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// sealResponse encrypts payload under secret and encodes the result with the
// credential that carries secret.
func sealResponse(secret, credBlob, encSecret, nonce, payload []byte) ([]byte, error) {
	if len(credBlob) > maxCredentialPart || len(encSecret) > maxCredentialPart {
		return nil, errors.New("credential too large")
	}
	aead, err := responseAEAD(secret)
	if err != nil {
		return nil, err
	}
	if len(nonce) != aead.NonceSize() {
		return nil, errors.New("bad GCM nonce size")
	}
	out := make([]byte, 0, len(wrapMagic)+1+8+len(credBlob)+len(encSecret)+len(nonce)+len(payload)+aead.Overhead())
	out = append(out, wrapMagic...)
	out = append(out, wrapVersion)
	out = binary.BigEndian.AppendUint32(out, uint32(len(credBlob)))
	out = append(out, credBlob...)
	out = binary.BigEndian.AppendUint32(out, uint32(len(encSecret)))
	out = append(out, encSecret...)
	out = append(out, nonce...)
	return aead.Seal(out, nonce, payload, out), nil
}

// parseWrapped decodes a wrapped response without opening it.
func parseWrapped(b []byte) (*wrapped, error) {
	if !isWrapped(b) {
		return nil, errors.New("not a wrapped TPM response")
	}
	r := b[len(wrapMagic):]
	if len(r) < 1 {
		return nil, errors.New("wrapped TPM response is truncated")
	}
	if r[0] != wrapVersion {
		return nil, fmt.Errorf("wrapped TPM response has version %d, this agent understands %d", r[0], wrapVersion)
	}
	r = r[1:]
	part := func(what string) ([]byte, error) {
		if len(r) < 4 {
			return nil, fmt.Errorf("wrapped TPM response is truncated before the %s", what)
		}
		n := binary.BigEndian.Uint32(r)
		r = r[4:]
		if n == 0 || n > maxCredentialPart || int(n) > len(r) {
			return nil, fmt.Errorf("wrapped TPM response has a %s of bad length %d", what, n)
		}
		p := r[:n]
		r = r[n:]
		return p, nil
	}
	w := &wrapped{}
	var err error
	if w.credBlob, err = part("credential blob"); err != nil {
		return nil, err
	}
	if w.encSecret, err = part("encrypted secret"); err != nil {
		return nil, err
	}
	const nonceSize, tagSize = 12, 16
	if len(r) < nonceSize+tagSize {
		return nil, errors.New("wrapped TPM response is truncated before the ciphertext")
	}
	w.nonce = r[:nonceSize]
	w.sealed = r[nonceSize:]
	w.aad = b[:len(b)-len(w.sealed)]
	return w, nil
}

// open decrypts the payload with the secret the TPM released.
func (w *wrapped) open(secret []byte) ([]byte, error) {
	aead, err := responseAEAD(secret)
	if err != nil {
		return nil, err
	}
	p, err := aead.Open(nil, w.nonce, w.sealed, w.aad)
	if err != nil {
		return nil, errors.New("wrapped TPM response does not decrypt with the activated credential")
	}
	return p, nil
}

// tpm2bBody strips the 2-byte size prefix of a TPM2B structure, checking it.
func tpm2bBody(b []byte) ([]byte, error) {
	if len(b) < 2 {
		return nil, errors.New("TPM2B is truncated")
	}
	n := int(binary.BigEndian.Uint16(b))
	if n != len(b)-2 {
		return nil, fmt.Errorf("TPM2B says %d bytes but has %d", n, len(b)-2)
	}
	return b[2:], nil
}
