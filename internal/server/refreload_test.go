package server

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hoheit/hoheit/internal/attest"
	"github.com/hoheit/hoheit/internal/refvalues"
	"github.com/hoheit/hoheit/internal/store"
)

// TestRefValuesChangesAreAudited opens a server from a configuration and
// checks that loading, changing and a refused change of reference values
// each leave an audit entry, and that a refused change keeps the old set.
func TestRefValuesChangesAreAudited(t *testing.T) {
	dir := t.TempDir()
	refDir := filepath.Join(dir, "refvalues")
	os.MkdirAll(refDir, 0o755)
	priv, pub, err := refvalues.GenerateKey("ed25519")
	if err != nil {
		t.Fatal(err)
	}
	owner, _ := refvalues.ParsePrivateKey(priv)
	os.WriteFile(filepath.Join(dir, "owner.pub"), pub, 0o644)
	os.WriteFile(filepath.Join(dir, "pass"), []byte("a passphrase"), 0o600)
	write := func(yaml string, sign bool) {
		os.WriteFile(filepath.Join(refDir, "conf-a.yaml"), []byte(yaml), 0o644)
		if sign {
			sig, err := refvalues.Sign([]byte(yaml), owner)
			if err != nil {
				t.Fatal(err)
			}
			os.WriteFile(filepath.Join(refDir, "conf-a.yaml.sig"), sig, 0o644)
		}
	}
	write(snpRefValues("conf-a", measureA), true)
	cfg := &Config{
		TrustDomain: "test.hoheit", DataDir: filepath.Join(dir, "state"),
		Keys:        KeysConfig{Backend: "file", File: FileKeys{Path: filepath.Join(dir, "master.key"), PassphraseFile: filepath.Join(dir, "pass")}},
		Attestation: AttestationConfig{Allow: []string{"sev-snp"}},
		Collateral:  CollateralConfig{Dir: filepath.Join(dir, "collateral")},
		RefValues:   RefValuesConfig{Dir: refDir, OwnerKeys: []string{filepath.Join(dir, "owner.pub")}},
	}
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	r, err := Open(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()

	write(snpRefValues("conf-a", measureB), true) // a signed change
	for _, c := range r.refs.Reload() {
		r.auditRefChange(ctx, c)
	}
	write(snpRefValues("conf-a", measureA)+"# tampered\n", false) // changed, not re-signed
	for _, c := range r.refs.Reload() {
		r.auditRefChange(ctx, c)
	}
	var kinds []string
	r.d.Store.View(ctx, func(tx store.ReadTx) error {
		es, err := tx.AuditEntries(ctx, 1, 100)
		for _, e := range es {
			if strings.HasPrefix(e.Type, "refvalues") {
				kinds = append(kinds, e.Type+":"+e.Details["kind"])
			}
		}
		return err
	})
	want := "refvalues-change:loaded refvalues-change:changed refvalues-rejected:rejected"
	if got := strings.Join(kinds, " "); got != want {
		t.Fatalf("audit entries %q, want %q", got, want)
	}
	// The refused change left the signed one in force: measurement B.
	if _, err := r.refs.Check("conf-a", snpClaims(measureB)); err != nil {
		t.Fatalf("the signed set is no longer in force: %v", err)
	}
}

func snpClaims(m []byte) *attest.Claims {
	return &attest.Claims{Variant: attest.VariantSNP, SNP: &attest.SNPClaims{Measurement: m, HostData: make([]byte, 32), ReportedTCB: 0xdb18000000000304, Signer: "vcek"}}
}
