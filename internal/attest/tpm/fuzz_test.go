package tpm

import (
	"context"
	"crypto/x509"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-tpm/legacy/tpm2"
)

var update = flag.Bool("update", false, "rewrite the fuzz seed corpora in testdata/fuzz from the TPM simulator")

// fuzzReportData is the report data the seed evidence was issued for, so the
// fuzzer starts from evidence that passes every check.
var fuzzReportData = testReportData("fuzz seed")

// akOf returns the PKIX key of the evidence's AK, or nil. The fuzz
// validator registers whatever AK the input carries, so mutations reach the
// signature, nonce and event log checks instead of stopping at trust.
func akOf(b []byte) []byte {
	ev, err := parseEvidence(b)
	if err != nil {
		return nil
	}
	pub, err := tpm2.DecodePublic(ev.att.GetAkPub())
	if err != nil {
		return nil
	}
	k, err := pub.Key()
	if err != nil {
		return nil
	}
	der, _ := x509.MarshalPKIXPublicKey(k)
	return der
}

func FuzzValidate(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := NewValidator(ValidatorConfig{
			RegisteredAKs: func() [][]byte { return [][]byte{akOf(b)} },
			EKRoots:       x509.NewCertPool(),
		})
		if err != nil {
			t.Fatal(err)
		}
		claims, err := v.Validate(context.Background(), b, fuzzReportData)
		if err != nil {
			if claims != nil {
				t.Fatal("claims returned with an error")
			}
			return
		}
		if claims.TPM == nil || claims.TPM.AKTrust != AKTrustRegistered || len(claims.TPM.PCRs) == 0 {
			t.Fatalf("accepted evidence gave claims %+v", claims)
		}
		// Accepted evidence encodes back to an equivalent evidence.
		ev, err := parseEvidence(b)
		if err != nil {
			t.Fatal(err)
		}
		re, err := marshalEvidence(ev.att, ev.ekCert)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := v.Validate(context.Background(), re, fuzzReportData); err != nil {
			t.Fatalf("re-encoded accepted evidence is refused: %v", err)
		}
	})
}

func FuzzParseWrapped(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) {
		w, err := parseWrapped(b)
		if err != nil {
			return
		}
		if !isWrapped(b) {
			t.Fatal("parsed a response without the magic")
		}
		if len(w.aad)+len(w.sealed) != len(b) {
			t.Fatal("additional data and ciphertext do not cover the response")
		}
		if _, err := w.open(make([]byte, secretSize)); err == nil {
			t.Fatal("a wrapped response opened without the TPM's secret")
		}
	})
}

// TestFuzzSeeds checks that the committed seed evidence still validates, and
// with -update writes new seeds from the simulator: valid evidence (with and
// without EK certificate) and a wrapped response.
func TestFuzzSeeds(t *testing.T) {
	dir := filepath.Join("testdata", "fuzz", "FuzzValidate")
	if *update {
		ca := newTestCA(t, "fuzz EK root")
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
			ev = editEvidence(t, ev, func(e *evidence) {
				q, err := sha256Quote(e.att.Quotes)
				if err != nil {
					t.Fatal(err)
				}
				e.att.Quotes = e.att.Quotes[:0]
				e.att.Quotes = append(e.att.Quotes, q)
			})
			writeSeed(t, dir, c.name, ev)
			if c.o.ekCA != nil {
				v, err := NewValidator(ValidatorConfig{EKRoots: ca.pool()})
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
				writeSeed(t, wdir, "truncated", w[:len(wrapMagic)+12])
			}
			is.Close()
		}
		writeSeed(t, dir, "garbage", []byte("\x0a\x03abc\x12\x00"))
	}
	for _, name := range []string{"valid-registered-ak", "valid-with-ek-cert"} {
		ev := readSeed(t, filepath.Join(dir, name))
		v, err := NewValidator(ValidatorConfig{RegisteredAKs: registered(akOf(ev))})
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
