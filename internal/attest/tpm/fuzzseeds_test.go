package tpm_test

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	pb "github.com/google/go-tpm-tools/proto/attest"

	"github.com/hoheit/hoheit/internal/attest/tpm"
	"github.com/hoheit/hoheit/internal/attest/tpm/tpmtest"
)

var update = flag.Bool("update", false, "rewrite the fuzz seed corpora in testdata/fuzz from the TPM simulator")

// fuzzReportData is the report data the seed evidence is issued for, the
// one the fuzz targets validate against.
var fuzzReportData = tpm.FuzzReportData

// TestFuzzSeeds checks that the committed seed evidence still validates, and
// with -update writes new seeds from the simulator: valid evidence (with and
// without EK certificate) and a wrapped response.
func TestFuzzSeeds(t *testing.T) {
	dir := filepath.Join("testdata", "fuzz", "FuzzValidate")
	if *update {
		ca := tpmtest.NewEKCA(t, "fuzz EK root")
		for _, c := range []struct {
			name string
			o    simOpts
		}{{"valid-registered-ak", simOpts{}}, {"valid-with-ek-cert", simOpts{ekCA: ca}}} {
			is := openSim(t, c.o)
			ev, err := is.Issue(context.Background(), fuzzReportData)
			if err != nil {
				t.Fatal(err)
			}
			// Keep only the SHA-256 quote: the simulator quotes every bank,
			// and a small seed lets the fuzzer minimize and mutate quickly.
			ev = editEvidence(t, ev, func(att *pb.Attestation, _ *[]byte) {
				q, err := tpm.SHA256Quote(att.Quotes)
				if err != nil {
					t.Fatal(err)
				}
				att.Quotes = att.Quotes[:0]
				att.Quotes = append(att.Quotes, q)
			})
			writeSeed(t, dir, c.name, ev)
			if c.o.ekCA != nil {
				v, err := tpm.NewValidator(tpm.ValidatorConfig{EKRoots: ca.Pool()})
				if err != nil {
					t.Fatal(err)
				}
				claims, err := v.Validate(context.Background(), ev, fuzzReportData)
				if err != nil {
					t.Fatal(err)
				}
				w, err := v.WrapResponse(claims, ev, []byte(`{"certificate":"seed"}`))
				if err != nil {
					t.Fatal(err)
				}
				wdir := filepath.Join("testdata", "fuzz", "FuzzParseWrapped")
				writeSeed(t, wdir, "wrapped", w)
				writeSeed(t, wdir, "truncated", w[:len(tpm.WrapMagic)+12])
			}
			is.Close()
		}
		writeSeed(t, dir, "garbage", []byte("\x0a\x03abc\x12\x00"))
	}
	for _, name := range []string{"valid-registered-ak", "valid-with-ek-cert"} {
		ev := readSeed(t, filepath.Join(dir, name))
		v, err := tpm.NewValidator(tpm.ValidatorConfig{RegisteredAKs: registered(tpm.AKOf(ev))})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := v.Validate(context.Background(), ev, fuzzReportData); err != nil {
			t.Errorf("seed %s no longer validates (regenerate with -update): %v", name, err)
		}
	}
}

func writeSeed(t *testing.T, dir, name string, b []byte) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	content := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", b)
	if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// readSeed decodes a seed file written by writeSeed.
func readSeed(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("reading seed (create with go test -run TestFuzzSeeds -update): %v", err)
	}
	var s string
	if _, err := fmt.Sscanf(string(b), "go test fuzz v1\n[]byte(%q)\n", &s); err != nil {
		t.Fatalf("parsing seed %s: %v", path, err)
	}
	return []byte(s)
}
