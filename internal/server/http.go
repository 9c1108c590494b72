package server

import (
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"

	"github.com/hoheit/hoheit/internal/api"
	"github.com/hoheit/hoheit/internal/attest"
	"github.com/hoheit/hoheit/internal/ca"
	"github.com/hoheit/hoheit/internal/store"
)

// httpError is an error with a status and a stable reason for the client.
type httpError struct {
	status int
	reason string
	detail string
}

func (e *httpError) Error() string { return e.reason + ": " + e.detail }

func errBadRequest(format string, a ...any) error {
	return &httpError{http.StatusBadRequest, "bad-request", fmt.Sprintf(format, a...)}
}

func errNotFound(format string, a ...any) error {
	return &httpError{http.StatusNotFound, "not-found", fmt.Sprintf(format, a...)}
}

var (
	errUnauthorized = &httpError{http.StatusUnauthorized, "unauthorized", "send 'Authorization: Bearer <token>' with a valid API token"}
	errNoNodeCert   = &httpError{http.StatusUnauthorized, "unauthorized", "this call needs the node's certificate (mutual TLS)"}
)

func errForbidden(format string, a ...any) error {
	return &httpError{http.StatusForbidden, attest.ReasonForbidden, fmt.Sprintf(format, a...)}
}

// handlerFunc is an HTTP handler that returns its error.
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

func (s *Server) routes() {
	m := http.NewServeMux()
	h := func(pattern string, f handlerFunc) { m.Handle(pattern, s.wrap(f)) }
	h("GET "+api.PathHealth, func(w http.ResponseWriter, r *http.Request) error {
		return writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	h("POST "+api.PathNonce, s.handleNonce)
	h("POST "+api.PathJoin, s.handleJoin)
	h("POST "+api.PathNodes+"/{id}/keys", s.handleKeys)
	h("GET "+api.PathNodes+"/{id}/status", s.handleNodeStatus)
	h("GET "+api.PathCA, s.handleCA)
	h("GET "+api.PathCRL, s.handleCRL)
	h("GET "+api.PathAuditKey, s.handleAuditKey)
	h("GET "+api.PathNodes, s.role(s.handleNodes, api.RoleAdmin, api.RoleOperator, api.RoleAuditor))
	h("GET "+api.PathNodes+"/{id}", s.role(s.handleNode, api.RoleAdmin, api.RoleOperator, api.RoleAuditor))
	h("POST "+api.PathNodes+"/{id}/revoke", s.role(s.handleRevoke, api.RoleAdmin, api.RoleOperator))
	h("POST "+api.PathNodes+"/{id}/reset", s.role(s.handleReset, api.RoleAdmin))
	h("GET "+api.PathAudit, s.role(s.handleAudit, api.RoleAdmin, api.RoleAuditor))
	h("GET "+api.PathTokens, s.role(s.handleTokens, api.RoleAdmin))
	h("POST "+api.PathTokens, s.role(s.handleCreateToken, api.RoleAdmin))
	h("DELETE "+api.PathTokens+"/{id}", s.role(s.handleDeleteToken, api.RoleAdmin))
	h("GET "+api.PathMeshConfig, s.handleMeshConfig)
	h("PUT "+api.PathMeshWorkloads, s.handlePutWorkloads)
	h("POST "+api.PathSegFlows, s.handlePostFlows)
	h("GET "+api.PathSegFlows, s.role(s.handleGetFlows, api.RoleAdmin, api.RoleOperator, api.RoleAuditor))
	h("GET "+api.PathSegAlerts, s.role(s.handleGetAlerts, api.RoleAdmin, api.RoleOperator, api.RoleAuditor))
	h("PUT "+api.PathSegPolicy, s.role(s.handleSetPolicy, api.RoleAdmin))
	h("GET "+api.PathSegPolicy, s.role(s.handleGetPolicy, api.RoleAdmin, api.RoleOperator, api.RoleAuditor))
	s.mux = m
}

// wrap turns a returned error into a JSON error response. Refusals answer
// 403 with their reason; internal errors are logged and answered without
// detail.
func (s *Server) wrap(f handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, api.MaxRequestSize)
		err := f(w, r)
		if err == nil {
			return
		}
		var he *httpError
		var ref *attest.Refusal
		switch {
		case errors.As(err, &he):
			writeJSON(w, he.status, api.Error{Error: api.ErrorBody{Reason: he.reason, Detail: he.detail}})
		case errors.As(err, &ref):
			writeJSON(w, http.StatusForbidden, api.Error{Error: api.ErrorBody{Reason: ref.Reason, Detail: ref.Detail}})
		default:
			s.d.Log.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
			writeJSON(w, http.StatusInternalServerError, api.Error{Error: api.ErrorBody{Reason: "internal", Detail: "the server failed; its log has the cause"}})
		}
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) error {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	return json.NewEncoder(w).Encode(v)
}

func readJSON(r *http.Request, v any) error {
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return &httpError{http.StatusRequestEntityTooLarge, "bad-request", fmt.Sprintf("request body larger than %d bytes", mbe.Limit)}
		}
		return errBadRequest("request body is not the expected JSON: %v", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return errBadRequest("request body has data after the JSON object")
	}
	return nil
}

// role allows a call only with an API token of one of roles.
func (s *Server) role(f handlerFunc, roles ...string) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		tok, err := s.authToken(r)
		if err != nil {
			return err
		}
		if !slices.Contains(roles, tok.Role) {
			return errForbidden("role %s may not call %s %s (needs one of %s)", tok.Role, r.Method, r.URL.Path, strings.Join(roles, ", "))
		}
		return f(w, r.WithContext(withToken(r.Context(), tok)))
	}
}

func (s *Server) authToken(r *http.Request) (store.Token, error) {
	h := r.Header.Get("Authorization")
	secret, ok := strings.CutPrefix(h, "Bearer ")
	if !ok || secret == "" {
		return store.Token{}, errUnauthorized
	}
	// The lookup is by hash, so no comparison of secrets happens in Go code.
	sum := sha256.Sum256([]byte(secret))
	var tok store.Token
	err := s.d.Store.View(r.Context(), func(tx store.ReadTx) error {
		var err error
		tok, err = tx.TokenByHash(r.Context(), sum[:])
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		return store.Token{}, errUnauthorized
	}
	return tok, err
}

// nodeFromCert returns the node that authenticated with its certificate;
// the certificate must be the node's current one and the node active.
func (s *Server) nodeFromCert(r *http.Request) (store.Node, error) {
	if r.TLS == nil || len(r.TLS.VerifiedChains) == 0 || len(r.TLS.PeerCertificates) == 0 {
		return store.Node{}, errNoNodeCert
	}
	cert := r.TLS.PeerCertificates[0]
	id, err := ca.NodeID(cert, s.d.TrustDomain)
	if err != nil {
		return store.Node{}, errForbidden("the client certificate names no node of this trust domain: %v", err)
	}
	var n store.Node
	err = s.d.Store.View(r.Context(), func(tx store.ReadTx) error {
		var err error
		n, err = tx.Node(r.Context(), id)
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		return store.Node{}, errForbidden("node %s is unknown", id)
	}
	if err != nil {
		return store.Node{}, err
	}
	if n.CertSerial != cert.SerialNumber.Text(16) {
		return store.Node{}, errForbidden("certificate %s of node %s was replaced or revoked", cert.SerialNumber.Text(16), id)
	}
	if n.Status != statusActive {
		return store.Node{}, attest.Refuse(attest.ReasonRevoked, "node %s is %s: %s", id, n.Status, n.StatusReason)
	}
	return n, nil
}
