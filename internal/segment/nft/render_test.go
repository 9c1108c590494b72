package nft

import (
	"bytes"
	"encoding/binary"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/hoheit/hoheit/internal/segment"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
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
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the rendered table (run with -update if the change is intended):\n%s", path, got)
	}
}

func shopRuleSets(t testing.TB) map[segment.NodeID]*segment.NodeRuleSet {
	t.Helper()
	pd, err := os.ReadFile("../../../examples/segment/shop.yaml")
	if err != nil {
		t.Fatal(err)
	}
	id, err := os.ReadFile("../../../examples/segment/inventory.yaml")
	if err != nil {
		t.Fatal(err)
	}
	p, err := segment.ParsePolicy(pd)
	if err != nil {
		t.Fatal(err)
	}
	inv, err := segment.ParseInventory(id)
	if err != nil {
		t.Fatal(err)
	}
	sets, err := segment.Compile(p, inv)
	if err != nil {
		t.Fatal(err)
	}
	return sets
}

func pfx(s ...string) []netip.Prefix {
	var out []netip.Prefix
	for _, x := range s {
		if p, err := netip.ParsePrefix(x); err == nil {
			out = append(out, p)
			continue
		}
		a := netip.MustParseAddr(x)
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out
}

// overlapping is a hand-made rule set with what the compiler may produce in
// odd inventories: remote prefixes nested in each other and in single
// addresses, rules overlapping in ports, endpoints in every mode, ICMP.
func overlapping() *segment.NodeRuleSet {
	tcp := func(lo, hi uint16) segment.PortRange { return segment.PortRange{Proto: segment.TCP, Lo: lo, Hi: hi} }
	node := pfx("100.64.0.1", "fd00::1")
	learner := pfx("10.1.0.0/24")
	watcher := pfx("100.64.0.7", "fd00::7")
	return &segment.NodeRuleSet{
		Node: "n1", DefaultMode: segment.Protect,
		Locals: []segment.Local{
			{Name: "node:n1", Addresses: node, Identities: []string{"app"}, Mode: segment.Protect},
			{Name: "learner", Addresses: learner, Identities: []string{"batch"}, Mode: segment.Learn},
			{Name: "watcher", Addresses: watcher, Identities: []string{"ops"}, Mode: segment.Monitor},
		},
		Inbound: []segment.CompiledRule{
			{Rule: "wide", LocalIdentity: "app", RemoteIdentity: "office", Local: node, Remote: pfx("100.64.8.0/22"), Ports: []segment.PortRange{tcp(8000, 8999)}},
			{Rule: "narrow", LocalIdentity: "app", RemoteIdentity: "admin", Local: node, Remote: pfx("100.64.9.9", "100.64.9.0/24"), Ports: []segment.PortRange{tcp(8080, 8080), tcp(22, 22)}},
			{Rule: "ping", LocalIdentity: "app", RemoteIdentity: "mon", Local: node, Remote: pfx("fd00::9", "100.64.9.9"), Ports: []segment.PortRange{{Proto: segment.ICMP}, tcp(9100, 9100)}},
			{Rule: "batch-in", LocalIdentity: "batch", RemoteIdentity: "office", Local: learner, Remote: pfx("100.64.8.0/22"), Ports: []segment.PortRange{{Proto: segment.UDP, Lo: 5000, Hi: 5010}}},
		},
		Outbound: []segment.CompiledRule{
			{Rule: "to-db", LocalIdentity: "app", RemoteIdentity: "db", Local: node, Remote: pfx("fd00::32", "100.64.0.32"), Ports: []segment.PortRange{tcp(5432, 5432)}},
			{Rule: "ops-any", LocalIdentity: "ops", RemoteIdentity: "all", Local: watcher, Remote: pfx("fd00::/64"), Ports: []segment.PortRange{tcp(1, 65535)}},
		},
	}
}

func TestRender(t *testing.T) {
	shop := shopRuleSets(t)
	for _, tc := range []struct {
		name string
		rs   *segment.NodeRuleSet
		opts Options
	}{
		{"deny-all", nil, Options{}},
		{"shop-customer-db", shop["dc-berlin-db"], Options{}},
		{"shop-web", shop["aws-fra-web-1"], Options{Interface: "wg-mesh", LogGroup: 7, Table: "seg"}},
		{"overlapping", overlapping(), Options{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.rs == nil && tc.name != "deny-all" {
				t.Fatal("no rule set")
			}
			r := Render(tc.rs, tc.opts)
			checkDisjoint(t, r)
			golden(t, "render/"+tc.name+".nft", []byte(r.String()))
		})
	}
}

// checkDisjoint fails if two elements of a map overlap: the kernel refuses
// them.
func checkDisjoint(t *testing.T, r *Ruleset) {
	t.Helper()
	for _, s := range r.Sets {
		for i := range s.Elements {
			for j := i + 1; j < len(s.Elements); j++ {
				a, b := s.Elements[i], s.Elements[j]
				overlap := true
				for f := range s.Fields {
					if bytes.Compare(a.Hi[f], b.Lo[f]) < 0 || bytes.Compare(b.Hi[f], a.Lo[f]) < 0 {
						overlap = false
					}
				}
				if overlap {
					t.Errorf("map %s: elements %d and %d overlap", s.Name, i, j)
				}
			}
		}
	}
}

// lookup evaluates the rendered table on the first packet of a connection,
// as the kernel does, and returns the verdict of the chain it ends in.
func lookup(r *Ruleset, dir segment.Direction, local, remote netip.Addr, proto uint8, port uint16) (segment.Verdict, string) {
	v6 := local.Is6()
	find := func(name string, key [][]byte) string {
		for _, s := range r.Sets {
			if s.Name != name {
				continue
			}
			for _, e := range s.Elements {
				in := true
				for f := range key {
					if bytes.Compare(key[f], e.Lo[f]) < 0 || bytes.Compare(key[f], e.Hi[f]) > 0 {
						in = false
					}
				}
				if in {
					return e.Chain
				}
			}
		}
		return ""
	}
	chain := find(setName("allow", dir, v6), [][]byte{local.AsSlice(), remote.AsSlice(), {proto}, port16(port)})
	if chain == "" {
		chain = find(setName("mode", dir, v6), [][]byte{local.AsSlice(), {proto}})
	}
	if chain == "" {
		for _, c := range r.Chains {
			if c.Name == "mesh_"+dirName(dir) {
				last := c.Rules[len(c.Rules)-1]
				chain = last[0].(Verdict).Chain
			}
		}
	}
	for _, c := range r.Chains {
		if c.Name != chain {
			continue
		}
		var prefix string
		for _, rule := range c.Rules {
			for _, st := range rule {
				switch s := st.(type) {
				case Log:
					prefix = s.Prefix
				case Verdict:
					_, v, ok := ParsePrefix(prefix)
					if !ok {
						panic("chain " + chain + " logs no verdict")
					}
					if (s.Kind == "drop") != (v == segment.Drop) {
						panic("chain " + chain + ": log prefix and verdict disagree")
					}
					return v, chain
				}
			}
		}
	}
	panic("no chain " + chain)
}

func port16(p uint16) []byte { return []byte{byte(p >> 8), byte(p)} }

// TestRenderMatchesUserspaceFilter evaluates the rendered table on the
// first packet of many connections and compares the verdict with the
// userspace filter's on the same rule set: both enforcements must decide
// alike.
func TestRenderMatchesUserspaceFilter(t *testing.T) {
	sets := shopRuleSets(t)
	ids := make([]string, 0, len(sets))
	for id := range sets {
		ids = append(ids, string(id))
	}
	slices.Sort(ids)
	cases := map[string]*segment.NodeRuleSet{"overlapping": overlapping()}
	for _, id := range ids {
		cases["shop-"+id] = sets[segment.NodeID(id)]
	}
	for name, rs := range cases {
		t.Run(name, func(t *testing.T) {
			r := Render(rs, Options{})
			var addrs []netip.Addr
			var ports []uint16
			seen := map[netip.Addr]bool{}
			add := func(ps []netip.Prefix) {
				for _, p := range ps {
					rg := prefixRange(p)
					for _, a := range []netip.Addr{rg.lo, rg.hi, rg.lo.Prev(), rg.hi.Next()} {
						if a.IsValid() && !seen[a] {
							seen[a] = true
							addrs = append(addrs, a)
						}
					}
				}
			}
			for _, l := range rs.Locals {
				add(l.Addresses)
			}
			for _, rules := range [][]segment.CompiledRule{rs.Inbound, rs.Outbound} {
				for _, cr := range rules {
					add(cr.Local)
					add(cr.Remote)
					for _, pr := range cr.Ports {
						ports = append(ports, pr.Lo, pr.Hi, pr.Lo-1, pr.Hi+1)
					}
				}
			}
			ports = append(ports, 443)
			n := 0
			for _, dir := range []segment.Direction{segment.Inbound, segment.Outbound} {
				for _, local := range addrs {
					for _, remote := range addrs {
						if local.Is6() != remote.Is6() || local == remote {
							continue
						}
						for _, proto := range []uint8{6, 17, 1} {
							if proto == 1 && local.Is6() {
								proto = 58
							}
							for _, port := range ports {
								if proto == 1 || proto == 58 {
									port = 0
								}
								f := segment.NewFilter(rs, segment.FilterConfig{})
								src, dst := remote, local
								if dir == segment.Outbound {
									src, dst = local, remote
								}
								want := f.CheckPacket(packet(src, dst, proto, port), dir)
								got, chain := lookup(r, dir, local, remote, proto, port)
								if got != want {
									t.Fatalf("%v %v -> %v proto %d port %d: nftables %v (chain %s), userspace %v", dir, src, dst, proto, port, got, chain, want)
								}
								n++
							}
						}
					}
				}
			}
			if n == 0 {
				t.Fatal("no packet checked")
			}
		})
	}
}

// packet builds the first packet of a connection: a TCP SYN, a UDP
// datagram or an ICMP echo request, to port.
func packet(src, dst netip.Addr, proto uint8, port uint16) []byte {
	var l4 []byte
	switch proto {
	case 6:
		l4 = make([]byte, 20)
		binary.BigEndian.PutUint16(l4[0:], 40000)
		binary.BigEndian.PutUint16(l4[2:], port)
		l4[12] = 5 << 4
		l4[13] = 0x02
	case 17:
		l4 = make([]byte, 8)
		binary.BigEndian.PutUint16(l4[0:], 40000)
		binary.BigEndian.PutUint16(l4[2:], port)
		binary.BigEndian.PutUint16(l4[4:], 8)
	default:
		l4 = make([]byte, 8)
		l4[0] = 8
		if proto == 58 {
			l4[0] = 128
		}
		binary.BigEndian.PutUint16(l4[4:], 7)
	}
	if src.Is4() {
		h := make([]byte, 20)
		h[0] = 0x45
		binary.BigEndian.PutUint16(h[2:], uint16(20+len(l4)))
		h[8], h[9] = 64, proto
		copy(h[12:], src.AsSlice())
		copy(h[16:], dst.AsSlice())
		return append(h, l4...)
	}
	h := make([]byte, 40)
	h[0] = 0x60
	binary.BigEndian.PutUint16(h[4:], uint16(len(l4)))
	h[6], h[7] = proto, 64
	copy(h[8:], src.AsSlice())
	copy(h[24:], dst.AsSlice())
	return append(h, l4...)
}

func TestUntruncate(t *testing.T) {
	for _, tc := range []struct {
		name string
		pkt  []byte
	}{
		{"ipv4", packet(netip.MustParseAddr("100.64.0.1"), netip.MustParseAddr("100.64.0.2"), 6, 8080)},
		{"ipv6", packet(netip.MustParseAddr("fd00::1"), netip.MustParseAddr("fd00::2"), 17, 53)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			big := append(bytes.Clone(tc.pkt), make([]byte, 1000)...)
			if tc.pkt[0]>>4 == 4 {
				binary.BigEndian.PutUint16(big[2:], uint16(len(big)))
			} else {
				binary.BigEndian.PutUint16(big[4:], uint16(len(big)-40))
			}
			cut := big[:len(tc.pkt)]
			if _, err := segment.ParsePacket(cut); err == nil {
				t.Fatal("a cut packet parses without Untruncate; the test is wrong")
			}
			fixed := Untruncate(cut)
			pi, err := segment.ParsePacket(fixed)
			if err != nil {
				t.Fatalf("after Untruncate: %v", err)
			}
			if pi.DstPort == 0 {
				t.Errorf("ports lost: %+v", pi)
			}
			if !bytes.Equal(cut[:1], fixed[:1]) || &cut[0] == &fixed[0] {
				t.Error("Untruncate changed the caller's packet instead of a copy")
			}
		})
	}
}

func TestParsePrefix(t *testing.T) {
	for _, tc := range []struct {
		in   string
		dir  segment.Direction
		v    segment.Verdict
		okay bool
	}{
		{"hoheit in allow web-to-pricelist", segment.Inbound, segment.Allow, true},
		{"hoheit out unlisted learn\x00", segment.Outbound, segment.AllowUnlisted, true},
		{"hoheit in drop protect", segment.Inbound, segment.Drop, true},
		{"hoheit sideways drop", 0, 0, false},
		{"other in allow x", 0, 0, false},
		{"hoheit in", 0, 0, false},
		{"", 0, 0, false},
	} {
		d, v, ok := ParsePrefix(tc.in)
		if ok != tc.okay || (ok && (d != tc.dir || v != tc.v)) {
			t.Errorf("ParsePrefix(%q) = %v %v %v", tc.in, d, v, ok)
		}
	}
}

func FuzzUntruncate(f *testing.F) {
	f.Add(packet(netip.MustParseAddr("100.64.0.1"), netip.MustParseAddr("100.64.0.2"), 6, 8080)[:30])
	f.Add(packet(netip.MustParseAddr("fd00::1"), netip.MustParseAddr("fd00::2"), 17, 53))
	f.Fuzz(func(t *testing.T, b []byte) {
		in := bytes.Clone(b)
		out := Untruncate(b)
		if !bytes.Equal(b, in) {
			t.Fatal("Untruncate modified its input")
		}
		segment.ParsePacket(out)
		ParsePrefix(string(b))
	})
}

func ExampleRender() {
	rs := &segment.NodeRuleSet{
		Node: "db-1", DefaultMode: segment.Protect,
		Locals: []segment.Local{{Name: "node:db-1", Addresses: pfx("fd00::32"), Identities: []string{"db"}}},
		Inbound: []segment.CompiledRule{{Rule: "app-to-db", LocalIdentity: "db", RemoteIdentity: "app",
			Local: pfx("fd00::32"), Remote: pfx("fd00::10"), Ports: []segment.PortRange{{Proto: segment.TCP, Lo: 5432, Hi: 5432}}}},
	}
	r := Render(rs, Options{})
	for _, s := range r.Sets {
		if len(s.Fields) != 4 {
			continue // the mode maps
		}
		for _, e := range s.Elements {
			fmt.Println(s.Name, fieldText(FieldIPv6, e.Lo[0], e.Hi[0]), fieldText(FieldIPv6, e.Lo[1], e.Hi[1]),
				fieldText(FieldProto, e.Lo[2], e.Hi[2]), fieldText(FieldPort, e.Lo[3], e.Hi[3]), "->", e.Chain)
		}
	}
	// Output:
	// allow_in6 fd00::32 fd00::10 tcp 5432 -> in.app-to-db
}
