package tpm_test

import (
	"testing"

	pb "github.com/google/go-tpm-tools/proto/attest"

	"github.com/hoheit/hoheit/internal/attest"
	"github.com/hoheit/hoheit/internal/attest/tpm"
)

var testReportData = tpm.ReportDataFor

func akPKIX(t testing.TB, is *tpm.Issuer) []byte {
	t.Helper()
	b, err := is.AKPublic()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func registered(keys ...[]byte) func() [][]byte {
	return func() [][]byte { return keys }
}

// editEvidence decodes evidence, lets edit change it, and encodes it again.
func editEvidence(t testing.TB, ev []byte, edit func(att *pb.Attestation, ekCert *[]byte)) []byte {
	t.Helper()
	b, err := tpm.EditEvidence(ev, edit)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func wantReason(t testing.TB, err error, reason string) {
	t.Helper()
	if reason == "" {
		if err != nil {
			t.Fatalf("Validate: %v", err)
		}
		return
	}
	if err == nil {
		t.Fatalf("Validate accepted evidence, want refusal %q", reason)
	}
	if got := attest.ReasonOf(err); got != reason {
		t.Fatalf("Validate refused with %q (%v), want %q", got, err, reason)
	}
}
