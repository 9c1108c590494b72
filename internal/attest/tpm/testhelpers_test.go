package tpm

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"io"
	"math/big"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-tpm-tools/client"
	tpmpb "github.com/google/go-tpm-tools/proto/tpm"
	"github.com/google/go-tpm/legacy/tpm2"
	"github.com/google/go-tpm/tpmutil"

	"github.com/hoheit/hoheit/internal/attest"
)

func pcrsProto(m map[uint32][]byte) *tpmpb.PCRs {
	return &tpmpb.PCRs{Hash: tpmpb.HashAlgo_SHA256, Pcrs: m}
}

// expectedPCRs computes the SHA-256 PCRs 0-23 that events produce from
// reset: zeros, except the dynamic-launch PCRs 17-22, which reset to ones.
func expectedPCRs(events []logEvent) map[uint32][]byte {
	pcrs := map[uint32][]byte{}
	for i := uint32(0); i < 24; i++ {
		pcrs[i] = make([]byte, 32)
		if i >= 17 && i <= 22 {
			pcrs[i] = bytes.Repeat([]byte{0xff}, 32)
		}
	}
	for _, e := range events {
		h := sha256.New()
		h.Write(pcrs[e.pcr])
		h.Write(e.digest())
		pcrs[e.pcr] = h.Sum(nil)
	}
	return pcrs
}

// testCA is a CA that signs EK certificates, as a TPM vendor does.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

func newTestCA(t testing.TB, name string) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &testCA{cert: cert, key: key}
}

func (ca *testCA) pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.cert)
	return p
}

var (
	oidTCGEKCertificate = asn1.ObjectIdentifier{2, 23, 133, 8, 1}
	oidTPMManufacturer  = asn1.ObjectIdentifier{2, 23, 133, 2, 1}
)

// issueEK makes an EK certificate the way TPM vendors do: empty subject, the
// TPM named in a critical subjectAltName directoryName, EKU
// tcg-kp-EKCertificate.
func (ca *testCA) issueEK(t testing.TB, ek crypto.PublicKey) []byte {
	t.Helper()
	name, err := asn1.Marshal(pkix.RDNSequence{{{Type: oidTPMManufacturer, Value: "id:474F4F47"}}})
	if err != nil {
		t.Fatal(err)
	}
	san, err := asn1.Marshal([]asn1.RawValue{{Class: asn1.ClassContextSpecific, Tag: 4, IsCompound: true, Bytes: name}})
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:       big.NewInt(time.Now().UnixNano()),
		NotBefore:          time.Now().Add(-time.Hour),
		NotAfter:           time.Now().Add(24 * time.Hour),
		KeyUsage:           x509.KeyUsageKeyEncipherment,
		UnknownExtKeyUsage: []asn1.ObjectIdentifier{oidTCGEKCertificate},
		ExtraExtensions:    []pkix.Extension{{Id: oidSubjectAltName, Critical: true, Value: san}},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, ek, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// provisionEKCert creates the TPM's RSA EK and writes a certificate for it,
// signed by ca, into the EK certificate NV index, as a TPM manufacturer does.
func provisionEKCert(t testing.TB, rw io.ReadWriter, ca *testCA) {
	t.Helper()
	ek, err := client.EndorsementKeyRSA(rw)
	if err != nil {
		t.Fatalf("creating EK: %v", err)
	}
	der := ca.issueEK(t, ek.PublicKey())
	ek.Close()
	idx := tpmutil.Handle(client.EKCertNVIndexRSA)
	attrs := tpm2.AttrOwnerWrite | tpm2.AttrOwnerRead | tpm2.AttrAuthRead | tpm2.AttrPPRead | tpm2.AttrNoDA
	if err := tpm2.NVDefineSpace(rw, tpm2.HandleOwner, idx, "", "", nil, attrs, uint16(len(der))); err != nil {
		t.Fatalf("defining EK certificate NV index: %v", err)
	}
	for off := 0; off < len(der); off += 512 {
		end := min(off+512, len(der))
		if err := tpm2.NVWrite(rw, tpm2.HandleOwner, idx, "", der[off:end], uint16(off)); err != nil {
			t.Fatalf("writing EK certificate: %v", err)
		}
	}
}

// writeLog writes an event log file into a temp dir and returns its path.
func writeLog(t testing.TB, events []logEvent) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "binary_bios_measurements")
	if err := os.WriteFile(p, buildEventLog(events), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func akPKIX(t testing.TB, is *Issuer) []byte {
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

func testReportData(label string) [64]byte {
	nonce := sha256.Sum256([]byte(label))
	return attest.Binding{
		Nonce:              nonce[:],
		HPKEPublicKey:      []byte("hpke " + label),
		CertPublicKey:      []byte("cert " + label),
		WireGuardPublicKey: make([]byte, 32),
	}.ReportData()
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
