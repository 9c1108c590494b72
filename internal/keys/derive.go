package keys

import (
	"crypto/hmac"
	"crypto/sha256"
)

// The derivation is HKDF-Expand (RFC 5869, section 2.3) with SHA-256, the
// master key as PRK, and
//
//	info' = len(label) (1 byte) || label || info
//
// The master key is 32 uniformly random bytes, so it is a valid PRK and the
// Extract step is skipped (RFC 5869, section 3.3). That lets an HSM compute
// every HMAC with its own, non-extractable master key: no secret that could
// derive another node's keys ever exists outside the token.

// prf computes HMAC-SHA256 keyed with the master key over msg.
type prf func(msg []byte) ([]byte, error)

// expandInfo returns info' for label and info (label is at most 255 bytes,
// checked by checkDeriveArgs).
func expandInfo(label string, info []byte) []byte {
	out := make([]byte, 0, 1+len(label)+len(info))
	out = append(out, byte(len(label)))
	out = append(out, label...)
	return append(out, info...)
}

// hkdfExpand is RFC 5869 HKDF-Expand with an abstract HMAC: T(0) = "",
// T(i) = HMAC(PRK, T(i-1) || info || i), OKM = the first n bytes of
// T(1) || T(2) || ...
func hkdfExpand(mac prf, info []byte, n int) ([]byte, error) {
	out := make([]byte, 0, n+sha256.Size)
	var prev []byte
	msg := make([]byte, 0, sha256.Size+len(info)+1)
	for i := 1; len(out) < n; i++ {
		msg = append(msg[:0], prev...)
		msg = append(msg, info...)
		msg = append(msg, byte(i))
		t, err := mac(msg)
		if err != nil {
			wipe(out)
			wipe(msg)
			wipe(prev)
			return nil, err
		}
		out = append(out, t...)
		wipe(prev)
		prev = t
	}
	wipe(prev)
	wipe(msg)
	wipe(out[n:])
	return out[:n:n], nil
}

// softwarePRF is the HMAC of a master key held in memory (file backend).
func softwarePRF(key []byte) prf {
	return func(msg []byte) ([]byte, error) {
		m := hmac.New(sha256.New, key)
		m.Write(msg)
		return m.Sum(nil), nil
	}
}
