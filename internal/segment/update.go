package segment

import (
	"fmt"
	"slices"
)

// Change is one change to a Compiler's input: UpsertNode, RemoveNode,
// UpsertWorkload, RemoveWorkload or SetPolicy.
type Change interface{ change() }

// UpsertNode adds a node or replaces one (relabel, new addresses).
type UpsertNode struct{ Node Node }

// RemoveNode removes a node and the workloads on it.
type RemoveNode struct{ ID NodeID }

// UpsertWorkload adds a workload or replaces one.
type UpsertWorkload struct{ Workload Workload }

// RemoveWorkload removes a workload by name.
type RemoveWorkload struct{ Name string }

// SetPolicy replaces the policy (rules, identities, segments, modes).
type SetPolicy struct{ Policy *Policy }

func (UpsertNode) change()     {}
func (RemoveNode) change()     {}
func (UpsertWorkload) change() {}
func (RemoveWorkload) change() {}
func (SetPolicy) change()      {}

// Update applies a change and recompiles only the nodes it can affect:
// nodes hosting an endpoint that changed, nodes hosting members of an
// identity whose membership changed, and nodes on either side of a rule
// that changed or references such an identity. It returns the nodes whose
// rule set changed (new Version) or was removed, sorted; a recompiled node
// whose content came out the same keeps its rule set and Version. On error
// nothing changes.
func (c *Compiler) Update(ch Change) (affected []NodeID, err error) {
	nodes := c.nodes
	workloads := c.workloads
	policy := c.policy
	touched := map[NodeID]bool{} // nodes whose own endpoints changed
	cloneNodes := func() {
		nodes = make(map[NodeID]*Node, len(c.nodes)+1)
		for k, v := range c.nodes {
			nodes[k] = v
		}
	}
	cloneWorkloads := func() {
		workloads = make(map[string]*Workload, len(c.workloads)+1)
		for k, v := range c.workloads {
			workloads[k] = v
		}
	}
	switch ch := ch.(type) {
	case UpsertNode:
		n := ch.Node
		if err := validateNode(&n); err != nil {
			return nil, err
		}
		cloneNodes()
		nodes[n.ID] = &n
		touched[n.ID] = true
	case RemoveNode:
		if _, ok := c.nodes[ch.ID]; !ok {
			return nil, fmt.Errorf("node %q is not in the inventory", ch.ID)
		}
		cloneNodes()
		delete(nodes, ch.ID)
		cloneWorkloads()
		for name, w := range workloads {
			if w.Node == ch.ID {
				delete(workloads, name)
			}
		}
		touched[ch.ID] = true
	case UpsertWorkload:
		w := ch.Workload
		if w.Name == "" {
			return nil, fmt.Errorf("workload has no name")
		}
		if _, ok := c.nodes[w.Node]; !ok {
			return nil, fmt.Errorf("workload %q runs on unknown node %q", w.Name, w.Node)
		}
		cloneWorkloads()
		if old, ok := workloads[w.Name]; ok {
			touched[old.Node] = true
		}
		workloads[w.Name] = &w
		touched[w.Node] = true
	case RemoveWorkload:
		old, ok := c.workloads[ch.Name]
		if !ok {
			return nil, fmt.Errorf("workload %q is not in the inventory", ch.Name)
		}
		cloneWorkloads()
		delete(workloads, ch.Name)
		touched[old.Node] = true
	case SetPolicy:
		if ch.Policy == nil {
			return nil, fmt.Errorf("nil policy")
		}
		policy = ch.Policy
	default:
		return nil, fmt.Errorf("unknown change %T", ch)
	}

	old := c.ix
	ix, err := buildIndex(policy, nodes, workloads)
	if err != nil {
		return nil, err
	}

	// Work out which nodes can be affected, by ID (indices differ between
	// the old and the new index).
	dirty := map[NodeID]bool{}
	for id := range touched {
		dirty[id] = true
	}
	markIdentity := func(name string) {
		for _, x := range []*index{old, ix} {
			for _, n := range x.identityNodes(name) {
				dirty[x.nodes[n].ID] = true
			}
		}
	}
	changedIDs := map[string]bool{}
	for name, sig := range ix.idSig {
		if osig, ok := old.idSig[name]; !ok || osig != sig {
			changedIDs[name] = true
		}
	}
	for name := range old.idSig {
		if _, ok := ix.idSig[name]; !ok {
			changedIDs[name] = true
		}
	}
	for name := range changedIDs {
		markIdentity(name)
	}
	markRule := func(x *index, r *Rule) {
		for _, name := range r.From {
			for _, n := range x.identityNodes(name) {
				dirty[x.nodes[n].ID] = true
			}
		}
		for _, name := range r.To {
			for _, n := range x.identityNodes(name) {
				dirty[x.nodes[n].ID] = true
			}
		}
	}
	refsChanged := func(r *Rule) bool {
		for _, name := range r.From {
			if changedIDs[name] {
				return true
			}
		}
		for _, name := range r.To {
			if changedIDs[name] {
				return true
			}
		}
		return false
	}
	for _, x := range []*index{old, ix} {
		other := ix
		if x == ix {
			other = old
		}
		for i := range x.policy.Rules {
			r := &x.policy.Rules[i]
			osig, ok := other.ruleSig[r.Name]
			if !ok || osig != x.ruleSig[r.Name] || refsChanged(r) {
				markRule(old, r)
				markRule(ix, r)
			}
		}
	}
	if old.policy.Mode != ix.policy.Mode {
		for _, x := range []*index{old, ix} {
			for _, n := range x.nodes {
				dirty[n.ID] = true
			}
		}
	}
	for _, x := range []*index{old, ix} {
		other := ix
		if x == ix {
			other = old
		}
		for _, s := range x.policy.Segments {
			if osig, ok := other.segSig[s.Name]; !ok || osig != x.segSig[s.Name] {
				for _, name := range s.Identities {
					markIdentity(name)
				}
			}
		}
	}

	var todo []int
	for id := range dirty {
		if n, ok := ix.nodeIdx[id]; ok {
			todo = append(todo, n)
		}
	}
	slices.Sort(todo)
	compiled := compileNodes(ix, todo)

	sets := c.sets
	changed := map[NodeID]bool{}
	next := make(map[NodeID]*NodeRuleSet, len(ix.nodes))
	for k, v := range sets {
		if _, ok := ix.nodeIdx[k]; ok {
			next[k] = v
		} else {
			changed[k] = true // removed
		}
	}
	for _, rs := range compiled {
		prev, ok := next[rs.Node]
		if ok && prev.hash == rs.hash {
			continue
		}
		rs.Version = 1
		if ok {
			rs.Version = prev.Version + 1
		}
		next[rs.Node] = rs
		changed[rs.Node] = true
	}
	c.nodes, c.workloads, c.policy, c.ix, c.sets = nodes, workloads, policy, ix, next
	return sortedNodeIDs(changed), nil
}
