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
	"strings"
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
		{"shop-web", shop["aws-fra-web-1"], Options{Interface: "wg-mesh", LogGroup: 7, Table: "seg", Generation: 300}},
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

// pconn is what the table sees of a packet: its own tuple and its
// connection's conntrack entry.
type pconn struct {
	src, dst     netip.Addr
	proto        uint8
	dport        uint16
	isNew, reply bool // unconfirmed; travelling in the reply direction
	mark         uint32
	// The connection's original tuple.
	osrc, odst netip.Addr
	odport     uint16
}

// firstPacket is the first packet of a connection (remote to local when
// inbound).
func firstPacket(dir segment.Direction, local, remote netip.Addr, proto uint8, port uint16) *pconn {
	src, dst := remote, local
	if dir == segment.Outbound {
		src, dst = local, remote
	}
	return &pconn{src: src, dst: dst, proto: proto, dport: port, isNew: true, osrc: src, odst: dst, odport: port}
}

// next is the connection's next packet, in its direction or a reply
// (whose destination port is the original source port, 40000 here).
func (c *pconn) next(reply bool) *pconn {
	n := *c
	n.isNew, n.reply = false, reply
	n.src, n.dst, n.dport = c.osrc, c.odst, c.odport
	if reply {
		n.src, n.dst, n.dport = c.odst, c.osrc, 40000
	}
	return &n
}

// result is where a packet's way through the table ended.
type result struct {
	verdict string // accept or drop
	chain   string // the chain that decided
	logged  []string
}

// class is the verdict as segment names it, from the chain that decided.
func (r result) class() segment.Verdict {
	switch {
	case r.verdict == "drop":
		return segment.Drop
	case strings.HasPrefix(r.chain, "learn_"), strings.HasPrefix(r.chain, "monitor_"):
		return segment.AllowUnlisted
	}
	return segment.Allow
}

// eval runs a packet through the rendered table from chain mesh_in or
// mesh_out, as the kernel would, and updates its connection's mark.
func eval(r *Ruleset, dir segment.Direction, c *pconn) result {
	var res result
	if v, ok := evalChain(r, "mesh_"+dirName(dir), c, &res); ok {
		res.verdict = v
		return res
	}
	panic("mesh chain ended without a verdict")
}

func evalChain(r *Ruleset, name string, c *pconn, res *result) (string, bool) {
	var chain *Chain
	for _, ch := range r.Chains {
		if ch.Name == name {
			chain = ch
		}
	}
	if chain == nil {
		panic("no chain " + name)
	}
	v6 := c.src.Is6()
	addr := func(a netip.Addr) []byte { return a.AsSlice() }
rules:
	for _, rule := range chain.Rules {
		for _, st := range rule {
			switch s := st.(type) {
			case CtMarkIs:
				if c.mark&markGen != Mark(s.Gen, false) {
					continue rules
				}
			case CtMarkListed:
				if c.mark&markUnlisted != 0 {
					continue rules
				}
			case CtReply:
				if !c.reply {
					continue rules
				}
			case CtStateIn:
				if s.Bits&(CtEstablished|CtRelated) == 0 || c.isNew {
					continue rules
				}
			case CtUnconfirmed:
				if !c.isNew {
					continue rules
				}
			case DaddrIn:
				if !s.Prefix.Contains(c.dst) {
					continue rules
				}
			case VmapLookup:
				if s.V6 != v6 {
					continue rules
				}
				var key [][]byte
				for _, k := range s.Key {
					switch k {
					case KeySaddr:
						key = append(key, addr(c.src))
					case KeyDaddr:
						key = append(key, addr(c.dst))
					case KeyL4Proto, KeyCtProto:
						key = append(key, []byte{c.proto})
					case KeyDport:
						key = append(key, port16(c.dport))
					case KeyCtDport:
						key = append(key, port16(c.odport))
					}
				}
				to := find(r, s.Set, key)
				if to == "" {
					continue rules
				}
				res.chain = to
				if v, ok := evalChain(r, to, c, res); ok {
					return v, true
				}
			case SetCtMark:
				c.mark = c.mark&^MarkMask | Mark(s.Gen, s.Unlisted)
			case Log:
				res.logged = append(res.logged, s.Prefix)
			case Counter, LimitRate:
			case Verdict:
				if s.Kind == "jump" {
					res.chain = s.Chain
					if v, ok := evalChain(r, s.Chain, c, res); ok {
						return v, true
					}
					continue
				}
				if res.chain == "" {
					res.chain = name
				}
				return s.Kind, true
			default:
				panic(fmt.Sprintf("eval: %T", st))
			}
		}
	}
	return "", false
}

// find looks key up in a map and returns the chain of its element.
func find(r *Ruleset, name string, key [][]byte) string {
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
		return ""
	}
	panic("no map " + name)
}

// lookup evaluates the rendered table on the first packet of a connection
// and returns the verdict and the chain that decided; the chain's log
// prefix must say the same.
func lookup(r *Ruleset, dir segment.Direction, local, remote netip.Addr, proto uint8, port uint16) (segment.Verdict, string) {
	res := eval(r, dir, firstPacket(dir, local, remote, proto, port))
	if len(res.logged) != 1 {
		panic(fmt.Sprintf("first packet logged %d times", len(res.logged)))
	}
	l, ok := ParsePrefix(res.logged[0])
	if !ok || l.Verdict != res.class() || l.Dir != dir || l.Reply {
		panic("chain " + res.chain + ": log prefix " + res.logged[0] + " and verdict disagree")
	}
	return res.class(), res.chain
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
			n := 0
			for _, c := range connections(rs) {
				f := segment.NewFilter(rs, segment.FilterConfig{})
				src, dst := c.remote, c.local
				if c.dir == segment.Outbound {
					src, dst = c.local, c.remote
				}
				want := f.CheckPacket(packet(src, dst, c.proto, c.port), c.dir)
				got, chain := lookup(r, c.dir, c.local, c.remote, c.proto, c.port)
				if got != want {
					t.Fatalf("%v %v -> %v proto %d port %d: nftables %v (chain %s), userspace %v", c.dir, src, dst, c.proto, c.port, got, chain, want)
				}
				n++
			}
			if n == 0 {
				t.Fatal("no packet checked")
			}
		})
	}
}

// changed returns rule sets that follow rs: some rules removed, the
// endpoints' modes rotated, both.
func changed(rs *segment.NodeRuleSet) map[string]*segment.NodeRuleSet {
	fewer := func(rs segment.NodeRuleSet) *segment.NodeRuleSet {
		keep := func(rules []segment.CompiledRule) []segment.CompiledRule {
			var out []segment.CompiledRule
			for i, r := range rules {
				if i%2 == 1 {
					out = append(out, r)
				}
			}
			return out
		}
		rs.Inbound, rs.Outbound = keep(rs.Inbound), keep(rs.Outbound)
		return &rs
	}
	rotate := func(rs segment.NodeRuleSet) *segment.NodeRuleSet {
		rs.Locals = slices.Clone(rs.Locals)
		for i := range rs.Locals {
			rs.Locals[i].Mode = map[segment.Mode]segment.Mode{segment.Protect: segment.Learn, segment.Learn: segment.Monitor, segment.Monitor: segment.Protect}[rs.Locals[i].Mode]
		}
		return &rs
	}
	return map[string]*segment.NodeRuleSet{"fewer": fewer(*rs), "rotated": rotate(*rs), "both": rotate(*fewer(*rs))}
}

// TestRecheckMatchesUserspaceFilter establishes connections under one rule
// set, applies another and compares, packet by packet, what the rendered
// tables and the userspace filter do with the connection's next packet,
// in its own direction and as a reply: the same verdict; logged where the
// userspace filter records the connection anew, with a prefix that names
// the connection to the recorder; and the packet after it takes the fast
// path.
func TestRecheckMatchesUserspaceFilter(t *testing.T) {
	sets := shopRuleSets(t)
	cases := map[string]*segment.NodeRuleSet{"overlapping": overlapping(),
		"shop-dc-berlin-db": sets["dc-berlin-db"], "shop-aws-fra-web-1": sets["aws-fra-web-1"]}
	for name, old := range cases {
		for how, rs := range changed(old) {
			t.Run(name+"/"+how, func(t *testing.T) {
				rOld, rNew := Render(old, Options{Generation: 7}), Render(rs, Options{Generation: 8})
				n, moved := 0, 0
				for _, cc := range connections(old) {
					first := firstPacket(cc.dir, cc.local, cc.remote, cc.proto, cc.port)
					raw := packet(first.src, first.dst, cc.proto, cc.port)
					f := segment.NewFilter(old, segment.FilterConfig{})
					v0 := f.CheckPacket(raw, cc.dir)
					if !v0.Pass() {
						continue
					}
					if res := eval(rOld, cc.dir, first); res.verdict != "accept" {
						t.Fatalf("%+v: the old table drops the first packet, the filter passes it", cc)
					}
					f.SetRules(rs)
					for _, reply := range []bool{false, true} {
						c := first.next(reply)
						pdir := cc.dir
						if reply {
							pdir = 1 - cc.dir
						}
						pkt := nextPacket(c, reply)
						// The recorder is a filter that saw the first packet.
						g := segment.NewFilter(old, segment.FilterConfig{})
						g.CheckPacket(raw, cc.dir)
						g.SetRules(rs)
						// The userspace filter's verdict on the connection: on
						// its next packet in its own direction. (On a reply, a
						// connection that lost its verdict is decided anew as
						// a flow in the reply's direction, to the remote's
						// port; the table judges it by its connection.)
						fu := segment.NewFilter(old, segment.FilterConfig{})
						fu.CheckPacket(raw, cc.dir)
						fu.SetRules(rs)
						want := fu.CheckPacket(nextPacket(first.next(false), false), cc.dir)

						res := eval(rNew, pdir, c)
						what := fmt.Sprintf("%s %v %v -> %v proto %d port %d, reply %v", how, cc.dir, first.src, first.dst, cc.proto, cc.port, reply)
						if got := res.class(); got != want {
							t.Fatalf("%s: nftables %v (chain %s), userspace %v", what, got, res.chain, want)
						}
						renewed := want != v0 && !(v0 == segment.AllowUnlisted && want == segment.Allow)
						if renewed != (len(res.logged) > 0) {
							t.Fatalf("%s: %v -> %v, logged %q", what, v0, want, res.logged)
						}
						for _, p := range res.logged {
							l, ok := ParsePrefix(p)
							if !ok || l.Dir != cc.dir || l.Reply != reply || l.Verdict != want {
								t.Fatalf("%s: log prefix %q", what, p)
							}
							pi, err := segment.ParsePacket(pkt)
							if err != nil {
								t.Fatal(err)
							}
							if l.Reply {
								pi = Reverse(pi)
							}
							if v := g.Check(pi, l.Dir); v != l.Verdict {
								t.Fatalf("%s: the recorder says %v, the log %v", what, v, l.Verdict)
							}
						}
						// Then the other direction: at once, unlogged (or
						// dropped again).
						after := c.next(!reply)
						adir := 1 - pdir
						res2 := eval(rNew, adir, after)
						if want.Pass() && (res2.verdict != "accept" || res2.chain != "mesh_"+dirName(adir) || len(res2.logged) > 0) {
							t.Fatalf("%s: the packet after it went to %s (%s), logged %q", what, res2.chain, res2.verdict, res2.logged)
						}
						if !want.Pass() && res2.verdict != "drop" {
							t.Fatalf("%s: the packet after a dropped one passed", what)
						}
						n++
						if want != v0 {
							moved++
						}
					}
				}
				if n == 0 {
					t.Fatal("no connection checked")
				}
				t.Logf("%d packets, %d of connections whose verdict changed", n, moved)
			})
		}
	}
}

// nextPacket builds c's packet for the userspace filter: a TCP ACK, a UDP
// datagram, an ICMP echo request or (a reply) echo reply.
func nextPacket(c *pconn, reply bool) []byte {
	p := packet(c.src, c.dst, c.proto, c.dport)
	hl := 20
	if c.src.Is6() {
		hl = 40
	}
	l4 := p[hl:]
	switch c.proto {
	case 6, 17:
		sport := uint16(40000)
		if reply {
			sport = c.odport
		}
		binary.BigEndian.PutUint16(l4[0:], sport)
		if c.proto == 6 {
			l4[13] = 0x10
		}
	default:
		if reply {
			l4[0] = map[uint8]byte{1: 0, 58: 129}[c.proto]
		}
	}
	return p
}

// connCase is a connection's first packet, in terms of the rules.
type connCase struct {
	dir           segment.Direction
	local, remote netip.Addr
	proto         uint8
	port          uint16
}

// connections returns connections to and from the addresses and ports of
// rs's endpoints and rules and their neighbours.
func connections(rs *segment.NodeRuleSet) []connCase {
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
	slices.Sort(ports)
	ports = slices.Compact(ports)
	var out []connCase
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
						out = append(out, connCase{dir, local, remote, proto, port})
						if port == 0 {
							break
						}
					}
				}
			}
		}
	}
	return out
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
		want Logged
		okay bool
	}{
		{"hoheit in allow web-to-pricelist", Logged{segment.Inbound, segment.Allow, false}, true},
		{"hoheit out unlisted learn\x00", Logged{segment.Outbound, segment.AllowUnlisted, false}, true},
		{"hoheit in drop protect", Logged{segment.Inbound, segment.Drop, false}, true},
		{"hoheit in-reply drop protect", Logged{segment.Inbound, segment.Drop, true}, true},
		{"hoheit out-reply unlisted monitor", Logged{segment.Outbound, segment.AllowUnlisted, true}, true},
		{"hoheit sideways drop", Logged{}, false},
		{"hoheit in-other drop protect", Logged{}, false},
		{"hoheit in refuse x", Logged{}, false},
		{"other in allow x", Logged{}, false},
		{"hoheit in", Logged{}, false},
		{"", Logged{}, false},
	} {
		l, ok := ParsePrefix(tc.in)
		if ok != tc.okay || (ok && l != tc.want) {
			t.Errorf("ParsePrefix(%q) = %+v %v", tc.in, l, ok)
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
