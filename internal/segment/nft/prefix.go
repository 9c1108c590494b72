package nft

import (
	"encoding/binary"
	"strings"

	"github.com/hoheit/hoheit/internal/segment"
)

// ParsePrefix reads direction and verdict from one of the table's log
// prefixes ("hoheit in allow web-to-pricelist", "hoheit out drop protect").
func ParsePrefix(p string) (segment.Direction, segment.Verdict, bool) {
	f := strings.Fields(strings.TrimRight(p, "\x00"))
	if len(f) < 3 || f[0] != prefixTag {
		return 0, 0, false
	}
	var d segment.Direction
	switch f[1] {
	case "in":
		d = segment.Inbound
	case "out":
		d = segment.Outbound
	default:
		return 0, 0, false
	}
	switch f[2] {
	case "allow":
		return d, segment.Allow, true
	case "unlisted":
		return d, segment.AllowUnlisted, true
	case "drop":
		return d, segment.Drop, true
	}
	return 0, 0, false
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
