package tdx

import (
	"context"
	"crypto/subtle"
	"crypto/x509"
	_ "embed"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/google/go-tdx-guest/verify"
	"github.com/google/go-tdx-guest/verify/trust"

	"github.com/hoheit/hoheit/internal/attest"
)

// intelRootPEM is Intel's SGX Root CA, the root of every PCK chain and of
// the TCB info and QE identity signing chains (the certificate go-tdx-guest
// embeds; published by Intel).
//
//go:embed intel_sgx_root_ca.pem
var intelRootPEM []byte

// CollateralSource answers Intel PCS URLs (TCB info, QE identity, CRLs) with
// the response headers and body. *collateral.Cache implements it.
type CollateralSource interface {
	Lookup(ctx context.Context, url string) (map[string][]string, []byte, error)
}

// ValidatorConfig configures a Validator.
type ValidatorConfig struct {
	// Getter is the collateral cache (*collateral.Cache). It is needed when
	// GetCollateral is set; without one every collateral lookup is refused
	// with ReasonCollateral.
	Getter CollateralSource
	// GetCollateral checks the quote against Intel's signed TCB info (the
	// platform's TCB level must be UpToDate) and QE identity, both from the
	// Getter. Production servers set it; without it only the signatures
	// and the PCK chain are checked.
	GetCollateral bool
	// CheckRevocations checks the PCK chain and the collateral signers
	// against Intel's CRLs from the Getter. It needs GetCollateral.
	CheckRevocations bool
	// Now is the clock for certificate and collateral validity; time.Now
	// when nil. Tests pin it: the library's sample collateral is from 2023.
	Now func() time.Time
	// Roots overrides Intel's SGX Root CA; nil uses it.
	Roots *x509.CertPool
}

// Validator verifies TDX quotes.
type Validator struct {
	getter     CollateralSource
	collateral bool
	crl        bool
	now        func() time.Time
	roots      *x509.CertPool
}

var _ attest.Validator = (*Validator)(nil)

// NewValidator returns a Validator.
func NewValidator(cfg ValidatorConfig) (*Validator, error) {
	if cfg.CheckRevocations && !cfg.GetCollateral {
		return nil, errors.New("tdx: CheckRevocations needs GetCollateral (the CRLs are collateral)")
	}
	v := &Validator{getter: cfg.Getter, collateral: cfg.GetCollateral, crl: cfg.CheckRevocations, now: cfg.Now, roots: cfg.Roots}
	if v.now == nil {
		v.now = time.Now
	}
	if v.roots == nil {
		v.roots = x509.NewCertPool()
		if !v.roots.AppendCertsFromPEM(intelRootPEM) {
			return nil, errors.New("tdx: the built-in Intel SGX Root CA does not parse")
		}
	}
	return v, nil
}

// Variant returns attest.VariantTDX.
func (*Validator) Variant() string { return attest.VariantTDX }

// recorder adapts the CollateralSource to go-tdx-guest's HTTPSGetter and
// remembers misses, which the library flattens into text.
type recorder struct {
	src    CollateralSource
	mu     sync.Mutex
	misses []error
}

var _ trust.ContextHTTPSGetter = (*recorder)(nil)

func (r *recorder) Get(url string) (map[string][]string, []byte, error) {
	return r.GetContext(context.Background(), url)
}

func (r *recorder) GetContext(ctx context.Context, url string) (map[string][]string, []byte, error) {
	var h map[string][]string
	var b []byte
	var err error
	if r.src == nil {
		err = fmt.Errorf("%s is needed but no collateral cache is configured", url)
	} else {
		h, b, err = r.src.Lookup(ctx, url)
	}
	if err != nil {
		r.mu.Lock()
		r.misses = append(r.misses, err)
		r.mu.Unlock()
	}
	return h, b, err
}

func (r *recorder) missed() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return errors.Join(r.misses...)
}

// tdAttributesDebug is the DEBUG bit (TUD.DEBUG, bit 0) of TD attributes.
const tdAttributesDebug = 0x01

// Validate verifies a TDX quote and returns its claims. Every failure is an
// *attest.Refusal.
func (v *Validator) Validate(ctx context.Context, evidence []byte, reportData [64]byte) (*attest.Claims, error) {
	quote, err := DecodeEvidence(evidence)
	if err != nil {
		return nil, attest.Refuse(attest.ReasonMalformed, "tdx: %v", err)
	}
	now := v.now()
	rec := &recorder{src: v.getter}
	opts := &verify.Options{
		CheckRevocations: v.crl,
		GetCollateral:    v.collateral,
		Getter:           rec,
		Now:              &verify.TimeSet{PckCertChain: now, TcbInfo: now, QeIdentity: now, PckCrl: now, RootCaCrl: now},
		TrustedRoots:     v.roots,
	}
	if err := verify.TdxQuoteContext(ctx, quote, opts); err != nil {
		return nil, classify(rec, err)
	}
	body := quote.GetTdQuoteBody()
	got := body.GetReportData()
	if len(got) != len(reportData) || subtle.ConstantTimeCompare(got, reportData[:]) != 1 {
		return nil, attest.Refuse(attest.ReasonReportData, "tdx: quote does not carry this join's nonce and keys")
	}
	rtmrs := make([][]byte, 0, len(body.GetRtmrs()))
	for _, r := range body.GetRtmrs() {
		rtmrs = append(rtmrs, clone(r))
	}
	attrs := body.GetTdAttributes()
	return &attest.Claims{
		Variant: attest.VariantTDX,
		TDX: &attest.TDXClaims{
			MRTD:         clone(body.GetMrTd()),
			RTMRs:        rtmrs,
			TDAttributes: clone(attrs),
			Debug:        len(attrs) > 0 && attrs[0]&tdAttributesDebug != 0,
			XFAM:         clone(body.GetXfam()),
			MRSEAM:       clone(body.GetMrSeam()),
			TEETCBSVN:    clone(body.GetTeeTcbSvn()),
			MRConfigID:   clone(body.GetMrConfigId()),
			MROwner:      clone(body.GetMrOwner()),
		},
	}, nil
}

// classify turns a go-tdx-guest verification error into a refusal. The
// library wraps most errors as text, so this reads their messages; the
// order matters.
func classify(rec *recorder, err error) error {
	if miss := rec.missed(); miss != nil {
		return attest.Refuse(attest.ReasonCollateral, "tdx: %v", miss)
	}
	msg := err.Error()
	var recreate *trust.AttestationRecreationErr
	var crl verify.CRLUnavailableErr
	switch {
	case errors.As(err, &recreate), errors.As(err, &crl):
		return attest.Refuse(attest.ReasonCollateral, "tdx: %v", err)
	case strings.Contains(msg, "failed TCB status check"):
		return attest.Refuse(attest.ReasonTCB, "tdx: %v", err)
	case errors.Is(err, verify.ErrHashVerificationFail),
		strings.Contains(msg, "QE report"),
		strings.Contains(msg, "attestation key in the quote"),
		strings.Contains(msg, "QuoteV4's signature"):
		return attest.Refuse(attest.ReasonSignature, "tdx: %v", err)
	case strings.Contains(msg, "collaterals obtained"),
		strings.Contains(msg, "tcbInfo response verification failed"),
		strings.Contains(msg, "QeIdentity response verification failed"),
		errors.Is(err, verify.ErrRevocationCheckFailed):
		return attest.Refuse(attest.ReasonCollateral, "tdx: collateral is stale or invalid (import fresh collateral with 'hoheit collateral import'): %v", err)
	default:
		return attest.Refuse(attest.ReasonChain, "tdx: %v", err)
	}
}

func clone(b []byte) []byte { return append([]byte(nil), b...) }
