package server

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hoheit/hoheit/internal/agent"
	"github.com/hoheit/hoheit/internal/api"
	"github.com/hoheit/hoheit/internal/segment"
)

const workloadPolicy = `apiVersion: hoheit/v1
kind: SegmentPolicy
name: workloads
mode: protect
identities:
  billing: {match_labels: {app: billing, site: dc-berlin}}
  db: {match_labels: {app: db}}
  web: {match_labels: {app: web}}
rules:
  - {name: billing-to-db, from: billing, to: db, ports: [tcp/5432]}
`

// TestWorkloadsReportedByAgents: an agent on netstack reports a workload
// (a container behind its bridge); a rule selecting the workload's labels
// (one of them inherited from its node) compiles into the database node's
// inbound rule and the workload node's outbound rule, the database node's
// peer entry for the workload node routes the workload's address, a node
// the rules do not connect gets neither, and addresses another node holds
// or inside the mesh are refused.
func TestWorkloadsReportedByAgents(t *testing.T) {
	h := newHarness(t, harnessOpts{allowInsecure: true})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if st, res := h.putPolicy([]byte(workloadPolicy)); st != 200 || !res.Applied {
		t.Fatalf("apply: %d %+v", st, res)
	}
	host := h.startMeshNode(ctx, "host-1", map[string]string{"site": "dc-berlin"})
	db := h.startMeshNode(ctx, "db-1", map[string]string{"app": "db"})
	web := h.startMeshNode(ctx, "web-1", map[string]string{"app": "web"})

	config := func(srv *Server, id string) (*api.MeshConfig, *segment.NodeRuleSet) {
		t.Helper()
		cfg, _, err := srv.configFor(ctx, h.node(id))
		if err != nil {
			t.Fatal(err)
		}
		var rs segment.NodeRuleSet
		if err := json.Unmarshal(cfg.Rules, &rs); err != nil {
			t.Fatal(err)
		}
		return cfg, &rs
	}
	peer := func(cfg *api.MeshConfig, id string) *api.MeshPeer {
		for i := range cfg.Peers {
			if cfg.Peers[i].NodeID == id {
				return &cfg.Peers[i]
			}
		}
		return nil
	}
	if cfg, _ := config(h.srv, "db-1"); peer(cfg, "host-1") != nil {
		t.Fatalf("db-1 has host-1 as a peer before host-1 runs a billing workload")
	}

	old := db.a.MeshETag()
	ws, err := agent.ParseWorkloads([]byte("- name: billing-0\n  labels: {app: billing}\n  addresses: [10.88.0.5]\n"))
	if err != nil {
		t.Fatal(err)
	}
	if err := host.a.SetWorkloads(ctx, ws); err != nil {
		t.Fatal(err)
	}
	waitETagChange(t, db, old, 2*time.Second)
	// db-1's agent applied the config with the workload's address (the
	// agent takes an ETag only after its device accepted the config).
	want, _ := config(h.srv, "db-1")
	for deadline := time.Now().Add(5 * time.Second); db.a.MeshETag() != want.ETag; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("db-1 did not apply the config with host-1's workload")
		}
	}

	check := func(srv *Server) {
		t.Helper()
		cfg, rs := config(srv, "db-1")
		p := peer(cfg, "host-1")
		if p == nil || !slices.Contains(p.AllowedIPs, "10.88.0.5/32") {
			t.Fatalf("db-1's peer host-1: %+v, want AllowedIPs with 10.88.0.5/32", p)
		}
		in := false
		for _, r := range rs.Inbound {
			if r.Rule == "billing-to-db" && slices.Contains(r.Remote, netip.MustParsePrefix("10.88.0.5/32")) {
				in = true
			}
		}
		if !in {
			t.Fatalf("db-1's rule set has no inbound billing-to-db from 10.88.0.5:\n%s", rs.Format())
		}
		hcfg, hrs := config(srv, "host-1")
		if peer(hcfg, "db-1") == nil {
			t.Errorf("host-1 has no peer db-1")
		}
		local, out := false, false
		for _, l := range hrs.Locals {
			if l.Name == "host-1/billing-0" && slices.Contains(l.Identities, "billing") && slices.Contains(l.Addresses, netip.MustParsePrefix("10.88.0.5/32")) {
				local = true
			}
		}
		for _, r := range hrs.Outbound {
			if r.Rule == "billing-to-db" && r.LocalIdentity == "billing" {
				out = true
			}
		}
		if !local || !out {
			t.Errorf("host-1's rule set lacks the billing workload (local %v, outbound %v):\n%s", local, out, hrs.Format())
		}
		wcfg, _ := config(srv, "web-1")
		if p := peer(wcfg, "host-1"); p != nil {
			t.Errorf("web-1, which no rule connects, has host-1 as a peer: %+v", p)
		}
	}
	check(h.srv)

	// Addresses another node's workload holds, inside the mesh, or too
	// wide are refused; the refused node's config does not change.
	for _, tc := range []struct {
		addr   string
		status int
	}{
		{"10.88.0.0/24", http.StatusConflict},
		{"fd68:6f68:6569::7", http.StatusConflict},
		{"10.0.0.0/8", http.StatusBadRequest},
		{"127.0.0.1", http.StatusBadRequest},
	} {
		err := web.a.SetWorkloads(ctx, []api.Workload{{Name: "x", Addresses: []string{tc.addr}}})
		var re *agent.RefusedError
		if !errors.As(err, &re) || re.Status != tc.status {
			t.Errorf("workload at %s: %v, want a refusal with %d", tc.addr, err, tc.status)
		}
	}
	// The same report again changes nothing (one audit entry, below).
	if err := host.a.SetWorkloads(ctx, ws); err != nil {
		t.Fatal(err)
	}

	// The workloads are stored: a server started on the same store
	// compiles them again.
	srv2, err := New(h.srv.d)
	if err != nil {
		t.Fatal(err)
	}
	check(srv2)
	var n int
	for _, e := range h.auditEntries() {
		if e.Type == "mesh-workloads" && e.Node == "host-1" {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%d mesh-workloads audit entries for host-1, want 1", n)
	}

	// Removing them removes the peer again.
	if err := host.a.SetWorkloads(ctx, []api.Workload{}); err != nil {
		t.Fatal(err)
	}
	if cfg, _ := config(h.srv, "db-1"); peer(cfg, "host-1") != nil {
		t.Errorf("db-1 still has host-1 as a peer after its workloads are gone")
	}
	if db.a.MeshETag() == "" {
		t.Error("db-1 lost its config")
	}
}

func TestParseWorkloadAddr(t *testing.T) {
	for _, tc := range []struct {
		in, want string
	}{
		{"10.88.0.5", "10.88.0.5/32"},
		{"10.88.0.0/24", "10.88.0.0/24"},
		{"10.88.0.9/24", "10.88.0.0/24"},
		{"2001:db8:1::/64", "2001:db8:1::/64"},
		{"0.0.0.0/0", ""},
		{"10.0.0.0/8", ""},
		{"::/0", ""},
		{"224.0.0.1", ""},
		{"fe80::1", ""},
		{"::ffff:10.0.0.1", ""},
		{"nonsense", ""},
	} {
		p, err := segment.ParseWorkloadAddress(tc.in)
		if got := p.String(); tc.want == "" && err == nil || tc.want != "" && got != tc.want {
			t.Errorf("%s: %v %v, want %q", tc.in, p, err, tc.want)
		}
	}
	if _, err := parseWorkloads("n", []api.Workload{{Name: "a/b", Addresses: []string{"10.1.0.1"}}}); err == nil || !strings.Contains(err.Error(), "name") {
		t.Errorf("a workload name with a slash: %v", err)
	}
}

// FuzzParseWorkloads: a node's report (untrusted JSON) never panics the
// checks, and what they accept holds only bounded unicast prefixes.
func FuzzParseWorkloads(f *testing.F) {
	f.Add([]byte(`{"workloads":[{"name":"billing-0","labels":{"app":"billing"},"addresses":["10.88.0.5","2001:db8::/64"]}]}`))
	f.Add([]byte(`{"workloads":[{"name":"a","addresses":["0.0.0.0/0"]}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var req api.WorkloadsRequest
		if json.Unmarshal(data, &req) != nil {
			return
		}
		ws, err := parseWorkloads("node-1", req.Workloads)
		if err != nil {
			return
		}
		for _, w := range ws {
			for _, p := range w.Addresses {
				if !p.IsValid() || (p.Addr().Is4() && p.Bits() < 16) || (p.Addr().Is6() && p.Bits() < 48) {
					t.Fatalf("accepted %s for %s", p, w.Name)
				}
			}
		}
		m := newMesh(MeshOptions{})
		m.checkWorkloadsLocked("node-1", ws)
	})
}
