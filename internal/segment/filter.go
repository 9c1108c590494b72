package segment

import (
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// Direction is a packet's direction relative to the local node.
type Direction uint8

// Directions. Inbound packets come out of the mesh device towards the local
// stack; outbound packets go from the local stack into the mesh.
const (
	Inbound Direction = iota
	Outbound
)

func (d Direction) String() string {
	if d == Outbound {
		return "outbound"
	}
	return "inbound"
}

// FilterConfig tunes a Filter. The zero value is usable.
type FilterConfig struct {
	// Clock returns the time; time.Now when nil.
	Clock func() time.Time
	// Alerts receives violations (monitor and protect mode), once per flow
	// key per FlowTable drain. It is called on the packet path: hand the
	// alert off (a buffered channel with a non-blocking send), never block.
	Alerts func(Alert)
	// MaxFlows bounds the flow table (DefaultMaxFlows when 0).
	MaxFlows int
	// MaxConns bounds the connection table (65,536 when 0). When it is
	// full the least recently used connection of a shard is evicted.
	MaxConns int
	// Idle timeouts of tracked connections: TCP (30m, 30s once a FIN or
	// RST was seen), UDP (2m), ICMP echo (30s).
	TCPTimeout, TCPClosingTimeout, UDPTimeout, ICMPTimeout time.Duration
}

// Filter is the stateful segmentation filter of one node. Check is safe for
// concurrent use and takes no lock on the path of an established
// connection except a shard read lock; SetRules swaps the rule set
// atomically and re-checks established connections lazily.
type Filter struct {
	cfg   FilterConfig
	now   func() time.Time
	base  time.Time // ctNow counts from here
	tbl   atomic.Pointer[table]
	gen   atomic.Uint64
	flows *FlowTable

	shards      [ctShards]ctShard
	conns       atomic.Int64
	maxConns    int64
	evictCursor atomic.Uint64

	timeouts [4]int64 // by ctClass
	stats    filterCounters
}

// FilterStats counts what the filter did.
type FilterStats struct {
	Allowed, Unlisted, Dropped, Malformed, Evicted uint64
	Connections                                    int64
}

type filterCounters struct {
	allowed, unlisted, dropped, malformed, evicted atomic.Uint64
}

// NewFilter returns a filter enforcing rs (which may be nil: then every
// flow is dropped until SetRules).
func NewFilter(rs *NodeRuleSet, cfg FilterConfig) *Filter {
	f := &Filter{cfg: cfg, now: cfg.Clock}
	if f.now == nil {
		f.now = time.Now
	}
	f.base = f.now()
	node := NodeID("")
	if rs != nil {
		node = rs.Node
	}
	f.flows = NewFlowTable(node, cfg.MaxFlows)
	f.maxConns = int64(cfg.MaxConns)
	if f.maxConns <= 0 {
		f.maxConns = 65536
	}
	def := func(d, v time.Duration) int64 {
		if d <= 0 {
			d = v
		}
		return int64(d)
	}
	f.timeouts = [4]int64{
		ctTCP:        def(cfg.TCPTimeout, 30*time.Minute),
		ctTCPClosing: def(cfg.TCPClosingTimeout, 30*time.Second),
		ctUDP:        def(cfg.UDPTimeout, 2*time.Minute),
		ctICMP:       def(cfg.ICMPTimeout, 30*time.Second),
	}
	for i := range f.shards {
		f.shards[i].m = map[ctKey]*ctEntry{}
	}
	f.SetRules(rs)
	return f
}

// SetRules replaces the rule set. Connections established under the old
// one are re-checked on their next packet and cut (in protect mode) when the
// new one no longer allows them.
func (f *Filter) SetRules(rs *NodeRuleSet) {
	f.tbl.Store(buildTable(rs, f.gen.Add(1)))
}

// Flows returns the filter's flow table; Drain it to ship records.
func (f *Filter) Flows() *FlowTable { return f.flows }

// Stats returns counters.
func (f *Filter) Stats() FilterStats {
	return FilterStats{
		Allowed: f.stats.allowed.Load(), Unlisted: f.stats.unlisted.Load(), Dropped: f.stats.dropped.Load(),
		Malformed: f.stats.malformed.Load(), Evicted: f.stats.evicted.Load(), Connections: f.conns.Load(),
	}
}

// CheckPacket parses a raw packet and checks it; malformed packets are
// dropped.
func (f *Filter) CheckPacket(b []byte, dir Direction) Verdict {
	pi, err := ParsePacket(b)
	if err != nil {
		f.stats.malformed.Add(1)
		return Drop
	}
	return f.Check(pi, dir)
}

// Check decides on one packet. Packets of a tracked connection (either
// direction) pass with the connection's verdict; the first packet of a
// connection is matched against the rules of its direction and, if it
// passes, starts tracking.
func (f *Filter) Check(pkt PacketInfo, dir Direction) Verdict {
	t := f.tbl.Load()
	now := f.ctNow()
	local, remote := pkt.Dst, pkt.Src
	lport, rport := pkt.DstPort, pkt.SrcPort
	if dir == Outbound {
		local, remote = pkt.Src, pkt.Dst
		lport, rport = pkt.SrcPort, pkt.DstPort
	}
	proto, known := ruleProto(pkt.Proto)
	class, tracked := ctNone, false
	if known && !pkt.Fragment {
		switch proto {
		case TCP:
			class, tracked = ctTCP, true
		case UDP:
			class, tracked = ctUDP, true
		case ICMP:
			if pkt.isEchoRequest() || pkt.isEchoReply() {
				class, tracked = ctICMP, true
				lport, rport = pkt.ICMPID, 0
			}
		}
	}

	var key ctKey
	if tracked {
		key = ctKey{local: local, remote: remote, lport: lport, rport: rport, proto: pkt.Proto}
		sh := &f.shards[key.shard()]
		sh.mu.RLock()
		e := sh.m[key]
		sh.mu.RUnlock()
		if e != nil {
			last := e.lastSeen.Load()
			if now-last <= f.timeouts[e.class()] {
				if e.gen.Load() != t.gen {
					if v, changed := f.revalidate(t, e, &key, class, now); changed {
						f.count(v)
						return v
					}
				}
				e.lastSeen.Store(now)
				if proto == TCP && pkt.TCPFlags&(TCPFin|TCPRst) != 0 {
					e.closing.Store(true)
				}
				f.count(e.verdict)
				return e.verdict
			}
			f.forget(&key, e)
		}
	}

	// First packet of a flow: the rules of this direction decide.
	port := lport
	if dir == Outbound {
		port = rport
	}
	if proto == ICMP {
		port = 0
	}
	li := t.localIndex(local)
	var rule *CompiledRule
	if known && !pkt.Fragment {
		rule = t.match(dir, li, remote, proto, port)
	}
	mode := t.rs.DefaultMode
	if li >= 0 {
		mode = t.rs.Locals[li].Mode
	}
	v := Allow
	if rule == nil {
		v = Drop
		if mode != Protect {
			v = AllowUnlisted
		}
	}
	if !known {
		proto = Proto(pkt.Proto)
	}
	fk := t.flowKey(rule, li, dir, local, remote, proto, port, v)
	nowT := f.base.Add(time.Duration(now))
	isNew := f.flows.Add(fk, nowT)
	if v != Allow && mode != Learn && isNew && f.cfg.Alerts != nil {
		f.cfg.Alerts(Alert{Time: nowT, Node: t.rs.Node, Mode: mode, Flow: fk, Src: pkt.Src, Dst: pkt.Dst,
			SrcPort: pkt.SrcPort, DstPort: pkt.DstPort, Direction: dir})
	}
	if v.Pass() && tracked {
		if proto == TCP && pkt.TCPFlags&(TCPFin|TCPRst) != 0 && pkt.TCPFlags&TCPSyn == 0 {
			// A stray FIN/RST opens nothing.
		} else {
			f.track(key, class, dir, v, t.gen, now)
		}
	}
	f.count(v)
	return v
}

// ctNow is the connection tracker's clock: nanoseconds since the filter
// was made. Without a configured Clock it reads only the monotonic clock
// (time.Since), about half the cost of time.Now, once per packet.
func (f *Filter) ctNow() int64 {
	if f.cfg.Clock == nil {
		return int64(time.Since(f.base))
	}
	return int64(f.now().Sub(f.base))
}

func (f *Filter) count(v Verdict) {
	switch v {
	case Allow:
		f.stats.allowed.Add(1)
	case AllowUnlisted:
		f.stats.unlisted.Add(1)
	default:
		f.stats.dropped.Add(1)
	}
}

// revalidate re-checks a connection tracked under an older rule set, by
// the direction and port it was opened with (its next packet may be a
// reply, whose own ports say nothing). A connection that keeps its verdict
// is marked current. One whose verdict changed is recorded and reported
// as a flow of its own direction and tracked again under the new verdict,
// a drop included, so that its later packets are dropped without being
// taken for new flows; changed reports that, with the new verdict.
func (f *Filter) revalidate(t *table, e *ctEntry, k *ctKey, class ctClass, now int64) (v Verdict, changed bool) {
	proto, known := ruleProto(k.proto)
	if !known {
		proto = Proto(k.proto)
	}
	port := k.lport
	if e.origin == Outbound {
		port = k.rport
	}
	if proto == ICMP {
		port = 0
	}
	li := t.localIndex(k.local)
	mode := t.rs.DefaultMode
	if li >= 0 {
		mode = t.rs.Locals[li].Mode
	}
	rule := t.match(e.origin, li, k.remote, proto, port)
	v = Allow
	if rule == nil {
		v = Drop
		if mode != Protect {
			v = AllowUnlisted
		}
	}
	if v == e.verdict {
		e.gen.Store(t.gen)
		return v, false
	}
	fk := t.flowKey(rule, li, e.origin, k.local, k.remote, proto, port, v)
	nowT := f.base.Add(time.Duration(now))
	if f.flows.Add(fk, nowT) && v != Allow && mode != Learn && f.cfg.Alerts != nil {
		a := Alert{Time: nowT, Node: t.rs.Node, Mode: mode, Flow: fk, Direction: e.origin,
			Src: k.remote, Dst: k.local, SrcPort: k.rport, DstPort: k.lport}
		if e.origin == Outbound {
			a.Src, a.Dst, a.SrcPort, a.DstPort = k.local, k.remote, k.lport, k.rport
		}
		f.cfg.Alerts(a)
	}
	f.track(*k, class, e.origin, v, t.gen, now)
	return v, true
}

func (f *Filter) track(k ctKey, class ctClass, origin Direction, v Verdict, gen uint64, now int64) {
	e := &ctEntry{origin: origin, verdict: v, cls: class}
	e.lastSeen.Store(now)
	e.gen.Store(gen)
	if f.conns.Load() >= f.maxConns {
		f.evict(now)
	}
	sh := &f.shards[k.shard()]
	sh.mu.Lock()
	if _, ok := sh.m[k]; !ok {
		f.conns.Add(1)
	}
	sh.m[k] = e
	sh.mu.Unlock()
}

// evict makes room in a full connection table: it removes the expired
// entries of the shards it visits, or else the least recently used entry of
// the first non-empty shard. Shards are locked one at a time.
func (f *Filter) evict(now int64) {
	start := f.evictCursor.Add(1)
	for i := uint64(0); i < ctShards; i++ {
		sh := &f.shards[(start+i)%ctShards]
		sh.mu.Lock()
		var oldK ctKey
		var oldE *ctEntry
		removed := 0
		for k, e := range sh.m {
			last := e.lastSeen.Load()
			if now-last > f.timeouts[e.class()] {
				delete(sh.m, k)
				removed++
				continue
			}
			if oldE == nil || last < oldE.lastSeen.Load() {
				oldK, oldE = k, e
			}
		}
		if removed == 0 && oldE != nil {
			delete(sh.m, oldK)
			removed = 1
			f.stats.evicted.Add(1)
		}
		sh.mu.Unlock()
		if removed > 0 {
			f.conns.Add(int64(-removed))
			return
		}
	}
}

func (f *Filter) forget(k *ctKey, e *ctEntry) {
	sh := &f.shards[k.shard()]
	sh.mu.Lock()
	if sh.m[*k] == e {
		delete(sh.m, *k)
		f.conns.Add(-1)
	}
	sh.mu.Unlock()
}

// Expire removes idle connections and returns how many it removed. Call it
// every few seconds; Check also forgets expired connections it meets.
func (f *Filter) Expire() int {
	now := f.ctNow()
	n := 0
	for i := range f.shards {
		sh := &f.shards[i]
		sh.mu.Lock()
		for k, e := range sh.m {
			if now-e.lastSeen.Load() > f.timeouts[e.class()] {
				delete(sh.m, k)
				n++
			}
		}
		sh.mu.Unlock()
	}
	f.conns.Add(int64(-n))
	return n
}

// Connection tracking.

const ctShards = 64

type ctClass uint8

const (
	ctTCP ctClass = iota
	ctTCPClosing
	ctUDP
	ctICMP
	ctNone ctClass = 255
)

type ctKey struct {
	local, remote netip.Addr
	lport, rport  uint16
	proto         uint8
}

func (k *ctKey) shard() uint64 {
	r := k.remote.As16()
	l := k.local.As16()
	h := uint64(k.lport)<<24 ^ uint64(k.rport)<<8 ^ uint64(k.proto)
	h ^= uint64(r[15]) | uint64(r[14])<<8 | uint64(r[13])<<16 | uint64(r[12])<<32
	h ^= uint64(l[15])<<40 | uint64(l[14])<<48
	h *= 0x9e3779b97f4a7c15
	return h >> 58 // 64 shards
}

type ctEntry struct {
	lastSeen atomic.Int64
	gen      atomic.Uint64
	closing  atomic.Bool
	origin   Direction
	verdict  Verdict
	cls      ctClass
}

func (e *ctEntry) class() ctClass {
	if e.cls == ctTCP && e.closing.Load() {
		return ctTCPClosing
	}
	return e.cls
}

type ctShard struct {
	mu sync.RWMutex
	m  map[ctKey]*ctEntry
	_  [40]byte // keep shards on separate cache lines
}

// Rule lookup tables, built once per rule set.

type table struct {
	gen        uint64
	rs         *NodeRuleSet
	localHosts map[netip.Addr]int
	localPfx   []pfxIndex
	dirs       [2]dirTable
	names      map[netip.Addr]string // remote host -> identity, for flow records
}

type pfxIndex struct {
	p netip.Prefix
	i int
}

type dirTable struct {
	rules []CompiledRule
	hosts map[netip.Addr][]ruleEntry
	pfx   []pfxEntry
}

type ruleEntry struct {
	locals bitset // local endpoints the rule applies to
	ports  []PortRange
	rule   int32
}

type pfxEntry struct {
	p netip.Prefix
	e ruleEntry
}

func buildTable(rs *NodeRuleSet, gen uint64) *table {
	if rs == nil {
		rs = &NodeRuleSet{}
	}
	t := &table{gen: gen, rs: rs, localHosts: map[netip.Addr]int{}, names: map[netip.Addr]string{}}
	for i, l := range rs.Locals {
		for _, a := range l.Addresses {
			if a.IsSingleIP() {
				if _, dup := t.localHosts[a.Addr()]; !dup {
					t.localHosts[a.Addr()] = i
				}
			} else {
				t.localPfx = append(t.localPfx, pfxIndex{a.Masked(), i})
			}
		}
	}
	for d, rules := range [][]CompiledRule{rs.Inbound, rs.Outbound} {
		dt := &t.dirs[d]
		dt.rules = rules
		dt.hosts = map[netip.Addr][]ruleEntry{}
		for ri := range rules {
			r := &rules[ri]
			locals := newBitset(len(rs.Locals))
			for _, a := range r.Local {
				for li, l := range rs.Locals {
					for _, la := range l.Addresses {
						if la == a {
							locals.set(li)
						}
					}
				}
			}
			e := ruleEntry{locals: locals, ports: r.Ports, rule: int32(ri)}
			for _, a := range r.Remote {
				if a.IsSingleIP() {
					dt.hosts[a.Addr()] = append(dt.hosts[a.Addr()], e)
					if _, ok := t.names[a.Addr()]; !ok {
						t.names[a.Addr()] = r.RemoteIdentity
					}
				} else {
					dt.pfx = append(dt.pfx, pfxEntry{a.Masked(), e})
				}
			}
		}
	}
	return t
}

func (t *table) localIndex(a netip.Addr) int {
	if i, ok := t.localHosts[a]; ok {
		return i
	}
	for _, p := range t.localPfx {
		if p.p.Contains(a) {
			return p.i
		}
	}
	return -1
}

func (t *table) match(dir Direction, li int, remote netip.Addr, proto Proto, port uint16) *CompiledRule {
	if li < 0 {
		return nil
	}
	dt := &t.dirs[dir]
	for _, e := range dt.hosts[remote] {
		if e.locals.has(li) && portsAdmit(e.ports, proto, port) {
			return &dt.rules[e.rule]
		}
	}
	for i := range dt.pfx {
		pe := &dt.pfx[i]
		if pe.p.Contains(remote) && pe.e.locals.has(li) && portsAdmit(pe.e.ports, proto, port) {
			return &dt.rules[pe.e.rule]
		}
	}
	return nil
}

func (t *table) flowKey(rule *CompiledRule, li int, dir Direction, local, remote netip.Addr, proto Proto, port uint16, v Verdict) FlowKey {
	var ln, rn string
	if rule != nil {
		ln, rn = rule.LocalIdentity, rule.RemoteIdentity
	} else {
		if li >= 0 && len(t.rs.Locals[li].Identities) > 0 {
			ln = t.rs.Locals[li].Identities[0]
		}
		rn = t.names[remote]
	}
	k := FlowKey{Proto: proto, Port: port, Verdict: v}
	if dir == Inbound {
		k.Src, k.Dst = rn, ln
		if rn == "" {
			k.SrcAddr = remote
		}
		if ln == "" {
			k.DstAddr = local
		}
	} else {
		k.Src, k.Dst = ln, rn
		if ln == "" {
			k.SrcAddr = local
		}
		if rn == "" {
			k.DstAddr = remote
		}
	}
	return k
}
