// Package nft enforces a node's segmentation rule set (segment.NodeRuleSet)
// in the kernel with nftables, as an alternative to the userspace
// segment.Filter on the mesh's tun datapath. The agent imports it when run
// with --enforce nftables.
//
// Render turns a rule set into a ruleset model (one table of its own,
// "inet hoheit", bound to the mesh interface). Every table has a
// generation, written into the conntrack mark of each connection it
// accepts: packets of connections marked with the table's generation pass
// at once (one mark compare), invalid packets are dropped, and the first
// packet of a connection is looked up in verdict maps keyed by (local
// address, remote address, protocol, port), so the number of rules does
// not add to the per-packet cost. A match jumps to the rule's chain
// (counted, logged, marked, accepted); no match jumps to the chain of the
// local endpoint's mode (learn and monitor: logged, marked and accepted;
// protect: logged and dropped). A connection accepted by an older table is
// checked again on its next packet in the same maps (a reply by its
// connection's tuple, not its own), so a new rule set cuts what it no
// longer allows. Every logged packet goes to an NFLOG group with a prefix
// naming direction, verdict and rule.
//
// Enforcer (Linux) applies the model atomically in one netlink batch,
// reads the NFLOG group and hands each logged packet to a Recorder (the
// agent's segment.Filter), which names the flow, counts it in its flow
// table and raises alerts exactly as in userspace enforcement.
package nft

import (
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/hoheit/hoheit/internal/segment"
)

// Defaults of Options.
const (
	DefaultTable     = "hoheit"
	DefaultInterface = "hoheit0"
	// DefaultLogGroup is the NFLOG group the table logs to.
	DefaultLogGroup = 26735
	// DefaultDropLogRate bounds the dropped packets logged per second
	// (dropped packets are not tracked, so a flood would be logged packet
	// by packet); the drop itself is never limited.
	DefaultDropLogRate = 1000
	// Snaplen is how much of each logged packet is copied to the agent:
	// enough for IPv6 with extension headers and the transport header.
	Snaplen = 256
)

// Options name the table, the mesh interface and the log group, and give
// the rendered table its generation.
type Options struct {
	Table       string // DefaultTable when empty
	Interface   string // DefaultInterface when empty
	LogGroup    uint16 // DefaultLogGroup when 0
	DropLogRate uint32 // DefaultDropLogRate when 0
	// Generation (1 to MaxGeneration; 0 means 1) is written into the
	// conntrack mark of every connection the table accepts; a packet of a
	// connection marked with another generation is checked again. The
	// Enforcer counts it up on every apply.
	Generation uint16
}

func (o Options) withDefaults() Options {
	if o.Table == "" {
		o.Table = DefaultTable
	}
	if o.Interface == "" {
		o.Interface = DefaultInterface
	}
	if o.LogGroup == 0 {
		o.LogGroup = DefaultLogGroup
	}
	if o.DropLogRate == 0 {
		o.DropLogRate = DefaultDropLogRate
	}
	if o.Generation == 0 || o.Generation > MaxGeneration {
		o.Generation = 1
	}
	return o
}

// The table owns the high 16 bits of the conntrack mark (MarkMask) and
// leaves the low 16 bits to the operator: bits 17 to 31 hold the generation
// of the rule set that last accepted the connection, bit 16 is set when it
// was accepted as unlisted (learn or monitor), so that a connection still
// unlisted under the next rule set is not recorded again.
const (
	// MarkMask is the part of the conntrack mark the table owns.
	MarkMask uint32 = 0xffff0000
	// MaxGeneration is the largest generation; the Enforcer wraps to 1
	// after it (0 is never used: a new connection's mark is 0).
	MaxGeneration = 1<<15 - 1

	markGenShift        = 17
	markGen      uint32 = MaxGeneration << markGenShift
	markUnlisted uint32 = 1 << 16
)

// Mark is the conntrack mark bits (within MarkMask) of a connection
// accepted by generation gen, unlisted or not.
func Mark(gen uint16, unlisted bool) uint32 {
	m := uint32(gen) << markGenShift & markGen
	if unlisted {
		m |= markUnlisted
	}
	return m
}

// Ruleset is the rendered table: sets (verdict maps) and chains, in the
// order they are created.
type Ruleset struct {
	Options Options
	Sets    []*Set
	Chains  []*Chain
}

// FieldType is the type of one field of a set key.
type FieldType uint8

// Field types.
const (
	FieldIPv4 FieldType = iota
	FieldIPv6
	FieldProto
	FieldPort
)

func (f FieldType) size() int {
	switch f {
	case FieldIPv4:
		return 4
	case FieldIPv6:
		return 16
	case FieldProto:
		return 1
	}
	return 2
}

func (f FieldType) name() string {
	return [...]string{"ipv4_addr", "ipv6_addr", "inet_proto", "inet_service"}[f]
}

// Set is a verdict map with interval keys (a concatenation of Fields).
type Set struct {
	Name     string
	Fields   []FieldType
	Elements []Element
}

// Element maps the key range [Lo, Hi] (one big-endian value per field) to
// a jump to Chain.
type Element struct {
	Lo, Hi [][]byte
	Chain  string
}

// Chain is a chain of rules; Hook is "input", "forward" or "output" for
// the base chains, empty otherwise.
type Chain struct {
	Name  string
	Hook  string
	Rules []Rule
}

// Rule is a sequence of statements.
type Rule []Stmt

// Stmt is one statement of a rule: a match, a lookup or an action. The
// concrete types below are the only ones.
type Stmt interface{ text() string }

// Statements.
type (
	// IfaceIs matches the input (or, if Out, output) interface name.
	IfaceIs struct {
		Out  bool
		Name string
	}
	// CtStateIn matches when the connection state is one of Bits
	// (CtEstablished|CtRelated, CtInvalid).
	CtStateIn struct{ Bits uint32 }
	// CtMarkIs matches a connection accepted by generation Gen (its
	// conntrack mark's generation bits).
	CtMarkIs struct{ Gen uint16 }
	// CtMarkListed matches a connection not marked as unlisted: a new
	// one, or one accepted by a rule.
	CtMarkListed struct{}
	// SetCtMark sets the table's bits of the conntrack mark to Mark(Gen,
	// Unlisted), keeping the others.
	SetCtMark struct {
		Gen      uint16
		Unlisted bool
	}
	// CtReply matches a packet travelling in the reply direction of its
	// connection.
	CtReply struct{}
	// CtUnconfirmed matches the first packet of a connection: its
	// conntrack entry is not confirmed yet. Later packets of a connection
	// still in state new (a one-way UDP stream, a retransmitted SYN) do not
	// match, so each connection is logged once.
	CtUnconfirmed struct{}
	// DaddrIn matches a destination address in Prefix (the family is the
	// prefix's).
	DaddrIn struct{ Prefix netip.Prefix }
	// VmapLookup looks up Key (in order) in the verdict map Set; family
	// IPv6 when V6. No element: the rule does not match.
	VmapLookup struct {
		V6  bool
		Key []KeyExpr
		Set string
	}
	// Counter counts packets and bytes.
	Counter struct{}
	// LimitRate lets Rate packets a second pass (burst Rate).
	LimitRate struct{ Rate uint32 }
	// Log sends the packet to the NFLOG group with Prefix.
	Log struct {
		Prefix  string
		Group   uint16
		Snaplen uint32
	}
	// Verdict ends the rule: "accept", "drop" or "jump" to Chain.
	Verdict struct {
		Kind  string
		Chain string
	}
)

// KeyExpr is one field of a lookup key.
type KeyExpr uint8

// Key fields.
const (
	KeySaddr KeyExpr = iota
	KeyDaddr
	KeyL4Proto
	KeyDport
	// The connection's protocol and its original destination port (as its
	// first packet had it), from conntrack.
	KeyCtProto
	KeyCtDport
)

// Conntrack state bits (as the kernel's ct state).
const (
	CtInvalid     uint32 = 1
	CtEstablished uint32 = 2
	CtRelated     uint32 = 4
)

// Log prefixes are "hoheit DIR VERDICT [RULE or MODE]": DIR is in or out,
// VERDICT allow, unlisted or drop.
const prefixTag = "hoheit"

// maxPrefix is the kernel's limit on a log prefix (NF_LOG_PREFIXLEN - 1).
const maxPrefix = 127

// Render turns a rule set (nil: nothing is allowed, the default mode is
// protect) into the table that enforces it.
func Render(rs *segment.NodeRuleSet, opts Options) *Ruleset {
	opts = opts.withDefaults()
	if rs == nil {
		rs = &segment.NodeRuleSet{}
	}
	r := &Ruleset{Options: opts}
	logTo := func(prefix string) Log {
		if len(prefix) > maxPrefix {
			prefix = prefix[:maxPrefix]
		}
		return Log{Prefix: prefix, Group: opts.LogGroup, Snaplen: Snaplen}
	}

	gen := opts.Generation
	var ruleChains []*Chain
	for d, rules := range [][]segment.CompiledRule{rs.Inbound, rs.Outbound} {
		dir := segment.Direction(d)
		dn := dirName(dir)
		// One chain per rule name and direction: counted and logged there.
		names := map[string]string{}
		chainOf := func(i int) string {
			name := rules[i].Rule
			if name == "" {
				name = "rule" + strconv.Itoa(i)
			}
			if c, ok := names[name]; ok {
				return c
			}
			c := dn + "." + name
			names[name] = c
			ruleChains = append(ruleChains, &Chain{Name: c, Rules: []Rule{
				{CtUnconfirmed{}, logTo(prefixTag + " " + dn + " allow " + name)},
				{SetCtMark{Gen: gen}, Counter{}, Verdict{Kind: "accept"}},
			}})
			return c
		}
		owners := make([]string, len(rules))
		for i := range rules {
			owners[i] = chainOf(i)
		}
		for _, v6 := range []bool{false, true} {
			mode := modeMap(dir, v6, rs)
			r.Sets = append(r.Sets, allowMap(dir, v6, rules, owners), mode, replyMap(mode))
		}
	}

	// Base chains: only the mesh interface's traffic enters our chains.
	r.Chains = append(r.Chains,
		&Chain{Name: "input", Hook: "input", Rules: []Rule{
			{IfaceIs{Name: opts.Interface}, Verdict{Kind: "jump", Chain: "mesh_in"}},
		}},
		&Chain{Name: "forward", Hook: "forward", Rules: []Rule{
			{IfaceIs{Name: opts.Interface}, Verdict{Kind: "jump", Chain: "mesh_in"}},
			{IfaceIs{Out: true, Name: opts.Interface}, Verdict{Kind: "jump", Chain: "mesh_out"}},
		}},
		&Chain{Name: "output", Hook: "output", Rules: []Rule{
			{IfaceIs{Out: true, Name: opts.Interface}, Verdict{Kind: "jump", Chain: "mesh_out"}},
		}},
	)
	for d := range 2 {
		dir := segment.Direction(d)
		dn := dirName(dir)
		// A packet of a connection this rule set accepted passes at once:
		// one mark compare. Connections of an older rule set go on: their
		// packets in the connection's own direction are checked like a
		// first packet (the packet's tuple is the connection's), replies
		// by the connection's original tuple in the reply chain.
		c := &Chain{Name: "mesh_" + dn, Rules: []Rule{{CtMarkIs{Gen: gen}, Verdict{Kind: "accept"}}}}
		if dir == segment.Outbound {
			// Link-local and multicast (router solicitations, MLD) have
			// no peer to go to: dropped quietly, as the userspace hook does.
			for _, p := range []string{"fe80::/10", "ff00::/8", "169.254.0.0/16", "224.0.0.0/4"} {
				c.Rules = append(c.Rules, Rule{DaddrIn{netip.MustParsePrefix(p)}, Verdict{Kind: "drop"}})
			}
		}
		c.Rules = append(c.Rules,
			Rule{CtStateIn{CtInvalid}, Verdict{Kind: "drop"}},
			// Replies travel against the connection: in mesh_in they
			// belong to outbound connections and the other way round.
			Rule{CtReply{}, Verdict{Kind: "jump", Chain: replyChain(1 - dir)}},
		)
		local, remote := KeyDaddr, KeySaddr
		if dir == segment.Outbound {
			local, remote = KeySaddr, KeyDaddr
		}
		for _, v6 := range []bool{false, true} {
			c.Rules = append(c.Rules, Rule{VmapLookup{V6: v6, Key: []KeyExpr{local, remote, KeyL4Proto, KeyDport}, Set: setName("allow", dir, v6)}})
		}
		for _, v6 := range []bool{false, true} {
			c.Rules = append(c.Rules, Rule{VmapLookup{V6: v6, Key: []KeyExpr{local, KeyL4Proto}, Set: setName("mode", dir, v6)}})
		}
		c.Rules = append(c.Rules, Rule{Verdict{Kind: "jump", Chain: modeChain(rs.DefaultMode, dir)}})
		r.Chains = append(r.Chains, c)
	}
	for d := range 2 {
		// The reply chain of a direction checks a reply of one of its
		// connections again, by the connection's tuple: the reply's
		// addresses swapped, the original protocol and destination port
		// from conntrack, looked up in the maps of the connection's
		// direction, not the reply's. (The original addresses would be
		// "ct original ip saddr", but github.com/google/nftables cannot
		// encode its direction, and nft(8) cannot list the older form.)
		dir := segment.Direction(d)
		local, remote := KeySaddr, KeyDaddr // an inbound connection's reply goes out
		if dir == segment.Outbound {
			local, remote = KeyDaddr, KeySaddr
		}
		c := &Chain{Name: replyChain(dir)}
		for _, v6 := range []bool{false, true} {
			c.Rules = append(c.Rules, Rule{VmapLookup{V6: v6, Key: []KeyExpr{local, remote, KeyCtProto, KeyCtDport}, Set: setName("allow", dir, v6)}})
		}
		for _, v6 := range []bool{false, true} {
			c.Rules = append(c.Rules, Rule{VmapLookup{V6: v6, Key: []KeyExpr{local, KeyCtProto}, Set: setName("mode", dir, v6) + replySuffix}})
		}
		c.Rules = append(c.Rules, Rule{Verdict{Kind: "jump", Chain: modeChain(rs.DefaultMode, dir) + replySuffix}})
		r.Chains = append(r.Chains, c)
	}
	for d := range 2 {
		dir := segment.Direction(d)
		for _, reply := range []bool{false, true} {
			dn, suffix := dirName(dir), ""
			if reply {
				dn, suffix = dn+replySuffix, replySuffix
			}
			for _, m := range []segment.Mode{segment.Learn, segment.Monitor} {
				// Logged once per connection: when it is new, or was
				// accepted by a rule before; not again while it stays
				// unlisted under later rule sets.
				r.Chains = append(r.Chains, &Chain{Name: modeChain(m, dir) + suffix, Rules: []Rule{
					{CtMarkListed{}, logTo(prefixTag + " " + dn + " unlisted " + m.String())},
					{SetCtMark{Gen: gen, Unlisted: true}, Counter{}, Verdict{Kind: "accept"}},
				}})
			}
			// Dropped packets are never confirmed: each would be logged, so
			// the log (not the drop) is rate limited.
			r.Chains = append(r.Chains, &Chain{Name: modeChain(segment.Protect, dir) + suffix, Rules: []Rule{
				{LimitRate{opts.DropLogRate}, logTo(prefixTag + " " + dn + " drop protect")},
				{Counter{}, Verdict{Kind: "drop"}},
			}})
		}
	}
	r.Chains = append(r.Chains, ruleChains...)
	return r
}

// replySuffix names the mode maps and chains of replies checked again (a
// log prefix "hoheit in-reply ..." is a reply, travelling out, of an
// inbound connection).
const replySuffix = "-reply"

// replyChain is the chain checking the replies of d's connections again.
func replyChain(d segment.Direction) string { return "reply_" + dirName(d) }

// replyMap is a copy of a mode map whose elements jump to the reply
// variants of the mode chains.
func replyMap(s *Set) *Set {
	c := &Set{Name: s.Name + replySuffix, Fields: s.Fields}
	for _, e := range s.Elements {
		e.Chain += replySuffix
		c.Elements = append(c.Elements, e)
	}
	return c
}

func dirName(d segment.Direction) string {
	if d == segment.Outbound {
		return "out"
	}
	return "in"
}

func setName(kind string, d segment.Direction, v6 bool) string {
	fam := "4"
	if v6 {
		fam = "6"
	}
	return kind + "_" + dirName(d) + fam
}

func modeChain(m segment.Mode, d segment.Direction) string {
	return m.String() + "_" + dirName(d)
}

// allowMap renders the rules of one direction and family as a verdict map
// (local . remote . proto . port) -> jump to the rule's chain. Elements of
// a concatenated interval map must not overlap, so addresses are cut into
// disjoint ranges first and each (local range, remote range, protocol)
// gets its ports painted by the rules in the order the userspace filter
// tries them (rules whose remote is a single address first, then rules
// with a remote prefix, each in rule order): the first rule to claim a
// port keeps it.
func allowMap(dir segment.Direction, v6 bool, rules []segment.CompiledRule, owners []string) *Set {
	af := FieldIPv4
	if v6 {
		af = FieldIPv6
	}
	s := &Set{Name: setName("allow", dir, v6), Fields: []FieldType{af, af, FieldProto, FieldPort}}
	fam := func(p netip.Prefix) bool { return p.IsValid() && p.Addr().Is6() == v6 }
	var locals, remotes []netip.Prefix
	for i := range rules {
		for _, p := range rules[i].Local {
			if fam(p) {
				locals = append(locals, p)
			}
		}
		for _, p := range rules[i].Remote {
			if fam(p) {
				remotes = append(remotes, p)
			}
		}
	}
	if len(locals) == 0 || len(remotes) == 0 {
		return s
	}
	la, ra := partition(locals), partition(remotes)
	type entry struct {
		rule   int
		remote netip.Prefix
	}
	var entries []entry
	for _, host := range []bool{true, false} {
		for i := range rules {
			for _, p := range rules[i].Remote {
				if fam(p) && p.IsSingleIP() == host {
					entries = append(entries, entry{i, p})
				}
			}
		}
	}
	type cell struct {
		l, r  int
		proto uint8
	}
	paint := map[cell][]portSeg{}
	var cells []cell
	for _, e := range entries {
		r := &rules[e.rule]
		rlo, rhi := ra.span(e.remote)
		for _, lp := range r.Local {
			if !fam(lp) {
				continue
			}
			llo, lhi := la.span(lp)
			for li := llo; li < lhi; li++ {
				for ri := rlo; ri < rhi; ri++ {
					for _, pr := range r.Ports {
						proto, lo, hi := uint8(pr.Proto), pr.Lo, pr.Hi
						if pr.Proto == segment.ICMP {
							lo, hi = 0, 65535
							if v6 {
								proto = 58
							}
						}
						c := cell{li, ri, proto}
						segs, seen := paint[c]
						if !seen {
							cells = append(cells, c)
						}
						paint[c] = claim(segs, lo, hi, owners[e.rule])
					}
				}
			}
		}
	}
	slices.SortFunc(cells, func(a, b cell) int {
		if a.l != b.l {
			return a.l - b.l
		}
		if a.r != b.r {
			return a.r - b.r
		}
		return int(a.proto) - int(b.proto)
	})
	for _, c := range cells {
		for _, sg := range paint[c] {
			l, r := la.atoms[c.l], ra.atoms[c.r]
			s.Elements = append(s.Elements, Element{
				Lo:    [][]byte{l.lo.AsSlice(), r.lo.AsSlice(), {c.proto}, port(sg.lo)},
				Hi:    [][]byte{l.hi.AsSlice(), r.hi.AsSlice(), {c.proto}, port(sg.hi)},
				Chain: sg.owner,
			})
		}
	}
	return s
}

// modeMap renders the local endpoints of one family as a verdict map
// (local . proto) -> jump to the chain of the endpoint's mode. As in the
// userspace filter, an address is the endpoint's that lists it as a single
// address, else the first whose prefix contains it.
func modeMap(dir segment.Direction, v6 bool, rs *segment.NodeRuleSet) *Set {
	af := FieldIPv4
	if v6 {
		af = FieldIPv6
	}
	s := &Set{Name: setName("mode", dir, v6), Fields: []FieldType{af, FieldProto}}
	fam := func(p netip.Prefix) bool { return p.IsValid() && p.Addr().Is6() == v6 }
	var all []netip.Prefix
	for _, l := range rs.Locals {
		for _, p := range l.Addresses {
			if fam(p) {
				all = append(all, p)
			}
		}
	}
	if len(all) == 0 {
		return s
	}
	atoms := partition(all)
	owner := make([]string, len(atoms.atoms))
	for _, host := range []bool{true, false} {
		for _, l := range rs.Locals {
			for _, p := range l.Addresses {
				if !fam(p) || p.IsSingleIP() != host {
					continue
				}
				lo, hi := atoms.span(p)
				for i := lo; i < hi; i++ {
					if owner[i] == "" {
						owner[i] = modeChain(l.Mode, dir)
					}
				}
			}
		}
	}
	for i, a := range atoms.atoms {
		if owner[i] == "" {
			continue
		}
		s.Elements = append(s.Elements, Element{
			Lo: [][]byte{a.lo.AsSlice(), {0}}, Hi: [][]byte{a.hi.AsSlice(), {255}}, Chain: owner[i],
		})
	}
	return s
}

func port(p uint16) []byte { return []byte{byte(p >> 8), byte(p)} }

// portSeg is a port range claimed by a rule chain.
type portSeg struct {
	lo, hi uint16
	owner  string
}

// claim gives owner the ports of [lo, hi] no earlier segment holds, and
// merges neighbours with the same owner. segs is sorted and disjoint.
func claim(segs []portSeg, lo, hi uint16, owner string) []portSeg {
	var out []portSeg
	cur := uint32(lo)
	for _, s := range segs {
		if uint32(s.lo) > cur && cur <= uint32(hi) {
			end := min(uint32(s.lo)-1, uint32(hi))
			out = append(out, portSeg{uint16(cur), uint16(end), owner})
		}
		out = append(out, s)
		if uint32(s.hi)+1 > cur {
			cur = uint32(s.hi) + 1
		}
	}
	if cur <= uint32(hi) {
		out = append(out, portSeg{uint16(cur), hi, owner})
	}
	slices.SortFunc(out, func(a, b portSeg) int { return int(a.lo) - int(b.lo) })
	merged := out[:0]
	for _, s := range out {
		if n := len(merged); n > 0 && merged[n-1].owner == s.owner && uint32(merged[n-1].hi)+1 == uint32(s.lo) {
			merged[n-1].hi = s.hi
			continue
		}
		merged = append(merged, s)
	}
	return merged
}

// addrRange is an inclusive range of addresses of one family.
type addrRange struct{ lo, hi netip.Addr }

func prefixRange(p netip.Prefix) addrRange {
	p = p.Masked()
	lo := p.Addr()
	b := lo.AsSlice()
	for i := p.Bits(); i < len(b)*8; i++ {
		b[i/8] |= 0x80 >> (i % 8)
	}
	hi, _ := netip.AddrFromSlice(b)
	return addrRange{lo, hi}
}

// atomSet cuts the addresses covered by some prefixes into disjoint ranges
// (atoms): each prefix is exactly a run of consecutive atoms.
type atomSet struct{ atoms []addrRange }

func partition(ps []netip.Prefix) atomSet {
	var points []netip.Addr
	for _, p := range ps {
		r := prefixRange(p)
		points = append(points, r.lo)
		if n := r.hi.Next(); n.IsValid() {
			points = append(points, n)
		}
	}
	slices.SortFunc(points, func(a, b netip.Addr) int { return a.Compare(b) })
	points = slices.Compact(points)
	var s atomSet
	for i, lo := range points {
		var hi netip.Addr
		if i+1 < len(points) {
			hi = points[i+1].Prev()
		} else {
			hi = prefixRange(netip.PrefixFrom(lo, 0)).hi
		}
		s.atoms = append(s.atoms, addrRange{lo, hi})
	}
	return s
}

// span returns the atoms [i, j) that make up p.
func (s atomSet) span(p netip.Prefix) (int, int) {
	r := prefixRange(p)
	i, _ := slices.BinarySearchFunc(s.atoms, r.lo, func(a addrRange, t netip.Addr) int { return a.lo.Compare(t) })
	j := i
	for j < len(s.atoms) && s.atoms[j].hi.Compare(r.hi) <= 0 {
		j++
	}
	return i, j
}

// String renders the table in nft(8) syntax (for people, and the golden
// tests; Enforcer talks netlink).
func (r *Ruleset) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "table inet %s {\n", r.Options.Table)
	for _, s := range r.Sets {
		fmt.Fprintf(&b, "\tmap %s {\n\t\ttype ", s.Name)
		for i, f := range s.Fields {
			if i > 0 {
				b.WriteString(" . ")
			}
			b.WriteString(f.name())
		}
		b.WriteString(" : verdict\n\t\tflags interval\n")
		if len(s.Elements) > 0 {
			b.WriteString("\t\telements = {\n")
			for _, e := range s.Elements {
				b.WriteString("\t\t\t")
				for i, f := range s.Fields {
					if i > 0 {
						b.WriteString(" . ")
					}
					b.WriteString(fieldText(f, e.Lo[i], e.Hi[i]))
				}
				fmt.Fprintf(&b, " : jump %s,\n", e.Chain)
			}
			b.WriteString("\t\t}\n")
		}
		b.WriteString("\t}\n")
	}
	for _, c := range r.Chains {
		fmt.Fprintf(&b, "\tchain %s {\n", c.Name)
		if c.Hook != "" {
			fmt.Fprintf(&b, "\t\ttype filter hook %s priority filter; policy accept;\n", c.Hook)
		}
		for _, rule := range c.Rules {
			b.WriteString("\t\t")
			for i, st := range rule {
				if i > 0 {
					b.WriteByte(' ')
				}
				b.WriteString(st.text())
			}
			b.WriteByte('\n')
		}
		b.WriteString("\t}\n")
	}
	b.WriteString("}\n")
	return b.String()
}

func fieldText(f FieldType, lo, hi []byte) string {
	switch f {
	case FieldIPv4, FieldIPv6:
		a, _ := netip.AddrFromSlice(lo)
		z, _ := netip.AddrFromSlice(hi)
		if a == z {
			return a.String()
		}
		for bits := 0; bits <= a.BitLen(); bits++ {
			p := netip.PrefixFrom(a, bits)
			if r := prefixRange(p); r.lo == a && r.hi == z {
				return p.String()
			}
		}
		return a.String() + "-" + z.String()
	case FieldProto:
		if lo[0] == hi[0] {
			return protoName(lo[0])
		}
		return strconv.Itoa(int(lo[0])) + "-" + strconv.Itoa(int(hi[0]))
	}
	l, h := int(lo[0])<<8|int(lo[1]), int(hi[0])<<8|int(hi[1])
	if l == h {
		return strconv.Itoa(l)
	}
	return strconv.Itoa(l) + "-" + strconv.Itoa(h)
}

func protoName(p uint8) string {
	switch p {
	case 1:
		return "icmp"
	case 6:
		return "tcp"
	case 17:
		return "udp"
	case 58:
		return "ipv6-icmp"
	}
	return strconv.Itoa(int(p))
}

func (s IfaceIs) text() string {
	if s.Out {
		return fmt.Sprintf("oifname %q", s.Name)
	}
	return fmt.Sprintf("iifname %q", s.Name)
}

func (s CtStateIn) text() string {
	var names []string
	for _, n := range []struct {
		bit  uint32
		name string
	}{{CtInvalid, "invalid"}, {CtEstablished, "established"}, {CtRelated, "related"}} {
		if s.Bits&n.bit != 0 {
			names = append(names, n.name)
		}
	}
	return "ct state " + strings.Join(names, ",")
}

func (s CtMarkIs) text() string {
	return fmt.Sprintf("ct mark & 0x%08x == 0x%08x", markGen, Mark(s.Gen, false))
}

func (CtMarkListed) text() string { return fmt.Sprintf("ct mark & 0x%08x == 0", markUnlisted) }

func (s SetCtMark) text() string {
	return fmt.Sprintf("ct mark set ct mark & 0x%08x | 0x%08x", ^MarkMask, Mark(s.Gen, s.Unlisted))
}

func (CtReply) text() string { return "ct direction reply" }

func (CtUnconfirmed) text() string { return "ct status & confirmed == 0" }

func (s DaddrIn) text() string {
	if s.Prefix.Addr().Is6() {
		return "ip6 daddr " + s.Prefix.String()
	}
	return "ip daddr " + s.Prefix.String()
}

func (s VmapLookup) text() string {
	ip := "ip"
	if s.V6 {
		ip = "ip6"
	}
	var parts []string
	for _, k := range s.Key {
		switch k {
		case KeySaddr:
			parts = append(parts, ip+" saddr")
		case KeyDaddr:
			parts = append(parts, ip+" daddr")
		case KeyL4Proto:
			parts = append(parts, "meta l4proto")
		case KeyDport:
			parts = append(parts, "th dport")
		case KeyCtProto:
			parts = append(parts, "ct original protocol")
		case KeyCtDport:
			parts = append(parts, "ct original proto-dst")
		}
	}
	nf := "ipv4"
	if s.V6 {
		nf = "ipv6"
	}
	return "meta nfproto " + nf + " " + strings.Join(parts, " . ") + " vmap @" + s.Set
}

func (Counter) text() string { return "counter" }

func (s LimitRate) text() string {
	return fmt.Sprintf("limit rate %d/second burst %d packets", s.Rate, s.Rate)
}

func (s Log) text() string {
	return fmt.Sprintf("log prefix %q group %d snaplen %d", s.Prefix, s.Group, s.Snaplen)
}

func (s Verdict) text() string {
	if s.Chain != "" {
		return s.Kind + " " + s.Chain
	}
	return s.Kind
}
