package snp

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/x509"
	"encoding/binary"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/google/go-sev-guest/abi"
	"github.com/google/go-sev-guest/kds"
	spb "github.com/google/go-sev-guest/proto/sevsnp"
	"github.com/google/go-sev-guest/validate"
	"github.com/google/go-sev-guest/verify"
	"github.com/google/go-sev-guest/verify/trust"

	"github.com/hoheit/hoheit/internal/attest"
)

// ValidatorConfig configures a Validator.
type ValidatorConfig struct {
	// Getter answers AMD KDS URLs (VCEK certificates, CRLs) for collateral
	// the evidence does not carry: the collateral cache
	// (*collateral.Cache). Nil means no collateral: evidence without its
	// VCEK, and revocation checks, are refused with ReasonCollateral.
	Getter trust.HTTPSGetter
	// Roots overrides AMD's roots by product line ("Milan", "Genoa",
	// "Turin"); each root needs its ARK and the ASK (VCEK) and/or ASVK
	// (VLEK). Nil uses the AMD roots built into go-sev-guest. Tests set
	// the fake signer's roots here.
	Roots map[string][]*trust.AMDRootCerts
	// CheckRevocations checks AMD's CRL for the product line (from the
	// cache) and refuses evidence whose ASK is revoked or whose CRL is
	// missing.
	CheckRevocations bool
	// Now is the clock for certificate validity; time.Now when nil.
	Now func() time.Time
}

// Validator verifies SEV-SNP evidence.
type Validator struct {
	getter trust.HTTPSGetter
	roots  map[string][]*trust.AMDRootCerts
	crl    bool
	now    func() time.Time
	// chains remembers endorsement chains that verified (to AMD's roots,
	// and against the CRL when revocations are checked), so the RSA-4096
	// chain is not verified again for every report of the same platform.
	// An entry lives chainTTL at most, and never past its certificate.
	chainsMu sync.Mutex
	chains   map[[32]byte]chainEntry
}

type chainEntry struct {
	cert    *x509.Certificate
	expires time.Time
}

// chainTTL bounds how long a verified chain is trusted without checking
// it (and the CRL) again.
const chainTTL = 5 * time.Minute

var _ attest.Validator = (*Validator)(nil)

// NewValidator returns a Validator.
func NewValidator(cfg ValidatorConfig) (*Validator, error) {
	v := &Validator{getter: cfg.Getter, roots: cfg.Roots, crl: cfg.CheckRevocations, now: cfg.Now}
	if v.now == nil {
		v.now = time.Now
	}
	if v.roots == nil {
		r, err := amdRoots()
		if err != nil {
			return nil, err
		}
		v.roots = r
	}
	for line, rs := range v.roots {
		for _, r := range rs {
			if r == nil || r.ProductCerts == nil || r.ProductCerts.Ark == nil || (r.ProductCerts.Ask == nil && r.ProductCerts.Asvk == nil) {
				return nil, fmt.Errorf("sev-snp: root for %s needs an ARK and an ASK or ASVK certificate", line)
			}
		}
	}
	return v, nil
}

// Variant returns attest.VariantSNP.
func (*Validator) Variant() string { return attest.VariantSNP }

var (
	amdRootsOnce sync.Once
	amdRootsVal  map[string][]*trust.AMDRootCerts
	amdRootsErr  error
)

// amdRoots builds AMD's roots per product line from the certificate chains
// go-sev-guest embeds, with both the ASK (VCEK) and the ASVK (VLEK), so
// that VLEK-signed reports verify too.
func amdRoots() (map[string][]*trust.AMDRootCerts, error) {
	amdRootsOnce.Do(func() {
		lines := []struct {
			name       string
			vcek, vlek []byte
		}{
			{"Milan", trust.AskArkMilanVcekBytes, trust.AskArkMilanVlekBytes},
			{"Genoa", trust.AskArkGenoaVcekBytes, trust.AskArkGenoaVlekBytes},
			{"Turin", trust.AskArkTurinVcekBytes, trust.AskArkTurinVlekBytes},
		}
		out := map[string][]*trust.AMDRootCerts{}
		for _, l := range lines {
			r := trust.AMDRootCertsProduct(l.name)
			if err := r.FromKDSCertBytes(l.vcek); err != nil {
				amdRootsErr = fmt.Errorf("sev-snp: AMD %s VCEK chain: %w", l.name, err)
				return
			}
			r.ProductCerts.Asvk = asvkOf(l.vlek, r.ProductCerts.Ark)
			out[l.name] = []*trust.AMDRootCerts{r}
		}
		amdRootsVal = out
	})
	return amdRootsVal, amdRootsErr
}

// asvkOf returns the ASVK from an AMD VLEK chain (PEM, ASVK then ARK) when
// the chain's ARK is ark, else nil. It reads the PEM leniently: one of the
// embedded bundles ends in stray bytes that kds.ParseProductCertChain
// refuses.
func asvkOf(bundle []byte, ark *x509.Certificate) *x509.Certificate {
	var asvk, bundleArk *x509.Certificate
	for {
		var blk *pem.Block
		blk, bundle = pem.Decode(bundle)
		if blk == nil {
			break
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return nil
		}
		switch {
		case strings.HasPrefix(c.Subject.CommonName, "SEV-VLEK"):
			asvk = c
		case strings.HasPrefix(c.Subject.CommonName, "ARK-"):
			bundleArk = c
		}
	}
	if asvk == nil || bundleArk == nil || !bundleArk.Equal(ark) || asvk.CheckSignatureFrom(ark) != nil {
		return nil
	}
	return asvk
}

// recorder passes requests to the collateral getter and remembers the
// misses, so a refusal can say which collateral is missing (the libraries
// flatten the getter's error into text).
type recorder struct {
	g      trust.HTTPSGetter
	mu     sync.Mutex
	misses []error
}

func (r *recorder) Get(url string) ([]byte, error) { return r.GetContext(context.Background(), url) }

func (r *recorder) GetContext(ctx context.Context, url string) ([]byte, error) {
	var b []byte
	var err error
	if r.g == nil {
		err = fmt.Errorf("%s is needed but no collateral cache is configured", url)
	} else {
		b, err = trust.GetWith(ctx, r.g, url)
	}
	if err != nil {
		r.mu.Lock()
		r.misses = append(r.misses, err)
		r.mu.Unlock()
	}
	return b, err
}

func (r *recorder) missed() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return errors.Join(r.misses...)
}

// permissive lets every guest policy bit through validate: the policy is
// a claim, judged by refvalues (debug off), not here.
var permissive = abi.SnpPolicy{Debug: true, MigrateMA: true, SMT: true, CXLAllowed: true}

// Validate verifies SEV-SNP evidence and returns its claims. Every failure
// is an *attest.Refusal.
func (v *Validator) Validate(ctx context.Context, evidence []byte, reportData [64]byte) (*attest.Claims, error) {
	att, err := DecodeEvidence(evidence)
	if err != nil {
		return nil, attest.Refuse(attest.ReasonMalformed, "sev-snp: %v", err)
	}
	report := att.GetReport()
	policy, err := abi.ParseSnpPolicy(report.GetPolicy())
	if err != nil {
		return nil, attest.Refuse(attest.ReasonMalformed, "sev-snp: guest policy: %v", err)
	}
	info, _ := abi.ParseSignerInfo(report.GetSignerInfo()) // checked by DecodeEvidence
	signer := ""
	switch info.SigningKey {
	case abi.VcekReportSigner:
		signer = "vcek"
	case abi.VlekReportSigner:
		signer = "vlek"
	default:
		return nil, attest.Refuse(attest.ReasonSignature, "sev-snp: report is signed by %v, not by a VCEK or VLEK", info.SigningKey)
	}
	v.fillRoots(att)

	key, cached := v.cachedChain(att, signer)
	if cached != nil {
		// The chain verified recently: only the report's signature is new.
		if err := verify.SnpProtoReportSignature(report, cached); err != nil {
			return nil, attest.Refuse(attest.ReasonSignature, "sev-snp: %v", err)
		}
	} else {
		rec := &recorder{g: v.getter}
		opts := &verify.Options{
			Getter:           rec,
			TrustedRoots:     v.roots,
			CheckRevocations: v.crl,
			Now:              v.now(),
		}
		if err := verify.SnpAttestationContext(ctx, att, opts); err != nil {
			return nil, v.classify(att, rec, err)
		}
		v.rememberChain(key, att, signer)
	}
	got := report.GetReportData()
	if len(got) != len(reportData) || subtle.ConstantTimeCompare(got, reportData[:]) != 1 {
		return nil, attest.Refuse(attest.ReasonReportData, "sev-snp: report does not carry this join's nonce and keys")
	}
	// The report must agree with its endorsement certificate: reported TCB
	// equal to the certificate's, chip id equal to its HWID. Everything
	// else validate could check is left to refvalues.
	if err := validate.SnpAttestation(att, &validate.Options{GuestPolicy: permissive, PermitProvisionalFirmware: true}); err != nil {
		return nil, attest.Refuse(attest.ReasonChain, "sev-snp: report does not match its %s certificate: %v", signer, err)
	}
	c := &attest.SNPClaims{
		Measurement: clone(report.GetMeasurement()),
		HostData:    clone(report.GetHostData()),
		Policy:      report.GetPolicy(),
		Debug:       policy.Debug,
		VMPL:        report.GetVmpl(),
		ReportedTCB: report.GetReportedTcb(),
		GuestSVN:    report.GetGuestSvn(),
		FamilyID:    clone(report.GetFamilyId()),
		ImageID:     clone(report.GetImageId()),
		ChipID:      clone(report.GetChipId()),
		Signer:      signer,
	}
	claims := &attest.Claims{Variant: attest.VariantSNP, SNP: c}
	if signer == "vcek" && !allZero(c.ChipID) {
		claims.HardwareID = hex.EncodeToString(c.ChipID)
	}
	return claims, nil
}

// fillRoots puts the trusted ASK/ARK into the evidence's chain where the
// host left them out, so go-sev-guest does not ask the getter for them.
// They are never trusted from the evidence: verification uses v.roots.
func (v *Validator) fillRoots(att *spb.Attestation) {
	chain := att.GetCertificateChain()
	if len(chain.GetAskCert()) > 0 && len(chain.GetArkCert()) > 0 {
		return
	}
	line := "Milan" // what go-sev-guest assumes for reports without a product
	if fms := att.GetReport().GetCpuid1EaxFms(); fms != 0 {
		line = kds.ProductLineFromFms(fms)
	} else if p := att.GetProduct(); p != nil {
		line = kds.ProductLine(p)
	}
	for _, r := range v.roots[line] {
		if r.ProductCerts == nil || r.ProductCerts.Ark == nil || r.ProductCerts.Ask == nil {
			continue
		}
		if len(chain.GetAskCert()) == 0 {
			chain.AskCert = r.ProductCerts.Ask.Raw
		}
		if len(chain.GetArkCert()) == 0 {
			chain.ArkCert = r.ProductCerts.Ark.Raw
		}
		return
	}
}

// classify turns a go-sev-guest verification error into a refusal: missing
// collateral, a bad signature over the report, or a chain that does not
// end at a trusted root.
func (v *Validator) classify(att *spb.Attestation, rec *recorder, err error) error {
	if miss := rec.missed(); miss != nil {
		return attest.Refuse(attest.ReasonCollateral, "sev-snp: %v", miss)
	}
	var recreate *trust.AttestationRecreationErr
	var crl verify.CRLUnavailableErr
	if errors.As(err, &recreate) || errors.As(err, &crl) || errors.Is(err, verify.ErrMissingVlek) {
		return attest.Refuse(attest.ReasonCollateral, "sev-snp: %v", err)
	}
	// Which failed, the chain or the signature? Check the report's
	// signature against the certificate the evidence presents: if even
	// that fails, the report was altered.
	info, _ := abi.ParseSignerInfo(att.GetReport().GetSignerInfo())
	ek := att.GetCertificateChain().GetVcekCert()
	if info.SigningKey == abi.VlekReportSigner {
		ek = att.GetCertificateChain().GetVlekCert()
	}
	if cert, perr := trust.ParseCert(ek); perr == nil {
		if serr := verify.SnpProtoReportSignature(att.GetReport(), cert); serr != nil {
			return attest.Refuse(attest.ReasonSignature, "sev-snp: %v", serr)
		}
	}
	return attest.Refuse(attest.ReasonChain, "sev-snp: %v", err)
}

// chainKey names an evidence's endorsement chain: signer kind, the
// endorsement key's certificate, ASK/ASVK and ARK, and the product line
// the roots are chosen by.
func chainKey(att *spb.Attestation, signer string) ([32]byte, []byte) {
	c := att.GetCertificateChain()
	ek := c.GetVcekCert()
	if signer == "vlek" {
		ek = c.GetVlekCert()
	}
	h := sha256.New()
	for _, p := range [][]byte{[]byte(signer), ek, c.GetAskCert(), c.GetArkCert(), []byte(fmt.Sprint(att.GetReport().GetCpuid1EaxFms(), att.GetProduct().GetName()))} {
		var n [8]byte
		binary.BigEndian.PutUint64(n[:], uint64(len(p)))
		h.Write(n[:])
		h.Write(p)
	}
	var k [32]byte
	copy(k[:], h.Sum(nil))
	return k, ek
}

func (v *Validator) cachedChain(att *spb.Attestation, signer string) ([32]byte, *x509.Certificate) {
	k, ek := chainKey(att, signer)
	if len(ek) == 0 {
		return k, nil // the VCEK comes from the collateral cache: verify in full
	}
	v.chainsMu.Lock()
	defer v.chainsMu.Unlock()
	e, ok := v.chains[k]
	if !ok || !v.now().Before(e.expires) {
		return k, nil
	}
	return k, e.cert
}

func (v *Validator) rememberChain(k [32]byte, att *spb.Attestation, signer string) {
	_, ek := chainKey(att, signer)
	if len(ek) == 0 {
		return
	}
	cert, err := trust.ParseCert(ek)
	if err != nil {
		return
	}
	exp := v.now().Add(chainTTL)
	if cert.NotAfter.Before(exp) {
		exp = cert.NotAfter
	}
	v.chainsMu.Lock()
	defer v.chainsMu.Unlock()
	if v.chains == nil || len(v.chains) > 10000 {
		v.chains = map[[32]byte]chainEntry{}
	}
	v.chains[k] = chainEntry{cert: cert, expires: exp}
}

func clone(b []byte) []byte { return append([]byte(nil), b...) }

func allZero(b []byte) bool {
	for _, x := range b {
		if x != 0 {
			return false
		}
	}
	return true
}
