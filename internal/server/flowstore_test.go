package server

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/hoheit/hoheit/internal/api"
	"github.com/hoheit/hoheit/internal/attest"
	"github.com/hoheit/hoheit/internal/attest/insecure"
	"github.com/hoheit/hoheit/internal/segment"
	"github.com/hoheit/hoheit/internal/store"
)

// restartable runs the harness's server over its own SQLite file so a test
// can stop it and start a new one on the same file and address, as a
// restarted process would: nothing of the old server's memory survives.
type restartable struct {
	h    *harness
	base Deps
	path string
	addr string
	tls  *tls.Config
	ts   *httptest.Server
}

func newRestartable(h *harness, mesh MeshOptions) *restartable {
	h.t.Helper()
	r := &restartable{h: h, base: h.srv.d, path: filepath.Join(h.t.TempDir(), "restart.db")}
	r.base.Mesh = mesh
	r.start()
	h.t.Cleanup(r.stop)
	return r
}

// start opens the store and serves a new Server; h.srv, h.st, h.url and
// h.admin point at it.
func (r *restartable) start() {
	h := r.h
	h.t.Helper()
	ctx := context.Background()
	st, err := store.OpenSQLite(ctx, r.path)
	if err != nil {
		h.t.Fatal(err)
	}
	d := r.base
	d.Store = st
	srv, err := New(d)
	if err != nil {
		st.Close()
		h.t.Fatal(err)
	}
	// One certificate for every start: issued on the test's clock, a
	// later one would not be valid yet for the clients.
	if r.tls == nil {
		if r.tls, err = srv.TLSConfig([]string{"127.0.0.1"}); err != nil {
			h.t.Fatal(err)
		}
	}
	ts := httptest.NewUnstartedServer(srv.Handler())
	if r.addr != "" {
		ln, err := net.Listen("tcp", r.addr)
		if err != nil {
			h.t.Fatal(err)
		}
		ts.Listener.Close()
		ts.Listener = ln
	}
	ts.TLS = r.tls
	ts.StartTLS()
	r.addr = ts.Listener.Addr().String()
	r.ts = ts
	h.srv, h.st, h.url = srv, st, ts.URL
	admin, err := srv.EnsureAdminToken(ctx)
	if err != nil {
		h.t.Fatal(err)
	}
	if admin != "" { // "" when the store has one
		h.admin = admin
	}
}

func (r *restartable) stop() {
	if r.ts == nil {
		return
	}
	r.ts.CloseClientConnections()
	r.ts.Close()
	r.h.st.Close()
	r.ts = nil
}

func (r *restartable) restart() {
	r.h.t.Helper()
	r.stop()
	r.start()
}

// handNode is a node joined by hand, holding a client certificate.
type handNode struct {
	id     string
	client *http.Client
}

func (h *harness) joinHand(id string, labels map[string]string) *handNode {
	h.t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	r := h.newJoin(id, "dev", insecure.Issuer{})
	r.CertPublicKey, _ = x509.MarshalPKIXPublicKey(key.Public())
	b := attest.Binding{Nonce: h.nonce(), HPKEPublicKey: r.HPKEPublicKey, CertPublicKey: r.CertPublicKey, WireGuardPublicKey: r.WireGuardPublicKey}
	r.Nonce = b.Nonce
	r.Evidence, _ = insecure.Issuer{}.Issue(context.Background(), b.ReportData())
	r.Labels = labels
	r.Endpoints = []string{"127.0.0.1:51820"}
	var wr api.WrappedResponse
	if st, e := h.post(api.PathJoin, r.JoinRequest, &wr, nil); st != 200 {
		h.t.Fatalf("join %s: %d %+v", id, st, e)
	}
	var resp api.JoinResponse
	json.Unmarshal(wr.Response, &resp)
	tr := h.client.Transport.(*http.Transport).Clone()
	tr.TLSClientConfig.Certificates = []tls.Certificate{{Certificate: [][]byte{resp.Certificate}, PrivateKey: key}}
	return &handNode{id: id, client: &http.Client{Transport: tr, Timeout: 30 * time.Second}}
}

// ship posts flow records as the node.
func (n *handNode) ship(h *harness, recs ...segment.FlowRecord) {
	h.t.Helper()
	body, _ := json.Marshal(recs)
	resp, err := n.client.Post(h.url+api.PathSegFlows, "application/json", strings.NewReader(string(body)))
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		b, _ := io.ReadAll(resp.Body)
		h.t.Fatalf("shipping flows: %d %s", resp.StatusCode, b)
	}
}

// getRaw returns the body of an admin GET.
func (h *harness) getRaw(path string) []byte {
	h.t.Helper()
	return h.getBody(path, true)
}

func flow(src, dst string, port uint16, v segment.Verdict, count uint64, at time.Time) segment.FlowRecord {
	return segment.FlowRecord{FlowKey: segment.FlowKey{Src: src, Dst: dst, Proto: segment.TCP, Port: port, Verdict: v}, Count: count, FirstSeen: at, LastSeen: at}
}

// TestFlowsAndAlertsSurviveRestart: flows shipped by two nodes are merged,
// dropped ones become alerts, and after the server is stopped and started
// again on the same database both endpoints answer exactly as before; new
// shipments keep merging into the restored aggregates.
func TestFlowsAndAlertsSurviveRestart(t *testing.T) {
	h := newHarness(t, harnessOpts{allowInsecure: true})
	r := newRestartable(h, MeshOptions{})
	policy := []byte(`apiVersion: hoheit/v1
kind: SegmentPolicy
name: shop
mode: protect
identities:
  web: {match_labels: {app: web}}
  db: {match_labels: {app: db}}
rules:
  - {name: web-to-db, from: web, to: db, ports: [tcp/5432]}
`)
	if st, res := h.putPolicy(policy); st != 200 {
		t.Fatalf("apply: %d %+v", st, res)
	}
	web := h.joinHand("web-1", map[string]string{"app": "web"})
	db := h.joinHand("db-1", map[string]string{"app": "db"})
	t0 := h.clock.Now().Truncate(time.Second)
	web.ship(h, flow("web", "db", 5432, segment.Allow, 3, t0), flow("web", "db", 22, segment.Drop, 1, t0))
	db.ship(h, flow("web", "db", 5432, segment.Allow, 2, t0.Add(time.Second)), flow("db", "web", 80, segment.Drop, 4, t0.Add(2*time.Second)))
	// A record naming an endpoint only by address is named from the
	// inventory; one with an unknown address keeps it.
	unknown := segment.FlowRecord{FlowKey: segment.FlowKey{Src: "web", DstAddr: netip.MustParseAddr("192.0.2.7"), Proto: segment.UDP, Port: 53, Verdict: segment.Drop},
		Count: 1, FirstSeen: t0, LastSeen: t0}
	web.ship(h, unknown)

	flowsBefore := h.getRaw(api.PathSegFlows)
	alertsBefore := h.getRaw(api.PathSegAlerts)
	var flows []segment.FlowRecord
	var alerts []segment.Alert
	json.Unmarshal(flowsBefore, &flows)
	json.Unmarshal(alertsBefore, &alerts)
	if len(flows) != 4 || len(alerts) != 3 {
		t.Fatalf("before the restart: %d flows, %d alerts, want 4 and 3:\n%s\n%s", len(flows), len(alerts), flowsBefore, alertsBefore)
	}
	for _, f := range flows {
		if f.Port == 5432 && (f.Count != 5 || f.Node != "web-1" || !f.FirstSeen.Equal(t0) || !f.LastSeen.Equal(t0.Add(time.Second))) {
			t.Errorf("merged flow %+v, want count 5 from web-1 over [t0, t0+1s]", f)
		}
	}

	r.restart()
	if got := h.getRaw(api.PathSegFlows); string(got) != string(flowsBefore) {
		t.Errorf("flows after the restart\n%s\nwant\n%s", got, flowsBefore)
	}
	if got := h.getRaw(api.PathSegAlerts); string(got) != string(alertsBefore) {
		t.Errorf("alerts after the restart\n%s\nwant\n%s", got, alertsBefore)
	}
	// The restored aggregate keeps counting; a known dropped flow raises
	// no second alert, a new one does.
	web.ship(h, flow("web", "db", 5432, segment.Allow, 1, t0.Add(time.Minute)), flow("web", "db", 22, segment.Drop, 1, t0.Add(time.Minute)),
		flow("web", "db", 23, segment.Drop, 1, t0.Add(time.Minute)))
	json.Unmarshal(h.getRaw(api.PathSegFlows), &flows)
	json.Unmarshal(h.getRaw(api.PathSegAlerts), &alerts)
	if len(flows) != 5 || len(alerts) != 4 || alerts[3].Flow.Port != 23 {
		t.Fatalf("after the restart and a shipment: %d flows, %d alerts (last %+v), want 5 and 4 (the last for port 23)", len(flows), len(alerts), alerts[len(alerts)-1])
	}
	for _, f := range flows {
		if f.Port == 5432 && (f.Count != 6 || !f.LastSeen.Equal(t0.Add(time.Minute))) {
			t.Errorf("merged flow after the restart %+v, want count 6 last seen t0+1m", f)
		}
	}
}

// TestAlertRetention: alerts beyond the configured count go at once, older
// than the configured age at the next prune; both across a restart.
func TestAlertRetention(t *testing.T) {
	h := newHarness(t, harnessOpts{allowInsecure: true})
	r := newRestartable(h, MeshOptions{AlertsKeep: 3, AlertsMaxAge: 2 * time.Hour})
	web := h.joinHand("web-1", map[string]string{"app": "web"})
	t0 := h.clock.Now()
	ports := func() []uint16 {
		var alerts []segment.Alert
		json.Unmarshal(h.getRaw(api.PathSegAlerts), &alerts)
		var out []uint16
		for _, a := range alerts {
			out = append(out, a.Flow.Port)
		}
		return out
	}
	for p := range uint16(5) {
		web.ship(h, flow("web", "db", 1000+p, segment.Drop, 1, t0))
	}
	if got := ports(); !reflect.DeepEqual(got, []uint16{1002, 1003, 1004}) {
		t.Fatalf("alerts kept %v, want the newest 3", got)
	}
	// ?limit=N: the newest N, oldest first; a bad limit is refused.
	var newest []segment.Alert
	json.Unmarshal(h.getRaw(api.PathSegAlerts+"?limit=2"), &newest)
	if len(newest) != 2 || newest[0].Flow.Port != 1003 || newest[1].Flow.Port != 1004 {
		t.Fatalf("?limit=2: %+v, want ports 1003, 1004", newest)
	}
	for _, bad := range []string{"0", "-1", "x"} {
		req, _ := http.NewRequest(http.MethodGet, h.url+api.PathSegAlerts+"?limit="+bad, nil)
		req.Header.Set("Authorization", "Bearer "+h.admin)
		resp, err := h.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Fatalf("?limit=%s: %d, want 400", bad, resp.StatusCode)
		}
	}
	h.clock.advance(90 * time.Minute)
	web.ship(h, flow("web", "db", 2000, segment.Drop, 1, h.clock.Now()))
	r.restart()
	if got := ports(); !reflect.DeepEqual(got, []uint16{1003, 1004, 2000}) {
		t.Fatalf("alerts after the restart %v", got)
	}
	// 2h after the first three were received, they are pruned by age; the
	// one received 30 minutes later stays.
	h.clock.advance(31 * time.Minute)
	if err := h.srv.pruneAlerts(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := ports(); !reflect.DeepEqual(got, []uint16{2000}) {
		t.Fatalf("alerts after pruning by age %v, want [2000]", got)
	}
	// The flows themselves are aggregates and are not pruned.
	var flows []segment.FlowRecord
	json.Unmarshal(h.getRaw(api.PathSegFlows), &flows)
	if len(flows) != 6 {
		t.Errorf("%d flows, want 6", len(flows))
	}
}

// TestPromotionAcrossRestart: what the promoter learnt from flows survives
// a restart. A flow key seen before the restart is not new after it (so the
// learn window is not restarted), and a violation seen in monitor mode
// still holds the protect window after it.
func TestPromotionAcrossRestart(t *testing.T) {
	h := newHarness(t, harnessOpts{allowInsecure: true})
	r := newRestartable(h, MeshOptions{})
	ctx := context.Background()
	if st, res := h.putPolicy([]byte(promotionPolicy)); st != 200 {
		t.Fatalf("apply: %d %+v", st, res)
	}
	web := h.joinHand("web-1", map[string]string{"app": "web"})
	h.joinHand("db-1", map[string]string{"app": "db"})
	mode := func() string {
		t.Helper()
		if err := h.srv.PromoteOnce(ctx); err != nil {
			t.Fatal(err)
		}
		h.srv.mesh.mu.Lock()
		defer h.srv.mesh.mu.Unlock()
		m, _ := h.srv.mesh.promoter.Mode("shop")
		return m.String()
	}
	unlisted := func() segment.FlowRecord { return flow("web", "db", 5432, segment.AllowUnlisted, 1, h.clock.Now()) }

	// learn: a new flow at t0 starts the 1h quiet window.
	web.ship(h, unlisted())
	h.clock.advance(30 * time.Minute)
	r.restart()
	// The same flow again is not new: the window still ends at t0+1h.
	web.ship(h, unlisted())
	h.clock.advance(31 * time.Minute)
	if m := mode(); m != "monitor" {
		t.Fatalf("mode %s at t0+61m, want monitor (the flow key seen before the restart counted as new)", m)
	}
	// monitor: a violation at t1 holds protect back until t1+1h, across a
	// restart.
	h.clock.advance(time.Minute)
	web.ship(h, unlisted())
	h.clock.advance(30 * time.Minute)
	r.restart()
	h.clock.advance(29 * time.Minute)
	if m := mode(); m != "monitor" {
		t.Fatalf("mode %s 59m after a violation, want monitor (the violation was forgotten in the restart)", m)
	}
	h.clock.advance(2 * time.Minute)
	if m := mode(); m != "protect" {
		t.Fatalf("mode %s 61m after the violation, want protect", m)
	}
	r.restart()
	h.srv.mesh.mu.Lock()
	m, _ := h.srv.mesh.promoter.Mode("shop")
	h.srv.mesh.mu.Unlock()
	if m.String() != "protect" {
		t.Errorf("mode %s after a restart, want protect", m)
	}
}

func TestAlertRetentionConfig(t *testing.T) {
	for _, tc := range []struct {
		name    string
		ret     AlertRetention
		wantErr string
	}{
		{"defaults", AlertRetention{}, ""},
		{"set", AlertRetention{MaxAlerts: 500, MaxAge: Duration(7 * 24 * time.Hour)}, ""},
		{"negative count", AlertRetention{MaxAlerts: -1}, "max_alerts"},
		{"huge count", AlertRetention{MaxAlerts: 20_000_000}, "max_alerts"},
		{"short age", AlertRetention{MaxAge: Duration(time.Minute)}, "max_age"},
		{"negative age", AlertRetention{MaxAge: Duration(-time.Hour)}, "max_age"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := DevConfig(t.TempDir(), "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			c.Mesh.AlertRetention = tc.ret
			err = c.Validate()
			if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Fatalf("Validate: %v, want an error about %q", err, tc.wantErr)
			}
			o := c.Mesh.Options()
			if err == nil && (o.AlertsKeep != tc.ret.MaxAlerts || o.AlertsMaxAge != tc.ret.MaxAge.D()) {
				t.Errorf("options %+v", o)
			}
		})
	}
	m := newMesh(MeshOptions{})
	if m.opts.AlertsKeep != DefaultAlertsKeep || m.opts.AlertsMaxAge != DefaultAlertsMaxAge {
		t.Errorf("defaults %d %v", m.opts.AlertsKeep, m.opts.AlertsMaxAge)
	}
}
