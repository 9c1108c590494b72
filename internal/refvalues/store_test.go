package refvalues

import (
	"context"
	"crypto"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hoheit/hoheit/internal/attest"
)

type fixture struct {
	dir     string
	priv    crypto.Signer
	trusted []crypto.PublicKey
}

func newFixture(t *testing.T) *fixture {
	priv, pub := newKey(t, AlgEd25519)
	return &fixture{dir: t.TempDir(), priv: priv, trusted: []crypto.PublicKey{pub}}
}

func (f *fixture) write(t *testing.T, name, content string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(f.dir, name), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func (f *fixture) writeSigned(t *testing.T, name, content string, key crypto.Signer) {
	t.Helper()
	sig, err := Sign([]byte(content), key)
	if err != nil {
		t.Fatal(err)
	}
	// The signature first, so a poll never sees new YAML with the old one.
	f.write(t, name+SignatureSuffix, string(sig))
	f.write(t, name, content)
}

func setFor(t *testing.T, set, class string, revision int) string {
	data, err := os.ReadFile(filepath.Join("testdata", "sets", set+".yaml"))
	if err != nil {
		t.Fatal(err)
	}
	s := string(data)
	for _, line := range strings.Split(s, "\n") {
		if strings.HasPrefix(line, "class: ") {
			s = strings.Replace(s, line, "class: "+class, 1)
		}
		if strings.HasPrefix(line, "revision: ") {
			s = strings.Replace(s, line, "revision: "+strconv.Itoa(revision), 1)
		}
	}
	return s
}

func TestLoad(t *testing.T) {
	f := newFixture(t)
	other, _ := newKey(t, AlgECDSAP256)
	f.writeSigned(t, "web.yaml", setFor(t, "web", "web", 1), f.priv)
	f.writeSigned(t, "snp.yaml", setFor(t, "snp", "snp", 1), f.priv)
	f.write(t, "unsigned.yaml", setFor(t, "web", "unsigned", 1))
	f.writeSigned(t, "resigned.yaml", setFor(t, "web", "resigned", 1), other)
	f.writeSigned(t, "tampered.yaml", setFor(t, "web", "tampered", 1), f.priv)
	f.write(t, "tampered.yaml", setFor(t, "web", "tampered", 1)+"# changed\n")
	f.writeSigned(t, "renamed.yaml", setFor(t, "db", "db", 1), f.priv) // db's values under another name
	f.writeSigned(t, "broken.yaml", "apiVersion: hoheit/v1\nkind: ReferenceValues\nclass: broken\nnope: 1\n", f.priv)
	f.write(t, "README.md", "not a set")

	s, errs := Load(f.dir, f.trusted)
	if got := strings.Join(s.Classes(), ","); got != "snp,web" {
		t.Errorf("classes %q, want snp,web", got)
	}
	want := map[string]string{
		"broken.yaml":   "field nope not found",
		"renamed.yaml":  `declares class "db"`,
		"resigned.yaml": ProblemUntrustedKey,
		"tampered.yaml": ProblemInvalid,
		"unsigned.yaml": ProblemUnsigned,
	}
	if len(errs) != len(want) {
		t.Errorf("%d errors, want %d: %v", len(errs), len(want), errs)
	}
	for _, err := range errs {
		if attest.ReasonOf(err) != attest.ReasonRefValues {
			t.Errorf("%v: not a %s refusal", err, attest.ReasonRefValues)
		}
		matched := false
		for file, msg := range want {
			if strings.Contains(err.Error(), file) && strings.Contains(err.Error(), msg) {
				matched = true
			}
		}
		if !matched {
			t.Errorf("unexpected error %v", err)
		}
	}
	// A class's set checks that class's nodes; an unknown class is refused.
	if _, err := s.Check("web", readClaims(t, "tpm-web")); err != nil {
		t.Errorf("web node refused: %v", err)
	}
	if _, err := s.Check("unsigned", readClaims(t, "tpm-web")); attest.ReasonOf(err) != attest.ReasonRefValues {
		t.Errorf("class with unsigned values: %v", err)
	}
	if _, err := s.Check("snp", readClaims(t, "tpm-web")); attest.ReasonOf(err) != attest.ReasonRefValues {
		t.Errorf("tpm evidence for the snp class: %v", err)
	}
	loaded := s.Loaded()
	if len(loaded) != 2 || loaded[0].Class != "snp" || loaded[1].KeyID == "" || loaded[1].Digest == "" || loaded[1].Revision != 1 {
		t.Errorf("Loaded() = %+v", loaded)
	}
}

func TestLoadMissingDir(t *testing.T) {
	s, errs := Load(filepath.Join(t.TempDir(), "nope"), nil)
	if s == nil || len(errs) != 1 {
		t.Fatalf("store %v, errors %v", s, errs)
	}
}

func TestReload(t *testing.T) {
	f := newFixture(t)
	f.writeSigned(t, "web.yaml", setFor(t, "web", "web", 1), f.priv)
	s, errs := Load(f.dir, f.trusted)
	if len(errs) != 0 {
		t.Fatal(errs)
	}
	first, _ := s.Class("web")

	if c := s.Reload(); len(c) != 0 {
		t.Fatalf("nothing changed, got %+v", c)
	}

	// Changed without re-signing: rejected, the old set kept, reported once.
	f.write(t, "web.yaml", setFor(t, "db", "web", 2))
	c := s.Reload()
	if len(c) != 1 || c[0].Kind != ChangeRejected || !strings.Contains(c[0].Reason, ProblemInvalid) || c[0].Class != "web" {
		t.Fatalf("unsigned change: %+v", c)
	}
	if got, _ := s.Class("web"); got != first {
		t.Fatal("the old set was not kept")
	}
	if c := s.Reload(); len(c) != 0 {
		t.Fatalf("a rejection is reported once per content, got %+v", c)
	}

	// Re-signed: changed, the new set in force.
	f.writeSigned(t, "web.yaml", setFor(t, "db", "web", 2), f.priv)
	c = s.Reload()
	if len(c) != 1 || c[0].Kind != ChangeChanged || c[0].Revision != 2 || c[0].Digest == "" {
		t.Fatalf("re-signed change: %+v", c)
	}
	if _, err := s.Check("web", readClaims(t, "tpm-db")); err != nil {
		t.Fatalf("new set not in force: %v", err)
	}

	// An older revision, validly signed, is a rollback.
	f.writeSigned(t, "web.yaml", setFor(t, "web", "web", 1), f.priv)
	c = s.Reload()
	if len(c) != 1 || c[0].Kind != ChangeRejected || !strings.Contains(c[0].Reason, "rollback") {
		t.Fatalf("rollback: %+v", c)
	}

	// A new class appears; a removed file removes its class.
	f.writeSigned(t, "snp.yaml", setFor(t, "snp", "snp", 1), f.priv)
	c = s.Reload()
	if len(c) != 1 || c[0].Kind != ChangeLoaded || c[0].Class != "snp" {
		t.Fatalf("new file: %+v", c)
	}
	if err := os.Remove(filepath.Join(f.dir, "web.yaml")); err != nil {
		t.Fatal(err)
	}
	c = s.Reload()
	if len(c) != 1 || c[0].Kind != ChangeRemoved || c[0].Class != "web" {
		t.Fatalf("removed file: %+v", c)
	}
	if _, ok := s.Class("web"); ok {
		t.Fatal("removed class still in force")
	}

	// Removing the signature only is rejected; the set stays.
	if err := os.Remove(filepath.Join(f.dir, "snp.yaml.sig")); err != nil {
		t.Fatal(err)
	}
	c = s.Reload()
	if len(c) != 1 || c[0].Kind != ChangeRejected || !strings.Contains(c[0].Reason, ProblemUnsigned) {
		t.Fatalf("signature removed: %+v", c)
	}
	if _, ok := s.Class("snp"); !ok {
		t.Fatal("a rejected change dropped the set in force")
	}
}

func TestWatch(t *testing.T) {
	f := newFixture(t)
	f.writeSigned(t, "web.yaml", setFor(t, "web", "web", 1), f.priv)
	s, errs := Load(f.dir, f.trusted)
	if len(errs) != 0 {
		t.Fatal(errs)
	}
	ctx, cancel := context.WithCancel(context.Background())
	changes := make(chan Change, 16)
	done := make(chan struct{})
	go func() {
		s.Watch(ctx, 5*time.Millisecond, func(c Change) { changes <- c })
		close(done)
	}()
	next := func() Change {
		t.Helper()
		select {
		case c := <-changes:
			return c
		case <-time.After(10 * time.Second):
			t.Fatal("no change reported within 10s")
			return Change{}
		}
	}

	f.write(t, "web.yaml", setFor(t, "db", "web", 2))
	if c := next(); c.Kind != ChangeRejected {
		t.Fatalf("unsigned change: %+v", c)
	}
	if _, err := s.Check("web", readClaims(t, "tpm-web")); err != nil {
		t.Fatalf("old set not kept: %v", err)
	}
	f.writeSigned(t, "web.yaml", setFor(t, "db", "web", 2), f.priv)
	if c := next(); c.Kind != ChangeChanged {
		t.Fatalf("re-signed: %+v", c)
	}
	if _, err := s.Check("web", readClaims(t, "tpm-db")); err != nil {
		t.Fatalf("new set not in force: %v", err)
	}
	cancel()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Watch did not return after cancel")
	}
}
