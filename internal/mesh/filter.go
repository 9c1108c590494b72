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
// buffer i).
func (t *filteredTUN) Read(bufs [][]byte, sizes []int, offset int) (int, error) {
	for {
		n, err := t.Device.Read(bufs, sizes, offset)
		kept := 0
		for i := 0; i < n; i++ {
			pkt := bufs[i][offset : offset+sizes[i]]
			if !t.filter.Allow(pkt, false) {
				continue
			}
			if kept != i {
				copy(bufs[kept][offset:], pkt)
				sizes[kept] = sizes[i]
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
	for _, b := range bufs {
		if t.filter.Allow(b[offset:], true) {
			keep = append(keep, b)
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
