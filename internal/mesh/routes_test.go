package mesh

import (
	"fmt"
	"net/netip"
	"testing"
)

func TestMeshRoutes(t *testing.T) {
	pfx := func(ss ...string) []netip.Prefix {
		var out []netip.Prefix
		for _, s := range ss {
			out = append(out, netip.MustParsePrefix(s))
		}
		return out
	}
	peer := func(endpoint string, allowed ...string) Peer {
		p := Peer{AllowedIPs: pfx(allowed...)}
		if endpoint != "" {
			p.Endpoints = []netip.AddrPort{netip.MustParseAddrPort(endpoint)}
		}
		return p
	}
	for _, tc := range []struct {
		name            string
		addrs           []netip.Prefix
		peers           []Peer
		routes, refused string
		familiesMissing string
	}{
		{
			name:   "mesh addresses need no route",
			addrs:  pfx("fd7a::12/64", "100.96.0.12/16"),
			peers:  []Peer{peer("198.51.100.1:51820", "fd7a::13/128", "100.96.0.13/32")},
			routes: "[]", refused: "[]", familiesMissing: "[]",
		},
		{
			name:  "workload prefixes are routed, masked, sorted, once",
			addrs: pfx("fd7a::12/64", "100.96.0.12/16"),
			peers: []Peer{
				peer("198.51.100.1:51820", "fd7a::13/128", "10.200.1.10/32", "fd00:c8:1::5/64"),
				peer("", "fd7a::14/128", "10.88.0.0/24", "10.88.0.0/24"),
			},
			routes: "[10.88.0.0/24 10.200.1.10/32 fd00:c8:1::/64]", refused: "[]", familiesMissing: "[]",
		},
		{
			name:   "an IPv4 prefix is not covered by an IPv6 on-link prefix",
			addrs:  pfx("fd7a::12/64"),
			peers:  []Peer{peer("198.51.100.1:51820", "fd7a::13/128", "10.200.1.10/32")},
			routes: "[10.200.1.10/32]", refused: "[]", familiesMissing: "[10.200.1.10/32]",
		},
		{
			name:   "a prefix wider than the mesh prefix is routed",
			addrs:  pfx("fd7a::12/64"),
			peers:  []Peer{peer("198.51.100.1:51820", "fd7a::/48")},
			routes: "[fd7a::/48]", refused: "[]", familiesMissing: "[]",
		},
		{
			name:  "prefixes holding an endpoint, and default routes, are refused",
			addrs: pfx("fd7a::12/64", "100.96.0.12/16"),
			peers: []Peer{
				peer("198.51.100.1:51820", "fd7a::13/128", "198.51.100.0/24"),
				peer("[2001:db8::1]:51820", "0.0.0.0/0", "2001:db8::/48", "10.1.0.0/16"),
			},
			routes: "[10.1.0.0/16]", refused: "[0.0.0.0/0 198.51.100.0/24 2001:db8::/48]", familiesMissing: "[]",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			routes, refused := meshRoutes(Config{Addresses: tc.addrs, Peers: tc.peers})
			if got := fmt.Sprint(routes); got != tc.routes {
				t.Errorf("routes %s, want %s", got, tc.routes)
			}
			if got := fmt.Sprint(refused); got != tc.refused {
				t.Errorf("refused %s, want %s", got, tc.refused)
			}
			if got := fmt.Sprint(familiesWithout(routes, tc.addrs)); got != tc.familiesMissing {
				t.Errorf("families without an address %s, want %s", got, tc.familiesMissing)
			}
		})
	}
}
