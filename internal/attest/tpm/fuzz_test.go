package tpm

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"testing"

	"github.com/google/go-tpm/legacy/tpm2"

	"github.com/hoheit/hoheit/internal/attest"
)

// fuzzReportData is the report data the seed evidence was issued for, so the
// fuzzer starts from evidence that passes every check.
var fuzzReportData = testReportData("fuzz seed")

// testReportData is the report data of a join binding derived from label.
func testReportData(label string) [64]byte {
	nonce := sha256.Sum256([]byte(label))
	return attest.Binding{
		Nonce:              nonce[:],
		HPKEPublicKey:      []byte("hpke " + label),
		CertPublicKey:      []byte("cert " + label),
		WireGuardPublicKey: make([]byte, 32),
	}.ReportData()
}

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
