package segment

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"net/netip"
	"runtime"
	"slices"
	"sync"
)

// NodeRuleSet is what one node receives: its own allow rules and the peers
// they reference, nothing about the rest of the mesh. Treat it as
// immutable; the Compiler replaces it on change.
type NodeRuleSet struct {
	Node NodeID
	// Version starts at 1 and increases whenever the content changes; an
	// unchanged rule set keeps its version (and pointer) across updates.
	Version uint64
	// DefaultMode applies to local addresses that no Local lists.
	DefaultMode Mode
	Locals      []Local
	// Inbound rules admit flows from Remote to Local; Outbound rules flows
	// from Local to Remote.
	Inbound  []CompiledRule
	Outbound []CompiledRule
	// Peers are the nodes the rules reference (sorted by ID, never the node
	// itself): the only WireGuard peers this node gets in protect mode.
	Peers []Peer
	// AllPeers is set when a local endpoint is in learn or monitor mode: it
	// may talk to anything, so the mesh must give it every node as a peer
	// (peers in protect mode still refuse what their rules do not allow).
	AllPeers bool

	hash [32]byte
}

// Local is an endpoint on the node (the node itself or a workload).
type Local struct {
	Name       string
	Addresses  []netip.Prefix
	Identities []string
	// Mode is the strictest mode of the segments of its identities; the
	// policy's default mode when it has none.
	Mode    Mode
	Segment string
}

// CompiledRule is a policy rule instantiated for one node and one pair of
// identities.
type CompiledRule struct {
	Rule           string
	LocalIdentity  string
	RemoteIdentity string
	// Local are the addresses of this node's endpoints in LocalIdentity,
	// Remote those of every endpoint of RemoteIdentity. Slices may be
	// shared between rule sets: do not modify.
	Local  []netip.Prefix
	Remote []netip.Prefix
	Ports  []PortRange
	Mode   Mode
}

// Peer is a node this node's rules reference.
type Peer struct {
	Node NodeID
	// Addresses are every address routed to that node (its mesh addresses
	// and its workloads'): the WireGuard allowed IPs.
	Addresses []netip.Prefix
}

// Compile compiles a policy against an inventory; see Compiler.
func Compile(p *Policy, inv Inventory) (map[NodeID]*NodeRuleSet, error) {
	c, err := NewCompiler(p, inv)
	if err != nil {
		return nil, err
	}
	return c.RuleSets(), nil
}

// Compiler holds a policy, an inventory and the per-node rule sets compiled
// from them, and recompiles only the nodes a change affects. It is not safe
// for concurrent use; the rule sets it hands out are immutable.
type Compiler struct {
	policy    *Policy
	nodes     map[NodeID]*Node
	workloads map[string]*Workload
	ix        *index
	sets      map[NodeID]*NodeRuleSet
}

// NewCompiler validates the inventory and compiles every node.
func NewCompiler(p *Policy, inv Inventory) (*Compiler, error) {
	c := &Compiler{policy: p, nodes: map[NodeID]*Node{}, workloads: map[string]*Workload{}, sets: map[NodeID]*NodeRuleSet{}}
	for i := range inv.Nodes {
		n := inv.Nodes[i]
		if err := validateNode(&n); err != nil {
			return nil, err
		}
		if _, dup := c.nodes[n.ID]; dup {
			return nil, fmt.Errorf("node %q listed twice", n.ID)
		}
		c.nodes[n.ID] = &n
	}
	for i := range inv.Workloads {
		w := inv.Workloads[i]
		if w.Name == "" {
			return nil, fmt.Errorf("workload on node %q has no name", w.Node)
		}
		if _, dup := c.workloads[w.Name]; dup {
			return nil, fmt.Errorf("workload %q listed twice", w.Name)
		}
		c.workloads[w.Name] = &w
	}
	ix, err := buildIndex(p, c.nodes, c.workloads)
	if err != nil {
		return nil, err
	}
	c.ix = ix
	all := make([]int, len(ix.nodes))
	for i := range all {
		all[i] = i
	}
	for _, rs := range compileNodes(ix, all) {
		rs.Version = 1
		c.sets[rs.Node] = rs
	}
	return c, nil
}

func validateNode(n *Node) error {
	if n.ID == "" {
		return fmt.Errorf("a node has no ID")
	}
	for _, a := range n.Addresses {
		if !a.IsValid() {
			return fmt.Errorf("node %q has an invalid address", n.ID)
		}
	}
	return nil
}

// Policy returns the policy currently compiled.
func (c *Compiler) Policy() *Policy { return c.policy }

// RuleSet returns the compiled rule set of a node.
func (c *Compiler) RuleSet(id NodeID) (*NodeRuleSet, bool) {
	rs, ok := c.sets[id]
	return rs, ok
}

// RuleSets returns every node's rule set (a new map; the sets are shared).
func (c *Compiler) RuleSets() map[NodeID]*NodeRuleSet {
	out := make(map[NodeID]*NodeRuleSet, len(c.sets))
	for k, v := range c.sets {
		out[k] = v
	}
	return out
}

// compileNodes compiles the given nodes in parallel.
func compileNodes(ix *index, nodes []int) []*NodeRuleSet {
	out := make([]*NodeRuleSet, len(nodes))
	workers := min(runtime.GOMAXPROCS(0), len(nodes))
	if workers <= 1 {
		cc := newNodeCompiler(ix)
		for i, n := range nodes {
			out[i] = cc.compile(n)
		}
		return out
	}
	var wg sync.WaitGroup
	chunk := (len(nodes) + workers - 1) / workers
	for w := 0; w < workers; w++ {
		lo, hi := w*chunk, min((w+1)*chunk, len(nodes))
		if lo >= hi {
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			cc := newNodeCompiler(ix)
			for i := lo; i < hi; i++ {
				out[i] = cc.compile(nodes[i])
			}
		}()
	}
	wg.Wait()
	return out
}

// nodeCompiler holds one worker's scratch space.
type nodeCompiler struct {
	ix       *index
	peerMark []uint32
	stamp    uint32
	buf      []byte
}

func newNodeCompiler(ix *index) *nodeCompiler {
	return &nodeCompiler{ix: ix, peerMark: make([]uint32, len(ix.nodes))}
}

type localID struct {
	id    int32
	addrs []netip.Prefix
}

func (cc *nodeCompiler) compile(n int) *NodeRuleSet {
	ix := cc.ix
	p := ix.policy
	rs := &NodeRuleSet{Node: ix.nodes[n].ID, DefaultMode: p.Mode}

	// Local endpoints and, per identity present on the node, its addresses.
	var lids []localID
	for _, e := range ix.nodeEps[n] {
		ep := &ix.endpoints[e]
		l := Local{Name: ep.name, Addresses: ep.addrs, Mode: p.Mode}
		first := true
		for _, i := range ix.epIDs[e] {
			l.Identities = append(l.Identities, p.Identities[i].Name)
			if m := ix.idMode[i]; first || stricter(m, l.Mode) {
				l.Mode, l.Segment = m, ix.idSegment[i]
				first = false
			}
			k, found := slices.BinarySearchFunc(lids, i, func(a localID, b int32) int { return int(a.id - b) })
			if !found {
				lids = slices.Insert(lids, k, localID{id: i})
			}
			lids[k].addrs = append(lids[k].addrs, ep.addrs...)
		}
		if l.Mode != Protect {
			rs.AllPeers = true
		}
		rs.Locals = append(rs.Locals, l)
	}

	cc.stamp++
	if cc.stamp == 0 {
		clear(cc.peerMark)
		cc.stamp = 1
	}
	var peers []int
	addPeers := func(remote int32) {
		for _, pn := range ix.idNodes[remote] {
			if pn != n && cc.peerMark[pn] != cc.stamp {
				cc.peerMark[pn] = cc.stamp
				peers = append(peers, pn)
			}
		}
	}
	for _, l := range lids {
		local := p.Identities[l.id].Name
		mode := ix.idMode[l.id]
		for _, ref := range ix.rulesFrom[l.id] {
			if len(ix.idAddrs[ref.remote]) == 0 {
				continue
			}
			r := &p.Rules[ref.rule]
			rs.Outbound = append(rs.Outbound, CompiledRule{Rule: r.Name, LocalIdentity: local,
				RemoteIdentity: p.Identities[ref.remote].Name, Local: l.addrs, Remote: ix.idAddrs[ref.remote], Ports: r.Ports, Mode: mode})
			addPeers(ref.remote)
		}
		for _, ref := range ix.rulesTo[l.id] {
			if len(ix.idAddrs[ref.remote]) == 0 {
				continue
			}
			r := &p.Rules[ref.rule]
			rs.Inbound = append(rs.Inbound, CompiledRule{Rule: r.Name, LocalIdentity: local,
				RemoteIdentity: p.Identities[ref.remote].Name, Local: l.addrs, Remote: ix.idAddrs[ref.remote], Ports: r.Ports, Mode: mode})
			addPeers(ref.remote)
		}
	}
	slices.Sort(peers) // nodes are indexed in ID order
	for _, pn := range peers {
		rs.Peers = append(rs.Peers, Peer{Node: ix.nodes[pn].ID, Addresses: ix.nodeAddrs[pn]})
	}
	rs.hash = cc.hashOf(rs)
	return rs
}

// hashOf digests the content of a rule set (not its version).
func (cc *nodeCompiler) hashOf(rs *NodeRuleSet) [32]byte {
	b := cc.buf[:0]
	str := func(s string) { b = binary.AppendUvarint(b, uint64(len(s))); b = append(b, s...) }
	pfx := func(ps []netip.Prefix) {
		b = binary.AppendUvarint(b, uint64(len(ps)))
		for _, p := range ps {
			b, _ = p.AppendBinary(b)
		}
	}
	str(string(rs.Node))
	b = append(b, byte(rs.DefaultMode))
	if rs.AllPeers {
		b = append(b, 1)
	}
	for _, l := range rs.Locals {
		str(l.Name)
		pfx(l.Addresses)
		for _, id := range l.Identities {
			str(id)
		}
		b = append(b, byte(l.Mode))
		str(l.Segment)
	}
	for d, rules := range [][]CompiledRule{rs.Inbound, rs.Outbound} {
		b = append(b, 0xfe, byte(d))
		for i := range rules {
			r := &rules[i]
			str(r.Rule)
			str(r.LocalIdentity)
			str(r.RemoteIdentity)
			pfx(r.Local)
			pfx(r.Remote)
			b = append(b, byte(r.Mode))
			for _, pr := range r.Ports {
				b = append(b, byte(pr.Proto), byte(pr.Lo>>8), byte(pr.Lo), byte(pr.Hi>>8), byte(pr.Hi))
			}
		}
	}
	b = append(b, 0xff)
	for _, pe := range rs.Peers {
		str(string(pe.Node))
		pfx(pe.Addresses)
	}
	cc.buf = b
	return sha256.Sum256(b)
}

// ResolveFlow names the endpoints a node could not name (records whose Src
// or Dst is empty and carry an address instead) from the inventory: the
// first identity of the endpoint owning the address. Unknown addresses stay
// as they are.
func (c *Compiler) ResolveFlow(r FlowRecord) FlowRecord {
	r.FlowKey = c.ResolveFlowKey(r.FlowKey)
	return r
}

// ResolveFlowKey is ResolveFlow for a key (of an Alert, say).
func (c *Compiler) ResolveFlowKey(r FlowKey) FlowKey {
	if r.Src == "" && r.SrcAddr.IsValid() {
		if name := c.ix.identityOfAddr(r.SrcAddr); name != "" {
			r.Src, r.SrcAddr = name, netip.Addr{}
		}
	}
	if r.Dst == "" && r.DstAddr.IsValid() {
		if name := c.ix.identityOfAddr(r.DstAddr); name != "" {
			r.Dst, r.DstAddr = name, netip.Addr{}
		}
	}
	return r
}

func (ix *index) identityOfAddr(a netip.Addr) string {
	for e := range ix.endpoints {
		for _, p := range ix.endpoints[e].addrs {
			if p.Contains(a) && len(ix.epIDs[e]) > 0 {
				return ix.policy.Identities[ix.epIDs[e][0]].Name
			}
		}
	}
	return ""
}
