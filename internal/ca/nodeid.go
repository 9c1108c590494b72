package ca

import (
	"crypto/x509"
	"errors"
	"fmt"
	"regexp"
)

// nodeIDPattern is the whole grammar of a node id: short, lower case, safe
// in a URI path, a file name, a log line and a PKCS#11 label without escaping.
var nodeIDPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,62}$`)

// trustDomainPattern follows the SPIFFE trust domain grammar (lower-case
// letters, digits, dots, dashes and underscores), at most 255 characters.
var trustDomainPattern = regexp.MustCompile(`^[a-z0-9._-]{1,255}$`)

// ValidateNodeID reports whether id is a valid node id:
// ^[a-z0-9][a-z0-9._-]{0,62}$. The keys package and the server use it
// before an id reaches a certificate, a key derivation or the store.
func ValidateNodeID(id string) error {
	if !nodeIDPattern.MatchString(id) {
		return fmt.Errorf("invalid node id %q: want 1-63 characters of a-z, 0-9, '.', '_', '-', starting with a letter or digit", truncate(id))
	}
	return nil
}

// ValidateTrustDomain reports whether td is a valid SPIFFE trust domain name.
func ValidateTrustDomain(td string) error {
	if !trustDomainPattern.MatchString(td) || td == "." || td == ".." {
		return fmt.Errorf("invalid trust domain %q: want 1-255 characters of a-z, 0-9, '.', '_', '-'", truncate(td))
	}
	return nil
}

// NodeID returns the node id of a node certificate of trustDomain: the
// certificate must carry exactly one URI SAN, and it must be exactly
// spiffe://<trustDomain>/node/<id> with a valid id (no port, user, query,
// fragment or escaping). It checks no signature: verify the chain first.
func NodeID(cert *x509.Certificate, trustDomain string) (string, error) {
	if cert == nil {
		return "", errors.New("no certificate")
	}
	if err := ValidateTrustDomain(trustDomain); err != nil {
		return "", err
	}
	if len(cert.URIs) != 1 {
		return "", fmt.Errorf("certificate has %d URI SANs, want exactly 1", len(cert.URIs))
	}
	u := cert.URIs[0]
	if u.Scheme != "spiffe" || u.Opaque != "" || u.User != nil || u.RawQuery != "" ||
		u.ForceQuery || u.Fragment != "" || u.RawFragment != "" || u.RawPath != "" || u.OmitHost {
		return "", errors.New("certificate URI SAN is not a plain spiffe:// id")
	}
	if u.Host != trustDomain {
		return "", fmt.Errorf("certificate URI SAN names trust domain %q, want %q", truncate(u.Host), trustDomain)
	}
	const prefix = "/node/"
	if len(u.Path) <= len(prefix) || u.Path[:len(prefix)] != prefix {
		return "", errors.New("certificate URI SAN is not a node id (want spiffe://<trust-domain>/node/<id>)")
	}
	id := u.Path[len(prefix):]
	if err := ValidateNodeID(id); err != nil {
		return "", fmt.Errorf("certificate URI SAN: %w", err)
	}
	// Belt and braces: the canonical form must be exactly what was parsed.
	if u.String() != NodeURI(trustDomain, id) {
		return "", errors.New("certificate URI SAN is not in canonical form")
	}
	return id, nil
}

// NodeURI returns the SPIFFE id of a node: spiffe://<trustDomain>/node/<id>.
// It does not validate; IssueNode and NodeID do.
func NodeURI(trustDomain, nodeID string) string {
	return "spiffe://" + trustDomain + "/node/" + nodeID
}

// ServerURI returns the SPIFFE id the control plane's TLS certificate
// carries: spiffe://<trustDomain>/server.
func ServerURI(trustDomain string) string {
	return "spiffe://" + trustDomain + "/server"
}

// truncate keeps hostile input from flooding an error message.
func truncate(s string) string {
	const max = 80
	if len(s) > max {
		return s[:max] + "..."
	}
	return s
}
