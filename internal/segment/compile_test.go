package segment

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"strings"
	"testing"
	"time"
)

func formatSets(c *Compiler) string {
	sets := c.RuleSets()
	ids := make(map[NodeID]bool, len(sets))
	for id := range sets {
		ids[id] = true
	}
	var b strings.Builder
	for _, id := range sortedNodeIDs(ids) {
		b.WriteString(sets[id].Format())
	}
	return b.String()
}

func TestCompileShop(t *testing.T) {
	c, err := NewCompiler(shopPolicy(t), shopInventory(t))
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "compile/shop.golden", []byte(formatSets(c)))

	web, _ := c.RuleSet("aws-fra-web-1")
	for _, p := range web.Peers {
		if p.Node == "dc-berlin-db" {
			t.Errorf("web's node gets the customer-db node as a peer")
		}
	}
	db, _ := c.RuleSet("dc-berlin-db")
	var peers []NodeID
	for _, p := range db.Peers {
		peers = append(peers, p.Node)
	}
	if fmt.Sprint(peers) != "[dc-berlin-1 ops-1]" {
		t.Errorf("customer-db peers = %v, want billing's and monitoring's nodes", peers)
	}
}

func TestCompileUpdateAffectsOnlyAffected(t *testing.T) {
	p := shopPolicy(t)
	inv := shopInventory(t)
	c, err := NewCompiler(p, inv)
	if err != nil {
		t.Fatal(err)
	}
	before := c.RuleSets()

	check := func(t *testing.T, affected []NodeID, want string) {
		t.Helper()
		if fmt.Sprint(affected) != want {
			t.Fatalf("affected = %v, want %v", affected, want)
		}
		aff := map[NodeID]bool{}
		for _, id := range affected {
			aff[id] = true
		}
		after := c.RuleSets()
		for id, rs := range after {
			old, existed := before[id]
			switch {
			case aff[id] && existed && rs.Version != old.Version+1:
				t.Errorf("%s: version %d after change, was %d", id, rs.Version, old.Version)
			case !aff[id] && (rs != old || rs.Version != old.Version):
				t.Errorf("%s: untouched node's rule set changed (version %d -> %d)", id, old.Version, rs.Version)
			}
		}
		// The incremental result equals a full compile.
		full, err := NewCompiler(c.Policy(), c.inventory())
		if err != nil {
			t.Fatal(err)
		}
		for id, rs := range after {
			if f := full.sets[id]; f == nil || f.hash != rs.hash {
				t.Errorf("%s: incremental rule set differs from a full compile", id)
			}
		}
		if len(full.sets) != len(after) {
			t.Errorf("incremental has %d sets, full %d", len(after), len(full.sets))
		}
		before = after
	}

	t.Run("unrelated node added", func(t *testing.T) {
		aff, err := c.Update(UpsertNode{Node{ID: "lab-1", Labels: map[string]string{"app": "lab"}, Addresses: []netip.Prefix{netip.MustParsePrefix("fd7a:6f68:6569::99/128")}}})
		if err != nil {
			t.Fatal(err)
		}
		check(t, aff, "[lab-1]")
	})
	t.Run("second billing node", func(t *testing.T) {
		aff, err := c.Update(UpsertNode{Node{ID: "dc-bonn-1", Labels: map[string]string{"site": "dc-bonn", "app": "billing", "env": "prod"},
			Addresses: []netip.Prefix{netip.MustParsePrefix("fd7a:6f68:6569::51/128")}}})
		if err != nil {
			t.Fatal(err)
		}
		// billing's peers: web (inbound), customer-db (outbound), monitoring.
		check(t, aff, "[aws-fra-web-1 dc-berlin-db dc-bonn-1 ops-1]")
	})
	t.Run("relabel unrelated node", func(t *testing.T) {
		aff, err := c.Update(UpsertNode{Node{ID: "lab-1", Labels: map[string]string{"app": "lab2"}, Addresses: []netip.Prefix{netip.MustParsePrefix("fd7a:6f68:6569::99/128")}}})
		if err != nil {
			t.Fatal(err)
		}
		check(t, aff, "[]")
	})
	t.Run("rule port changed", func(t *testing.T) {
		p2 := *p
		p2.Rules = append([]Rule(nil), p.Rules...)
		p2.Rules[0].Ports = []PortRange{{Proto: TCP, Lo: 8081, Hi: 8081}} // web-to-pricelist
		aff, err := c.Update(SetPolicy{&p2})
		if err != nil {
			t.Fatal(err)
		}
		check(t, aff, "[aws-fra-web-1 azure-gwc-1]")
	})
	t.Run("node removed", func(t *testing.T) {
		aff, err := c.Update(RemoveNode{"dc-bonn-1"})
		if err != nil {
			t.Fatal(err)
		}
		check(t, aff, "[aws-fra-web-1 dc-berlin-db dc-bonn-1 ops-1]")
	})
	t.Run("workload moved", func(t *testing.T) {
		aff, err := c.Update(UpsertWorkload{Workload{Name: "shop/pricelist-0", Node: "lab-1", Labels: map[string]string{"app": "pricelist", "env": "prod"},
			Addresses: []netip.Prefix{netip.MustParsePrefix("fd7a:6f68:6569:2::10/128")}}})
		if err != nil {
			t.Fatal(err)
		}
		check(t, aff, "[aws-fra-web-1 azure-gwc-1 lab-1 ops-1]")
	})
	t.Run("unknown node", func(t *testing.T) {
		if _, err := c.Update(RemoveNode{"nope"}); err == nil {
			t.Fatal("removing an unknown node succeeded")
		}
	})
}

// inventory reconstructs the compiler's current inventory (tests only).
func (c *Compiler) inventory() Inventory {
	var inv Inventory
	for _, n := range c.nodes {
		inv.Nodes = append(inv.Nodes, *n)
	}
	for _, w := range c.workloads {
		inv.Workloads = append(inv.Workloads, *w)
	}
	return inv
}

// bigSetup builds nodes nodes and rules rules over app/env/cloud/site
// labels: 500 identities (app x env), each rule between two random ones
// with one or two port ranges.
func bigSetup(tb testing.TB, nodes, rules int) (*Policy, Inventory) {
	tb.Helper()
	rng := rand.New(rand.NewPCG(1, 2))
	clouds := []string{"aws", "azure", "gcp", "otc", "stackit"}
	var b strings.Builder
	b.WriteString(head + "identities:\n")
	const apps = 250
	for a := 0; a < apps; a++ {
		for _, env := range []string{"prod", "test"} {
			fmt.Fprintf(&b, "  app%d-%s: {match_labels: {app: app%d, env: %s}}\n", a, env, a, env)
		}
	}
	fmt.Fprintf(&b, "  aws-prod:\n    match_labels: {env: prod}\n    match_expressions: [{key: cloud, operator: In, values: [aws, azure]}]\n")
	b.WriteString("rules:\n")
	for r := 0; r < rules; r++ {
		from := fmt.Sprintf("app%d-%s", rng.IntN(apps), []string{"prod", "test"}[rng.IntN(2)])
		to := fmt.Sprintf("app%d-%s", rng.IntN(apps), []string{"prod", "test"}[rng.IntN(2)])
		port := 1000 + rng.IntN(9000)
		fmt.Fprintf(&b, "  - {name: r%d, from: %s, to: %s, ports: [tcp/%d, udp/%d-%d]}\n", r, from, to, port, port, port+10)
	}
	p, err := ParsePolicy([]byte(b.String()))
	if err != nil {
		tb.Fatal(err)
	}
	var inv Inventory
	for i := 0; i < nodes; i++ {
		a := i % apps
		env := []string{"prod", "test"}[(i/apps)%2]
		inv.Nodes = append(inv.Nodes, Node{
			ID:     NodeID(fmt.Sprintf("n%04d", i)),
			Labels: map[string]string{"app": fmt.Sprintf("app%d", a), "env": env, "cloud": clouds[i%len(clouds)], "site": fmt.Sprintf("s%d", i%7)},
			Addresses: []netip.Prefix{
				netip.PrefixFrom(netip.AddrFrom16([16]byte{0xfd, 0x7a, 15: byte(i), 14: byte(i >> 8)}), 128),
				netip.PrefixFrom(netip.AddrFrom4([4]byte{100, 64, byte(i >> 8), byte(i)}), 32),
			},
		})
	}
	return p, inv
}

func TestCompileBig(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	p, inv := bigSetup(t, 1000, 5000)
	start := time.Now()
	c, err := NewCompiler(p, inv)
	if err != nil {
		t.Fatal(err)
	}
	full := time.Since(start)
	var rules int
	for _, rs := range c.RuleSets() {
		rules += len(rs.Inbound) + len(rs.Outbound)
	}
	start = time.Now()
	aff, err := c.Update(UpsertNode{Node{ID: "n0001", Labels: map[string]string{"app": "app1", "env": "test"}, Addresses: inv.Nodes[1].Addresses}})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("full compile %v (%d compiled rules); relabel one node: %v, %d nodes changed", full, rules, time.Since(start), len(aff))
	if len(aff) == 0 || len(aff) > 200 {
		t.Errorf("relabelling one node changed %d rule sets", len(aff))
	}
}

func BenchmarkCompile1000x5000(b *testing.B) {
	p, inv := bigSetup(b, 1000, 5000)
	b.ResetTimer()
	for b.Loop() {
		if _, err := NewCompiler(p, inv); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkUpdateOneNode1000x5000(b *testing.B) {
	p, inv := bigSetup(b, 1000, 5000)
	c, err := NewCompiler(p, inv)
	if err != nil {
		b.Fatal(err)
	}
	n := inv.Nodes[1]
	i := 0
	for b.Loop() {
		n.Labels = map[string]string{"app": fmt.Sprintf("app%d", i%2), "env": "test"}
		i++
		if _, err := c.Update(UpsertNode{n}); err != nil {
			b.Fatal(err)
		}
	}
}
