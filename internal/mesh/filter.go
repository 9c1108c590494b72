package mesh

import (
	"sync"

	"golang.zx2c4.com/wireguard/tun"
)

// PacketFilter decides, packet by packet, what may pass between the WireGuard
// device and the local network stack. packet is one whole IP packet (IPv4 or
// IPv6, no link header); inbound is true for packets that arrived from a peer
// and go to the local stack, false for packets the local stack sends into the
// mesh. Allow must not keep or modify packet, and is called concurrently.
// internal/segment provides the implementation.
type PacketFilter interface {
	Allow(packet []byte, inbound bool) bool
}

// filteredTUN runs a PacketFilter on the packets crossing a tun.Device.
// wireguard-go Reads what the local stack sends (outbound) and Writes what
// arrived from peers (inbound); with TUN offloads on, Linux's tun.Device
// splits and coalesces segments itself, so the filter sees single packets.
type filteredTUN struct {
	tun.Device
	filter  PacketFilter
	scratch sync.Pool // *[][]byte for Write; Write runs on one goroutine per peer
}

func newFilteredTUN(d tun.Device, f PacketFilter) tun.Device {
	if f == nil {
		return d
	}
	return &filteredTUN{Device: d, filter: f}
}

// Read returns only the outbound packets the filter allows, compacted to
// the front of bufs (by copying, because the caller ties bufs[i] to its own
// buffer i). A packet that continues the flow of the last packet the
// filter allowed in the same batch (sameFlow) takes its verdict without a
// filter call: a batch is mostly segments of one connection.
func (t *filteredTUN) Read(bufs [][]byte, sizes []int, offset int) (int, error) {
	for {
		n, err := t.Device.Read(bufs, sizes, offset)
		kept := 0
		// prev is the last packet the filter itself allowed, where it
		// now lies (compaction moves packets to the front).
		var prev []byte
		for i := 0; i < n; i++ {
			pkt := bufs[i][offset : offset+sizes[i]]
			checked := false
			if !sameFlow(prev, pkt) {
				if !t.filter.Allow(pkt, false) {
					continue
				}
				checked = true
			}
			if kept != i {
				copy(bufs[kept][offset:], pkt)
				sizes[kept] = sizes[i]
			}
			if checked {
				prev = bufs[kept][offset : offset+sizes[kept]]
			}
			kept++
		}
		if kept > 0 || err != nil || n == 0 {
			return kept, err
		}
	}
}

// Write hands the local stack only the inbound packets the filter allows.
// It reports all of bufs as written: dropped packets are consumed.
func (t *filteredTUN) Write(bufs [][]byte, offset int) (int, error) {
	sp, _ := t.scratch.Get().(*[][]byte)
	if sp == nil {
		sp = new([][]byte)
	}
	keep := (*sp)[:0]
	var prev []byte
	for _, b := range bufs {
		if sameFlow(prev, b[offset:]) {
			keep = append(keep, b)
		} else if t.filter.Allow(b[offset:], true) {
			keep = append(keep, b)
			prev = b[offset:]
		}
	}
	var err error
	if len(keep) > 0 {
		_, err = t.Device.Write(keep, offset)
	}
	clear(keep)
	*sp = keep[:0]
	t.scratch.Put(sp)
	if err != nil {
		return 0, err
	}
	return len(bufs), nil
}

// sameFlow reports whether pkt continues the TCP or UDP flow of prev (a
// packet the filter allowed in the same batch): same addresses, protocol
// and ports, not a fragment, and for TCP no SYN, FIN or RST (those go to
// the filter, which tracks them). Such a packet gets prev's verdict without
// a filter call: a GSO batch is mostly segments of one flow.
func sameFlow(prev, pkt []byte) bool {
	if len(prev) == 0 || len(pkt) == 0 || pkt[0]>>4 != prev[0]>>4 {
		return false
	}
	var l4 int
	var proto byte
	switch pkt[0] >> 4 {
	case 6:
		if len(pkt) < 40 || len(prev) < 40 || prev[6] != pkt[6] {
			return false
		}
		// Only TCP or UDP right after the fixed header: extension
		// headers (fragments among them) go to the filter.
		proto, l4 = pkt[6], 40
		if string(pkt[8:40]) != string(prev[8:40]) {
			return false
		}
	case 4:
		if len(pkt) < 20 || len(prev) < 20 {
			return false
		}
		hdr := int(pkt[0]&15) * 4
		proto = pkt[9]
		// Not a fragment (MF clear, offset 0).
		if hdr < 20 || int(prev[0]&15)*4 != hdr || prev[9] != proto || pkt[6]&0x3f != 0 || pkt[7] != 0 {
			return false
		}
		l4 = hdr
		if string(pkt[12:20]) != string(prev[12:20]) {
			return false
		}
	default:
		return false
	}
	switch proto {
	case 6: // TCP
		if len(pkt) < l4+14 || len(prev) < l4+4 || pkt[l4+13]&0x07 != 0 { // FIN, SYN, RST
			return false
		}
	case 17: // UDP
		if len(pkt) < l4+8 || len(prev) < l4+4 {
			return false
		}
	default:
		return false
	}
	return string(pkt[l4:l4+4]) == string(prev[l4:l4+4])
}
