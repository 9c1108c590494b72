package mesh

import (
	"bytes"
	"crypto/ecdh"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"sync/atomic"

	"golang.zx2c4.com/wireguard/conn"
)

// Path probes travel on WireGuard's own UDP socket, so they take exactly the
// path the tunnel takes, but outside the tunnel, so every endpoint of a peer
// can be measured while only one carries traffic. WireGuard's messages start
// with a little-endian type 1..4 and three zero bytes; probes start with an
// ASCII magic, so the two never mix, and a probe that reached plain
// wireguard-go would be dropped as an unknown message.
//
//	0  4  magic: "hmP?" request, "hmP!" answer
//	4  32 sender's WireGuard public key
//	36 8  nonce chosen by the requester, echoed in the answer
//	44 16 HMAC-SHA256(pair key, bytes 0..44) truncated to 16 bytes
//
// The pair key is HKDF-SHA256 of the static X25519 shared secret of the two
// nodes, so only the two peers can make or answer probes for their pair: an
// outsider cannot make a dead path look alive. Answers are the size of
// requests (no amplification) and go only to configured peers.
const (
	probeSize   = 60
	probeMACLen = 16
)

var (
	probeRequest = [4]byte{'h', 'm', 'P', '?'}
	probeAnswer  = [4]byte{'h', 'm', 'P', '!'}
)

type probeMsg struct {
	answer bool
	sender Key
	nonce  [8]byte
}

func isProbe(b []byte) bool {
	return len(b) == probeSize && b[0] == 'h' && b[1] == 'm' && b[2] == 'P' && (b[3] == '?' || b[3] == '!')
}

func (m probeMsg) marshal(pairKey *[32]byte) []byte {
	b := make([]byte, probeSize)
	if m.answer {
		copy(b, probeAnswer[:])
	} else {
		copy(b, probeRequest[:])
	}
	copy(b[4:36], m.sender[:])
	copy(b[36:44], m.nonce[:])
	mac := hmac.New(sha256.New, pairKey[:])
	mac.Write(b[:44])
	copy(b[44:], mac.Sum(nil)[:probeMACLen])
	return b
}

// parseProbe decodes b and checks its MAC with the key keyOf returns for the
// sender. It fails closed on any mismatch.
func parseProbe(b []byte, keyOf func(Key) (*[32]byte, bool)) (probeMsg, error) {
	var m probeMsg
	if !isProbe(b) {
		return m, errors.New("not a probe")
	}
	m.answer = b[3] == '!'
	copy(m.sender[:], b[4:36])
	copy(m.nonce[:], b[36:44])
	k, ok := keyOf(m.sender)
	if !ok {
		return m, errors.New("probe from an unknown peer")
	}
	mac := hmac.New(sha256.New, k[:])
	mac.Write(b[:44])
	if !hmac.Equal(mac.Sum(nil)[:probeMACLen], b[44:]) {
		return m, errors.New("probe MAC mismatch")
	}
	return m, nil
}

// pairProbeKey derives the probe key both nodes of a pair compute.
func pairProbeKey(priv *ecdh.PrivateKey, self, peer Key) (*[32]byte, error) {
	pub, err := ecdh.X25519().NewPublicKey(peer[:])
	if err != nil {
		return nil, err
	}
	shared, err := priv.ECDH(pub)
	if err != nil {
		return nil, err // low-order peer key
	}
	lo, hi := self, peer
	if bytes.Compare(lo[:], hi[:]) > 0 {
		lo, hi = hi, lo
	}
	info := append([]byte("hoheit mesh path probe v1"), lo[:]...)
	info = append(info, hi[:]...)
	k, err := hkdf.Key(sha256.New, shared, nil, string(info), 32)
	if err != nil {
		return nil, err
	}
	var out [32]byte
	copy(out[:], k)
	clear(k)
	clear(shared)
	return &out, nil
}

// probeBind wraps wireguard-go's UDP bind: it takes probe packets out of the
// receive path and hands them to onProbe, and lets the prober send on the
// same socket.
type probeBind struct {
	conn.Bind
	onProbe atomic.Pointer[func(b []byte, from conn.Endpoint)]
}

func (b *probeBind) Open(port uint16) ([]conn.ReceiveFunc, uint16, error) {
	fns, actual, err := b.Bind.Open(port)
	if err != nil {
		return nil, 0, err
	}
	wrapped := make([]conn.ReceiveFunc, len(fns))
	for i, fn := range fns {
		wrapped[i] = b.wrap(fn)
	}
	return wrapped, actual, nil
}

func (b *probeBind) wrap(fn conn.ReceiveFunc) conn.ReceiveFunc {
	return func(packets [][]byte, sizes []int, eps []conn.Endpoint) (int, error) {
		for {
			n, err := fn(packets, sizes, eps)
			if n == 0 || err != nil {
				return n, err
			}
			// Fast path: no probes in this batch.
			found := false
			for i := 0; i < n; i++ {
				if sizes[i] == probeSize && packets[i][0] == 'h' {
					found = true
					break
				}
			}
			if !found {
				return n, nil
			}
			kept := 0
			for i := 0; i < n; i++ {
				p := packets[i][:sizes[i]]
				if isProbe(p) {
					if h := b.onProbe.Load(); h != nil {
						(*h)(p, eps[i])
					}
					continue
				}
				if kept != i {
					copy(packets[kept], p)
					sizes[kept], eps[kept] = sizes[i], eps[i]
				}
				kept++
			}
			if kept > 0 {
				return kept, nil
			}
		}
	}
}
