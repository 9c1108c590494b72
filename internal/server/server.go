// Package server is hoheit's control plane: it hands out nonces, verifies
// evidence against the data owner's signed reference values, issues node
// certificates, derives node keys from the master key and seals them to the
// key bound in the evidence, and records every decision in the audit log in
// the same transaction. Only cmd/hoheit (through cli) imports it.
package server

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/hoheit/hoheit/internal/attest"
	"github.com/hoheit/hoheit/internal/ca"
	"github.com/hoheit/hoheit/internal/keys"
	"github.com/hoheit/hoheit/internal/store"
)

// refValues compares verified claims with a class's signed reference
// values; an unknown class or one whose file was refused is a refusal.
type refValues interface {
	Check(class string, c *attest.Claims) (warnings []string, err error)
}

// Deps are the parts a Server is made of; Open builds them from a Config,
// tests may build them by hand.
type Deps struct {
	Store    store.Store
	Keys     keys.Backend
	CA       *ca.CA
	Registry *attest.Registry
	// RefValues are the data owner's reference values by class; nil
	// refuses every measured variant.
	RefValues refValues
	// AuditSigner signs audit checkpoints.
	AuditSigner crypto.Signer
	Log         *slog.Logger
	Now         func() time.Time

	TrustDomain     string
	NonceTTL        time.Duration
	CertValidity    time.Duration
	ReattestEvery   time.Duration
	ReattestGrace   time.Duration
	CheckpointEvery time.Duration
	// AllowInsecure accepts the insecure variant without reference values.
	AllowInsecure bool
	// Mesh configures the mesh addresses and pre-shared keys.
	Mesh MeshOptions
}

// Server is the control plane.
type Server struct {
	d      Deps
	nonces *nonces
	mux    *http.ServeMux
	mesh   *meshState
	// joinMu serialises the work of one node id so two joins for the same
	// node cannot interleave between check and write.
	joinMu keyedMutex
}

// New returns a server over d.
func New(d Deps) (*Server, error) {
	if d.Store == nil || d.Keys == nil || d.CA == nil || d.Registry == nil || d.AuditSigner == nil {
		return nil, errors.New("server: store, keys, CA, registry and audit signer are required")
	}
	if d.Log == nil {
		d.Log = slog.Default()
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	def := func(p *time.Duration, v time.Duration) {
		if *p <= 0 {
			*p = v
		}
	}
	def(&d.NonceTTL, 60*time.Second)
	def(&d.CertValidity, 24*time.Hour)
	def(&d.ReattestEvery, time.Hour)
	def(&d.ReattestGrace, 5*time.Minute)
	def(&d.CheckpointEvery, 10*time.Second)
	s := &Server{d: d, nonces: newNonces(d.NonceTTL, d.Now), mesh: newMesh(d.Mesh)}
	if err := s.loadMesh(context.Background()); err != nil {
		return nil, err
	}
	s.routes()
	return s, nil
}

// Background sends segmentation alerts to the webhook until ctx ends; Serve
// does it itself. For servers embedded without Serve (tests).
func (s *Server) Background(ctx context.Context) {
	go s.webhook(ctx)
}

// Handler returns the HTTP handler of the API.
func (s *Server) Handler() http.Handler { return s.mux }

// TLSConfig returns the server's TLS 1.3 configuration with a certificate
// for hosts issued by the internal CA. Clients may present node
// certificates (mutual TLS); calls that need one check for it.
func (s *Server) TLSConfig(hosts []string) (*tls.Config, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	der, err := s.d.CA.IssueServer(hosts, key.Public(), 30*24*time.Hour, s.d.Now())
	if err != nil {
		return nil, fmt.Errorf("issuing the server certificate: %w", err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(s.d.CA.Root())
	return &tls.Config{
		MinVersion:   tls.VersionTLS13,
		Certificates: []tls.Certificate{{Certificate: [][]byte{der, s.d.CA.RootDER()}, PrivateKey: key}},
		ClientAuth:   tls.VerifyClientCertIfGiven,
		ClientCAs:    pool,
	}, nil
}

// Serve runs the API on ln with tls until ctx ends, plus the background
// work: quarantining nodes that miss re-attestation and signing audit
// checkpoints.
func (s *Server) Serve(ctx context.Context, ln net.Listener, tlsConf *tls.Config) error {
	srv := &http.Server{
		Handler:           s.mux,
		TLSConfig:         tlsConf,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(s.d.Log.Handler(), slog.LevelDebug),
	}
	var wg sync.WaitGroup
	bg, stop := context.WithCancel(ctx)
	defer stop()
	wg.Add(4)
	go func() { defer wg.Done(); s.sweep(bg) }()
	go func() { defer wg.Done(); s.checkpoints(bg) }()
	go func() { defer wg.Done(); s.promote(bg) }()
	go func() { defer wg.Done(); s.webhook(bg) }()
	errc := make(chan error, 1)
	go func() { errc <- srv.ServeTLS(ln, "", "") }()
	var err error
	select {
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err = srv.Shutdown(sctx)
		cancel()
	case err = <-errc:
	}
	stop()
	wg.Wait()
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	// A last checkpoint covers everything written before the stop.
	if cerr := s.Checkpoint(context.Background()); cerr != nil && err == nil {
		err = cerr
	}
	return err
}

// keyedMutex locks per key.
type keyedMutex struct {
	mu sync.Mutex
	m  map[string]*keyedEntry
}

type keyedEntry struct {
	mu   sync.Mutex
	refs int
}

func (k *keyedMutex) lock(key string) func() {
	k.mu.Lock()
	if k.m == nil {
		k.m = map[string]*keyedEntry{}
	}
	e := k.m[key]
	if e == nil {
		e = &keyedEntry{}
		k.m[key] = e
	}
	e.refs++
	k.mu.Unlock()
	e.mu.Lock()
	return func() {
		e.mu.Unlock()
		k.mu.Lock()
		e.refs--
		if e.refs == 0 {
			delete(k.m, key)
		}
		k.mu.Unlock()
	}
}
