package server

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/hoheit/hoheit/internal/attest"
	"github.com/hoheit/hoheit/internal/attest/insecure"
	"github.com/hoheit/hoheit/internal/attest/snp"
	"github.com/hoheit/hoheit/internal/attest/tdx"
	"github.com/hoheit/hoheit/internal/attest/tpm"
	"github.com/hoheit/hoheit/internal/audit"
	"github.com/hoheit/hoheit/internal/ca"
	"github.com/hoheit/hoheit/internal/collateral"
	"github.com/hoheit/hoheit/internal/keys"
	"github.com/hoheit/hoheit/internal/refvalues"
	"github.com/hoheit/hoheit/internal/store"
)

// Running is a server built from a configuration, with everything it
// opened; Close releases it.
type Running struct {
	*Server
	Config *Config
	// CAFile is where the CA certificate (PEM) was written for agents.
	CAFile  string
	refs    *refvalues.Store
	closers []io.Closer
}

// Close releases the store and the key backend.
func (r *Running) Close() error {
	var errs []error
	for i := len(r.closers) - 1; i >= 0; i-- {
		errs = append(errs, r.closers[i].Close())
	}
	return errors.Join(errs...)
}

// WatchRefValues reloads reference values when their files change and
// audits every change, until ctx ends.
func (r *Running) WatchRefValues(ctx context.Context) {
	if r.refs == nil {
		return
	}
	r.refs.Watch(ctx, r.Config.RefValues.ReloadEvery.D(), func(c refvalues.Change) { r.auditRefChange(ctx, c) })
}

func (r *Running) auditRefChange(ctx context.Context, c refvalues.Change) {
	typ := "refvalues-change"
	if c.Kind == refvalues.ChangeRejected {
		typ = "refvalues-rejected"
	}
	now := r.d.Now()
	err := r.d.Store.Update(ctx, func(tx store.Tx) error {
		_, err := tx.Append(ctx, audit.Record{Time: now, Type: typ, Class: c.Class, Actor: "server", Reason: c.Reason,
			Details: map[string]string{"file": c.File, "kind": string(c.Kind), "digest": c.Digest, "key_id": c.KeyID}})
		return err
	})
	if err != nil {
		r.d.Log.Error("auditing a reference value change failed", "err", err)
	}
	if c.Kind == refvalues.ChangeRejected {
		r.d.Log.Warn("reference values rejected", "class", c.Class, "file", c.File, "reason", c.Reason)
		return
	}
	r.d.Log.Info("reference values "+string(c.Kind), "class", c.Class, "file", c.File)
}

// Open builds a server from a validated configuration.
func Open(ctx context.Context, cfg *Config, log *slog.Logger) (_ *Running, err error) {
	r := &Running{Config: cfg}
	defer func() {
		if err != nil {
			r.Close()
		}
	}()
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("creating data_dir: %w", err)
	}
	st, err := store.OpenSQLiteWith(ctx, filepath.Join(cfg.DataDir, "hoheit.db"), store.SQLiteOptions{Synchronous: strings.ToUpper(cfg.Database.Synchronous)})
	if err != nil {
		return nil, fmt.Errorf("opening the database: %w", err)
	}
	r.closers = append(r.closers, st)
	kb, err := openKeys(ctx, cfg.Keys)
	if err != nil {
		return nil, err
	}
	r.closers = append(r.closers, kb)
	authority, err := openCA(ctx, st, kb, cfg.TrustDomain)
	if err != nil {
		return nil, err
	}
	r.CAFile = filepath.Join(cfg.DataDir, "ca.pem")
	if err := os.WriteFile(r.CAFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: authority.RootDER()}), 0o644); err != nil {
		return nil, fmt.Errorf("writing the CA certificate: %w", err)
	}
	auditKey, err := kb.Signer(ctx, "audit")
	if err != nil {
		return nil, fmt.Errorf("opening the audit key: %w", err)
	}
	reg, err := validators(cfg)
	if err != nil {
		return nil, err
	}
	d := Deps{
		Store: st, Keys: kb, CA: authority, Registry: reg, AuditSigner: auditKey, Log: log,
		TrustDomain:     cfg.TrustDomain,
		NonceTTL:        cfg.Attestation.NonceTTL.D(),
		CertValidity:    cfg.CertValidity.D(),
		ReattestEvery:   cfg.Attestation.ReattestEvery.D(),
		ReattestGrace:   cfg.Attestation.ReattestGrace.D(),
		CheckpointEvery: cfg.Audit.CheckpointEvery.D(),
		AllowInsecure:   cfg.allows(attest.VariantInsecure),
		Mesh:            cfg.Mesh.Options(),
	}
	if cfg.needsRefValues() {
		trusted, err := readPublicKeys(cfg.RefValues.OwnerKeys)
		if err != nil {
			return nil, err
		}
		refs, errs := refvalues.Load(cfg.RefValues.Dir, trusted)
		for _, e := range errs {
			log.Warn("reference values refused", "err", e)
		}
		r.refs = refs
		d.RefValues = refs
	}
	srv, err := New(d)
	if err != nil {
		return nil, err
	}
	r.Server = srv
	if r.refs != nil {
		// The sets in force at start are audited like every later change.
		for _, c := range r.refs.Loaded() {
			r.auditRefChange(ctx, c)
		}
	}
	return r, nil
}

func openKeys(ctx context.Context, c KeysConfig) (keys.Backend, error) {
	switch c.Backend {
	case "file":
		pass, err := secretFrom(c.File.PassphraseFile, c.File.PassphraseEnv, "passphrase")
		if err != nil {
			return nil, err
		}
		defer clear(pass)
		if _, err := os.Stat(c.File.Path); errors.Is(err, os.ErrNotExist) {
			if err := keys.CreateFile(c.File.Path, pass); err != nil {
				return nil, fmt.Errorf("creating the master key file: %w", err)
			}
		}
		b, err := keys.OpenFile(c.File.Path, pass)
		if err != nil {
			return nil, fmt.Errorf("opening the master key file %s: %w", c.File.Path, err)
		}
		return b, nil
	case "pkcs11":
		pin, err := secretFrom(c.PKCS11.PINFile, c.PKCS11.PINEnv, "PIN")
		if err != nil {
			return nil, err
		}
		b, err := keys.OpenPKCS11(ctx, keys.PKCS11Config{Module: c.PKCS11.Module, TokenLabel: c.PKCS11.TokenLabel, PIN: string(pin), KeyLabel: c.PKCS11.KeyLabel})
		clear(pin)
		if err != nil {
			return nil, fmt.Errorf("opening the HSM: %w", err)
		}
		return b, nil
	}
	return nil, fmt.Errorf("keys.backend %q: want file or pkcs11", c.Backend)
}

// secretFrom reads a secret from a file or an environment variable.
func secretFrom(file, env, what string) ([]byte, error) {
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("reading the %s file: %w", what, err)
		}
		return []byte(strings.TrimRight(string(b), "\r\n")), nil
	}
	v, ok := os.LookupEnv(env)
	if !ok || v == "" {
		return nil, fmt.Errorf("the %s environment variable %s is not set", what, env)
	}
	return []byte(v), nil
}

const metaCARoot = "ca.root"

// openCA loads the CA's root certificate from the store, or creates it.
func openCA(ctx context.Context, st store.Store, kb keys.Backend, trustDomain string) (*ca.CA, error) {
	signer, err := kb.Signer(ctx, "ca")
	if err != nil {
		return nil, fmt.Errorf("opening the CA key: %w", err)
	}
	var root []byte
	if err := st.View(ctx, func(tx store.ReadTx) error {
		var err error
		root, err = tx.Meta(ctx, metaCARoot)
		if errors.Is(err, store.ErrNotFound) {
			root, err = nil, nil
		}
		return err
	}); err != nil {
		return nil, err
	}
	authority, err := ca.New(ctx, signer, trustDomain, root)
	if err != nil {
		return nil, fmt.Errorf("opening the CA: %w", err)
	}
	if root == nil {
		if err := st.Update(ctx, func(tx store.Tx) error { return tx.SetMeta(ctx, metaCARoot, authority.RootDER()) }); err != nil {
			return nil, err
		}
	}
	return authority, nil
}

func validators(cfg *Config) (*attest.Registry, error) {
	reg := &attest.Registry{}
	var cache *collateral.Cache
	if cfg.allows(attest.VariantSNP) || cfg.allows(attest.VariantTDX) {
		var err error
		cache, err = collateral.Open(cfg.Collateral.Dir, cfg.Collateral.AllowURLs)
		if err != nil {
			return nil, fmt.Errorf("opening the collateral cache: %w", err)
		}
	}
	for _, v := range cfg.Attestation.Allow {
		switch v {
		case attest.VariantInsecure:
			reg.Register(insecure.Validator{})
		case attest.VariantTPM:
			tc := tpm.ValidatorConfig{}
			if p := cfg.Attestation.TPM.EKRoots; p != "" {
				roots, inter, err := readCertPools(p)
				if err != nil {
					return nil, fmt.Errorf("attestation.tpm.ek_roots: %w", err)
				}
				tc.EKRoots, tc.EKIntermediates = roots, inter
			}
			if p := cfg.Attestation.TPM.RegisteredAKs; p != "" {
				aks, err := readKeyDir(p)
				if err != nil {
					return nil, fmt.Errorf("attestation.tpm.registered_aks: %w", err)
				}
				tc.RegisteredAKs = func() [][]byte { return aks }
			}
			val, err := tpm.NewValidator(tc)
			if err != nil {
				return nil, err
			}
			reg.Register(val)
		case attest.VariantSNP:
			val, err := snp.NewValidator(snp.ValidatorConfig{Getter: cache, CheckRevocations: cfg.Attestation.SNP.CheckRevocations})
			if err != nil {
				return nil, err
			}
			reg.Register(val)
		case attest.VariantTDX:
			val, err := tdx.NewValidator(tdx.ValidatorConfig{Getter: cache, CheckRevocations: cfg.Attestation.TDX.CheckRevocations, GetCollateral: true})
			if err != nil {
				return nil, err
			}
			reg.Register(val)
		}
	}
	return reg, nil
}

// pemFiles returns the PEM blocks of a file, or of every file in a directory.
func pemBlocks(path string) ([]*pem.Block, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	files := []string{path}
	if fi.IsDir() {
		ents, err := os.ReadDir(path)
		if err != nil {
			return nil, err
		}
		files = files[:0]
		for _, e := range ents {
			if !e.IsDir() && !strings.HasPrefix(e.Name(), ".") {
				files = append(files, filepath.Join(path, e.Name()))
			}
		}
	}
	var out []*pem.Block
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		n := 0
		for {
			var b *pem.Block
			b, data = pem.Decode(data)
			if b == nil {
				break
			}
			out = append(out, b)
			n++
		}
		if n == 0 {
			return nil, fmt.Errorf("%s holds no PEM block", f)
		}
	}
	return out, nil
}

// readCertPools reads certificates: self-signed ones are roots (trust
// anchors), the others intermediates that chains may pass through.
func readCertPools(path string) (roots, inter *x509.CertPool, err error) {
	blocks, err := pemBlocks(path)
	if err != nil {
		return nil, nil, err
	}
	roots, inter = x509.NewCertPool(), x509.NewCertPool()
	n := 0
	for _, b := range blocks {
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", path, err)
		}
		if bytes.Equal(c.RawIssuer, c.RawSubject) && c.CheckSignatureFrom(c) == nil {
			roots.AddCert(c)
			n++
		} else {
			inter.AddCert(c)
		}
	}
	if n == 0 {
		return nil, nil, fmt.Errorf("%s holds no self-signed root certificate", path)
	}
	return roots, inter, nil
}

func readKeyDir(path string) ([][]byte, error) {
	blocks, err := pemBlocks(path)
	if err != nil {
		return nil, err
	}
	var out [][]byte
	for _, b := range blocks {
		if _, err := x509.ParsePKIXPublicKey(b.Bytes); err != nil {
			return nil, fmt.Errorf("%s: not a PKIX public key: %w", path, err)
		}
		out = append(out, b.Bytes)
	}
	return out, nil
}

func readPublicKeys(files []string) ([]crypto.PublicKey, error) {
	var out []crypto.PublicKey
	for _, f := range files {
		blocks, err := pemBlocks(f)
		if err != nil {
			return nil, fmt.Errorf("refvalues.owner_keys: %w", err)
		}
		for _, b := range blocks {
			k, err := x509.ParsePKIXPublicKey(b.Bytes)
			if err != nil {
				return nil, fmt.Errorf("refvalues.owner_keys: %s: %w", f, err)
			}
			out = append(out, k)
		}
	}
	return out, nil
}

// DevConfig returns the configuration of `hoheit server --dev`: everything
// under dir, a file master key with a random passphrase, the insecure
// variant allowed. It is for trying hoheit out, never for production.
func DevConfig(dir, listen string) (*Config, error) {
	// A dev directory reused with --data-dir keeps its passphrase.
	pass := filepath.Join(dir, "master.pass")
	if _, err := os.Stat(pass); errors.Is(err, os.ErrNotExist) {
		var b [24]byte
		rand.Read(b[:])
		if err := os.WriteFile(pass, []byte(base64.RawURLEncoding.EncodeToString(b[:])), 0o600); err != nil {
			return nil, err
		}
	}
	c := &Config{
		Listen:      listen,
		TrustDomain: "dev.hoheit.local",
		DataDir:     dir,
		Keys:        KeysConfig{Backend: "file", File: FileKeys{Path: filepath.Join(dir, "master.key"), PassphraseFile: pass}},
		Attestation: AttestationConfig{Allow: []string{attest.VariantInsecure}},
	}
	c.setDefaults()
	// The server's certificate must name the address it listens on.
	if host, _, err := net.SplitHostPort(listen); err == nil && host != "" && !slices.Contains(c.Hosts, host) {
		c.Hosts = append(c.Hosts, host)
	}
	return c, c.Validate()
}

// Inspect goes beyond Validate without starting anything: it reads the TPM
// trust anchors and the reference values the way the server would, and
// says what it found. A reference value file the server would refuse is an
// error here.
func (c *Config) Inspect() (notes []string, err error) {
	var errs []error
	if _, err := validators(c); err != nil {
		errs = append(errs, err)
	}
	if c.needsRefValues() {
		trusted, err := readPublicKeys(c.RefValues.OwnerKeys)
		if err != nil {
			return nil, err
		}
		refs, rerrs := refvalues.Load(c.RefValues.Dir, trusted)
		errs = append(errs, rerrs...)
		notes = append(notes, fmt.Sprintf("reference values: %d classes signed by a trusted owner key: %s", len(refs.Classes()), strings.Join(refs.Classes(), ", ")))
	}
	return notes, errors.Join(errs...)
}
