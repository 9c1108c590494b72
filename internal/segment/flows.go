package segment

import (
	"net/netip"
	"sort"
	"sync"
	"time"
)

// Verdict is the filter's decision on a packet. The zero value is Drop.
type Verdict uint8

// Verdicts.
const (
	// Drop: outside the policy in protect mode, or unparseable.
	Drop Verdict = iota
	// Allow: a rule allows the flow, or it belongs to an allowed
	// connection.
	Allow
	// AllowUnlisted: no rule allows the flow, but its segment is in learn
	// or monitor mode.
	AllowUnlisted
)

// Pass reports whether the packet may pass.
func (v Verdict) Pass() bool { return v != Drop }

func (v Verdict) String() string {
	switch v {
	case Allow:
		return "allow"
	case AllowUnlisted:
		return "unlisted"
	}
	return "drop"
}

// FlowKey identifies an aggregated flow. Src and Dst are identity names;
// when the recording node could not name an endpoint, the name is empty and
// the address is kept instead (Compiler.ResolveFlow names it on the server).
type FlowKey struct {
	Src, Dst         string
	SrcAddr, DstAddr netip.Addr
	Proto            Proto
	// Port is the destination port of the connection's first packet (0
	// for ICMP).
	Port    uint16
	Verdict Verdict
}

// FlowRecord counts the connections of one FlowKey.
type FlowRecord struct {
	FlowKey
	// Node recorded it.
	Node NodeID
	// Count is the number of connections (new conntrack entries; for
	// drops, dropped packets).
	Count               uint64
	FirstSeen, LastSeen time.Time
}

// FlowTable aggregates flow records in bounded memory. Keys beyond the
// bound are counted in Overflow, not stored. Safe for concurrent use.
type FlowTable struct {
	node     NodeID
	max      int
	mu       sync.Mutex
	m        map[FlowKey]*FlowRecord
	overflow uint64
}

// DefaultMaxFlows bounds a FlowTable made with max <= 0.
const DefaultMaxFlows = 16384

// NewFlowTable returns a table holding at most max keys between drains.
func NewFlowTable(node NodeID, max int) *FlowTable {
	if max <= 0 {
		max = DefaultMaxFlows
	}
	return &FlowTable{node: node, max: max, m: map[FlowKey]*FlowRecord{}}
}

// Add counts one connection of k at now and reports whether k is new since
// the last Drain (the filter alerts only then, so a violation alerts once
// per shipping interval, not once per packet).
func (t *FlowTable) Add(k FlowKey, now time.Time) (isNew bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if r, ok := t.m[k]; ok {
		r.Count++
		r.LastSeen = now
		return false
	}
	if len(t.m) >= t.max {
		t.overflow++
		return false
	}
	t.m[k] = &FlowRecord{FlowKey: k, Node: t.node, Count: 1, FirstSeen: now, LastSeen: now}
	return true
}

// Drain returns the records (sorted) and the number of connections that did
// not fit, and empties the table.
func (t *FlowTable) Drain() (records []FlowRecord, overflow uint64) {
	t.mu.Lock()
	m, ov := t.m, t.overflow
	t.m, t.overflow = make(map[FlowKey]*FlowRecord, len(m)), 0
	t.mu.Unlock()
	records = make([]FlowRecord, 0, len(m))
	for _, r := range m {
		records = append(records, *r)
	}
	SortFlows(records)
	return records, ov
}

// Len returns the number of keys held.
func (t *FlowTable) Len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.m)
}

// SortFlows orders records by source, destination, protocol, port,
// verdict, addresses, node.
func SortFlows(rs []FlowRecord) {
	sort.Slice(rs, func(i, j int) bool {
		a, b := &rs[i], &rs[j]
		switch {
		case a.Src != b.Src:
			return a.Src < b.Src
		case a.Dst != b.Dst:
			return a.Dst < b.Dst
		case a.Proto != b.Proto:
			return a.Proto < b.Proto
		case a.Port != b.Port:
			return a.Port < b.Port
		case a.Verdict != b.Verdict:
			return a.Verdict < b.Verdict
		case a.SrcAddr != b.SrcAddr:
			return a.SrcAddr.Less(b.SrcAddr)
		case a.DstAddr != b.DstAddr:
			return a.DstAddr.Less(b.DstAddr)
		}
		return a.Node < b.Node
	})
}

// MergeFlows aggregates records from many nodes (or many drains) by
// FlowKey: counts add up, first/last seen widen. Node is kept only when
// all merged records agree.
func MergeFlows(in []FlowRecord) []FlowRecord {
	m := map[FlowKey]*FlowRecord{}
	var order []FlowKey
	for _, r := range in {
		if x, ok := m[r.FlowKey]; ok {
			x.Count += r.Count
			if r.FirstSeen.Before(x.FirstSeen) {
				x.FirstSeen = r.FirstSeen
			}
			if r.LastSeen.After(x.LastSeen) {
				x.LastSeen = r.LastSeen
			}
			if x.Node != r.Node {
				x.Node = ""
			}
			continue
		}
		c := r
		m[r.FlowKey] = &c
		order = append(order, r.FlowKey)
	}
	out := make([]FlowRecord, 0, len(order))
	for _, k := range order {
		out = append(out, *m[k])
	}
	SortFlows(out)
	return out
}

// Alert reports a flow outside the policy seen by a node in monitor mode
// (Verdict AllowUnlisted) or protect mode (Verdict Drop).
type Alert struct {
	Time time.Time
	Node NodeID
	Mode Mode
	Flow FlowKey
	// The packet that raised it.
	Src, Dst         netip.Addr
	SrcPort, DstPort uint16
	Direction        Direction
}
