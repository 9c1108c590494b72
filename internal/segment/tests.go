package segment

import (
	"fmt"
	"strings"
)

// TestFailure is a test of the tests section whose outcome differs from the
// policy's.
type TestFailure struct {
	Test     FlowTest
	Expected Expect
	Actual   Expect
	// Rule names the rule that allowed the flow when a deny was expected
	// ("" otherwise), RuleLine its line.
	Rule     string
	RuleLine int
	// Problem is set when the test could not be evaluated (an identity no
	// endpoint can satisfy).
	Problem string
	// From and To name the real endpoints (node id or workload name) of
	// the inventory the flow was allowed between, when the test failed on
	// them rather than on the identities' representatives (RunTestsOn).
	From, To string
}

func (f TestFailure) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "line %d: %s: ", f.Test.Line, f.Test.Flow())
	if f.Problem != "" {
		b.WriteString(f.Problem)
		return b.String()
	}
	fmt.Fprintf(&b, "expected %s, got %s", f.Expected, f.Actual)
	if f.From != "" {
		fmt.Fprintf(&b, " from %s to %s", f.From, f.To)
	}
	if f.Rule != "" {
		fmt.Fprintf(&b, " (allowed by rule %q on line %d)", f.Rule, f.RuleLine)
	} else if f.Expected == ExpectAllow {
		b.WriteString(" (no rule allows it)")
	}
	return b.String()
}

// RunTests evaluates the tests section and returns the failures, nil when
// every test passes. Apply must refuse a policy with failures.
//
// A test is evaluated on a representative endpoint of each identity: one
// that carries exactly the labels the identity's selector requires (its
// match_labels, the first value of each In expression, a value for each
// Exists). Every rule is matched against those labels, so a rule whose
// selectors overlap another identity (an empty selector, a shared label) is
// caught: a test "web -> customer-db:5432 deny" fails when a rule from
// "everything" reaches customer-db.
func (p *Policy) RunTests() []TestFailure {
	var out []TestFailure
	for _, t := range p.Tests {
		src, ok1 := p.representative(t.From)
		dst, ok2 := p.representative(t.To)
		if !ok1 || !ok2 {
			bad := t.From
			if ok1 {
				bad = t.To
			}
			out = append(out, TestFailure{Test: t, Expected: t.Expect, Actual: ExpectDeny,
				Problem: fmt.Sprintf("identity %q has no possible member: its selector contradicts itself", bad)})
			continue
		}
		rule := p.allowingRule(src, dst, t.Proto, t.Port)
		actual := Expect(rule != nil)
		if actual == t.Expect {
			continue
		}
		f := TestFailure{Test: t, Expected: t.Expect, Actual: actual}
		if rule != nil {
			f.Rule, f.RuleLine = rule.Name, rule.Line
		}
		out = append(out, f)
	}
	return out
}

// Evaluate returns the first rule that allows proto/port from an endpoint
// with labels src to one with labels dst, or nil (denied).
func (p *Policy) Evaluate(src, dst map[string]string, proto Proto, port uint16) *Rule {
	return p.allowingRule(src, dst, proto, port)
}

func (p *Policy) allowingRule(src, dst map[string]string, proto Proto, port uint16) *Rule {
	for i := range p.Rules {
		r := &p.Rules[i]
		if !portsAdmit(r.Ports, proto, port) || !p.anyMatches(r.From, src) || !p.anyMatches(r.To, dst) {
			continue
		}
		return r
	}
	return nil
}

func portsAdmit(ports []PortRange, proto Proto, port uint16) bool {
	for _, pr := range ports {
		if pr.Contains(proto, port) {
			return true
		}
	}
	return false
}

func (p *Policy) anyMatches(ids []string, labels map[string]string) bool {
	for _, name := range ids {
		if id, ok := p.Identity(name); ok && id.Selector.Matches(labels) {
			return true
		}
	}
	return false
}

// representative builds the labels of a minimal member of an identity.
func (p *Policy) representative(name string) (map[string]string, bool) {
	id, ok := p.Identity(name)
	if !ok {
		return nil, false
	}
	labels := make(map[string]string, len(id.Selector.MatchLabels)+len(id.Selector.MatchExpressions))
	for k, v := range id.Selector.MatchLabels {
		labels[k] = v
	}
	for _, r := range id.Selector.MatchExpressions {
		if _, set := labels[r.Key]; set {
			continue
		}
		switch r.Operator {
		case In:
			labels[r.Key] = r.Values[0]
		case Exists:
			labels[r.Key] = "x"
		}
	}
	return labels, id.Selector.Matches(labels)
}

// RunTestsOn runs the tests section like RunTests, then checks every deny
// test again on the endpoints of inv (nodes, and workloads with the labels
// they inherit): a real endpoint carries more labels than an identity's
// representative, and those may let another rule's selectors match it (a
// node labelled both app=web and role=backup reaches what backups may). An
// allow test needs no second look: rules only allow, so what the minimal
// member of an identity may do, every member may. One failure per test,
// naming the first pair allowed.
func (p *Policy) RunTestsOn(inv Inventory) []TestFailure {
	out := p.RunTests()
	failed := make(map[FlowTest]bool, len(out))
	for _, f := range out {
		failed[f.Test] = true
	}
	eps := inventoryEndpoints(inv)
	for _, t := range p.Tests {
		if t.Expect != ExpectDeny || failed[t] {
			continue
		}
		from, ok1 := p.Identity(t.From)
		to, ok2 := p.Identity(t.To)
		if !ok1 || !ok2 {
			continue
		}
		var srcs, dsts []labelledEndpoint
		for _, ep := range eps {
			if from.Selector.Matches(ep.labels) {
				srcs = append(srcs, ep)
			}
			if to.Selector.Matches(ep.labels) {
				dsts = append(dsts, ep)
			}
		}
		// A pair is allowed when one rule matches both ends: per rule, the
		// members each of its sides matches (linear, not every pair).
		for i := range p.Rules {
			r := &p.Rules[i]
			if !portsAdmit(r.Ports, t.Proto, t.Port) {
				continue
			}
			src, dst, ok := p.allowedPair(r, srcs, dsts)
			if ok {
				out = append(out, TestFailure{Test: t, Expected: ExpectDeny, Actual: ExpectAllow,
					Rule: r.Name, RuleLine: r.Line, From: src, To: dst})
				break
			}
		}
	}
	return out
}

// allowedPair finds a source among srcs that r's from side matches and a
// different destination among dsts that its to side matches.
func (p *Policy) allowedPair(r *Rule, srcs, dsts []labelledEndpoint) (src, dst string, ok bool) {
	var from []string
	for _, e := range srcs {
		if p.anyMatches(r.From, e.labels) {
			from = append(from, e.name)
			if len(from) == 2 {
				break
			}
		}
	}
	if len(from) == 0 {
		return "", "", false
	}
	for _, e := range dsts {
		if !p.anyMatches(r.To, e.labels) {
			continue
		}
		for _, f := range from {
			if f != e.name {
				return f, e.name, true
			}
		}
	}
	return "", "", false
}

type labelledEndpoint struct {
	name   string
	labels map[string]string
}

// inventoryEndpoints lists the nodes and workloads of inv with the labels
// the selectors see (a workload's own over its node's).
func inventoryEndpoints(inv Inventory) []labelledEndpoint {
	nodes := make(map[NodeID]map[string]string, len(inv.Nodes))
	out := make([]labelledEndpoint, 0, len(inv.Nodes)+len(inv.Workloads))
	for _, n := range inv.Nodes {
		nodes[n.ID] = n.Labels
		out = append(out, labelledEndpoint{name: string(n.ID), labels: n.Labels})
	}
	for _, w := range inv.Workloads {
		labels := make(map[string]string, len(w.Labels)+len(nodes[w.Node]))
		for k, v := range nodes[w.Node] {
			labels[k] = v
		}
		for k, v := range w.Labels {
			labels[k] = v
		}
		out = append(out, labelledEndpoint{name: w.Name, labels: labels})
	}
	return out
}
