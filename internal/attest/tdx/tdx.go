// Package tdx is the Intel TDX attestation variant ("tdx"). The agent's
// Issuer asks the TDX module, through the kernel's configfs-tsm interface,
// for a quote version 4 carrying hoheit's report data. The server's Validator
// checks, with go-tdx-guest's verify package, the quote's signature by the
// quoting enclave's attestation key, the QE report signed by the PCK
// certificate, the PCK chain to Intel's SGX Root CA, and with collateral
// (from the collateral cache, internal/collateral) Intel's signed TCB info
// and QE identity, their freshness, and optionally Intel's CRLs; then that
// the quote carries the expected report data. It returns the measured
// attest.TDXClaims (MRTD, RTMRs, TD attributes, ...); comparing them with
// reference values is refvalues' job.
//
// Evidence is the quote exactly as the TDX quoting enclave produces it
// (Intel's quote format, version 4); it carries its own version.
//
// The server and the agent import this package.
package tdx

import (
	"context"
	"fmt"

	"github.com/google/go-tdx-guest/abi"
	"github.com/google/go-tdx-guest/client"
	pb "github.com/google/go-tdx-guest/proto/tdx"

	"github.com/hoheit/hoheit/internal/attest"
)

// MaxEvidenceSize bounds a quote before it is decoded; real quotes are 5 to
// 8 KiB.
const MaxEvidenceSize = 64 << 10

// DecodeEvidence parses a TDX quote and checks it is a well formed quote
// version 4. It verifies nothing.
func DecodeEvidence(ev []byte) (*pb.QuoteV4, error) {
	if len(ev) > MaxEvidenceSize {
		return nil, fmt.Errorf("evidence is %d bytes, more than %d", len(ev), MaxEvidenceSize)
	}
	q, err := quoteToProto(ev)
	if err != nil {
		return nil, fmt.Errorf("evidence is not a TDX quote: %v", err)
	}
	v4, ok := q.(*pb.QuoteV4)
	if !ok {
		return nil, fmt.Errorf("evidence is a %T, not a TDX quote version 4", q)
	}
	if err := abi.CheckQuoteV4(v4); err != nil {
		return nil, fmt.Errorf("TDX quote is malformed: %v", err)
	}
	if v4.GetHeader().GetTeeType() != abi.TeeTDX {
		return nil, fmt.Errorf("quote is for TEE type %#x, not TDX", v4.GetHeader().GetTeeType())
	}
	return v4, nil
}

// quoteToProto is abi.QuoteToProto, which panics on some malformed quotes
// (a slice out of range in the QE authentication data, found by
// FuzzDecodeEvidence): the panic becomes an error.
func quoteToProto(ev []byte) (q any, err error) {
	defer func() {
		if r := recover(); r != nil {
			q, err = nil, fmt.Errorf("malformed quote (the parser failed: %v)", r)
		}
	}()
	return abi.QuoteToProto(ev)
}

// QuoteProvider is what the Issuer needs from go-tdx-guest's client: its
// client.QuoteProvider (configfs-tsm), or a fake in tests.
type QuoteProvider interface {
	IsSupported() error
	GetRawQuote(reportData [64]byte) ([]uint8, error)
}

// Issuer produces TDX evidence inside a trust domain.
type Issuer struct {
	qp QuoteProvider
}

var _ attest.Issuer = (*Issuer)(nil)

// NewIssuer returns an Issuer over a quote provider.
func NewIssuer(qp QuoteProvider) *Issuer { return &Issuer{qp: qp} }

// OpenIssuer returns an Issuer over the kernel's configfs-tsm interface
// (/sys/kernel/config/tsm/report, Linux 6.7 and later) and fails where it is
// missing or not backed by TDX. It can only work inside a TDX guest: there
// is no TDX hardware, and no fake quote signer, on development and CI
// machines, so the Issuer is exercised only on real TDX VMs.
func OpenIssuer() (*Issuer, error) {
	qp, err := client.GetQuoteProvider()
	if err != nil {
		return nil, fmt.Errorf("tdx: %w", err)
	}
	if err := qp.IsSupported(); err != nil {
		return nil, fmt.Errorf("tdx: configfs-tsm is not available or not backed by TDX: %w", err)
	}
	return NewIssuer(qp), nil
}

// Variant returns attest.VariantTDX.
func (*Issuer) Variant() string { return attest.VariantTDX }

// Issue returns a TDX quote carrying reportData.
func (i *Issuer) Issue(ctx context.Context, reportData [64]byte) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	q, err := i.qp.GetRawQuote(reportData)
	if err != nil {
		return nil, fmt.Errorf("tdx: getting a quote: %w", err)
	}
	if _, err := DecodeEvidence(q); err != nil {
		return nil, fmt.Errorf("tdx: the quoting enclave returned %v", err)
	}
	return q, nil
}
