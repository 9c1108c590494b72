package server

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"math/big"
	"net/http"
	"strings"
	"time"

	"github.com/hoheit/hoheit/internal/api"
	"github.com/hoheit/hoheit/internal/attest"
	"github.com/hoheit/hoheit/internal/audit"
	"github.com/hoheit/hoheit/internal/store"
)

func sha256Sum(b []byte) [32]byte { return sha256.Sum256(b) }

// handleKeys releases a node's keys again, sealed to the HPKE key of its
// last attestation. Only the node itself may ask, with its certificate.
func (s *Server) handleKeys(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	var req api.KeysRequest
	if err := readJSON(r, &req); err != nil {
		return err
	}
	if !requestIDRE.MatchString(req.RequestID) || !validPurposes(req.Purposes) {
		return errBadRequest("want request_id (1-64 letters, digits, '.', '_', '-') and purposes from %s", strings.Join(allPurposes, ", "))
	}
	ctx := r.Context()
	n, err := s.nodeFromCert(r)
	if err == nil && n.ID != id {
		err = attest.Refuse(attest.ReasonForbidden, "node %s may not ask for the keys of node %s", n.ID, id)
	}
	now := s.d.Now()
	if err != nil {
		actor := "anonymous"
		if n.ID != "" {
			actor = "node:" + n.ID
		}
		reason := attest.ReasonOf(err)
		var he *httpError
		if errors.As(err, &he) {
			reason = he.reason
		}
		if aerr := s.d.Store.Update(ctx, func(tx store.Tx) error {
			_, err := tx.Append(ctx, audit.Record{Time: now, Type: "refusal", Node: id, Actor: actor, Reason: reason, RequestID: req.RequestID,
				Details: map[string]string{"call": "keys", "detail": err.Error()}})
			return err
		}); aerr != nil {
			return aerr
		}
		return err
	}
	sealed, err := s.sealKeys(ctx, n.ID, req.RequestID, n.HPKEPublicKey, req.Purposes)
	if err != nil {
		return err
	}
	if err := s.d.Store.Update(ctx, func(tx store.Tx) error {
		_, err := tx.Append(ctx, audit.Record{Time: now, Type: "key-release", Node: n.ID, Class: n.Class, Actor: "node:" + n.ID, RequestID: req.RequestID,
			Details: map[string]string{"purposes": strings.Join(req.Purposes, ","), "sealed_to": keyDigest(n.HPKEPublicKey)}})
		return err
	}); err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, api.KeysResponse{Keys: sealed})
}

func (s *Server) handleNodeStatus(w http.ResponseWriter, r *http.Request) error {
	n, err := s.node(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, api.NodeStatus{ID: n.ID, Status: n.Status, CertSerial: n.CertSerial, Insecure: n.Insecure})
}

func (s *Server) node(ctx context.Context, id string) (store.Node, error) {
	var n store.Node
	err := s.d.Store.View(ctx, func(tx store.ReadTx) error {
		var err error
		n, err = tx.Node(ctx, id)
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		return n, errNotFound("no node %q", id)
	}
	return n, err
}

func apiNode(n store.Node, withClaims bool) api.Node {
	out := api.Node{
		ID: n.ID, Class: n.Class, Variant: n.Variant, Insecure: n.Insecure, Status: n.Status, StatusReason: n.StatusReason,
		HardwareID: n.HardwareID, CertSerial: n.CertSerial, CertNotAfter: n.CertNotAfter, JoinedAt: n.JoinedAt, LastAttestedAt: n.LastAttestedAt,
	}
	if withClaims {
		out.Claims = n.Claims
	}
	return out
}

func (s *Server) handleNodes(w http.ResponseWriter, r *http.Request) error {
	var ns []store.Node
	err := s.d.Store.View(r.Context(), func(tx store.ReadTx) error {
		var err error
		ns, err = tx.Nodes(r.Context())
		return err
	})
	if err != nil {
		return err
	}
	out := make([]api.Node, 0, len(ns))
	for _, n := range ns {
		out = append(out, apiNode(n, false))
	}
	return writeJSON(w, http.StatusOK, out)
}

func (s *Server) handleNode(w http.ResponseWriter, r *http.Request) error {
	n, err := s.node(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, apiNode(n, true))
}

func (s *Server) handleRevoke(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	var req api.RevokeRequest
	if err := readJSON(r, &req); err != nil {
		return err
	}
	if strings.TrimSpace(req.Reason) == "" {
		return errBadRequest("say why: a reason is required and goes into the audit log")
	}
	tok := tokenFrom(r.Context())
	ctx := r.Context()
	now := s.d.Now()
	var out store.Node
	err := s.d.Store.Update(ctx, func(tx store.Tx) error {
		n, err := tx.Node(ctx, id)
		if errors.Is(err, store.ErrNotFound) {
			return errNotFound("no node %q", id)
		}
		if err != nil {
			return err
		}
		if err := s.setStatusTx(ctx, tx, &n, statusRevoked, req.Reason, now); err != nil {
			return err
		}
		out = n
		_, err = tx.Append(ctx, audit.Record{Time: now, Type: "revocation", Node: id, Class: n.Class, Actor: "token:" + tok.Name, Reason: "admin",
			Details: map[string]string{"reason": req.Reason, "cert_serial": n.CertSerial}})
		return err
	})
	if err != nil {
		return err
	}
	s.mesh.remove(id)
	s.d.Log.Warn("node revoked", "node", id, "by", tok.Name)
	return writeJSON(w, http.StatusOK, apiNode(out, false))
}

// handleReset lets a revoked node join again, or a node join from new
// hardware (a VM that moved host): the node becomes quarantined, so it
// gets nothing until it attests, and its hardware binding is cleared.
func (s *Server) handleReset(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	var req api.RevokeRequest
	if err := readJSON(r, &req); err != nil {
		return err
	}
	if strings.TrimSpace(req.Reason) == "" {
		return errBadRequest("say why: a reason is required and goes into the audit log")
	}
	ctx := r.Context()
	now := s.d.Now()
	var out store.Node
	err := s.d.Store.Update(ctx, func(tx store.Tx) error {
		n, err := tx.Node(ctx, id)
		if errors.Is(err, store.ErrNotFound) {
			return errNotFound("no node %q", id)
		}
		if err != nil {
			return err
		}
		old := n.HardwareID
		if n.Status == statusActive {
			if err := s.setStatusTx(ctx, tx, &n, statusQuarantined, "reset: "+req.Reason, now); err != nil {
				return err
			}
		} else {
			n.Status, n.StatusReason = statusQuarantined, "reset: "+req.Reason
		}
		n.HardwareID = ""
		if err := tx.PutNode(ctx, n); err != nil {
			return err
		}
		out = n
		_, err = tx.Append(ctx, audit.Record{Time: now, Type: "node-reset", Node: id, Class: n.Class, Actor: "token:" + tokenFrom(ctx).Name,
			Details: map[string]string{"reason": req.Reason, "previous_hardware_id": old}})
		return err
	})
	if err != nil {
		return err
	}
	s.mesh.remove(id)
	return writeJSON(w, http.StatusOK, apiNode(out, false))
}

// setStatusTx changes a node's status and revokes its certificate.
func (s *Server) setStatusTx(ctx context.Context, tx store.Tx, n *store.Node, status, reason string, now time.Time) error {
	n.Status = status
	n.StatusReason = reason
	if err := tx.PutNode(ctx, *n); err != nil {
		return err
	}
	if n.CertSerial == "" {
		return nil
	}
	return tx.RevokeCert(ctx, store.RevokedCert{Serial: n.CertSerial, NodeID: n.ID, RevokedAt: now, Reason: status + ": " + reason})
}

// quarantineTx quarantines an active node: certificate revoked, no keys
// until it attests again, an audit entry.
func (s *Server) quarantineTx(ctx context.Context, tx store.Tx, id, reason string, now time.Time) error {
	n, err := tx.Node(ctx, id)
	if err != nil {
		return err
	}
	if n.Status != statusActive {
		return nil
	}
	if err := s.setStatusTx(ctx, tx, &n, statusQuarantined, reason, now); err != nil {
		return err
	}
	_, err = tx.Append(ctx, audit.Record{Time: now, Type: "quarantine", Node: id, Class: n.Class, Actor: "server", Reason: reason,
		Details: map[string]string{"cert_serial": n.CertSerial}})
	return err
}

// sweep quarantines nodes that missed their re-attestation.
func (s *Server) sweep(ctx context.Context) {
	every := s.d.ReattestGrace / 4
	if every > 30*time.Second {
		every = 30 * time.Second
	}
	if every < 100*time.Millisecond {
		every = 100 * time.Millisecond
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := s.SweepOnce(ctx); err != nil && ctx.Err() == nil {
			s.d.Log.Error("quarantine sweep failed", "err", err)
		}
	}
}

// SweepOnce quarantines every active node whose last attestation is older
// than the re-attestation interval plus grace.
func (s *Server) SweepOnce(ctx context.Context) error {
	now := s.d.Now()
	limit := s.d.ReattestEvery + s.d.ReattestGrace
	var due []string
	err := s.d.Store.View(ctx, func(tx store.ReadTx) error {
		ns, err := tx.Nodes(ctx)
		for _, n := range ns {
			if n.Status == statusActive && now.Sub(n.LastAttestedAt) > limit {
				due = append(due, n.ID)
			}
		}
		return err
	})
	if err != nil {
		return err
	}
	for _, id := range due {
		unlock := s.joinMu.lock(id)
		err := s.d.Store.Update(ctx, func(tx store.Tx) error {
			n, err := tx.Node(ctx, id)
			if err != nil || n.Status != statusActive || now.Sub(n.LastAttestedAt) <= limit {
				return err
			}
			return s.quarantineTx(ctx, tx, id, "missed re-attestation (last "+n.LastAttestedAt.UTC().Format(time.RFC3339)+")", now)
		})
		unlock()
		if err != nil {
			return err
		}
		s.mesh.remove(id)
		s.d.Log.Warn("node quarantined: missed re-attestation", "node", id)
	}
	return nil
}

func (s *Server) handleCA(w http.ResponseWriter, r *http.Request) error {
	w.Header().Set("Content-Type", "application/x-pem-file")
	return pem.Encode(w, &pem.Block{Type: "CERTIFICATE", Bytes: s.d.CA.RootDER()})
}

func (s *Server) handleCRL(w http.ResponseWriter, r *http.Request) error {
	var revoked []store.RevokedCert
	if err := s.d.Store.View(r.Context(), func(tx store.ReadTx) error {
		var err error
		revoked, err = tx.RevokedCerts(r.Context())
		return err
	}); err != nil {
		return err
	}
	entries := make([]x509.RevocationListEntry, 0, len(revoked))
	for _, rc := range revoked {
		serial, ok := new(big.Int).SetString(rc.Serial, 16)
		if !ok {
			continue
		}
		entries = append(entries, x509.RevocationListEntry{SerialNumber: serial, RevocationTime: rc.RevokedAt})
	}
	now := s.d.Now()
	der, err := s.d.CA.CRL(entries, big.NewInt(now.Unix()), now)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/pkix-crl")
	_, err = w.Write(der)
	return err
}

type tokenCtxKey struct{}

func withToken(ctx context.Context, t store.Token) context.Context {
	return context.WithValue(ctx, tokenCtxKey{}, t)
}

func tokenFrom(ctx context.Context) store.Token {
	t, _ := ctx.Value(tokenCtxKey{}).(store.Token)
	return t
}
