// Package agent is the node side of hoheit: it generates the node's key
// pairs (the private keys never leave the process), proves the node's state
// with evidence that binds them, joins the control plane, keeps the
// released keys in memory and re-attests on the server's schedule. The mesh
// (issue 4) runs on top of it. Only cli imports it.
package agent

import (
	"bytes"
	"context"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/hoheit/hoheit/internal/api"
	"github.com/hoheit/hoheit/internal/attest"
	"github.com/hoheit/hoheit/internal/keys"
	"github.com/hoheit/hoheit/internal/mesh"
	"github.com/hoheit/hoheit/internal/segment"
)

// Config says where and as what the agent joins.
type Config struct {
	// Server is the control plane's base URL, https://host:port.
	Server string
	// CA is the PEM of the control plane's CA certificate; the server's
	// TLS certificate must chain to it.
	CA []byte
	// NodeID and Class name the node and its reference values.
	NodeID string
	Class  string
	Issuer attest.Issuer
	Log    *slog.Logger
	// Timeout bounds each call to the server (30s).
	Timeout time.Duration
	// Mesh, when set, brings up the node's mesh after it joined.
	Mesh *MeshConfig
	// Workloads, when not nil, are reported to the server after every
	// join (ParseWorkloads reads them from a file; SetWorkloads changes
	// them while the agent runs).
	Workloads []api.Workload
}

// Agent holds a node's keys and identity.
type Agent struct {
	cfg    Config
	client *http.Client
	tr     *http.Transport

	hpke    *keys.HPKEKey
	certKey *ecdsa.PrivateKey
	wgKey   *ecdh.PrivateKey

	mu       sync.RWMutex
	cert     *tls.Certificate
	notAfter time.Time
	secrets  map[string][]byte
	insecure bool
	reattest time.Duration
	warnings []string
	meshAddr []string
	meshNets []string

	longClient *http.Client
	filter     *segment.Filter
	dev        mesh.Device
	meshETag   string
	meshRules  []byte
	// workloads are reported after every join; nil: none configured.
	workloads []api.Workload
}

// New makes the agent's key pairs; nothing is sent yet.
func New(cfg Config) (*Agent, error) {
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 30 * time.Second
	}
	u, err := url.Parse(cfg.Server)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("server %q: want https://HOST:PORT", cfg.Server)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(cfg.CA) {
		return nil, errors.New("the CA file holds no PEM certificate")
	}
	if cfg.Issuer == nil {
		return nil, errors.New("no attestation issuer")
	}
	a := &Agent{cfg: cfg, workloads: cfg.Workloads}
	if a.hpke, err = keys.NewHPKEKey(); err != nil {
		return nil, err
	}
	if a.certKey, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
		return nil, err
	}
	if a.wgKey, err = ecdh.X25519().GenerateKey(rand.Reader); err != nil {
		return nil, err
	}
	a.tr = &http.Transport{
		TLSClientConfig: &tls.Config{
			MinVersion: tls.VersionTLS13,
			RootCAs:    pool,
			GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
				a.mu.RLock()
				defer a.mu.RUnlock()
				// A certificate outside its validity would fail the whole
				// handshake; without one the node can still re-join.
				now := time.Now()
				if a.cert == nil || now.Before(a.cert.Leaf.NotBefore) || now.After(a.cert.Leaf.NotAfter) {
					return &tls.Certificate{}, nil
				}
				return a.cert, nil
			},
		},
		ForceAttemptHTTP2:   true,
		MaxIdleConnsPerHost: 4,
		IdleConnTimeout:     90 * time.Second,
	}
	a.client = &http.Client{Transport: a.tr, Timeout: cfg.Timeout}
	a.longClient = &http.Client{Transport: a.tr}
	return a, nil
}

// WireGuardPublicKey returns the public half of the node's WireGuard key.
func (a *Agent) WireGuardPublicKey() []byte { return a.wgKey.PublicKey().Bytes() }

// Key returns a released key by purpose (a copy).
func (a *Agent) Key(purpose string) ([]byte, bool) {
	a.mu.RLock()
	defer a.mu.RUnlock()
	k, ok := a.secrets[purpose]
	return bytes.Clone(k), ok
}

// Insecure reports whether the node joined with the insecure variant.
func (a *Agent) Insecure() bool {
	a.mu.RLock()
	defer a.mu.RUnlock()
	return a.insecure
}

// Certificate returns the node's current certificate.
func (a *Agent) Certificate() (*x509.Certificate, error) {
	a.mu.RLock()
	defer a.mu.RUnlock()
	if a.cert == nil {
		return nil, errors.New("not joined")
	}
	return x509.ParseCertificate(a.cert.Certificate[0])
}

// Warnings are the warn-only reference value differences of the last join.
func (a *Agent) Warnings() []string {
	a.mu.RLock()
	defer a.mu.RUnlock()
	return a.warnings
}

// RefusedError is the server's refusal, with its stable reason.
type RefusedError struct {
	Status int
	Body   api.ErrorBody
}

func (e *RefusedError) Error() string {
	if e.Body.Detail == "" {
		return fmt.Sprintf("server refused (%d): %s", e.Status, e.Body.Reason)
	}
	return fmt.Sprintf("server refused (%d): %s: %s", e.Status, e.Body.Reason, e.Body.Detail)
}

// Join proves the node's state and receives its certificate and keys. A
// node that has joined calls it again to re-attest.
func (a *Agent) Join(ctx context.Context) error {
	var nr api.NonceResponse
	if err := a.call(ctx, http.MethodPost, api.PathNonce, struct{}{}, &nr); err != nil {
		return fmt.Errorf("asking for a nonce: %w", err)
	}
	certPub, err := x509.MarshalPKIXPublicKey(a.certKey.Public())
	if err != nil {
		return err
	}
	b := attest.Binding{Nonce: nr.Nonce, HPKEPublicKey: a.hpke.PublicKey(), CertPublicKey: certPub, WireGuardPublicKey: a.WireGuardPublicKey()}
	ev, err := a.cfg.Issuer.Issue(ctx, b.ReportData())
	if err != nil {
		return fmt.Errorf("producing %s evidence: %w", a.cfg.Issuer.Variant(), err)
	}
	reqID := newRequestID()
	req := api.JoinRequest{
		NodeID: a.cfg.NodeID, Class: a.cfg.Class, Variant: a.cfg.Issuer.Variant(), Nonce: nr.Nonce, Evidence: ev, RequestID: reqID,
		HPKEPublicKey: b.HPKEPublicKey, CertPublicKey: certPub, WireGuardPublicKey: b.WireGuardPublicKey,
	}
	if m := a.cfg.Mesh; m != nil {
		req.Labels, req.Endpoints = m.Labels, m.Endpoints
	}
	var wr api.WrappedResponse
	if err := a.call(ctx, http.MethodPost, api.PathJoin, req, &wr); err != nil {
		return err
	}
	plain := wr.Response
	if u, ok := a.cfg.Issuer.(attest.ResponseUnwrapper); ok {
		if plain, err = u.UnwrapResponse(ctx, wr.Response); err != nil {
			return fmt.Errorf("unwrapping the join response with the TPM: %w", err)
		}
	}
	var resp api.JoinResponse
	if err := json.Unmarshal(plain, &resp); err != nil {
		return fmt.Errorf("decoding the join response: %w", err)
	}
	if resp.NodeID != a.cfg.NodeID {
		return fmt.Errorf("the server answered for node %q, not %q", resp.NodeID, a.cfg.NodeID)
	}
	secrets, err := a.open(resp.Keys, reqID)
	if err != nil {
		return err
	}
	leaf, err := x509.ParseCertificate(resp.Certificate)
	if err != nil {
		return fmt.Errorf("the node certificate does not parse: %w", err)
	}
	if err := checkCertKey(leaf, a.certKey); err != nil {
		return err
	}
	a.mu.Lock()
	for _, k := range a.secrets {
		clear(k)
	}
	a.secrets = secrets
	a.cert = &tls.Certificate{Certificate: [][]byte{resp.Certificate}, PrivateKey: a.certKey, Leaf: leaf}
	a.notAfter = resp.NotAfter
	a.insecure = resp.Insecure
	a.reattest = time.Duration(resp.ReattestEvery)
	a.warnings = resp.Warnings
	a.meshAddr = resp.MeshAddresses
	a.meshNets = resp.MeshPrefixes
	a.mu.Unlock()
	// Connections authenticated with the old certificate are dropped.
	a.tr.CloseIdleConnections()
	return nil
}

func checkCertKey(c *x509.Certificate, k *ecdsa.PrivateKey) error {
	pub, ok := c.PublicKey.(*ecdsa.PublicKey)
	if !ok || !pub.Equal(k.Public()) {
		return errors.New("the node certificate certifies another key than this node's")
	}
	return nil
}

// open unseals the keys sealed to the agent's HPKE key.
func (a *Agent) open(sealed []byte, reqID string) (map[string][]byte, error) {
	plain, err := a.hpke.Open(a.cfg.NodeID, reqID, sealed)
	if err != nil {
		return nil, fmt.Errorf("opening the sealed keys: %w", err)
	}
	defer clear(plain)
	var out map[string][]byte
	if err := json.Unmarshal(plain, &out); err != nil {
		return nil, errors.New("the sealed keys are not a JSON object of purpose to key")
	}
	return out, nil
}

// FetchKeys asks for keys again over mutual TLS and keeps them.
func (a *Agent) FetchKeys(ctx context.Context, purposes ...string) error {
	return a.FetchKeysOf(ctx, a.cfg.NodeID, purposes...)
}

// FetchKeysOf asks for the keys of node id; the server gives a node only
// its own keys (exported for the test that proves it).
func (a *Agent) FetchKeysOf(ctx context.Context, id string, purposes ...string) error {
	reqID := newRequestID()
	var kr api.KeysResponse
	if err := a.call(ctx, http.MethodPost, api.PathNodes+"/"+url.PathEscape(id)+"/keys", api.KeysRequest{RequestID: reqID, Purposes: purposes}, &kr); err != nil {
		return err
	}
	secrets, err := a.open(kr.Keys, reqID)
	if err != nil {
		return err
	}
	a.mu.Lock()
	if a.secrets == nil {
		a.secrets = map[string][]byte{}
	}
	for p, k := range secrets {
		clear(a.secrets[p])
		a.secrets[p] = k
	}
	a.mu.Unlock()
	return nil
}

// Run joins and then re-attests on the server's schedule until ctx ends.
// A failed attempt is retried with backoff; the keys stay in memory. With
// a mesh configured, the mesh comes up after the first join.
func (a *Agent) Run(ctx context.Context) error {
	backoff := time.Second
	meshStarted := false
	var meshDone chan error
	defer func() {
		if meshDone != nil {
			<-meshDone
		}
	}()
	for {
		err := a.Join(ctx)
		if err == nil {
			// A refusal (an address another node holds) is the operator's
			// to fix; the node keeps running without those workloads.
			if werr := a.reportWorkloads(ctx); werr != nil {
				a.cfg.Log.Error("workloads not accepted", "err", werr)
			}
		}
		if err == nil && !meshStarted && a.cfg.Mesh != nil {
			meshStarted = true
			a.mu.RLock()
			addrs := onLink(a.meshAddr, a.meshNets)
			a.mu.RUnlock()
			meshDone = make(chan error, 1)
			go func() {
				err := a.runMesh(ctx, addrs)
				if err != nil {
					a.cfg.Log.Error("mesh stopped", "err", err)
				}
				meshDone <- err
			}()
		}
		if ctx.Err() != nil {
			return nil
		}
		var wait time.Duration
		if err != nil {
			var re *RefusedError
			if errors.As(err, &re) && re.Status == http.StatusForbidden && !a.joinedOnce() {
				return err // refused on first join: the operator must act
			}
			a.cfg.Log.Error("attestation failed; retrying", "err", err, "in", backoff)
			wait = backoff
			backoff = min(backoff*2, time.Minute)
		} else {
			backoff = time.Second
			a.mu.RLock()
			wait = a.reattest * 9 / 10
			a.mu.RUnlock()
			if left := time.Until(a.notAfter) / 2; left < wait {
				wait = left
			}
			a.cfg.Log.Info("attested", "node", a.cfg.NodeID, "class", a.cfg.Class, "variant", a.cfg.Issuer.Variant(), "insecure", a.Insecure(), "next", wait.Round(time.Second))
			for _, w := range a.Warnings() {
				a.cfg.Log.Warn("reference value warning", "detail", w)
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(max(wait, 100*time.Millisecond)):
		}
	}
}

func (a *Agent) joinedOnce() bool {
	a.mu.RLock()
	defer a.mu.RUnlock()
	return a.cert != nil
}

// Close forgets the keys.
func (a *Agent) Close() {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, k := range a.secrets {
		clear(k)
	}
	a.secrets = nil
	a.tr.CloseIdleConnections()
}

func (a *Agent) call(ctx context.Context, method, path string, in, out any) error {
	body, err := json.Marshal(in)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimRight(a.cfg.Server, "/")+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := a.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode/100 != 2 {
		var e api.Error
		if json.Unmarshal(data, &e) == nil && e.Error.Reason != "" {
			return &RefusedError{Status: resp.StatusCode, Body: e.Error}
		}
		return fmt.Errorf("%s %s: %s", method, path, resp.Status)
	}
	if out == nil {
		return nil
	}
	return json.Unmarshal(data, out)
}

func newRequestID() string {
	var b [12]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
