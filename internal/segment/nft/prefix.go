package nft

import (
	"encoding/binary"
	"strings"

	"github.com/hoheit/hoheit/internal/segment"
)

// Logged is what a log prefix of the table says about a logged packet.
type Logged struct {
	// Dir is the direction of the packet's connection.
	Dir segment.Direction
	// Verdict is the table's verdict.
	Verdict segment.Verdict
	// Reply: the packet is a reply, travelling against Dir (a connection
	// of an older rule set checked again on a reply; "hoheit in-reply ...").
	Reply bool
}

// ParsePrefix reads direction and verdict from one of the table's log
// prefixes ("hoheit in allow web-to-pricelist", "hoheit out drop protect",
// "hoheit in-reply unlisted monitor").
func ParsePrefix(p string) (Logged, bool) {
	f := strings.Fields(strings.TrimRight(p, "\x00"))
	if len(f) < 3 || f[0] != prefixTag {
		return Logged{}, false
	}
	var l Logged
	dir, reply := strings.CutSuffix(f[1], replySuffix)
	switch dir {
	case "in":
		l.Dir = segment.Inbound
	case "out":
		l.Dir = segment.Outbound
	default:
		return Logged{}, false
	}
	l.Reply = reply
	switch f[2] {
	case "allow":
		l.Verdict = segment.Allow
	case "unlisted":
		l.Verdict = segment.AllowUnlisted
	case "drop":
		l.Verdict = segment.Drop
	default:
		return Logged{}, false
	}
	return l, true
}

// Reverse returns a reply packet as its connection's packet in the other
// direction (addresses and ports swapped), so that it is named by the
// connection it belongs to.
func Reverse(pi segment.PacketInfo) segment.PacketInfo {
	pi.Src, pi.Dst = pi.Dst, pi.Src
	pi.SrcPort, pi.DstPort = pi.DstPort, pi.SrcPort
	return pi
}

// Untruncate makes a logged packet cut at the snaplen parseable by
// segment.ParsePacket: when the IP header claims more bytes than were
// captured, a copy with the length field set to the captured length is
// returned (only the headers are read). Other packets are returned as they
// are.
func Untruncate(b []byte) []byte {
	if len(b) == 0 {
		return b
	}
	switch b[0] >> 4 {
	case 4:
		if len(b) >= 20 && len(b) <= 0xffff && int(binary.BigEndian.Uint16(b[2:4])) > len(b) {
			c := append([]byte(nil), b...)
			binary.BigEndian.PutUint16(c[2:4], uint16(len(c)))
			return c
		}
	case 6:
		if len(b) >= 40 && len(b)-40 <= 0xffff && 40+int(binary.BigEndian.Uint16(b[4:6])) > len(b) {
			c := append([]byte(nil), b...)
			binary.BigEndian.PutUint16(c[4:6], uint16(len(c)-40))
			return c
		}
	}
	return b
}
