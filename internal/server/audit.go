package server

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"iter"
	"net/http"
	"slices"
	"time"

	"github.com/hoheit/hoheit/internal/api"
	"github.com/hoheit/hoheit/internal/audit"
	"github.com/hoheit/hoheit/internal/store"
)

// Checkpoint signs the audit log's head when it moved since the last
// checkpoint, and stores the checkpoint.
func (s *Server) Checkpoint(ctx context.Context) error {
	_, err := s.checkpoint(ctx, false)
	return err
}

func (s *Server) checkpoint(ctx context.Context, always bool) (*audit.Checkpoint, error) {
	var out *audit.Checkpoint
	err := s.d.Store.Update(ctx, func(tx store.Tx) error {
		head, err := tx.AuditHead(ctx)
		if err != nil || head == nil {
			return err
		}
		cps, err := tx.Checkpoints(ctx)
		if err != nil {
			return err
		}
		if !always && len(cps) > 0 && cps[len(cps)-1].Seq == head.Seq {
			return nil
		}
		cp, err := audit.SignCheckpoint(*head, s.d.AuditSigner, s.d.Now())
		if err != nil {
			return fmt.Errorf("signing an audit checkpoint: %w", err)
		}
		out = &cp
		return tx.PutCheckpoint(ctx, cp)
	})
	return out, err
}

func (s *Server) checkpoints(ctx context.Context) {
	t := time.NewTicker(s.d.CheckpointEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := s.Checkpoint(ctx); err != nil && ctx.Err() == nil {
			s.d.Log.Error("audit checkpoint failed", "err", err)
		}
	}
}

// handleAudit exports the whole audit log as JSON lines, ending at a
// checkpoint signed for this export.
func (s *Server) handleAudit(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	if _, err := s.checkpoint(ctx, false); err != nil {
		return err
	}
	var cps []audit.Checkpoint
	if err := s.d.Store.View(ctx, func(tx store.ReadTx) error {
		var err error
		cps, err = tx.Checkpoints(ctx)
		return err
	}); err != nil {
		return err
	}
	var last uint64
	if len(cps) > 0 {
		last = cps[len(cps)-1].Seq
	}
	w.Header().Set("Content-Type", "application/jsonl")
	return audit.Export(w, s.auditEntries(ctx, last), cps)
}

// auditEntries pages through the log up to seq last.
func (s *Server) auditEntries(ctx context.Context, last uint64) iter.Seq2[audit.Entry, error] {
	return func(yield func(audit.Entry, error) bool) {
		from := uint64(1)
		for from <= last {
			var page []audit.Entry
			err := s.d.Store.View(ctx, func(tx store.ReadTx) error {
				var err error
				page, err = tx.AuditEntries(ctx, from, 1000)
				return err
			})
			if err != nil {
				yield(audit.Entry{}, err)
				return
			}
			if len(page) == 0 {
				return
			}
			for _, e := range page {
				if e.Seq > last {
					return
				}
				if !yield(e, nil) {
					return
				}
				from = e.Seq + 1
			}
		}
	}
}

func (s *Server) handleAuditKey(w http.ResponseWriter, r *http.Request) error {
	der, err := x509.MarshalPKIXPublicKey(s.d.AuditSigner.Public())
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/x-pem-file")
	return pem.Encode(w, &pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

var roles = []string{api.RoleAdmin, api.RoleOperator, api.RoleAuditor}

// NewToken returns a fresh API token secret and its stored form.
func NewToken(name, role string, now time.Time) (secret string, t store.Token, err error) {
	if !slices.Contains(roles, role) {
		return "", t, fmt.Errorf("role %q: want admin, operator or auditor", role)
	}
	if name == "" {
		return "", t, errors.New("a token needs a name (who or what uses it)")
	}
	var b [32]byte
	rand.Read(b[:])
	secret = "hoh_" + base64.RawURLEncoding.EncodeToString(b[:])
	var id [8]byte
	rand.Read(id[:])
	sum := sha256.Sum256([]byte(secret))
	return secret, store.Token{ID: fmt.Sprintf("%x", id), Name: name, Role: role, Hash: sum[:], CreatedAt: now}, nil
}

// CreateToken stores a new token and audits it; the secret is returned once.
func (s *Server) CreateToken(ctx context.Context, name, role, actor string) (string, store.Token, error) {
	now := s.d.Now()
	secret, t, err := NewToken(name, role, now)
	if err != nil {
		return "", t, errBadRequest("%v", err)
	}
	err = s.d.Store.Update(ctx, func(tx store.Tx) error {
		if err := tx.PutToken(ctx, t); err != nil {
			return err
		}
		_, err := tx.Append(ctx, audit.Record{Time: now, Type: "token-created", Actor: actor, Details: map[string]string{"token": t.ID, "name": name, "role": role}})
		return err
	})
	return secret, t, err
}

// EnsureAdminToken creates a first admin token when there is none and
// returns its secret ("" when tokens exist).
func (s *Server) EnsureAdminToken(ctx context.Context) (string, error) {
	var n int
	if err := s.d.Store.View(ctx, func(tx store.ReadTx) error {
		ts, err := tx.Tokens(ctx)
		n = len(ts)
		return err
	}); err != nil {
		return "", err
	}
	if n > 0 {
		return "", nil
	}
	secret, _, err := s.CreateToken(ctx, "bootstrap-admin", api.RoleAdmin, "server")
	return secret, err
}

func (s *Server) handleTokens(w http.ResponseWriter, r *http.Request) error {
	var ts []store.Token
	if err := s.d.Store.View(r.Context(), func(tx store.ReadTx) error {
		var err error
		ts, err = tx.Tokens(r.Context())
		return err
	}); err != nil {
		return err
	}
	out := make([]api.Token, 0, len(ts))
	for _, t := range ts {
		out = append(out, api.Token{ID: t.ID, Name: t.Name, Role: t.Role, CreatedAt: t.CreatedAt})
	}
	return writeJSON(w, http.StatusOK, out)
}

func (s *Server) handleCreateToken(w http.ResponseWriter, r *http.Request) error {
	var req api.TokenRequest
	if err := readJSON(r, &req); err != nil {
		return err
	}
	secret, t, err := s.CreateToken(r.Context(), req.Name, req.Role, "token:"+tokenFrom(r.Context()).Name)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, api.Token{ID: t.ID, Name: t.Name, Role: t.Role, CreatedAt: t.CreatedAt, Secret: secret})
}

func (s *Server) handleDeleteToken(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	ctx := r.Context()
	now := s.d.Now()
	err := s.d.Store.Update(ctx, func(tx store.Tx) error {
		if err := tx.DeleteToken(ctx, id); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return errNotFound("no token %q", id)
			}
			return err
		}
		_, err := tx.Append(ctx, audit.Record{Time: now, Type: "token-deleted", Actor: "token:" + tokenFrom(ctx).Name, Details: map[string]string{"token": id}})
		return err
	})
	if err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
