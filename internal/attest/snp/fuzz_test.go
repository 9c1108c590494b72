package snp

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/hoheit/hoheit/internal/attest"
)

var update = flag.Bool("update", false, "rewrite the fuzz seed corpus under testdata/fuzz")

// TestSeedCorpus writes (with -update) a valid evidence from the fake
// signer as a seed for FuzzDecodeEvidence.
func TestSeedCorpus(t *testing.T) {
	if !*update {
		t.Skip("run with -update to rewrite the seed")
	}
	p := newPlatform(t, goodTCB)
	rd := freshBinding(t).ReportData()
	ev := issue(t, p, rd, goodGuest())
	dir := filepath.Join("testdata", "fuzz", "FuzzDecodeEvidence")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	body := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", ev)
	if err := os.WriteFile(filepath.Join(dir, "fake-signer-evidence"), []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}

// FuzzDecodeEvidence feeds arbitrary bytes to the evidence decoder and the
// validator: neither may panic, and every failure is a refusal.
func FuzzDecodeEvidence(f *testing.F) {
	f.Add([]byte(EvidenceMagic))
	f.Add([]byte("hoheit-sev-snp/2\n"))
	v, err := NewValidator(ValidatorConfig{})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, ev []byte) {
		if _, err := DecodeEvidence(ev); err != nil {
			return
		}
		_, err := v.Validate(context.Background(), ev, [64]byte{})
		var r *attest.Refusal
		if err == nil || !errors.As(err, &r) {
			t.Fatalf("Validate = %v, want a refusal", err)
		}
	})
}
