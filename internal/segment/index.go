package segment

import (
	"fmt"
	"hash/maphash"
	"math/bits"
	"net/netip"
	"slices"
	"sort"
)

// NodeID names a node of the mesh (the ID in its certificate).
type NodeID string

// Node is a mesh node in the inventory.
type Node struct {
	ID NodeID
	// Labels of the node: app, env, cloud, site, ...
	Labels map[string]string
	// Addresses are the node's mesh addresses (a /128 from the ULA prefix,
	// optionally a /32).
	Addresses []netip.Prefix
}

// Workload is a service instance (container, pod, VM process) running on a
// node, reached through that node's mesh address space.
type Workload struct {
	// Name is unique in the inventory, e.g. "prod/shop/web-0".
	Name string
	Node NodeID
	// Labels are the workload's own labels; they override the node's labels
	// of the same key, which the workload inherits.
	Labels    map[string]string
	Addresses []netip.Prefix
}

// Inventory is what the policy is compiled against.
type Inventory struct {
	Nodes     []Node
	Workloads []Workload
}

// bitset is a set of small integers.
type bitset []uint64

func newBitset(n int) bitset { return make(bitset, (n+63)/64) }

func (b bitset) set(i int)      { b[i>>6] |= 1 << (i & 63) }
func (b bitset) has(i int) bool { return b[i>>6]&(1<<(i&63)) != 0 }
func (b bitset) and(o bitset) {
	for i := range b {
		b[i] &= o[i]
	}
}
func (b bitset) andNot(o bitset) {
	for i := range b {
		b[i] &^= o[i]
	}
}
func (b bitset) or(o bitset) {
	for i := range b {
		b[i] |= o[i]
	}
}
func (b bitset) fill(n int) {
	if len(b) == 0 {
		return
	}
	for i := range b {
		b[i] = ^uint64(0)
	}
	if r := n & 63; r != 0 {
		b[len(b)-1] = 1<<r - 1
	}
}
func (b bitset) each(f func(int)) {
	for w, x := range b {
		for x != 0 {
			t := bits.TrailingZeros64(x)
			f(w<<6 + t)
			x &= x - 1
		}
	}
}

// endpoint is a node or a workload, with effective labels.
type endpoint struct {
	name   string // "node:<id>" or the workload name
	node   int
	labels map[string]string
	addrs  []netip.Prefix
}

type ruleRef struct {
	rule   int32
	remote int32 // identity index
}

// index is everything a compile derives from policy + inventory. It is
// immutable once built; Update builds a new one and diffs.
type index struct {
	policy    *Policy
	nodes     []Node // sorted by ID
	nodeIdx   map[NodeID]int
	endpoints []endpoint
	nodeEps   [][]int          // node -> endpoints hosted
	nodeAddrs [][]netip.Prefix // node -> all addresses (node + workloads)

	members   [][]int          // identity -> endpoints
	idAddrs   [][]netip.Prefix // identity -> addresses of its members
	idNodes   [][]int          // identity -> nodes hosting a member
	epIDs     [][]int32        // endpoint -> identities
	idMode    []Mode
	idSegment []string
	rulesFrom [][]ruleRef // identity -> rules it is a source of
	rulesTo   [][]ruleRef // identity -> rules it is a destination of

	idSig   map[string]uint64 // identity name -> signature of its members
	ruleSig map[string]uint64
	segSig  map[string]uint64
}

var sigSeed = maphash.MakeSeed()

func buildIndex(p *Policy, nodes map[NodeID]*Node, workloads map[string]*Workload) (*index, error) {
	ix := &index{policy: p, nodeIdx: make(map[NodeID]int, len(nodes))}
	ids := make([]NodeID, 0, len(nodes))
	for id := range nodes {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for i, id := range ids {
		ix.nodes = append(ix.nodes, *nodes[id])
		ix.nodeIdx[id] = i
		ix.endpoints = append(ix.endpoints, endpoint{name: "node:" + string(id), node: i, labels: nodes[id].Labels, addrs: nodes[id].Addresses})
	}
	wnames := sortedKeys(workloads)
	for _, name := range wnames {
		w := workloads[name]
		ni, ok := ix.nodeIdx[w.Node]
		if !ok {
			return nil, fmt.Errorf("workload %q runs on unknown node %q", name, w.Node)
		}
		labels := make(map[string]string, len(w.Labels)+len(ix.nodes[ni].Labels))
		for k, v := range ix.nodes[ni].Labels {
			labels[k] = v
		}
		for k, v := range w.Labels {
			labels[k] = v
		}
		ix.endpoints = append(ix.endpoints, endpoint{name: name, node: ni, labels: labels, addrs: w.Addresses})
	}
	ix.nodeEps = make([][]int, len(ix.nodes))
	ix.nodeAddrs = make([][]netip.Prefix, len(ix.nodes))
	for e, ep := range ix.endpoints {
		ix.nodeEps[ep.node] = append(ix.nodeEps[ep.node], e)
		ix.nodeAddrs[ep.node] = append(ix.nodeAddrs[ep.node], ep.addrs...)
	}

	// Label index: key -> value -> endpoints, key -> endpoints having it.
	n := len(ix.endpoints)
	byValue := map[string]map[string]bitset{}
	byKey := map[string]bitset{}
	for e, ep := range ix.endpoints {
		for k, v := range ep.labels {
			vm := byValue[k]
			if vm == nil {
				vm = map[string]bitset{}
				byValue[k] = vm
				byKey[k] = newBitset(n)
			}
			bs := vm[v]
			if bs == nil {
				bs = newBitset(n)
				vm[v] = bs
			}
			bs.set(e)
			byKey[k].set(e)
		}
	}
	empty := newBitset(n)

	nid := len(p.Identities)
	ix.members = make([][]int, nid)
	ix.idAddrs = make([][]netip.Prefix, nid)
	ix.idNodes = make([][]int, nid)
	ix.epIDs = make([][]int32, n)
	ix.idMode = make([]Mode, nid)
	ix.idSegment = make([]string, nid)
	ix.idSig = make(map[string]uint64, nid)
	work := newBitset(n)
	tmp := newBitset(n)
	for i := range p.Identities {
		sel := &p.Identities[i].Selector
		work.fill(n)
		for k, v := range sel.MatchLabels {
			if bs := byValue[k][v]; bs != nil {
				work.and(bs)
			} else {
				work.and(empty)
			}
		}
		for _, r := range sel.MatchExpressions {
			switch r.Operator {
			case In, NotIn:
				clear(tmp)
				for _, v := range r.Values {
					if bs := byValue[r.Key][v]; bs != nil {
						tmp.or(bs)
					}
				}
				if r.Operator == In {
					work.and(tmp)
				} else {
					work.andNot(tmp)
				}
			case Exists:
				if bs := byKey[r.Key]; bs != nil {
					work.and(bs)
				} else {
					work.and(empty)
				}
			case DoesNotExist:
				if bs := byKey[r.Key]; bs != nil {
					work.andNot(bs)
				}
			}
		}
		var h maphash.Hash
		h.SetSeed(sigSeed)
		lastNode := -1
		work.each(func(e int) {
			ix.members[i] = append(ix.members[i], e)
			ep := &ix.endpoints[e]
			ix.idAddrs[i] = append(ix.idAddrs[i], ep.addrs...)
			ix.epIDs[e] = append(ix.epIDs[e], int32(i))
			if ep.node != lastNode { // endpoints are grouped by node only for nodes; dedup below
				ix.idNodes[i] = append(ix.idNodes[i], ep.node)
				lastNode = ep.node
			}
			h.WriteString(ep.name)
			h.WriteByte(0)
			h.WriteString(string(ix.nodes[ep.node].ID))
			h.WriteByte(0)
			for _, a := range ep.addrs {
				b, _ := a.MarshalBinary()
				h.Write(b)
			}
			h.WriteByte(0)
		})
		slices.Sort(ix.idNodes[i])
		ix.idNodes[i] = slices.Compact(ix.idNodes[i])
		ix.idSig[p.Identities[i].Name] = h.Sum64()
		ix.idMode[i], ix.idSegment[i] = p.ModeOf(p.Identities[i].Name)
	}

	ix.rulesFrom = make([][]ruleRef, nid)
	ix.rulesTo = make([][]ruleRef, nid)
	ix.ruleSig = make(map[string]uint64, len(p.Rules))
	for r := range p.Rules {
		rule := &p.Rules[r]
		for _, f := range rule.From {
			fi := int32(p.ids[f])
			for _, t := range rule.To {
				ti := int32(p.ids[t])
				ix.rulesFrom[fi] = append(ix.rulesFrom[fi], ruleRef{rule: int32(r), remote: ti})
				ix.rulesTo[ti] = append(ix.rulesTo[ti], ruleRef{rule: int32(r), remote: fi})
			}
		}
		var h maphash.Hash
		h.SetSeed(sigSeed)
		for _, s := range [][]string{rule.From, rule.To} {
			for _, x := range s {
				h.WriteString(x)
				h.WriteByte(0)
			}
			h.WriteByte(1)
		}
		for _, pr := range rule.Ports {
			h.WriteByte(byte(pr.Proto))
			h.WriteByte(byte(pr.Lo >> 8))
			h.WriteByte(byte(pr.Lo))
			h.WriteByte(byte(pr.Hi >> 8))
			h.WriteByte(byte(pr.Hi))
		}
		ix.ruleSig[rule.Name] = h.Sum64()
	}
	ix.segSig = make(map[string]uint64, len(p.Segments))
	for _, s := range p.Segments {
		var h maphash.Hash
		h.SetSeed(sigSeed)
		h.WriteByte(byte(s.Mode))
		for _, x := range s.Identities {
			h.WriteString(x)
			h.WriteByte(0)
		}
		ix.segSig[s.Name] = h.Sum64()
	}
	return ix, nil
}

// identityNodes returns the nodes hosting members of the named identity.
func (ix *index) identityNodes(name string) []int {
	i, ok := ix.policy.ids[name]
	if !ok {
		return nil
	}
	return ix.idNodes[i]
}

// sortedNodeIDs returns the IDs of a set of nodes.
func sortedNodeIDs(set map[NodeID]bool) []NodeID {
	out := make([]NodeID, 0, len(set))
	for id := range set {
		out = append(out, id)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}
