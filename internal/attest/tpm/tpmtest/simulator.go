package tpmtest

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-tpm-tools/client"
	"github.com/google/go-tpm-tools/simulator"
	"github.com/google/go-tpm/legacy/tpm2"
	"github.com/google/go-tpm/tpmutil"

	"github.com/hoheit/hoheit/internal/attest/tpm"
)

// Simulator returns an Issuer on a fresh go-tpm-tools simulated TPM without
// an EK certificate, so a validator trusts it only by registering its AK
// (issuer.AKPublic()). The TPM has events and then unlogged extended into
// its PCRs; its event log, written to tb.TempDir(), holds only events. The
// Issuer, and with it the simulator, is closed when the test ends.
//
// The simulator is one instance per process: a second Simulator call blocks
// until the first Issuer is closed.
func Simulator(tb testing.TB, events, unlogged []Event) *tpm.Issuer {
	tb.Helper()
	return SimulatorWithEK(tb, nil, events, unlogged)
}

// SimulatorWithEK is Simulator, but the TPM also gets an RSA EK certificate
// signed by ca in its EK certificate NV index, as a TPM manufacturer
// provisions it, so a validator with ca.Pool() as EK roots trusts it. A nil
// ca gives no EK certificate.
func SimulatorWithEK(tb testing.TB, ca *EKCA, events, unlogged []Event) *tpm.Issuer {
	tb.Helper()
	sim, err := simulator.Get()
	if err != nil {
		tb.Fatalf("starting TPM simulator: %v", err)
	}
	if err := Extend(sim, events); err != nil {
		sim.Close()
		tb.Fatal(err)
	}
	if err := Extend(sim, unlogged); err != nil {
		sim.Close()
		tb.Fatal(err)
	}
	if ca != nil {
		if err := ca.provision(sim); err != nil {
			sim.Close()
			tb.Fatal(err)
		}
	}
	is, err := tpm.Open(context.Background(), tpm.IssuerConfig{RW: sim, EventLogPath: WriteEventLog(tb, events)})
	if err != nil {
		// Open closed the simulator.
		tb.Fatalf("tpm.Open on the simulator: %v", err)
	}
	tb.Cleanup(func() { is.Close() })
	return is
}

// EKCA is a CA that signs EK certificates, as a TPM vendor does, for
// SimulatorWithEK.
type EKCA struct {
	// Cert is the CA's self-signed certificate.
	Cert *x509.Certificate
	// PEMFile is a file holding Cert in PEM, for a server's ek_roots.
	PEMFile string
	key     *ecdsa.PrivateKey
}

// NewEKCA creates an EK CA whose certificate has the common name name.
func NewEKCA(tb testing.TB, name string) *EKCA {
	tb.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
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
		tb.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		tb.Fatal(err)
	}
	p := filepath.Join(tb.TempDir(), "ek-root.pem")
	if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		tb.Fatal(err)
	}
	return &EKCA{Cert: cert, PEMFile: p, key: key}
}

// Pool returns a pool holding only the CA's certificate, for
// tpm.ValidatorConfig.EKRoots.
func (ca *EKCA) Pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.Cert)
	return p
}

var (
	oidTCGEKCertificate = asn1.ObjectIdentifier{2, 23, 133, 8, 1}
	oidTPMManufacturer  = asn1.ObjectIdentifier{2, 23, 133, 2, 1}
	oidSubjectAltName   = asn1.ObjectIdentifier{2, 5, 29, 17}
)

// issueEK makes an EK certificate the way TPM vendors do: empty subject, the
// TPM named in a critical subjectAltName directoryName, EKU
// tcg-kp-EKCertificate.
func (ca *EKCA) issueEK(ek crypto.PublicKey) ([]byte, error) {
	name, err := asn1.Marshal(pkix.RDNSequence{{{Type: oidTPMManufacturer, Value: "id:474F4F47"}}})
	if err != nil {
		return nil, err
	}
	san, err := asn1.Marshal([]asn1.RawValue{{Class: asn1.ClassContextSpecific, Tag: 4, IsCompound: true, Bytes: name}})
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:       big.NewInt(time.Now().UnixNano()),
		NotBefore:          time.Now().Add(-time.Hour),
		NotAfter:           time.Now().Add(24 * time.Hour),
		KeyUsage:           x509.KeyUsageKeyEncipherment,
		UnknownExtKeyUsage: []asn1.ObjectIdentifier{oidTCGEKCertificate},
		ExtraExtensions:    []pkix.Extension{{Id: oidSubjectAltName, Critical: true, Value: san}},
	}
	return x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, ek, ca.key)
}

// provision creates the TPM's RSA EK and writes a certificate for it, signed
// by ca, into the EK certificate NV index, as a TPM manufacturer does.
func (ca *EKCA) provision(rw io.ReadWriter) error {
	ek, err := client.EndorsementKeyRSA(rw)
	if err != nil {
		return fmt.Errorf("creating EK: %w", err)
	}
	der, err := ca.issueEK(ek.PublicKey())
	ek.Close()
	if err != nil {
		return fmt.Errorf("issuing EK certificate: %w", err)
	}
	idx := tpmutil.Handle(client.EKCertNVIndexRSA)
	attrs := tpm2.AttrOwnerWrite | tpm2.AttrOwnerRead | tpm2.AttrAuthRead | tpm2.AttrPPRead | tpm2.AttrNoDA
	if err := tpm2.NVDefineSpace(rw, tpm2.HandleOwner, idx, "", "", nil, attrs, uint16(len(der))); err != nil {
		return fmt.Errorf("defining EK certificate NV index: %w", err)
	}
	for off := 0; off < len(der); off += 512 {
		end := min(off+512, len(der))
		if err := tpm2.NVWrite(rw, tpm2.HandleOwner, idx, "", der[off:end], uint16(off)); err != nil {
			return fmt.Errorf("writing EK certificate: %w", err)
		}
	}
	return nil
}
