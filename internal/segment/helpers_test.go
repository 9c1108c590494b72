package segment

import (
	"encoding/binary"
	"flag"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files")

func golden(t *testing.T, path string, got []byte) {
	t.Helper()
	path = filepath.Join("testdata", path)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create)", err)
	}
	if string(want) != string(got) {
		t.Errorf("%s differs (run with -update to accept):\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

func mustRead(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func shopPolicy(t testing.TB) *Policy {
	t.Helper()
	p, err := ParsePolicy(mustRead(t, "../../examples/segment/shop.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func shopInventory(t testing.TB) Inventory {
	t.Helper()
	inv, err := ParseInventory(mustRead(t, "../../examples/segment/inventory.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return inv
}

// pkt builds a raw IPv4 or IPv6 packet. proto 6 TCP, 17 UDP, 1/58 ICMP
// (sport = ICMP type, dport = echo id).
func pkt(src, dst string, proto uint8, sport, dport uint16, flags uint8) []byte {
	s, d := netip.MustParseAddr(src), netip.MustParseAddr(dst)
	var l4 []byte
	switch proto {
	case protoTCP:
		l4 = make([]byte, 20)
		binary.BigEndian.PutUint16(l4[0:], sport)
		binary.BigEndian.PutUint16(l4[2:], dport)
		l4[12] = 5 << 4
		l4[13] = flags
	case protoUDP:
		l4 = make([]byte, 8)
		binary.BigEndian.PutUint16(l4[0:], sport)
		binary.BigEndian.PutUint16(l4[2:], dport)
		binary.BigEndian.PutUint16(l4[4:], 8)
	default:
		l4 = make([]byte, 8)
		l4[0] = uint8(sport)
		binary.BigEndian.PutUint16(l4[4:], dport)
	}
	if s.Is4() {
		b := make([]byte, 20+len(l4))
		b[0] = 0x45
		binary.BigEndian.PutUint16(b[2:], uint16(len(b)))
		b[8] = 64
		b[9] = proto
		copy(b[12:16], s.AsSlice())
		copy(b[16:20], d.AsSlice())
		copy(b[20:], l4)
		return b
	}
	b := make([]byte, 40+len(l4))
	b[0] = 0x60
	binary.BigEndian.PutUint16(b[4:], uint16(len(l4)))
	b[6] = proto
	b[7] = 64
	copy(b[8:24], s.AsSlice())
	copy(b[24:40], d.AsSlice())
	copy(b[40:], l4)
	return b
}
