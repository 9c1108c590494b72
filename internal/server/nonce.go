package server

import (
	"crypto/rand"
	"sync"
	"time"

	"github.com/hoheit/hoheit/internal/attest"
)

// nonces hands out single-use nonces that expire. They live in memory only:
// a restarted server forgets them, and every join in flight must start
// again, which fails closed. A used nonce is remembered until it would have
// expired, so a replay is named as one.
type nonces struct {
	mu   sync.Mutex
	ttl  time.Duration
	now  func() time.Time
	live map[[attest.NonceSize]byte]nonceState
	// sweepAt bounds the work of dropping old entries.
	sweepAt time.Time
}

type nonceState struct {
	expires time.Time
	used    bool
}

func newNonces(ttl time.Duration, now func() time.Time) *nonces {
	return &nonces{ttl: ttl, now: now, live: map[[attest.NonceSize]byte]nonceState{}}
}

// issue returns a fresh nonce and its expiry.
func (n *nonces) issue() ([]byte, time.Time) {
	var k [attest.NonceSize]byte
	rand.Read(k[:]) // never fails (crypto/rand panics rather than return short)
	now := n.now()
	exp := now.Add(n.ttl)
	n.mu.Lock()
	n.sweepLocked(now)
	n.live[k] = nonceState{expires: exp}
	n.mu.Unlock()
	return k[:], exp
}

// consume marks a nonce used; it fails with a refusal when the nonce is
// unknown, used before or expired.
func (n *nonces) consume(b []byte) error {
	if len(b) != attest.NonceSize {
		return attest.Refuse(attest.ReasonNonceUnknown, "nonce must be %d bytes, got %d", attest.NonceSize, len(b))
	}
	var k [attest.NonceSize]byte
	copy(k[:], b)
	now := n.now()
	n.mu.Lock()
	defer n.mu.Unlock()
	st, ok := n.live[k]
	switch {
	case !ok:
		return attest.Refuse(attest.ReasonNonceUnknown, "the server did not issue this nonce, or forgot it in a restart; ask for a new one")
	case st.used:
		return attest.Refuse(attest.ReasonNonceReplayed, "this nonce was used before")
	case !now.Before(st.expires):
		st.used = true
		n.live[k] = st
		return attest.Refuse(attest.ReasonNonceExpired, "the nonce expired %s ago (nonces live %s)", now.Sub(st.expires).Round(time.Millisecond), n.ttl)
	}
	st.used = true
	n.live[k] = st
	return nil
}

func (n *nonces) sweepLocked(now time.Time) {
	if now.Before(n.sweepAt) {
		return
	}
	n.sweepAt = now.Add(n.ttl / 4)
	for k, st := range n.live {
		// Keep used and expired nonces one more TTL so their replay is named.
		if now.Sub(st.expires) > n.ttl {
			delete(n.live, k)
		}
	}
}
