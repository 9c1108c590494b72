package segment

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
)

// IP protocol numbers the filter understands.
const (
	protoICMP   = 1
	protoTCP    = 6
	protoUDP    = 17
	protoICMPv6 = 58
)

// TCP flags.
const (
	TCPFin = 0x01
	TCPSyn = 0x02
	TCPRst = 0x04
	TCPAck = 0x10
)

// PacketInfo is what the filter needs from an IP packet's headers.
type PacketInfo struct {
	Src, Dst netip.Addr
	// Proto is the transport protocol number (6 TCP, 17 UDP, 1 ICMP, 58
	// ICMPv6, or anything else).
	Proto uint8
	// SrcPort and DstPort are set for TCP and UDP.
	SrcPort, DstPort uint16
	// TCPFlags holds the TCP flag byte.
	TCPFlags uint8
	// ICMPType and ICMPCode are set for ICMP and ICMPv6; ICMPID is the
	// identifier of echo requests and replies.
	ICMPType, ICMPCode uint8
	ICMPID             uint16
	// Fragment is set for a non-first fragment: it carries no transport
	// header, so ports are unknown.
	Fragment bool
	// Length is the packet's length in bytes.
	Length int
}

// ErrPacket is wrapped by every ParsePacket error.
var ErrPacket = errors.New("malformed packet")

var (
	errShort     = fmt.Errorf("%w: truncated", ErrPacket)
	errVersion   = fmt.Errorf("%w: not IPv4 or IPv6", ErrPacket)
	errHeaderLen = fmt.Errorf("%w: bad length field", ErrPacket)
	errExtChain  = fmt.Errorf("%w: IPv6 extension header chain too long", ErrPacket)
)

// maxExtHeaders bounds the IPv6 extension headers walked.
const maxExtHeaders = 8

// ParsePacket parses the IPv4 or IPv6 header of a raw packet (as read from
// a TUN device, without link layer) and its TCP, UDP or ICMP header. It
// never allocates. Packets it cannot parse must be dropped.
func ParsePacket(b []byte) (PacketInfo, error) {
	var pi PacketInfo
	if len(b) < 1 {
		return pi, errShort
	}
	var l4 []byte
	var proto uint8
	switch b[0] >> 4 {
	case 4:
		if len(b) < 20 {
			return pi, errShort
		}
		ihl := int(b[0]&0x0f) * 4
		total := int(binary.BigEndian.Uint16(b[2:4]))
		if ihl < 20 || total < ihl || len(b) < total {
			return pi, errHeaderLen
		}
		b = b[:total]
		pi.Src = netip.AddrFrom4([4]byte(b[12:16]))
		pi.Dst = netip.AddrFrom4([4]byte(b[16:20]))
		proto = b[9]
		pi.Length = total
		if binary.BigEndian.Uint16(b[6:8])&0x1fff != 0 {
			pi.Proto, pi.Fragment = proto, true
			return pi, nil
		}
		l4 = b[ihl:]
	case 6:
		if len(b) < 40 {
			return pi, errShort
		}
		payload := int(binary.BigEndian.Uint16(b[4:6]))
		if len(b) < 40+payload {
			return pi, errHeaderLen
		}
		b = b[:40+payload]
		pi.Src = netip.AddrFrom16([16]byte(b[8:24]))
		pi.Dst = netip.AddrFrom16([16]byte(b[24:40]))
		pi.Length = len(b)
		proto = b[6]
		rest := b[40:]
	ext:
		for i := 0; ; i++ {
			switch proto {
			case 0, 43, 60: // hop-by-hop, routing, destination options
				if len(rest) < 8 {
					return pi, errShort
				}
				n := (int(rest[1]) + 1) * 8
				if len(rest) < n {
					return pi, errShort
				}
				proto, rest = rest[0], rest[n:]
			case 44: // fragment
				if len(rest) < 8 {
					return pi, errShort
				}
				off := binary.BigEndian.Uint16(rest[2:4]) &^ 7
				proto, rest = rest[0], rest[8:]
				if off != 0 {
					pi.Proto, pi.Fragment = proto, true
					return pi, nil
				}
			default:
				break ext
			}
			if i >= maxExtHeaders {
				return pi, errExtChain
			}
		}
		l4 = rest
	default:
		return pi, errVersion
	}
	pi.Proto = proto
	switch proto {
	case protoTCP:
		if len(l4) < 20 {
			return pi, errShort
		}
		pi.SrcPort = binary.BigEndian.Uint16(l4[0:2])
		pi.DstPort = binary.BigEndian.Uint16(l4[2:4])
		pi.TCPFlags = l4[13]
	case protoUDP:
		if len(l4) < 8 {
			return pi, errShort
		}
		pi.SrcPort = binary.BigEndian.Uint16(l4[0:2])
		pi.DstPort = binary.BigEndian.Uint16(l4[2:4])
	case protoICMP, protoICMPv6:
		if len(l4) < 8 {
			return pi, errShort
		}
		pi.ICMPType, pi.ICMPCode = l4[0], l4[1]
		pi.ICMPID = binary.BigEndian.Uint16(l4[4:6])
	}
	return pi, nil
}

// isEchoRequest / isEchoReply for ICMPv4 (8/0) and ICMPv6 (128/129).
func (pi *PacketInfo) isEchoRequest() bool {
	return (pi.Proto == protoICMP && pi.ICMPType == 8) || (pi.Proto == protoICMPv6 && pi.ICMPType == 128)
}

func (pi *PacketInfo) isEchoReply() bool {
	return (pi.Proto == protoICMP && pi.ICMPType == 0) || (pi.Proto == protoICMPv6 && pi.ICMPType == 129)
}

// ruleProto maps a packet protocol to a rule protocol (ICMPv6 is ICMP).
func ruleProto(p uint8) (Proto, bool) {
	switch p {
	case protoTCP:
		return TCP, true
	case protoUDP:
		return UDP, true
	case protoICMP, protoICMPv6:
		return ICMP, true
	}
	return 0, false
}
