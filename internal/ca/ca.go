// Package ca is hoheit's internal certificate authority: it issues the
// short-lived X.509 node certificates (URI SAN spiffe://<trust-domain>/node/<id>)
// that agents present in mutual TLS after they joined, the control plane's
// TLS server certificate, and the certificate revocation list. Its signing
// key is a crypto.Signer from the master key backend (keys.Backend.Signer
// "ca"), so with the pkcs11 backend it never leaves the HSM. The server
// imports it; the agent uses NodeID and the root to check peers.
package ca

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/url"
	"strings"
	"time"
)

// Validity defaults and limits.
const (
	// DefaultNodeValidity is a node certificate's lifetime when IssueNode is
	// given 0: short, so a node that stops re-attesting loses its identity
	// within a day even if nobody revokes it.
	DefaultNodeValidity = 24 * time.Hour
	// DefaultServerValidity is the control plane certificate's lifetime when
	// IssueServer is given 0. The server can reissue it at any start.
	DefaultServerValidity = 30 * 24 * time.Hour
	// RootValidity is the lifetime of a root New creates.
	RootValidity = 10 * 365 * 24 * time.Hour
	// CRLValidity is how long a CRL stays current (its NextUpdate).
	CRLValidity = time.Hour
	// clockSkew backdates NotBefore so a node whose clock is slightly behind
	// accepts a certificate at once.
	clockSkew = 5 * time.Minute
)

// CA issues certificates under one root for one trust domain. It is safe for
// concurrent use.
type CA struct {
	signer      crypto.Signer
	trustDomain string
	root        *x509.Certificate
}

// New returns the CA of trustDomain signing with signer (an ECDSA P-256
// key). root is the DER of the existing root certificate (from the store);
// nil creates a new self-signed root valid for 10 years, whose DER the
// caller must persist (RootDER). An existing root must be a CA certificate
// of the same trust domain whose public key is signer's.
func New(ctx context.Context, signer crypto.Signer, trustDomain string, root []byte) (*CA, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if signer == nil {
		return nil, errors.New("ca: no signer")
	}
	if err := ValidateTrustDomain(trustDomain); err != nil {
		return nil, fmt.Errorf("ca: %w", err)
	}
	c := &CA{signer: signer, trustDomain: trustDomain}
	if root == nil {
		der, err := c.createRoot(time.Now())
		if err != nil {
			return nil, err
		}
		root = der
	}
	cert, err := x509.ParseCertificate(root)
	if err != nil {
		return nil, fmt.Errorf("ca: parsing root certificate: %w", err)
	}
	if !cert.IsCA || !cert.BasicConstraintsValid || cert.KeyUsage&x509.KeyUsageCertSign == 0 {
		return nil, errors.New("ca: root certificate is not a CA certificate")
	}
	if !publicKeysEqual(cert.PublicKey, signer.Public()) {
		return nil, errors.New("ca: root certificate does not belong to the CA signing key (wrong key backend or wrong root?)")
	}
	if len(cert.URIs) != 1 || cert.URIs[0].String() != "spiffe://"+trustDomain {
		return nil, fmt.Errorf("ca: root certificate is not the root of trust domain %q", trustDomain)
	}
	if err := cert.CheckSignatureFrom(cert); err != nil {
		return nil, fmt.Errorf("ca: root certificate is not validly self-signed: %w", err)
	}
	c.root = cert
	return c, nil
}

func (c *CA) createRoot(now time.Time) ([]byte, error) {
	serial, err := newSerial()
	if err != nil {
		return nil, err
	}
	tdURI := &url.URL{Scheme: "spiffe", Host: c.trustDomain}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject: pkix.Name{
			Organization: []string{"hoheit"},
			CommonName:   "hoheit root CA " + c.trustDomain,
		},
		URIs:                  []*url.URL{tdURI},
		NotBefore:             now.Add(-clockSkew),
		NotAfter:              now.Add(RootValidity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
		// The root can name nothing outside its trust domain in URI SANs;
		// DNS and IP names (the server certificate) stay unconstrained.
		PermittedURIDomains: []string{c.trustDomain},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, c.signer.Public(), c.signer)
	if err != nil {
		return nil, fmt.Errorf("ca: creating root certificate: %w", err)
	}
	return der, nil
}

// Root returns the root certificate. Callers must not modify it.
func (c *CA) Root() *x509.Certificate { return c.root }

// RootDER returns the root certificate's DER encoding.
func (c *CA) RootDER() []byte { return bytes.Clone(c.root.Raw) }

// TrustDomain returns the CA's SPIFFE trust domain.
func (c *CA) TrustDomain() string { return c.trustDomain }

// IssueNode issues the node certificate of nodeID for pub: URI SAN
// spiffe://<trust-domain>/node/<nodeID>, client and server auth, valid from
// now (backdated 5 minutes for clock skew) for validity (0 means 24 h),
// never beyond the root. It returns the DER, the serial (for revocation) and
// the NotAfter.
func (c *CA) IssueNode(nodeID string, pub crypto.PublicKey, validity time.Duration, now time.Time) (der []byte, serial *big.Int, notAfter time.Time, err error) {
	if err := ValidateNodeID(nodeID); err != nil {
		return nil, nil, time.Time{}, fmt.Errorf("ca: %w", err)
	}
	if validity == 0 {
		validity = DefaultNodeValidity
	}
	u, err := url.Parse(NodeURI(c.trustDomain, nodeID))
	if err != nil {
		return nil, nil, time.Time{}, fmt.Errorf("ca: node URI: %w", err)
	}
	tmpl := &x509.Certificate{
		Subject:     pkix.Name{Organization: []string{"hoheit"}, CommonName: nodeID},
		URIs:        []*url.URL{u},
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth, x509.ExtKeyUsageServerAuth},
	}
	return c.issue(tmpl, pub, validity, now)
}

// IssueServer issues the control plane's TLS server certificate for pub,
// with hosts as DNS or IP SANs and the URI SAN spiffe://<trust-domain>/server,
// server auth only, valid for validity (0 means 30 days).
func (c *CA) IssueServer(hosts []string, pub crypto.PublicKey, validity time.Duration, now time.Time) ([]byte, error) {
	if len(hosts) == 0 {
		return nil, errors.New("ca: a server certificate needs at least one host name or IP address")
	}
	if validity == 0 {
		validity = DefaultServerValidity
	}
	u, err := url.Parse(ServerURI(c.trustDomain))
	if err != nil {
		return nil, fmt.Errorf("ca: server URI: %w", err)
	}
	tmpl := &x509.Certificate{
		Subject:     pkix.Name{Organization: []string{"hoheit"}, CommonName: hosts[0]},
		URIs:        []*url.URL{u},
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
			continue
		}
		if !validDNSName(h) {
			return nil, fmt.Errorf("ca: %q is neither an IP address nor a DNS name", truncate(h))
		}
		tmpl.DNSNames = append(tmpl.DNSNames, strings.ToLower(h))
	}
	der, _, _, err := c.issue(tmpl, pub, validity, now)
	return der, err
}

func (c *CA) issue(tmpl *x509.Certificate, pub crypto.PublicKey, validity time.Duration, now time.Time) ([]byte, *big.Int, time.Time, error) {
	if validity < 0 {
		return nil, nil, time.Time{}, errors.New("ca: negative validity")
	}
	if err := checkLeafKey(pub); err != nil {
		return nil, nil, time.Time{}, fmt.Errorf("ca: %w", err)
	}
	if now.IsZero() {
		return nil, nil, time.Time{}, errors.New("ca: no issuing time")
	}
	notAfter := now.Add(validity).UTC().Truncate(time.Second)
	if notAfter.After(c.root.NotAfter) {
		notAfter = c.root.NotAfter
	}
	if !now.Before(notAfter) {
		return nil, nil, time.Time{}, errors.New("ca: the root certificate has expired; create a new CA")
	}
	serial, err := newSerial()
	if err != nil {
		return nil, nil, time.Time{}, err
	}
	tmpl.SerialNumber = serial
	tmpl.NotBefore = now.Add(-clockSkew).UTC().Truncate(time.Second)
	tmpl.NotAfter = notAfter
	tmpl.BasicConstraintsValid = true
	tmpl.IsCA = false
	der, err := x509.CreateCertificate(rand.Reader, tmpl, c.root, pub, c.signer)
	if err != nil {
		return nil, nil, time.Time{}, fmt.Errorf("ca: signing certificate: %w", err)
	}
	return der, serial, notAfter, nil
}

// CRL returns a DER certificate revocation list signed by the CA listing
// revoked, with CRL number number (positive, increasing with every CRL the
// caller publishes), current from now for CRLValidity.
func (c *CA) CRL(revoked []x509.RevocationListEntry, number *big.Int, now time.Time) ([]byte, error) {
	if number == nil || number.Sign() <= 0 || number.BitLen() > 159 {
		return nil, errors.New("ca: CRL number must be positive and at most 20 octets")
	}
	for i, e := range revoked {
		if e.SerialNumber == nil || e.SerialNumber.Sign() <= 0 {
			return nil, fmt.Errorf("ca: revocation entry %d has no valid serial number", i)
		}
		if e.RevocationTime.IsZero() {
			return nil, fmt.Errorf("ca: revocation entry %d has no revocation time", i)
		}
	}
	tmpl := &x509.RevocationList{
		RevokedCertificateEntries: revoked,
		Number:                    number,
		ThisUpdate:                now.UTC().Truncate(time.Second),
		NextUpdate:                now.Add(CRLValidity).UTC().Truncate(time.Second),
	}
	der, err := x509.CreateRevocationList(rand.Reader, tmpl, c.root, c.signer)
	if err != nil {
		return nil, fmt.Errorf("ca: signing CRL: %w", err)
	}
	return der, nil
}

// newSerial returns a random positive 128-bit serial number.
func newSerial() (*big.Int, error) {
	limit := new(big.Int).Lsh(big.NewInt(1), 127)
	n, err := rand.Int(rand.Reader, limit)
	if err != nil {
		return nil, fmt.Errorf("ca: serial number: %w", err)
	}
	return n.Add(n, big.NewInt(1)), nil
}

// checkLeafKey accepts the key types a node may hold: ECDSA P-256/P-384,
// Ed25519, RSA of at least 2048 bits.
func checkLeafKey(pub crypto.PublicKey) error {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		if k.Curve != elliptic.P256() && k.Curve != elliptic.P384() {
			return errors.New("ECDSA keys must be on P-256 or P-384")
		}
	case ed25519.PublicKey:
		if len(k) != ed25519.PublicKeySize {
			return errors.New("malformed Ed25519 key")
		}
	case *rsa.PublicKey:
		if k.N.BitLen() < 2048 {
			return errors.New("RSA keys must have at least 2048 bits")
		}
	default:
		return fmt.Errorf("unsupported public key type %T", pub)
	}
	return nil
}

func publicKeysEqual(a, b crypto.PublicKey) bool {
	ea, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && ea.Equal(b)
}

// validDNSName accepts host names and a leading wildcard label.
func validDNSName(h string) bool {
	if len(h) == 0 || len(h) > 253 {
		return false
	}
	labels := strings.Split(strings.ToLower(h), ".")
	for i, l := range labels {
		if l == "*" && i == 0 && len(labels) > 2 {
			continue
		}
		if len(l) == 0 || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		for _, r := range l {
			if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') {
				return false
			}
		}
	}
	return true
}
