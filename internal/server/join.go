package server

import (
	"context"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"regexp"
	"slices"
	"strings"

	"github.com/hoheit/hoheit/internal/api"
	"github.com/hoheit/hoheit/internal/attest"
	"github.com/hoheit/hoheit/internal/audit"
	"github.com/hoheit/hoheit/internal/keys"
	"github.com/hoheit/hoheit/internal/store"
)

// Node statuses.
const (
	statusActive      = "active"
	statusQuarantined = "quarantined"
	statusRevoked     = "revoked"
)

var (
	nodeIDRE    = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,62}$`)
	classRE     = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,62}$`)
	requestIDRE = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)
	labelRE     = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._/-]{0,62}$`)
)

// allPurposes are the keys a node receives at join.
var allPurposes = []string{api.PurposeDisk, api.PurposeMesh, api.PurposeWorkload}

func (s *Server) handleNonce(w http.ResponseWriter, r *http.Request) error {
	n, exp := s.nonces.issue()
	return writeJSON(w, http.StatusOK, api.NonceResponse{Nonce: n, ExpiresAt: exp})
}

// handleJoin verifies evidence and, when it holds, issues the node's
// certificate and releases its keys. Every outcome is audited before the
// response leaves.
func (s *Server) handleJoin(w http.ResponseWriter, r *http.Request) error {
	var req api.JoinRequest
	if err := readJSON(r, &req); err != nil {
		return err
	}
	if err := checkJoinRequest(&req); err != nil {
		return err
	}
	// A node that presents its certificate while re-attesting and fails is
	// quarantined; an anonymous failure is only refused.
	authNode := ""
	if r.TLS != nil && len(r.TLS.VerifiedChains) > 0 {
		if n, err := s.nodeFromCert(r); err == nil {
			authNode = n.ID
		}
	}
	unlock := s.joinMu.lock(req.NodeID)
	defer unlock()
	resp, wrapped, err := s.join(r.Context(), &req)
	if err != nil {
		if aerr := s.refuse(r.Context(), &req, authNode, err); aerr != nil {
			return aerr
		}
		return err
	}
	_ = resp
	return writeJSON(w, http.StatusOK, api.WrappedResponse{Response: wrapped})
}

func checkJoinRequest(req *api.JoinRequest) error {
	var bad []string
	if !nodeIDRE.MatchString(req.NodeID) {
		bad = append(bad, "node_id (lower-case letters, digits, '.', '_', '-'; at most 63)")
	}
	if !classRE.MatchString(req.Class) {
		bad = append(bad, "class (lower-case letters, digits, '.', '_', '-')")
	}
	if !requestIDRE.MatchString(req.RequestID) {
		bad = append(bad, "request_id (1-64 letters, digits, '.', '_', '-')")
	}
	if len(req.Evidence) == 0 {
		bad = append(bad, "evidence")
	}
	if len(req.HPKEPublicKey) == 0 {
		bad = append(bad, "hpke_public_key")
	}
	if len(req.CertPublicKey) == 0 {
		bad = append(bad, "cert_public_key")
	}
	if len(req.WireGuardPublicKey) != 32 {
		bad = append(bad, "wireguard_public_key (32 bytes)")
	}
	if len(req.Labels) > 32 {
		bad = append(bad, "labels (at most 32)")
	}
	for k, v := range req.Labels {
		if !labelRE.MatchString(k) || len(v) > 63 || strings.ContainsAny(v, "\x00\n") {
			bad = append(bad, fmt.Sprintf("label %q (keys: letters, digits, '.', '_', '-', '/'; values at most 63 characters)", k))
		}
	}
	if len(req.Endpoints) > 8 {
		bad = append(bad, "endpoints (at most 8)")
	}
	for _, e := range req.Endpoints {
		if _, err := netip.ParseAddrPort(e); err != nil {
			bad = append(bad, fmt.Sprintf("endpoint %q (want IP:PORT)", e))
		}
	}
	if len(bad) > 0 {
		return errBadRequest("missing or malformed: %s", strings.Join(bad, ", "))
	}
	return nil
}

// join does the checks and the work of a join; it returns the response and
// its wrapped encoding. Nothing is released unless the audit entries
// committed with the node's state.
func (s *Server) join(ctx context.Context, req *api.JoinRequest) (*api.JoinResponse, []byte, error) {
	if err := s.nonces.consume(req.Nonce); err != nil {
		return nil, nil, err
	}
	v, err := s.d.Registry.Validator(req.Variant)
	if err != nil {
		return nil, nil, err
	}
	binding := attest.Binding{
		Nonce:              req.Nonce,
		HPKEPublicKey:      req.HPKEPublicKey,
		CertPublicKey:      req.CertPublicKey,
		WireGuardPublicKey: req.WireGuardPublicKey,
	}
	claims, err := v.Validate(ctx, req.Evidence, binding.ReportData())
	if err != nil {
		return nil, nil, err
	}
	var warnings []string
	switch {
	case claims.Insecure:
		if !s.d.AllowInsecure {
			return nil, nil, attest.Refuse(attest.ReasonVariantNotAllowed, "the insecure variant is not allowed by this server")
		}
	default:
		if s.d.RefValues == nil {
			return nil, nil, attest.Refuse(attest.ReasonRefValues, "this server has no reference values")
		}
		warnings, err = s.d.RefValues.Check(req.Class, claims)
		if err != nil {
			return nil, nil, err
		}
	}
	certPub, err := x509.ParsePKIXPublicKey(req.CertPublicKey)
	if err != nil {
		return nil, nil, errBadRequest("cert_public_key is not a PKIX DER public key: %v", err)
	}

	now := s.d.Now()
	var prev store.Node
	var known bool
	err = s.d.Store.View(ctx, func(tx store.ReadTx) error {
		var err error
		prev, err = tx.Node(ctx, req.NodeID)
		if err == nil {
			known = true
		} else if errors.Is(err, store.ErrNotFound) {
			err = nil
		}
		return err
	})
	if err != nil {
		return nil, nil, err
	}
	if known {
		switch {
		case prev.Status == statusRevoked:
			return nil, nil, attest.Refuse(attest.ReasonRevoked, "node %s was revoked (%s); it may join again only after an admin runs 'hoheit node reset'", prev.ID, prev.StatusReason)
		case prev.Class != req.Class:
			return nil, nil, attest.Refuse(attest.ReasonClass, "node %s joined as class %q and may not re-attest as %q", prev.ID, prev.Class, req.Class)
		case prev.HardwareID != "" && prev.HardwareID != claims.HardwareID:
			return nil, nil, attest.Refuse(attest.ReasonIdentity, "node %s joined on other hardware (%s) than this evidence comes from", prev.ID, short(prev.HardwareID))
		case prev.Insecure != claims.Insecure:
			return nil, nil, attest.Refuse(attest.ReasonIdentity, "node %s may not switch between insecure and measured attestation", prev.ID)
		}
	}

	certDER, serial, notAfter, err := s.d.CA.IssueNode(req.NodeID, certPub, s.d.CertValidity, now)
	if err != nil {
		return nil, nil, fmt.Errorf("issuing the node certificate: %w", err)
	}
	sealed, err := s.sealKeys(ctx, req.NodeID, req.RequestID, req.HPKEPublicKey, allPurposes)
	if err != nil {
		return nil, nil, err
	}
	claimsJSON, err := json.Marshal(claims)
	if err != nil {
		return nil, nil, err
	}
	resp := &api.JoinResponse{
		NodeID:        req.NodeID,
		Certificate:   certDER,
		CA:            s.d.CA.RootDER(),
		NotAfter:      notAfter,
		Keys:          sealed,
		Insecure:      claims.Insecure,
		ReattestEvery: api.Duration(s.d.ReattestEvery),
		Warnings:      warnings,
	}

	node := store.Node{
		ID:                 req.NodeID,
		Class:              req.Class,
		Variant:            req.Variant,
		Insecure:           claims.Insecure,
		HardwareID:         claims.HardwareID,
		Status:             statusActive,
		HPKEPublicKey:      req.HPKEPublicKey,
		CertPublicKey:      req.CertPublicKey,
		WireGuardPublicKey: req.WireGuardPublicKey,
		CertSerial:         serial.Text(16),
		CertNotAfter:       notAfter,
		Claims:             claimsJSON,
		JoinedAt:           now,
		LastAttestedAt:     now,
	}
	kind := "join"
	if known {
		node.JoinedAt = prev.JoinedAt
		node.MeshAddress = prev.MeshAddress
		kind = "reattest"
	}
	if node.MeshAddress == "" {
		var addrs []string
		for _, a := range s.mesh.addresses(req.NodeID) {
			addrs = append(addrs, a.String())
		}
		node.MeshAddress = strings.Join(addrs, ",")
	}
	if node.Mesh, err = json.Marshal(nodeMesh{Labels: req.Labels, Endpoints: req.Endpoints}); err != nil {
		return nil, nil, err
	}
	if node.MeshAddress != "" {
		resp.MeshAddresses = strings.Split(node.MeshAddress, ",")
		for _, p := range []netip.Prefix{s.mesh.opts.IPv6, s.mesh.opts.IPv4} {
			if p.IsValid() {
				resp.MeshPrefixes = append(resp.MeshPrefixes, p.String())
			}
		}
	}
	details := map[string]string{
		"variant":     req.Variant,
		"cert_serial": node.CertSerial,
		"cert_expiry": notAfter.UTC().Format("2006-01-02T15:04:05Z"),
	}
	if claims.Insecure {
		details["insecure"] = "true"
	}
	if claims.HardwareID != "" {
		details["hardware_id"] = claims.HardwareID
	}
	if len(warnings) > 0 {
		details["warnings"] = strings.Join(warnings, "; ")
	}
	plain, err := json.Marshal(resp)
	if err != nil {
		return nil, nil, err
	}
	wrapped := plain
	if rw, ok := v.(attest.ResponseWrapper); ok {
		if wrapped, err = rw.WrapResponse(claims, req.Evidence, plain); err != nil {
			return nil, nil, fmt.Errorf("wrapping the join response: %w", err)
		}
	}
	err = s.d.Store.Update(ctx, func(tx store.Tx) error {
		if err := tx.PutNode(ctx, node); err != nil {
			return err
		}
		if known && prev.CertSerial != "" && prev.CertSerial != node.CertSerial {
			// The old certificate is superseded; list it as revoked so
			// relying parties stop trusting it.
			if err := tx.RevokeCert(ctx, store.RevokedCert{Serial: prev.CertSerial, NodeID: prev.ID, RevokedAt: now, Reason: "superseded"}); err != nil {
				return err
			}
		}
		if _, err := tx.Append(ctx, audit.Record{Time: now, Type: kind, Node: req.NodeID, Class: req.Class, Actor: "node:" + req.NodeID, RequestID: req.RequestID, Details: details}); err != nil {
			return err
		}
		_, err := tx.Append(ctx, audit.Record{Time: now, Type: "key-release", Node: req.NodeID, Class: req.Class, Actor: "node:" + req.NodeID, RequestID: req.RequestID,
			Details: map[string]string{"purposes": strings.Join(allPurposes, ","), "sealed_to": keyDigest(req.HPKEPublicKey)}})
		return err
	})
	if err != nil {
		return nil, nil, fmt.Errorf("recording the join: %w", err)
	}
	s.mesh.upsert(node)
	s.d.Log.Info("node joined", "node", req.NodeID, "class", req.Class, "variant", req.Variant, "insecure", claims.Insecure, "reattest", known)
	return resp, wrapped, nil
}

// sealKeys derives the node's keys and seals them, as one JSON object of
// purpose to key, to hpkePub: one HPKE encapsulation per response.
func (s *Server) sealKeys(ctx context.Context, nodeID, requestID string, hpkePub []byte, purposes []string) ([]byte, error) {
	plain := make(map[string][]byte, len(purposes))
	defer func() {
		for _, k := range plain {
			clear(k)
		}
	}()
	for _, p := range purposes {
		k, err := keys.NodeKey(ctx, s.d.Keys, keys.Purpose(p), nodeID)
		if err != nil {
			return nil, fmt.Errorf("deriving the %s key: %w", p, err)
		}
		plain[p] = k
	}
	bundle, err := json.Marshal(plain)
	if err != nil {
		return nil, err
	}
	defer clear(bundle)
	sealed, err := keys.Seal(hpkePub, nodeID, requestID, bundle)
	if err != nil {
		return nil, errBadRequest("cannot seal to hpke_public_key: %v", err)
	}
	return sealed, nil
}

// refuse records a refusal, and quarantines the node when it failed while
// authenticated as itself.
func (s *Server) refuse(ctx context.Context, req *api.JoinRequest, authNode string, cause error) error {
	reason := attest.ReasonOf(cause)
	var he *httpError
	if errors.As(cause, &he) {
		reason = he.reason
	}
	if reason == "internal" {
		return nil // not a decision: logged by the handler, not audited
	}
	now := s.d.Now()
	detail := cause.Error()
	s.d.Log.Warn("join refused", "node", req.NodeID, "class", req.Class, "variant", req.Variant, "reason", reason)
	err := s.d.Store.Update(ctx, func(tx store.Tx) error {
		if _, err := tx.Append(ctx, audit.Record{Time: now, Type: "refusal", Node: req.NodeID, Class: req.Class, Actor: "node:" + req.NodeID, Reason: reason, RequestID: req.RequestID,
			Details: map[string]string{"variant": req.Variant, "detail": detail}}); err != nil {
			return err
		}
		if authNode == "" || authNode != req.NodeID {
			return nil
		}
		return s.quarantineTx(ctx, tx, authNode, "re-attestation failed: "+reason, now)
	})
	if err == nil && authNode != "" && authNode == req.NodeID {
		s.mesh.remove(authNode)
	}
	return err
}

func keyDigest(pub []byte) string {
	d := sha256Sum(pub)
	return hex.EncodeToString(d[:8])
}

func short(s string) string {
	if len(s) > 16 {
		return s[:16] + "…"
	}
	if s == "" {
		return "none"
	}
	return s
}

// validPurposes reports whether every purpose is known.
func validPurposes(ps []string) bool {
	if len(ps) == 0 {
		return false
	}
	for _, p := range ps {
		if !slices.Contains(allPurposes, p) {
			return false
		}
	}
	return true
}
