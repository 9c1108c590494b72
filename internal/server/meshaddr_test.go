package server

import (
	"fmt"
	"net/netip"
	"testing"
)

// TestMeshAddresses: addresses are stable per node, unique across nodes
// even in a small IPv4 prefix where hashes collide, and inside the prefixes.
func TestMeshAddresses(t *testing.T) {
	m := newMesh(MeshOptions{IPv4: netip.MustParsePrefix("100.80.0.0/24")})
	seen := map[netip.Addr]string{}
	for i := range 200 {
		id := fmt.Sprintf("node-%d", i)
		got := m.addresses(id)
		if len(got) != 2 {
			t.Fatalf("%s: %v, want an IPv6 and an IPv4 address", id, got)
		}
		for _, p := range got {
			if !m.opts.IPv6.Contains(p.Addr()) && !m.opts.IPv4.Contains(p.Addr()) {
				t.Fatalf("%s: %v outside the mesh prefixes", id, p)
			}
			if other, dup := seen[p.Addr()]; dup {
				t.Fatalf("%s and %s share %v", id, other, p)
			}
			seen[p.Addr()] = id
		}
		if again := m.addresses(id); again[0] != got[0] || again[1] != got[1] {
			t.Fatalf("%s: %v then %v", id, got, again)
		}
	}
}
