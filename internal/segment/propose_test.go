package segment

import (
	"net/netip"
	"testing"
	"time"
)

func learnedFlows() []FlowRecord {
	t0 := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	rec := func(node NodeID, src, dst string, proto Proto, port uint16, v Verdict, n uint64, d time.Duration) FlowRecord {
		return FlowRecord{FlowKey: FlowKey{Src: src, Dst: dst, Proto: proto, Port: port, Verdict: v}, Node: node, Count: n, FirstSeen: t0, LastSeen: t0.Add(d)}
	}
	return []FlowRecord{
		rec(webNode, "web", "pricelist", TCP, 8080, AllowUnlisted, 120, time.Hour),
		rec(priceNode, "web", "pricelist", TCP, 8080, AllowUnlisted, 118, 2*time.Hour),
		rec(webNode, "web", "billing", TCP, 8443, AllowUnlisted, 7, time.Hour),
		rec(billNode, "billing", "customer-db", TCP, 5432, AllowUnlisted, 40, time.Hour),
		rec(billNode, "billing", "customer-db", TCP, 5433, AllowUnlisted, 1, time.Minute),
		rec(dbNode, "monitoring", "customer-db", ICMP, 0, AllowUnlisted, 3, time.Minute),
		rec(dbNode, "pricelist", "customer-db", TCP, 5432, Drop, 2, time.Minute),
		{FlowKey: FlowKey{SrcAddr: netip.MustParseAddr("fd7a::99"), Dst: "web", Proto: UDP, Port: 53, Verdict: AllowUnlisted}, Count: 1, FirstSeen: t0, LastSeen: t0},
	}
}

func TestPropose(t *testing.T) {
	p := Propose(learnedFlows(), ProposeOptions{})
	out, err := p.Format()
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "propose/from-scratch.yaml", out)
	back, err := ParsePolicy(out)
	if err != nil {
		t.Fatalf("proposed policy does not parse: %v\n%s", err, out)
	}
	if back.Mode != Learn || len(back.Rules) != 4 {
		t.Fatalf("proposed: mode %s, %d rules", back.Mode, len(back.Rules))
	}
	if r := back.Evaluate(map[string]string{"app": "billing"}, map[string]string{"app": "customer-db"}, TCP, 5433); r == nil {
		t.Errorf("billing -> customer-db:5433 was learned but is not allowed")
	}

	// On top of the shop policy only what it does not allow yet is added.
	base := shopPolicy(t)
	p = Propose(learnedFlows(), ProposeOptions{Base: base})
	out, err = p.Format()
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "propose/on-shop.yaml", out)
	back, err = ParsePolicy(out)
	if err != nil {
		t.Fatalf("proposed policy does not parse: %v\n%s", err, out)
	}
	if len(back.Rules) != len(base.Rules)+1 {
		t.Errorf("got %d rules, want the %d of shop plus billing -> customer-db:5433", len(back.Rules), len(base.Rules))
	}
	if f := back.RunTests(); len(f) != 0 {
		t.Errorf("shop's tests fail on the proposal: %v", f)
	}
}

func TestFormatRoundTrip(t *testing.T) {
	p := shopPolicy(t)
	out, err := p.Format()
	if err != nil {
		t.Fatal(err)
	}
	q, err := ParsePolicy(out)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	out2, err := q.Format()
	if err != nil {
		t.Fatal(err)
	}
	if string(out) != string(out2) {
		t.Fatalf("Format is not stable:\n%s\n---\n%s", out, out2)
	}
}
