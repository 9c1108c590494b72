package ca

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"net/url"
	"strings"
	"testing"
	"time"
)

const td = "example.org"

var testNow = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func newKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func newCA(t testing.TB) (*CA, *ecdsa.PrivateKey) {
	t.Helper()
	k := newKey(t)
	c, err := New(context.Background(), k, td, nil)
	if err != nil {
		t.Fatal(err)
	}
	return c, k
}

func TestNewRoot(t *testing.T) {
	c, k := newCA(t)
	root := c.Root()
	if !root.IsCA || !root.MaxPathLenZero || root.KeyUsage&x509.KeyUsageCertSign == 0 || root.KeyUsage&x509.KeyUsageCRLSign == 0 {
		t.Errorf("root is not a path-length-0 CA for certificates and CRLs: %+v", root.KeyUsage)
	}
	if got := root.NotAfter.Sub(root.NotBefore); got < RootValidity || got > RootValidity+time.Hour {
		t.Errorf("root lifetime %v, want about %v", got, RootValidity)
	}
	if len(root.URIs) != 1 || root.URIs[0].String() != "spiffe://"+td {
		t.Errorf("root URI SANs %v", root.URIs)
	}
	if len(root.PermittedURIDomains) != 1 || root.PermittedURIDomains[0] != td {
		t.Errorf("root name constraints %v", root.PermittedURIDomains)
	}
	// Reopening with the stored DER and the same key gives the same root.
	c2, err := New(context.Background(), k, td, c.RootDER())
	if err != nil {
		t.Fatal(err)
	}
	if !c2.Root().Equal(root) {
		t.Error("reopened root differs")
	}
}

func TestNewRefuses(t *testing.T) {
	ctx := context.Background()
	c, k := newCA(t)
	leafDER, _, _, err := c.IssueNode("node-1", newKey(t).Public(), 0, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		signer crypto.Signer
		td     string
		root   []byte
	}{
		{"other key", newKey(t), td, c.RootDER()},
		{"other trust domain", k, "other.org", c.RootDER()},
		{"garbage root", k, td, []byte("not a certificate")},
		{"leaf as root", k, td, leafDER},
		{"bad trust domain", k, "Example.org", nil},
		{"empty trust domain", k, "", nil},
		{"trust domain with slash", k, "a/b", nil},
		{"no signer", nil, td, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := New(ctx, tt.signer, tt.td, tt.root); err == nil {
				t.Error("accepted")
			}
		})
	}
}

func verify(t *testing.T, c *CA, der []byte, usage x509.ExtKeyUsage, at time.Time, dnsName string) (*x509.Certificate, error) {
	t.Helper()
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(c.Root())
	_, err = cert.Verify(x509.VerifyOptions{Roots: pool, CurrentTime: at, KeyUsages: []x509.ExtKeyUsage{usage}, DNSName: dnsName})
	return cert, err
}

func TestIssueNode(t *testing.T) {
	c, _ := newCA(t)
	tests := []struct {
		name     string
		pub      crypto.PublicKey
		validity time.Duration
		want     time.Duration
	}{
		{"default 24h, P-256", newKey(t).Public(), 0, 24 * time.Hour},
		{"1h, Ed25519", func() crypto.PublicKey { p, _, _ := ed25519.GenerateKey(rand.Reader); return p }(), time.Hour, time.Hour},
		{"clamped to root", newKey(t).Public(), 20 * RootValidity, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			now := time.Now()
			der, serial, notAfter, err := c.IssueNode("node-1", tt.pub, tt.validity, now)
			if err != nil {
				t.Fatal(err)
			}
			for _, usage := range []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth, x509.ExtKeyUsageServerAuth} {
				if _, err := verify(t, c, der, usage, now, ""); err != nil {
					t.Fatalf("does not verify for %v: %v", usage, err)
				}
			}
			cert, _ := x509.ParseCertificate(der)
			if cert.SerialNumber.Cmp(serial) != 0 || cert.SerialNumber.Sign() <= 0 {
				t.Error("serial mismatch")
			}
			if !cert.NotAfter.Equal(notAfter) {
				t.Errorf("NotAfter %v, returned %v", cert.NotAfter, notAfter)
			}
			if tt.want == 0 {
				if !notAfter.Equal(c.Root().NotAfter) {
					t.Errorf("NotAfter %v beyond root's %v", notAfter, c.Root().NotAfter)
				}
			} else if d := cert.NotAfter.Sub(now); d > tt.want || d < tt.want-time.Second {
				t.Errorf("valid for %v, want %v", d, tt.want)
			}
			if cert.NotBefore.After(now) {
				t.Error("NotBefore in the future")
			}
			if cert.IsCA || cert.KeyUsage&(x509.KeyUsageCertSign|x509.KeyUsageCRLSign) != 0 {
				t.Error("node certificate can sign certificates")
			}
			if len(cert.URIs) != 1 || cert.URIs[0].String() != "spiffe://example.org/node/node-1" {
				t.Errorf("URI SANs %v", cert.URIs)
			}
			if len(cert.DNSNames)+len(cert.IPAddresses)+len(cert.EmailAddresses) != 0 {
				t.Error("node certificate has other SANs")
			}
			id, err := NodeID(cert, td)
			if err != nil || id != "node-1" {
				t.Errorf("NodeID = %q, %v", id, err)
			}
			if _, err := verify(t, c, der, x509.ExtKeyUsageClientAuth, notAfter.Add(time.Second), ""); err == nil {
				t.Error("verifies after expiry")
			}
		})
	}
}

func TestIssueNodeRefuses(t *testing.T) {
	c, _ := newCA(t)
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	p224, _ := ecdsa.GenerateKey(elliptic.P224(), rand.Reader)
	tests := []struct {
		name     string
		id       string
		pub      crypto.PublicKey
		validity time.Duration
	}{
		{"empty id", "", newKey(t).Public(), 0},
		{"upper case", "Node", newKey(t).Public(), 0},
		{"slash", "a/b", newKey(t).Public(), 0},
		{"percent", "a%2fb", newKey(t).Public(), 0},
		{"leading dash", "-a", newKey(t).Public(), 0},
		{"64 chars", strings.Repeat("a", 64), newKey(t).Public(), 0},
		{"RSA 1024", "n", &small.PublicKey, 0},
		{"P-224", "n", &p224.PublicKey, 0},
		{"no key", "n", nil, 0},
		{"negative validity", "n", newKey(t).Public(), -time.Hour},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, _, _, err := c.IssueNode(tt.id, tt.pub, tt.validity, time.Now()); err == nil {
				t.Error("issued")
			}
		})
	}
	if _, _, _, err := c.IssueNode("n", newKey(t).Public(), 0, c.Root().NotAfter.Add(time.Hour)); err == nil {
		t.Error("issued after the root expired")
	}
}

func TestIssueServer(t *testing.T) {
	c, _ := newCA(t)
	now := time.Now()
	der, err := c.IssueServer([]string{"hoheit.example.org", "127.0.0.1", "::1"}, newKey(t).Public(), 0, now)
	if err != nil {
		t.Fatal(err)
	}
	for _, host := range []string{"hoheit.example.org", "127.0.0.1", "::1"} {
		if _, err := verify(t, c, der, x509.ExtKeyUsageServerAuth, now, host); err != nil {
			t.Errorf("%s: %v", host, err)
		}
	}
	if _, err := verify(t, c, der, x509.ExtKeyUsageServerAuth, now, "other.example.org"); err == nil {
		t.Error("verifies for another host")
	}
	cert, err := verify(t, c, der, x509.ExtKeyUsageClientAuth, now, "")
	if err == nil {
		t.Error("server certificate verifies as a client certificate")
	}
	if d := cert.NotAfter.Sub(now); d > DefaultServerValidity || d < DefaultServerValidity-time.Second {
		t.Errorf("valid for %v", d)
	}
	if _, err := NodeID(cert, td); err == nil {
		t.Error("server certificate has a node id")
	}
	for _, hosts := range [][]string{nil, {"bad host"}, {"a..b"}, {"-a.example"}} {
		if _, err := c.IssueServer(hosts, newKey(t).Public(), 0, now); err == nil {
			t.Errorf("hosts %q accepted", hosts)
		}
	}
}

// TestMutualTLS runs a TLS 1.3 handshake with a server and a node
// certificate of the CA, as the control plane and an agent do.
func TestMutualTLS(t *testing.T) {
	c, _ := newCA(t)
	now := time.Now()
	serverKey, nodeKey := newKey(t), newKey(t)
	serverDER, err := c.IssueServer([]string{"hoheit.internal"}, serverKey.Public(), 0, now)
	if err != nil {
		t.Fatal(err)
	}
	nodeDER, _, _, err := c.IssueNode("node-7", nodeKey.Public(), 0, now)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(c.Root())
	srvConn, cliConn := net.Pipe()
	defer srvConn.Close()
	defer cliConn.Close()
	srv := tls.Server(srvConn, &tls.Config{
		MinVersion:   tls.VersionTLS13,
		Certificates: []tls.Certificate{{Certificate: [][]byte{serverDER}, PrivateKey: serverKey}},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    pool,
	})
	cli := tls.Client(cliConn, &tls.Config{
		MinVersion:   tls.VersionTLS13,
		ServerName:   "hoheit.internal",
		RootCAs:      pool,
		Certificates: []tls.Certificate{{Certificate: [][]byte{nodeDER}, PrivateKey: nodeKey}},
	})
	errc := make(chan error, 1)
	go func() { errc <- cli.Handshake() }()
	if err := srv.Handshake(); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	peer := srv.ConnectionState().PeerCertificates
	if len(peer) == 0 {
		t.Fatal("no client certificate")
	}
	id, err := NodeID(peer[0], td)
	if err != nil || id != "node-7" {
		t.Errorf("NodeID = %q, %v", id, err)
	}
}

func TestNodeIDStrict(t *testing.T) {
	key := newKey(t)
	certWith := func(uris ...string) *x509.Certificate {
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "x"}, NotBefore: testNow, NotAfter: testNow.Add(time.Hour)}
		for _, s := range uris {
			u, err := url.Parse(s)
			if err != nil {
				t.Fatalf("%s: %v", s, err)
			}
			tmpl.URIs = append(tmpl.URIs, u)
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
		if err != nil {
			t.Fatal(err)
		}
		cert, err := x509.ParseCertificate(der)
		if err != nil {
			t.Fatal(err)
		}
		return cert
	}
	tests := []struct {
		name string
		uris []string
		td   string
		want string // "" means refused
	}{
		{"valid", []string{"spiffe://example.org/node/node-1"}, td, "node-1"},
		{"valid dots", []string{"spiffe://example.org/node/a.b_c-d"}, td, "a.b_c-d"},
		{"other trust domain", []string{"spiffe://evil.org/node/node-1"}, td, ""},
		{"trust domain suffix", []string{"spiffe://sub.example.org/node/node-1"}, td, ""},
		{"upper-case host", []string{"spiffe://EXAMPLE.org/node/node-1"}, td, ""},
		{"no URI", nil, td, ""},
		{"two URIs", []string{"spiffe://example.org/node/a", "spiffe://example.org/node/b"}, td, ""},
		{"https scheme", []string{"https://example.org/node/node-1"}, td, ""},
		{"port", []string{"spiffe://example.org:443/node/node-1"}, td, ""},
		{"user", []string{"spiffe://u@example.org/node/node-1"}, td, ""},
		{"query", []string{"spiffe://example.org/node/node-1?x=1"}, td, ""},
		{"empty query", []string{"spiffe://example.org/node/node-1?"}, td, ""},
		{"fragment", []string{"spiffe://example.org/node/node-1#f"}, td, ""},
		{"escaped slash", []string{"spiffe://example.org/node/a%2Fb"}, td, ""},
		{"escaped letter", []string{"spiffe://example.org/node/%61"}, td, ""},
		{"empty id", []string{"spiffe://example.org/node/"}, td, ""},
		{"nested path", []string{"spiffe://example.org/node/a/b"}, td, ""},
		{"trailing slash", []string{"spiffe://example.org/node/a/"}, td, ""},
		{"dot segment", []string{"spiffe://example.org/node/../node/a"}, td, ""},
		{"server id", []string{"spiffe://example.org/server"}, td, ""},
		{"workload path", []string{"spiffe://example.org/ns/default/sa/x"}, td, ""},
		{"upper-case id", []string{"spiffe://example.org/node/Node"}, td, ""},
		{"opaque", []string{"spiffe:example.org/node/a"}, td, ""},
		{"bad trust domain argument", []string{"spiffe://example.org/node/a"}, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := NodeID(certWith(tt.uris...), tt.td)
			if tt.want == "" {
				if err == nil {
					t.Errorf("accepted as %q", got)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("NodeID = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
	if _, err := NodeID(nil, td); err == nil {
		t.Error("nil certificate accepted")
	}
}

// TestNameConstraints: a certificate the root signs for another trust
// domain's URI does not verify (the root's URI name constraint).
func TestNameConstraints(t *testing.T) {
	c, k := newCA(t)
	leafKey := newKey(t)
	u, _ := url.Parse("spiffe://evil.org/node/x")
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(7), URIs: []*url.URL{u},
		NotBefore: time.Now().Add(-time.Minute), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, c.Root(), leafKey.Public(), k)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := verify(t, c, der, x509.ExtKeyUsageClientAuth, time.Now(), ""); err == nil {
		t.Error("certificate for another trust domain verifies under the root")
	}
}

func TestCRL(t *testing.T) {
	c, _ := newCA(t)
	now := time.Now().UTC().Truncate(time.Second)
	var revoked []x509.RevocationListEntry
	for i := range 3 {
		_, serial, _, err := c.IssueNode("node-"+string(rune('a'+i)), newKey(t).Public(), 0, now)
		if err != nil {
			t.Fatal(err)
		}
		revoked = append(revoked, x509.RevocationListEntry{SerialNumber: serial, RevocationTime: now.Add(-time.Minute)})
	}
	tests := []struct {
		name    string
		revoked []x509.RevocationListEntry
		number  *big.Int
	}{
		{"empty", nil, big.NewInt(1)},
		{"three revoked", revoked, big.NewInt(42)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			der, err := c.CRL(tt.revoked, tt.number, now)
			if err != nil {
				t.Fatal(err)
			}
			crl, err := x509.ParseRevocationList(der)
			if err != nil {
				t.Fatal(err)
			}
			if err := crl.CheckSignatureFrom(c.Root()); err != nil {
				t.Fatalf("CRL signature: %v", err)
			}
			if crl.Number.Cmp(tt.number) != 0 {
				t.Errorf("number %v, want %v", crl.Number, tt.number)
			}
			if !crl.ThisUpdate.Equal(now) || !crl.NextUpdate.Equal(now.Add(CRLValidity)) {
				t.Errorf("this/next update %v/%v", crl.ThisUpdate, crl.NextUpdate)
			}
			if len(crl.RevokedCertificateEntries) != len(tt.revoked) {
				t.Fatalf("%d entries, want %d", len(crl.RevokedCertificateEntries), len(tt.revoked))
			}
			for i, e := range crl.RevokedCertificateEntries {
				if e.SerialNumber.Cmp(tt.revoked[i].SerialNumber) != 0 {
					t.Errorf("entry %d serial differs", i)
				}
			}
		})
	}
	for _, n := range []*big.Int{nil, big.NewInt(0), big.NewInt(-1), new(big.Int).Lsh(big.NewInt(1), 160)} {
		if _, err := c.CRL(nil, n, now); err == nil {
			t.Errorf("CRL number %v accepted", n)
		}
	}
	if _, err := c.CRL([]x509.RevocationListEntry{{SerialNumber: big.NewInt(1)}}, big.NewInt(1), now); err == nil {
		t.Error("entry without revocation time accepted")
	}
}
