package mesh

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"testing"

	"golang.zx2c4.com/wireguard/tun"
)

// pkt builds an IPv4 or IPv6 packet (by the source address) of protocol
// proto with ports and TCP flags.
func pkt(src, dst string, proto byte, sport, dport uint16, flags byte) []byte {
	s, d := netip.MustParseAddr(src), netip.MustParseAddr(dst)
	var b []byte
	if s.Is4() {
		b = make([]byte, 20+20)
		b[0], b[9] = 0x45, proto
		copy(b[12:16], s.AsSlice())
		copy(b[16:20], d.AsSlice())
	} else {
		b = make([]byte, 40+20)
		b[0], b[6] = 0x60, proto
		copy(b[8:24], s.AsSlice())
		copy(b[24:40], d.AsSlice())
	}
	l4 := len(b) - 20
	binary.BigEndian.PutUint16(b[l4:], sport)
	binary.BigEndian.PutUint16(b[l4+2:], dport)
	b[l4+13] = flags
	return b
}

// recordingFilter allows what allow says and records every packet it saw.
type recordingFilter struct {
	allow func(p []byte) bool
	seen  int
}

func (f *recordingFilter) Allow(p []byte, inbound bool) bool {
	f.seen++
	return f.allow(p)
}

// listTUN returns the given packets from Read and records what Write gets.
type listTUN struct {
	tun.Device
	pkts    [][]byte
	written [][]byte
}

func (d *listTUN) Read(bufs [][]byte, sizes []int, offset int) (int, error) {
	for i, p := range d.pkts {
		copy(bufs[i][offset:], p)
		sizes[i] = len(p)
	}
	return len(d.pkts), nil
}

func (d *listTUN) Write(bufs [][]byte, offset int) (int, error) {
	for _, b := range bufs {
		d.written = append(d.written, append([]byte(nil), b[offset:]...))
	}
	return len(bufs), nil
}

// TestFilterBatches: within one batch a packet of the same flow as one the
// filter allowed passes without another filter call; everything else (a
// different port or address, a SYN, FIN or RST, a fragment, another
// protocol) goes to the filter, and what it denies is dropped, in both
// directions.
func TestFilterBatches(t *testing.T) {
	const (
		ack = 0x10
		syn = 0x02
		fin = 0x01
		rst = 0x04
	)
	data4 := pkt("10.0.0.1", "10.0.0.2", 6, 4000, 80, ack)
	data6 := pkt("fd00::1", "fd00::2", 6, 4000, 80, ack)
	frag := pkt("10.0.0.1", "10.0.0.2", 6, 4000, 80, ack)
	frag[6] = 0x20 // more fragments
	tests := []struct {
		name      string
		batch     [][]byte
		deny      func(p []byte) bool // nil: allow all
		wantKept  int
		wantCalls int
	}{
		{"one IPv4 flow: one call", [][]byte{data4, data4, data4}, nil, 3, 1},
		{"one IPv6 flow: one call", [][]byte{data6, data6, data6, data6}, nil, 4, 1},
		{"UDP flow", [][]byte{pkt("10.0.0.1", "10.0.0.2", 17, 53, 53, 0), pkt("10.0.0.1", "10.0.0.2", 17, 53, 53, 0)}, nil, 2, 1},
		// The third packet continues the first, the last the filter allowed.
		{"another port is checked and dropped", [][]byte{data4, pkt("10.0.0.1", "10.0.0.2", 6, 4000, 5432, ack), data4},
			func(p []byte) bool { return binary.BigEndian.Uint16(p[22:]) == 5432 }, 2, 2},
		{"another address is checked and dropped", [][]byte{data6, pkt("fd00::1", "fd00::3", 6, 4000, 80, ack)},
			func(p []byte) bool { return p[39] == 3 }, 1, 2},
		{"SYN, FIN and RST go to the filter", [][]byte{data4, pkt("10.0.0.1", "10.0.0.2", 6, 4000, 80, syn), pkt("10.0.0.1", "10.0.0.2", 6, 4000, 80, fin|ack), pkt("10.0.0.1", "10.0.0.2", 6, 4000, 80, rst)}, nil, 4, 4},
		{"a fragment goes to the filter", [][]byte{data4, frag}, func(p []byte) bool { return p[6]&0x20 != 0 }, 1, 2},
		{"ICMP goes to the filter", [][]byte{pkt("10.0.0.1", "10.0.0.2", 1, 0, 0, 0), pkt("10.0.0.1", "10.0.0.2", 1, 0, 0, 0)}, nil, 2, 2},
		{"after a denied packet its flow is checked again", [][]byte{data4, pkt("10.0.0.9", "10.0.0.2", 6, 1, 80, ack), pkt("10.0.0.9", "10.0.0.2", 6, 1, 80, ack)},
			func(p []byte) bool { return p[15] == 9 }, 1, 3},
		{"IPv4 and IPv6 do not mix", [][]byte{data4, data6}, nil, 2, 2},
		{"truncated packets go to the filter", [][]byte{data6, data6[:30]}, func(p []byte) bool { return len(p) < 40 }, 1, 2},
	}
	for _, tc := range tests {
		for _, dir := range []string{"read", "write"} {
			t.Run(fmt.Sprintf("%s/%s", tc.name, dir), func(t *testing.T) {
				f := &recordingFilter{allow: func(p []byte) bool { return tc.deny == nil || !tc.deny(p) }}
				dev := &listTUN{pkts: tc.batch}
				ft := newFilteredTUN(dev, f)
				const offset = 16
				bufs := make([][]byte, len(tc.batch))
				for i, p := range tc.batch {
					// Reads fill larger buffers; writes get exactly the packet.
					slack := 64
					if dir == "write" {
						slack = 0
					}
					bufs[i] = make([]byte, offset+len(p)+slack)
					copy(bufs[i][offset:], p)
				}
				kept := 0
				if dir == "read" {
					sizes := make([]int, len(bufs))
					n, err := ft.Read(bufs, sizes, offset)
					if err != nil {
						t.Fatal(err)
					}
					kept = n
				} else {
					if _, err := ft.Write(bufs, offset); err != nil {
						t.Fatal(err)
					}
					kept = len(dev.written)
				}
				if kept != tc.wantKept || f.seen != tc.wantCalls {
					t.Fatalf("kept %d packets with %d filter calls, want %d and %d", kept, f.seen, tc.wantKept, tc.wantCalls)
				}
			})
		}
	}
}
