//go:build integration

package tpmtest_test

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/hoheit/hoheit/internal/attest/tpm"
	"github.com/hoheit/hoheit/internal/attest/tpm/tpmtest"
)

// TestSwtpm: a booted swtpm's evidence validates through its EK chain, its
// EKRootsDir holds exactly the root and the intermediate, and the swtpm is
// gone when its test ends.
func TestSwtpm(t *testing.T) {
	var device string
	t.Run("run", func(t *testing.T) {
		s := tpmtest.StartSwtpm(t, tpmtest.NewSwtpmCA(t))
		device = s.Device
		events := tpmtest.BootEvents()
		is := s.Open(t, s.Boot(t, events, nil))
		claims := validate(t, is, tpm.ValidatorConfig{EKRoots: s.EKRoots, EKIntermediates: s.EKIntermediates})
		if claims.TPM.AKTrust != tpm.AKTrustEKChain {
			t.Fatalf("AK trust %q, want %q", claims.TPM.AKTrust, tpm.AKTrustEKChain)
		}
		for i, want := range tpmtest.PCRs(events) {
			if !bytes.Equal(claims.TPM.PCRs[i], want) {
				t.Errorf("PCR %d = %x, want %x", i, claims.TPM.PCRs[i], want)
			}
		}

		ents, err := os.ReadDir(s.EKRootsDir)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, e := range ents {
			names = append(names, filepath.Join(s.EKRootsDir, e.Name()))
		}
		if want := []string{s.IntermediatesPEM, s.RootsPEM}; !slices.Equal(names, want) {
			t.Fatalf("EKRootsDir holds %v, want %v", names, want)
		}
		for _, f := range []struct {
			path     string
			selfSign bool
		}{{s.RootsPEM, true}, {s.IntermediatesPEM, false}} {
			b, err := os.ReadFile(f.path)
			if err != nil {
				t.Fatal(err)
			}
			blk, _ := pem.Decode(b)
			if blk == nil {
				t.Fatalf("%s is not PEM", f.path)
			}
			c, err := x509.ParseCertificate(blk.Bytes)
			if err != nil {
				t.Fatal(err)
			}
			if got := c.CheckSignatureFrom(c) == nil; got != f.selfSign {
				t.Errorf("%s: self-signed = %v, want %v", f.path, got, f.selfSign)
			}
		}
	})
	if c, err := net.Dial("tcp", strings.TrimPrefix(device, "tcp://")); err == nil {
		c.Close()
		t.Fatalf("swtpm still listens on %s after its test ended", device)
	}
}
