package server

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/hoheit/hoheit/internal/agent"
	"github.com/hoheit/hoheit/internal/api"
	"github.com/hoheit/hoheit/internal/attest/insecure"
	"github.com/hoheit/hoheit/internal/mesh"
	"github.com/hoheit/hoheit/internal/segment"
)

func freeUDPPort(t testing.TB) uint16 {
	t.Helper()
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return uint16(c.LocalAddr().(*net.UDPAddr).Port)
}

// meshNode is an agent with a netstack mesh device.
type meshNode struct {
	a    *agent.Agent
	addr netip.Addr
}

func (h *harness) startMeshNode(ctx context.Context, id string, labels map[string]string) *meshNode {
	h.t.Helper()
	port := freeUDPPort(h.t)
	a, err := agent.New(agent.Config{
		Server: h.url, CA: h.caPEM, NodeID: id, Class: "dev", Issuer: insecure.Issuer{},
		Log: debugLog(id),
		Mesh: &agent.MeshConfig{Datapath: mesh.Netstack, ListenPort: port, Labels: labels,
			Endpoints: []string{netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), port).String()}, FlowsEvery: time.Hour},
	})
	if err != nil {
		h.t.Fatal(err)
	}
	go a.Run(ctx)
	h.t.Cleanup(a.Close)
	deadline := time.Now().Add(20 * time.Second)
	for a.MeshDevice() == nil || a.MeshETag() == "" {
		if time.Now().After(deadline) {
			h.t.Fatalf("%s: mesh did not come up", id)
		}
		time.Sleep(20 * time.Millisecond)
	}
	addrs := a.MeshAddresses()
	p, err := netip.ParsePrefix(addrs[0])
	if err != nil {
		h.t.Fatal(err)
	}
	return &meshNode{a: a, addr: p.Addr()}
}

func (h *harness) putPolicy(policy []byte) (int, api.SegmentPolicyResult) {
	h.t.Helper()
	req, _ := http.NewRequest(http.MethodPut, h.url+api.PathSegPolicy, bytes.NewReader(policy))
	req.Header.Set("Authorization", "Bearer "+h.admin)
	resp, err := h.client.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	var res api.SegmentPolicyResult
	json.NewDecoder(resp.Body).Decode(&res)
	return resp.StatusCode, res
}

// waitETagChange waits until the node's mesh config changes from old.
func waitETagChange(t *testing.T, n *meshNode, old string, within time.Duration) {
	t.Helper()
	start := time.Now()
	for n.a.MeshETag() == old {
		if time.Since(start) > within {
			t.Fatalf("mesh config did not change within %v", within)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// TestMeshSegmentation: attested agents on netstack form a WireGuard mesh
// over 127.0.0.1 with real handshakes; the segmentation policy lets web
// reach pricelist on tcp/8080, drops and reports web -> customer-db:5432,
// and a revocation removes the node from its peers at once.
func TestMeshSegmentation(t *testing.T) {
	hooked := make(chan segment.Alert, 16)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var a segment.Alert
		if err := json.NewDecoder(r.Body).Decode(&a); err == nil {
			hooked <- a
		}
	}))
	defer hook.Close()
	h := newHarness(t, harnessOpts{allowInsecure: true, mesh: MeshOptions{AlertWebhook: hook.URL}})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	h.srv.Background(ctx)
	policy, err := os.ReadFile("../../examples/segment/shop.yaml")
	if err != nil {
		t.Fatal(err)
	}
	// A policy whose tests fail is refused, and says which.
	broken := bytes.Replace(policy, []byte("  - web -> customer-db:5432 deny"), []byte("  - web -> customer-db:5432 allow"), 1)
	if st, res := h.putPolicy(broken); st != http.StatusUnprocessableEntity || res.Applied || len(res.Failures) != 1 || !strings.Contains(res.Failures[0], "customer-db:5432") {
		t.Fatalf("a policy with a failing test: status %d %+v", st, res)
	}
	if st, res := h.putPolicy(policy); st != 200 || !res.Applied {
		t.Fatalf("apply: %d %+v", st, res)
	}

	web := h.startMeshNode(ctx, "web-1", map[string]string{"app": "web", "env": "prod", "cloud": "aws"})
	price := h.startMeshNode(ctx, "pricelist-1", map[string]string{"app": "pricelist", "env": "prod", "cloud": "azure"})
	db := h.startMeshNode(ctx, "customer-db-1", map[string]string{"app": "customer-db", "env": "prod", "site": "dc-berlin"})
	_ = db

	nsOf := func(n *meshNode) *mesh.NetstackDevice { return n.a.MeshDevice().(*mesh.NetstackDevice) }
	serve := func(n *meshNode, port uint16) {
		ln, err := nsOf(n).Net().ListenTCPAddrPort(netip.AddrPortFrom(n.addr, port))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ln.Close() })
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				go func() { io.Copy(c, c); c.Close() }()
			}
		}()
	}
	serve(price, 8080)
	serve(db, 5432)
	dial := func(from, to *meshNode, port uint16, within time.Duration) error {
		dctx, cancel := context.WithTimeout(ctx, within)
		defer cancel()
		c, err := nsOf(from).Net().DialContextTCPAddrPort(dctx, netip.AddrPortFrom(to.addr, port))
		if err != nil {
			return err
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(within))
		if _, err := c.Write([]byte("ping")); err != nil {
			return err
		}
		buf := make([]byte, 4)
		_, err = io.ReadFull(c, buf)
		return err
	}

	// web -> pricelist:8080 works (the first dial waits for the peers'
	// configs and the WireGuard handshake).
	deadline := time.Now().Add(15 * time.Second)
	for {
		err := dial(web, price, 8080, 2*time.Second)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("web -> pricelist:8080: %v", err)
		}
	}
	// The attack: web -> customer-db:5432 is dropped ...
	if err := dial(web, db, 5432, 1500*time.Millisecond); err == nil {
		t.Fatal("web reached customer-db:5432")
	}
	// ... and reported.
	if err := web.a.ShipFlows(ctx); err != nil {
		t.Fatal(err)
	}
	var alerts []segment.Alert
	if st := h.getJSON(api.PathSegAlerts, &alerts); st != 200 {
		t.Fatalf("alerts: %d", st)
	}
	found := false
	for _, a := range alerts {
		if a.Node == "web-1" && a.Flow.Port == 5432 && a.Flow.Verdict == segment.Drop {
			found = true
		}
	}
	if !found {
		t.Fatalf("no alert for web -> customer-db:5432 in %+v", alerts)
	}
	select {
	case a := <-hooked:
		if a.Node != "web-1" || a.Flow.Port != 5432 {
			t.Errorf("webhook got %+v", a)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the webhook received no alert")
	}

	// Revocation reaches web within 1 s and removes pricelist as a peer.
	old := web.a.MeshETag()
	start := time.Now()
	if st, e := h.postAdmin(api.PathNodes+"/pricelist-1/revoke", api.RevokeRequest{Reason: "compromised"}); st != 200 {
		t.Fatalf("revoke: %d %+v", st, e)
	}
	waitETagChange(t, web, old, time.Second)
	t.Logf("revocation applied on web %v after the admin's call", time.Since(start))
	if err := dial(web, price, 8080, time.Second); err == nil {
		t.Fatal("web still reaches the revoked pricelist")
	}
}

func (h *harness) getJSON(path string, out any) int {
	h.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, h.url+path, nil)
	req.Header.Set("Authorization", "Bearer "+h.admin)
	resp, err := h.client.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	json.NewDecoder(resp.Body).Decode(out)
	return resp.StatusCode
}

const promotionPolicy = `apiVersion: hoheit/v1
kind: SegmentPolicy
name: promo
identities:
  web: {match_labels: {app: web}}
  db: {match_labels: {app: db}}
segments:
  shop:
    identities: [web, db]
    mode: learn
    promotion: {monitor_after: 1h, protect_after: 1h}
rules:
  - {name: web-to-db-ssh, from: web, to: db, ports: [tcp/22]}
tests:
  - web -> db:22 allow
  - web -> db:5432 deny
`

// TestMeshPromotion: a segment in learn mode lets everything through and
// records it; after a quiet window it moves to monitor, after another to
// protect, where a flow outside the policy is dropped.
func TestMeshPromotion(t *testing.T) {
	h := newHarness(t, harnessOpts{allowInsecure: true})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if st, res := h.putPolicy([]byte(promotionPolicy)); st != 200 || !res.Applied {
		t.Fatalf("apply: %d %+v", st, res)
	}
	web := h.startMeshNode(ctx, "web-1", map[string]string{"app": "web"})
	db := h.startMeshNode(ctx, "db-1", map[string]string{"app": "db"})
	ns := func(n *meshNode) *mesh.NetstackDevice { return n.a.MeshDevice().(*mesh.NetstackDevice) }
	for _, port := range []uint16{22, 5432} {
		ln, err := ns(db).Net().ListenTCPAddrPort(netip.AddrPortFrom(db.addr, port))
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				go func() { io.Copy(c, c); c.Close() }()
			}
		}()
	}
	dial := func(port uint16, within time.Duration) error {
		dctx, c := context.WithTimeout(ctx, within)
		defer c()
		conn, err := ns(web).Net().DialContextTCPAddrPort(dctx, netip.AddrPortFrom(db.addr, port))
		if err != nil {
			return err
		}
		conn.Close()
		return nil
	}
	waitDial := func(port uint16) {
		t.Helper()
		deadline := time.Now().Add(15 * time.Second)
		for {
			err := dial(port, 2*time.Second)
			if err == nil {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("web -> db:%d: %v", port, err)
			}
		}
	}
	// learn: the flow outside the rules passes and is recorded.
	waitDial(5432)
	web.a.ShipFlows(ctx)
	db.a.ShipFlows(ctx)

	promote := func(want string) {
		t.Helper()
		old := web.a.MeshETag()
		h.clock.advance(61 * time.Minute)
		if err := h.srv.PromoteOnce(ctx); err != nil {
			t.Fatal(err)
		}
		h.srv.mesh.mu.Lock()
		mode, _ := h.srv.mesh.promoter.Mode("shop")
		h.srv.mesh.mu.Unlock()
		if mode.String() != want {
			t.Fatalf("segment mode %s, want %s", mode, want)
		}
		waitETagChange(t, web, old, 2*time.Second)
	}
	promote("monitor")
	waitDial(5432) // monitor: still passes (and alerts)
	promote("protect")
	if err := dial(5432, 1500*time.Millisecond); err == nil {
		t.Fatal("web reached db:5432 in protect mode")
	}
	waitDial(22) // the rule still holds
	var n int
	for _, e := range h.auditEntries() {
		if e.Type == "segment-promotion" {
			n++
		}
	}
	if n != 2 {
		t.Errorf("%d promotion audit entries, want 2", n)
	}
}

// debugLog is a node's logger: silent, or with HOHEIT_MESH_DEBUG=DIR
// everything down to WireGuard's handshakes in DIR/<node>.log.
func debugLog(id string) *slog.Logger {
	if d := os.Getenv("HOHEIT_MESH_DEBUG"); d != "" {
		f, err := os.OpenFile(d+"/"+id+".log", os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
		if err == nil {
			return slog.New(slog.NewTextHandler(f, &slog.HandlerOptions{Level: slog.LevelDebug}))
		}
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}
