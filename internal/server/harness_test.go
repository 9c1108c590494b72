package server

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-sev-guest/abi"
	"github.com/google/go-sev-guest/kds"
	"github.com/google/go-sev-guest/verify/trust"

	"github.com/hoheit/hoheit/internal/agent"
	"github.com/hoheit/hoheit/internal/api"
	"github.com/hoheit/hoheit/internal/attest"
	"github.com/hoheit/hoheit/internal/attest/insecure"
	"github.com/hoheit/hoheit/internal/attest/snp"
	"github.com/hoheit/hoheit/internal/attest/snp/snptest"
	"github.com/hoheit/hoheit/internal/attest/tpm"
	"github.com/hoheit/hoheit/internal/attest/tpm/tpmtest"
	"github.com/hoheit/hoheit/internal/audit"
	"github.com/hoheit/hoheit/internal/ca"
	"github.com/hoheit/hoheit/internal/keys"
	"github.com/hoheit/hoheit/internal/refvalues"
	"github.com/hoheit/hoheit/internal/store"
)

// clock is a settable clock for nonce expiry and missed re-attestation.
type clock struct {
	mu  sync.Mutex
	off time.Duration
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.off)
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	c.off += d
	c.mu.Unlock()
}

var (
	goodTCB = kds.TCBParts{BlSpl: 4, TeeSpl: 3, SnpSpl: 24, UcodeSpl: 219}
	lowTCB  = kds.TCBParts{BlSpl: 4, TeeSpl: 3, SnpSpl: 8, UcodeSpl: 219}
	// measurements of two node classes' images
	measureA = bytes.Repeat([]byte{0xa1}, abi.MeasurementSize)
	measureB = bytes.Repeat([]byte{0xb2}, abi.MeasurementSize)
)

// harness is a control plane over real parts: SQLite, a file master key,
// the internal CA, the insecure, SEV-SNP (fake AMD signer) and TPM
// validators, signed reference values, served over TLS 1.3 on loopback.
type harness struct {
	t        testing.TB
	srv      *Server
	st       store.Store
	kb       keys.Backend
	url      string
	caPEM    []byte
	clock    *clock
	admin    string
	owner    crypto.Signer
	refDir   string
	refs     *refvalues.Store
	platform *snptest.Platform // good TCB
	lowTCB   *snptest.Platform
	aks      *akList
	ekca     *tpmtest.EKCA
	client   *http.Client
}

type harnessOpts struct {
	allowInsecure bool
	// keys overrides the file master key (the SoftHSM test).
	keys keys.Backend
	// ekRoots and ekInter trust TPM EK certificates (swtpm's CA); by
	// default the harness's own EK CA for the simulator.
	ekRoots, ekInter *x509.CertPool
	// mesh overrides the mesh options (PSK rotation tests).
	mesh MeshOptions
}

// akList is a set of registered TPM attestation keys.
type akList struct {
	mu  sync.Mutex
	aks [][]byte
}

func (l *akList) add(ak []byte) { l.mu.Lock(); l.aks = append(l.aks, ak); l.mu.Unlock() }
func (l *akList) list() [][]byte {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.aks
}

func newHarness(t testing.TB, o harnessOpts) *harness {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	h := &harness{t: t, clock: &clock{}, aks: &akList{}}
	st, err := store.OpenSQLite(ctx, filepath.Join(dir, "hoheit.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	h.st = st
	h.kb = o.keys
	if h.kb == nil {
		keyFile := filepath.Join(dir, "master.key")
		if err := keys.CreateFile(keyFile, []byte("test passphrase")); err != nil {
			t.Fatal(err)
		}
		if h.kb, err = keys.OpenFile(keyFile, []byte("test passphrase")); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { h.kb.Close() })
	}
	caKey, err := h.kb.Signer(ctx, "ca")
	if err != nil {
		t.Fatal(err)
	}
	authority, err := ca.New(ctx, caKey, "test.hoheit", nil)
	if err != nil {
		t.Fatal(err)
	}
	auditKey, err := h.kb.Signer(ctx, "audit")
	if err != nil {
		t.Fatal(err)
	}
	if h.platform, err = snptest.NewPlatform(goodTCB); err != nil {
		t.Fatal(err)
	}
	if h.lowTCB, err = snptest.NewPlatform(lowTCB); err != nil {
		t.Fatal(err)
	}
	roots := map[string][]*trust.AMDRootCerts{"Milan": append(h.platform.Roots()["Milan"], h.lowTCB.Roots()["Milan"]...)}
	snpV, err := snp.NewValidator(snp.ValidatorConfig{Roots: roots})
	if err != nil {
		t.Fatal(err)
	}
	reg := &attest.Registry{}
	reg.Register(snpV)
	if o.allowInsecure {
		reg.Register(insecure.Validator{})
	}
	h.ekca = tpmtest.NewEKCA(t, "hoheit test TPM manufacturer")
	ekRoots := o.ekRoots
	if ekRoots == nil {
		ekRoots = h.ekca.Pool()
	}
	tpmV, err := tpm.NewValidator(tpm.ValidatorConfig{RegisteredAKs: h.aks.list, EKRoots: ekRoots, EKIntermediates: o.ekInter})
	if err != nil {
		t.Fatal(err)
	}
	reg.Register(tpmV)

	h.refDir = filepath.Join(dir, "refvalues")
	os.MkdirAll(h.refDir, 0o755)
	_, ownerPEM, err := refvalues.GenerateKey("ed25519")
	if err != nil {
		t.Fatal(err)
	}
	priv, _, _ := refvalues.GenerateKey("ed25519")
	_ = ownerPEM
	if h.owner, err = refvalues.ParsePrivateKey(priv); err != nil {
		t.Fatal(err)
	}
	h.writeRefValues("conf-a", snpRefValues("conf-a", measureA), h.owner)
	h.writeRefValues("conf-b", snpRefValues("conf-b", measureB), h.owner)
	h.writeRefValues("tpm-node", tpmRefValues("tpm-node", tpmtest.PCRs(tpmtest.BootEvents())), h.owner)
	h.reloadRefs()

	srv, err := New(Deps{
		Store: st, Keys: h.kb, CA: authority, Registry: reg, RefValues: refsFunc(func() *refvalues.Store { return h.refs }),
		AuditSigner: auditKey, Now: h.clock.Now, TrustDomain: "test.hoheit", AllowInsecure: o.allowInsecure, Mesh: o.mesh,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	h.srv = srv
	tlsConf, err := srv.TLSConfig([]string{"127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewUnstartedServer(srv.Handler())
	ts.TLS = tlsConf
	ts.StartTLS()
	t.Cleanup(ts.Close)
	h.url = ts.URL
	h.caPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: authority.RootDER()})
	pool := x509.NewCertPool()
	pool.AddCert(authority.Root())
	h.client = &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS13}}}
	if h.admin, err = srv.EnsureAdminToken(ctx); err != nil {
		t.Fatal(err)
	}
	return h
}

// refsFunc lets a test swap the reference value store.
type refsFunc func() *refvalues.Store

func (f refsFunc) Check(class string, c *attest.Claims) ([]string, error) { return f().Check(class, c) }

func snpRefValues(class string, m []byte) string {
	return fmt.Sprintf(`apiVersion: hoheit/v1
kind: ReferenceValues
class: %s
sev_snp:
  measurement: %s
  vmpl: 0
  minimum_tcb: {bootloader: 4, tee: 3, snp: 20, microcode: 219}
  allow_debug: false
`, class, hex.EncodeToString(m))
}

func (h *harness) writeRefValues(class, yaml string, signer crypto.Signer) {
	h.t.Helper()
	path := filepath.Join(h.refDir, class+".yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o644); err != nil {
		h.t.Fatal(err)
	}
	if signer == nil {
		os.Remove(path + ".sig")
		return
	}
	sig, err := refvalues.Sign([]byte(yaml), signer)
	if err != nil {
		h.t.Fatal(err)
	}
	if err := os.WriteFile(path+".sig", sig, 0o644); err != nil {
		h.t.Fatal(err)
	}
}

func (h *harness) reloadRefs() {
	h.t.Helper()
	refs, _ := refvalues.Load(h.refDir, []crypto.PublicKey{h.owner.Public()})
	h.refs = refs
}

// snpIssuer is a guest of class A or B on the harness's platform.
func (h *harness) snpIssuer(m []byte, mutate ...func(*snptest.Guest)) attest.Issuer {
	g := snptest.Guest{Policy: abi.SnpPolicy{SMT: true}, Measurement: m, HostData: make([]byte, abi.HostDataSize)}
	for _, f := range mutate {
		f(&g)
	}
	return h.platform.Issuer(g)
}

func (h *harness) agent(id, class string, iss attest.Issuer) *agent.Agent {
	h.t.Helper()
	a, err := agent.New(agent.Config{Server: h.url, CA: h.caPEM, NodeID: id, Class: class, Issuer: iss, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		h.t.Fatal(err)
	}
	h.t.Cleanup(a.Close)
	return a
}

// joinReq is a join request built by hand, so tests can break any part.
type joinReq struct {
	api.JoinRequest
	hpke *keys.HPKEKey
}

func (h *harness) nonce() []byte {
	h.t.Helper()
	var nr api.NonceResponse
	if st, e := h.post(api.PathNonce, struct{}{}, &nr, nil); st != 200 {
		h.t.Fatalf("nonce: %d %v", st, e)
	}
	return nr.Nonce
}

// newJoin builds a valid join request for id/class with evidence from iss.
func (h *harness) newJoin(id, class string, iss attest.Issuer) *joinReq {
	h.t.Helper()
	hk, err := keys.NewHPKEKey()
	if err != nil {
		h.t.Fatal(err)
	}
	ck, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	certPub, _ := x509.MarshalPKIXPublicKey(ck.Public())
	wg, _ := ecdh.X25519().GenerateKey(rand.Reader)
	r := &joinReq{hpke: hk, JoinRequest: api.JoinRequest{
		NodeID: id, Class: class, Variant: iss.Variant(), Nonce: h.nonce(), RequestID: fmt.Sprintf("req-%s-%d", id, time.Now().UnixNano()),
		HPKEPublicKey: hk.PublicKey(), CertPublicKey: certPub, WireGuardPublicKey: wg.PublicKey().Bytes(),
	}}
	b := attest.Binding{Nonce: r.Nonce, HPKEPublicKey: r.HPKEPublicKey, CertPublicKey: r.CertPublicKey, WireGuardPublicKey: r.WireGuardPublicKey}
	if r.Evidence, err = iss.Issue(context.Background(), b.ReportData()); err != nil {
		h.t.Fatal(err)
	}
	return r
}

// post sends JSON and decodes a success into out; it returns the status
// and, on failure, the error body.
func (h *harness) post(path string, in, out any, cert *tls.Certificate) (int, *api.ErrorBody) {
	h.t.Helper()
	body, _ := json.Marshal(in)
	c := h.client
	if cert != nil {
		tr := h.client.Transport.(*http.Transport).Clone()
		tr.TLSClientConfig.Certificates = []tls.Certificate{*cert}
		c = &http.Client{Transport: tr, Timeout: 30 * time.Second}
	}
	resp, err := c.Post(h.url+path, "application/json", bytes.NewReader(body))
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode/100 != 2 {
		var e api.Error
		if err := json.Unmarshal(data, &e); err != nil {
			h.t.Fatalf("%s: %d with a body that is no error: %s", path, resp.StatusCode, data)
		}
		return resp.StatusCode, &e.Error
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			h.t.Fatal(err)
		}
	}
	return resp.StatusCode, nil
}

// auditEntries returns the whole log.
func (h *harness) auditEntries() []audit.Entry {
	h.t.Helper()
	var out []audit.Entry
	ctx := context.Background()
	if err := h.st.View(ctx, func(tx store.ReadTx) error {
		var err error
		out, err = tx.AuditEntries(ctx, 1, 1<<20)
		return err
	}); err != nil {
		h.t.Fatal(err)
	}
	return out
}

// verifyAudit exports the log through the API and verifies it with the
// audit key the server publishes.
func (h *harness) verifyAudit() audit.Summary {
	h.t.Helper()
	pub, err := audit.ParsePublicKey(h.getBody(api.PathAuditKey, false))
	if err != nil {
		h.t.Fatal(err)
	}
	sum, err := audit.Verify(bytes.NewReader(h.getBody(api.PathAudit, true)), pub)
	if err != nil {
		h.t.Fatalf("audit log does not verify: %v", err)
	}
	return sum
}

func (h *harness) node(id string) store.Node {
	h.t.Helper()
	n, err := h.srv.node(context.Background(), id)
	if err != nil {
		h.t.Fatal(err)
	}
	return n
}

// tpmRefValues pins the given PCRs.
func tpmRefValues(class string, pcrs map[uint32][]byte) string {
	var b strings.Builder
	fmt.Fprintf(&b, "apiVersion: hoheit/v1\nkind: ReferenceValues\nclass: %s\ntpm:\n  pcrs:\n", class)
	for i := uint32(0); i < 24; i++ {
		if v, ok := pcrs[i]; ok {
			fmt.Fprintf(&b, "    %d: %s\n", i, hex.EncodeToString(v))
		}
	}
	return b.String()
}

// getBody returns the body of a GET that must answer 200, with the admin
// token when auth is set.
func (h *harness) getBody(path string, auth bool) []byte {
	h.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, h.url+path, nil)
	if auth {
		req.Header.Set("Authorization", "Bearer "+h.admin)
	}
	resp, err := h.client.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		h.t.Fatalf("GET %s: %d %s", path, resp.StatusCode, b)
	}
	return b
}
