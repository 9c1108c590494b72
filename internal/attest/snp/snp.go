// Package snp is the AMD SEV-SNP attestation variant ("sev-snp"). The agent's
// Issuer asks the AMD secure processor (through configfs-tsm or
// /dev/sev-guest) for an attestation report carrying hoheit's report data,
// together with the certificate table the host provides (VCEK or VLEK,
// ASK/ASVK, ARK). The server's Validator checks, with go-sev-guest's verify
// and validate packages, that the report is signed by a VCEK or VLEK whose
// chain ends at AMD's root for the product line (or at configured roots),
// that the certificate matches the report (reported TCB, chip id), optionally
// that AMD's CRL revokes nothing on the way, and that the report carries the
// expected report data. It returns the measured attest.SNPClaims; comparing
// them with reference values (measurement, minimum TCB, debug, VMPL, host
// data) is refvalues' job.
//
// Certificates missing from the evidence (a VCEK the host did not provide,
// AMD's CRL) come from the collateral cache (internal/collateral) through
// ValidatorConfig.Getter; nothing is fetched from AMD unless the cache's
// configuration allows that URL.
//
// The server and the agent import this package.
package snp

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"github.com/google/go-sev-guest/abi"
	"github.com/google/go-sev-guest/client"
	spb "github.com/google/go-sev-guest/proto/sevsnp"
	"google.golang.org/protobuf/proto"

	"github.com/hoheit/hoheit/internal/attest"
)

// EvidenceMagic starts every SEV-SNP evidence. Version 1 of the encoding is
// the magic followed by the protobuf encoding of go-sev-guest's
// sevsnp.Attestation message (proto/sevsnp/sevsnp.proto): the report and the
// certificate chain from the extended report. A new encoding gets a new
// magic.
const EvidenceMagic = "hoheit-sev-snp/1\n"

// MaxEvidenceSize bounds evidence before it is decoded: a report is 1184
// bytes and a certificate table a few KiB.
const MaxEvidenceSize = 64 << 10

// EncodeEvidence encodes an attestation as version 1 evidence.
func EncodeEvidence(att *spb.Attestation) ([]byte, error) {
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(att)
	if err != nil {
		return nil, fmt.Errorf("sev-snp: encoding evidence: %w", err)
	}
	return append([]byte(EvidenceMagic), b...), nil
}

// DecodeEvidence decodes evidence and checks that its report is a well
// formed SEV-SNP attestation report. It does not verify anything.
func DecodeEvidence(ev []byte) (*spb.Attestation, error) {
	if len(ev) > MaxEvidenceSize {
		return nil, fmt.Errorf("evidence is %d bytes, more than %d", len(ev), MaxEvidenceSize)
	}
	rest, ok := bytes.CutPrefix(ev, []byte(EvidenceMagic))
	if !ok {
		return nil, errors.New("evidence is not hoheit SEV-SNP evidence version 1")
	}
	att := &spb.Attestation{}
	if err := proto.Unmarshal(rest, att); err != nil {
		return nil, fmt.Errorf("evidence is not a SEV-SNP attestation: %v", err)
	}
	if att.GetReport() == nil {
		return nil, errors.New("evidence holds no attestation report")
	}
	raw, err := abi.ReportToAbiBytes(att.GetReport())
	if err != nil {
		return nil, fmt.Errorf("attestation report is malformed: %v", err)
	}
	if err := abi.ValidateReportFormat(raw); err != nil {
		return nil, fmt.Errorf("attestation report is malformed: %v", err)
	}
	if _, err := abi.ParseSignerInfo(att.GetReport().GetSignerInfo()); err != nil {
		return nil, fmt.Errorf("attestation report is malformed: %v", err)
	}
	if att.CertificateChain == nil {
		att.CertificateChain = &spb.CertificateChain{}
	}
	if att.CertificateChain.Extras == nil {
		att.CertificateChain.Extras = map[string][]byte{}
	}
	return att, nil
}

// Issuer produces SEV-SNP evidence inside a confidential VM.
type Issuer struct {
	qp client.QuoteProvider
}

var _ attest.Issuer = (*Issuer)(nil)

// NewIssuer returns an Issuer over a go-sev-guest quote provider: the real
// one from OpenIssuer, or in tests go-sev-guest's fake (testing.QuoteProvider
// with a fake AMD signer).
func NewIssuer(qp client.QuoteProvider) *Issuer { return &Issuer{qp: qp} }

// OpenIssuer returns an Issuer over the machine's SEV-SNP guest interface:
// configfs-tsm (/sys/kernel/config/tsm/report) where the kernel has it,
// else the /dev/sev-guest device. It fails on a machine that is not a
// SEV-SNP guest.
func OpenIssuer() (*Issuer, error) {
	qp, err := client.GetQuoteProvider()
	if err != nil {
		return nil, fmt.Errorf("sev-snp: no SEV-SNP guest interface (configfs-tsm or /dev/sev-guest): %w", err)
	}
	return NewIssuer(qp), nil
}

// Variant returns attest.VariantSNP.
func (*Issuer) Variant() string { return attest.VariantSNP }

// Issue gets a report carrying reportData with the host's certificate table
// and encodes it as evidence.
func (i *Issuer) Issue(ctx context.Context, reportData [64]byte) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	att, err := client.GetQuoteProto(i.qp, reportData)
	if err != nil {
		return nil, fmt.Errorf("sev-snp: getting the attestation report: %w", err)
	}
	return EncodeEvidence(att)
}
