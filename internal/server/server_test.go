package server

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"math/big"
	"net/http"
	"testing"
	"time"

	"github.com/google/go-sev-guest/abi"

	"github.com/hoheit/hoheit/internal/agent"
	"github.com/hoheit/hoheit/internal/api"
	"github.com/hoheit/hoheit/internal/attest"
	"github.com/hoheit/hoheit/internal/attest/insecure"
	"github.com/hoheit/hoheit/internal/attest/snp"
	"github.com/hoheit/hoheit/internal/attest/snp/snptest"
	"github.com/hoheit/hoheit/internal/refvalues"
)

func TestJoinReleasesKeysDeterministically(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	ctx := context.Background()
	a := h.agent("db-1", "conf-a", h.snpIssuer(measureA))
	if err := a.Join(ctx); err != nil {
		t.Fatalf("join: %v", err)
	}
	disk1, ok := a.Key(api.PurposeDisk)
	if !ok || len(disk1) != 32 {
		t.Fatalf("no 32-byte disk key: %x", disk1)
	}
	cert, err := a.Certificate()
	if err != nil {
		t.Fatal(err)
	}
	if len(cert.URIs) != 1 || cert.URIs[0].String() != "spiffe://test.hoheit/node/db-1" {
		t.Errorf("certificate SAN = %v", cert.URIs)
	}
	if d := time.Until(cert.NotAfter); d < 23*time.Hour || d > 25*time.Hour {
		t.Errorf("certificate lives %v, want 24h", d)
	}
	// Over mutual TLS the node asks again and gets the same key.
	if err := a.FetchKeys(ctx, api.PurposeDisk); err != nil {
		t.Fatalf("keys over mTLS: %v", err)
	}
	again, _ := a.Key(api.PurposeDisk)
	if !bytes.Equal(again, disk1) {
		t.Fatal("the keys call released another disk key")
	}
	// The node reboots: new key pairs, valid evidence, the same disk key.
	b := h.agent("db-1", "conf-a", h.snpIssuer(measureA))
	if err := b.Join(ctx); err != nil {
		t.Fatalf("re-join: %v", err)
	}
	disk2, _ := b.Key(api.PurposeDisk)
	if !bytes.Equal(disk1, disk2) {
		t.Fatal("a re-joining node got another disk key")
	}
	mesh, _ := b.Key(api.PurposeMesh)
	if bytes.Equal(mesh, disk2) {
		t.Fatal("mesh and disk keys are equal")
	}
	// Another node gets another key.
	c := h.agent("db-2", "conf-a", h.snpIssuer(measureA))
	if err := c.Join(ctx); err != nil {
		t.Fatal(err)
	}
	other, _ := c.Key(api.PurposeDisk)
	if bytes.Equal(other, disk1) {
		t.Fatal("two nodes got the same disk key")
	}
	// The replaced certificate of db-1's first boot no longer works.
	if err := a.FetchKeys(ctx, api.PurposeDisk); err == nil {
		t.Fatal("a superseded certificate still fetched keys")
	}
	n := h.node("db-1")
	if n.Status != statusActive || n.Insecure || n.Variant != attest.VariantSNP {
		t.Errorf("node = %+v", n)
	}
	sum := h.verifyAudit()
	if sum.Entries < 6 {
		t.Errorf("audit has %d entries, want joins and key releases", sum.Entries)
	}
}

// TestRefusals runs every refusal of the issue: the response names the
// reason, the audit log records it, and no key is released.
func TestRefusals(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	ctx := context.Background()
	otherOwner, _, _ := refvalues.GenerateKey("ed25519")
	resigner, err := refvalues.ParsePrivateKey(otherOwner)
	if err != nil {
		t.Fatal(err)
	}
	h.writeRefValues("unsigned", snpRefValues("unsigned", measureA), nil)
	h.writeRefValues("resigned", snpRefValues("resigned", measureA), resigner)
	h.reloadRefs()

	// A node that joined, to ask for another's keys and to replay.
	victim := h.agent("victim", "conf-a", h.snpIssuer(measureA))
	if err := victim.Join(ctx); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name   string
		req    func() *joinReq
		reason string
		detail []string
	}{
		{"measurement differs (class A evidence for class B)", func() *joinReq {
			return h.newJoin("n-ab", "conf-b", h.snpIssuer(measureA))
		}, attest.ReasonMeasurement, []string{"measurement"}},
		{"SNP debug policy", func() *joinReq {
			return h.newJoin("n-debug", "conf-a", h.snpIssuer(measureA, func(g *snptest.Guest) { g.Policy.Debug = true }))
		}, attest.ReasonDebug, nil},
		{"TCB below the minimum", func() *joinReq {
			g := snptest.Guest{Policy: abi.SnpPolicy{SMT: true}, Measurement: measureA, HostData: make([]byte, abi.HostDataSize)}
			return h.newJoin("n-tcb", "conf-a", h.lowTCB.Issuer(g))
		}, attest.ReasonTCB, []string{"snp"}},
		{"changed signature", func() *joinReq {
			r := h.newJoin("n-sig", "conf-a", h.snpIssuer(measureA))
			att, err := snp.DecodeEvidence(r.Evidence)
			if err != nil {
				t.Fatal(err)
			}
			att.Report.Signature[10] ^= 0x40
			if r.Evidence, err = snp.EncodeEvidence(att); err != nil {
				t.Fatal(err)
			}
			return r
		}, attest.ReasonSignature, nil},
		{"evidence bound to other keys", func() *joinReq {
			r := h.newJoin("n-bind", "conf-a", h.snpIssuer(measureA))
			r.WireGuardPublicKey = bytes.Repeat([]byte{7}, 32)
			return r
		}, attest.ReasonReportData, nil},
		{"replayed nonce", func() *joinReq {
			r := h.newJoin("n-replay", "conf-a", h.snpIssuer(measureA))
			if st, e := h.post(api.PathJoin, r.JoinRequest, nil, nil); st != 200 {
				t.Fatalf("first use of the nonce: %d %v", st, e)
			}
			r.RequestID += "-again"
			return r
		}, attest.ReasonNonceReplayed, nil},
		{"expired nonce", func() *joinReq {
			r := h.newJoin("n-expired", "conf-a", h.snpIssuer(measureA))
			h.clock.advance(61 * time.Second)
			return r
		}, attest.ReasonNonceExpired, nil},
		{"nonce the server never issued", func() *joinReq {
			r := h.newJoin("n-forged", "conf-a", h.snpIssuer(measureA))
			r.Nonce = bytes.Repeat([]byte{1}, attest.NonceSize)
			return r
		}, attest.ReasonNonceUnknown, nil},
		{"unsigned reference values", func() *joinReq {
			return h.newJoin("n-unsigned", "unsigned", h.snpIssuer(measureA))
		}, attest.ReasonRefValues, []string{"unsigned"}},
		{"reference values re-signed by another key", func() *joinReq {
			return h.newJoin("n-resigned", "resigned", h.snpIssuer(measureA))
		}, attest.ReasonRefValues, []string{"resigned"}},
		{"insecure variant not allowed", func() *joinReq {
			return h.newJoin("n-insecure", "conf-a", insecure.Issuer{})
		}, attest.ReasonVariantNotAllowed, nil},
		{"a known node on other hardware", func() *joinReq {
			p, err := snptest.NewPlatform(goodTCB) // another chip id
			if err != nil {
				t.Fatal(err)
			}
			g := snptest.Guest{Policy: abi.SnpPolicy{SMT: true}, Measurement: measureA, HostData: make([]byte, abi.HostDataSize)}
			return h.newJoin("victim", "conf-a", p.Issuer(g))
		}, attest.ReasonIdentity, nil},
		{"a known node as another class", func() *joinReq {
			return h.newJoin("victim", "conf-b", h.snpIssuer(measureB))
		}, attest.ReasonClass, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := tt.req()
			var wr api.WrappedResponse
			st, e := h.post(api.PathJoin, r.JoinRequest, &wr, nil)
			if st != http.StatusForbidden || e == nil {
				t.Fatalf("status %d, want 403 refusal %s", st, tt.reason)
			}
			if e.Reason != tt.reason {
				t.Fatalf("reason %q (%s), want %q", e.Reason, e.Detail, tt.reason)
			}
			for _, d := range tt.detail {
				if !bytes.Contains([]byte(e.Detail), []byte(d)) {
					t.Errorf("detail %q does not mention %q", e.Detail, d)
				}
			}
			var refused, released bool
			for _, en := range h.auditEntries() {
				if en.RequestID != r.RequestID {
					continue
				}
				switch en.Type {
				case "refusal":
					refused = refused || en.Reason == tt.reason
				case "key-release", "join", "reattest":
					released = true
				}
			}
			if !refused {
				t.Errorf("no refusal with reason %s in the audit log for request %s", tt.reason, r.RequestID)
			}
			if released {
				t.Errorf("the audit log shows a release for refused request %s", r.RequestID)
			}
		})
	}

	t.Run("a node asking for another node's keys", func(t *testing.T) {
		thief := h.agent("thief", "conf-a", h.snpIssuer(measureA))
		if err := thief.Join(ctx); err != nil {
			t.Fatal(err)
		}
		err := thief.FetchKeysOf(ctx, "victim", api.PurposeDisk)
		var re *agent.RefusedError
		if !errors.As(err, &re) || re.Body.Reason != attest.ReasonForbidden {
			t.Fatalf("got %v, want a forbidden refusal", err)
		}
		found := false
		for _, en := range h.auditEntries() {
			if en.Type == "refusal" && en.Node == "victim" && en.Actor == "node:thief" {
				found = true
			}
		}
		if !found {
			t.Error("the attempt is not in the audit log")
		}
	})
	t.Run("keys without a node certificate", func(t *testing.T) {
		st, e := h.post(api.PathNodes+"/victim/keys", api.KeysRequest{RequestID: "anon-1", Purposes: []string{"disk"}}, nil, nil)
		if st != http.StatusUnauthorized || e.Reason != "unauthorized" {
			t.Fatalf("status %d %+v", st, e)
		}
	})
	h.verifyAudit()
}

func TestInsecureVariantMarksNode(t *testing.T) {
	h := newHarness(t, harnessOpts{allowInsecure: true})
	a := h.agent("dev-1", "dev", insecure.Issuer{})
	if err := a.Join(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !a.Insecure() {
		t.Error("the agent was not told it is insecure")
	}
	if n := h.node("dev-1"); !n.Insecure {
		t.Error("the node is not marked insecure")
	}
	var st api.NodeStatus
	resp, err := h.client.Get(h.url + api.PathNodes + "/dev-1/status")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := jsonDecode(resp, &st); err != nil || !st.Insecure {
		t.Fatalf("status %+v %v: want insecure", st, err)
	}
	// An insecure node may not later pose as measured, nor the reverse.
	b := h.agent("dev-1", "conf-a", h.snpIssuer(measureA))
	if err := b.Join(context.Background()); err == nil {
		t.Fatal("an insecure node re-joined as a measured one")
	}
}

func TestQuarantineAndRevocation(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	ctx := context.Background()
	a := h.agent("web-1", "conf-a", h.snpIssuer(measureA))
	if err := a.Join(ctx); err != nil {
		t.Fatal(err)
	}
	cert, _ := a.Certificate()

	// A failed re-attestation by the node itself quarantines it.
	bad := &switchIssuer{Issuer: h.snpIssuer(measureA)}
	b := h.agent("web-2", "conf-a", bad)
	if err := b.Join(ctx); err != nil {
		t.Fatal(err)
	}
	bad.Issuer = h.snpIssuer(measureA, func(g *snptest.Guest) { g.Policy.Debug = true })
	if err := b.Join(ctx); err == nil {
		t.Fatal("re-attestation with debug on was accepted")
	}
	if n := h.node("web-2"); n.Status != statusQuarantined {
		t.Fatalf("status %s after a failed re-attestation, want quarantined", n.Status)
	}

	// A missed re-attestation quarantines the node.
	h.clock.advance(time.Hour + 6*time.Minute)
	if err := h.srv.SweepOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if n := h.node("web-1"); n.Status != statusQuarantined {
		t.Fatalf("status %s after a missed re-attestation, want quarantined", n.Status)
	}
	err := a.FetchKeys(ctx, api.PurposeDisk)
	var re *agent.RefusedError
	if !errors.As(err, &re) || re.Body.Reason != attest.ReasonRevoked {
		t.Fatalf("a quarantined node fetched keys: %v", err)
	}
	if !h.crlLists(cert.SerialNumber) {
		t.Error("the quarantined node's certificate is not on the CRL")
	}
	// Valid evidence lifts the quarantine.
	if err := a.Join(ctx); err != nil {
		t.Fatalf("re-attestation after quarantine: %v", err)
	}
	if n := h.node("web-1"); n.Status != statusActive {
		t.Fatalf("status %s", n.Status)
	}

	// An admin revokes; the node may not come back.
	st, e := h.postAdmin(api.PathNodes+"/web-1/revoke", api.RevokeRequest{Reason: "decommissioned"})
	if st != 200 {
		t.Fatalf("revoke: %d %+v", st, e)
	}
	err = a.Join(ctx)
	if !errors.As(err, &re) || re.Body.Reason != attest.ReasonRevoked {
		t.Fatalf("a revoked node re-joined: %v", err)
	}
	// After an admin's reset it may come back, on other hardware too.
	if st, e := h.postAdmin(api.PathNodes+"/web-1/reset", api.RevokeRequest{Reason: "rebuilt"}); st != 200 {
		t.Fatalf("reset: %d %+v", st, e)
	}
	p, err := snptest.NewPlatform(goodTCB)
	if err != nil {
		t.Fatal(err)
	}
	moved := h.agent("web-1", "conf-a", p.Issuer(snptest.Guest{Policy: abi.SnpPolicy{SMT: true}, Measurement: measureA, HostData: make([]byte, abi.HostDataSize)}))
	if err := moved.Join(ctx); err != nil {
		t.Fatalf("join after reset on new hardware: %v", err)
	}
	if n := h.node("web-1"); n.Status != statusActive || n.HardwareID == "" {
		t.Fatalf("after reset and join: %+v", n)
	}
	h.verifyAudit()
}

func TestAdminRoles(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	ctx := context.Background()
	secret, _, err := h.srv.CreateToken(ctx, "auditor", api.RoleAuditor, "test")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, method, path, token string
		want                      int
	}{
		{"no token", http.MethodGet, api.PathNodes, "", http.StatusUnauthorized},
		{"unknown token", http.MethodGet, api.PathNodes, "hoh_nope", http.StatusUnauthorized},
		{"auditor lists nodes", http.MethodGet, api.PathNodes, secret, http.StatusOK},
		{"auditor exports the audit log", http.MethodGet, api.PathAudit, secret, http.StatusOK},
		{"auditor may not revoke", http.MethodPost, api.PathNodes + "/x/revoke", secret, http.StatusForbidden},
		{"auditor may not list tokens", http.MethodGet, api.PathTokens, secret, http.StatusForbidden},
		{"admin lists tokens", http.MethodGet, api.PathTokens, h.admin, http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(tt.method, h.url+tt.path, bytes.NewReader([]byte(`{"reason":"x"}`)))
			if tt.token != "" {
				req.Header.Set("Authorization", "Bearer "+tt.token)
			}
			resp, err := h.client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tt.want {
				t.Fatalf("status %d, want %d", resp.StatusCode, tt.want)
			}
		})
	}
}

// switchIssuer lets a test change a node's evidence between joins.
type switchIssuer struct{ attest.Issuer }

func (h *harness) postAdmin(path string, in any) (int, *api.ErrorBody) {
	h.t.Helper()
	body, _ := jsonMarshal(in)
	req, _ := http.NewRequest(http.MethodPost, h.url+path, bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+h.admin)
	resp, err := h.client.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		var e api.Error
		jsonDecode(resp, &e)
		return resp.StatusCode, &e.Error
	}
	return 200, nil
}

func (h *harness) crlLists(serial *big.Int) bool {
	h.t.Helper()
	resp, err := h.client.Get(h.url + api.PathCRL)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	der := new(bytes.Buffer)
	der.ReadFrom(resp.Body)
	crl, err := x509.ParseRevocationList(der.Bytes())
	if err != nil {
		h.t.Fatal(err)
	}
	root, _ := h.srv.d.CA.Root(), 0
	if err := crl.CheckSignatureFrom(root); err != nil {
		h.t.Fatalf("CRL signature: %v", err)
	}
	for _, e := range crl.RevokedCertificateEntries {
		if e.SerialNumber.Cmp(serial) == 0 {
			return true
		}
	}
	return false
}
