package tpm

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/x509"
	"encoding/asn1"
	"encoding/hex"
	"fmt"
	"maps"

	"github.com/google/go-eventlog/register"
	"github.com/google/go-eventlog/tcg"
	tpmpb "github.com/google/go-tpm-tools/proto/tpm"
	tpmquote "github.com/google/go-tpm-tools/quote"
	"github.com/google/go-tpm/legacy/tpm2"
	"github.com/google/go-tpm/legacy/tpm2/credactivation"

	"github.com/hoheit/hoheit/internal/attest"
)

var (
	_ attest.Validator       = (*Validator)(nil)
	_ attest.ResponseWrapper = (*Validator)(nil)
)

// ValidatorConfig says which attestation keys a Validator trusts.
type ValidatorConfig struct {
	// EKRoots are the trusted roots of EK certificates: the TPM vendors'
	// root CAs, a cloud's vTPM EK root, or swtpm's local CA. An AK is
	// trusted through its TPM's EK certificate only when that certificate
	// chains to one of them. Nil trusts no EK certificate.
	EKRoots *x509.CertPool
	// EKIntermediates are intermediate CA certificates between EKRoots and
	// EK certificates (TPM vendors sign EK certificates with intermediates
	// that the TPM does not store). May be nil.
	EKIntermediates *x509.CertPool
	// RegisteredAKs returns the PKIX DER public keys of attestation keys an
	// admin registered in advance (Issuer.AKPublic on the node). It is
	// called on every validation, so registrations take effect at once. May
	// be nil.
	RegisteredAKs func() [][]byte
}

// Validator checks TPM evidence on the server.
type Validator struct {
	cfg ValidatorConfig
}

// NewValidator returns a Validator. It fails when the configuration trusts
// no attestation key at all, since every evidence would then be refused.
func NewValidator(cfg ValidatorConfig) (*Validator, error) {
	if cfg.EKRoots == nil && cfg.RegisteredAKs == nil {
		return nil, fmt.Errorf("tpm validator: configure EK roots, registered attestation keys, or both; otherwise no TPM can join")
	}
	return &Validator{cfg: cfg}, nil
}

// Variant returns attest.VariantTPM.
func (*Validator) Variant() string { return attest.VariantTPM }

// akAttributes are the attributes an attestation key must have: a signing
// key the TPM generated (sensitiveDataOrigin), that never leaves it (fixedTPM,
// fixedParent), and that signs only data the TPM produced (restricted), so a
// quote it signed came from this TPM. They are part of the AK's name, which
// credential activation checks.
const akAttributes = tpm2.FlagSign | tpm2.FlagRestricted | tpm2.FlagFixedTPM | tpm2.FlagFixedParent | tpm2.FlagSensitiveDataOrigin

// verified is what Validate established about one evidence.
type verified struct {
	trust    string
	pcrs     map[uint32][]byte
	hardware string
}

// Validate checks the evidence: the AK is a restricted TPM signing key that
// is registered or whose TPM's EK certificate chains to EKRoots; the SHA-256
// quote is signed by it and carries reportData[:32]; the TCG event log
// replays to the quoted PCRs. Every failure is a *attest.Refusal. It is safe
// for concurrent use.
//
// Claims with AKTrust "ek-chain" are complete only together with
// WrapResponse: the EK certificate proves the EK, not that the AK lives in
// the same TPM. The server must send its whole response through
// WrapResponse, which only that TPM can open.
func (v *Validator) Validate(ctx context.Context, ev []byte, reportData [64]byte) (*attest.Claims, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	vr, err := v.verify(ev, reportData)
	if err != nil {
		return nil, err
	}
	return &attest.Claims{
		Variant:    attest.VariantTPM,
		HardwareID: vr.hardware,
		TPM:        &attest.TPMClaims{PCRs: vr.pcrs, AKTrust: vr.trust},
	}, nil
}

func (v *Validator) verify(raw []byte, reportData [64]byte) (*verified, error) {
	ev, err := parseEvidence(raw)
	if err != nil {
		return nil, err
	}
	vr, akKey, err := v.trustAK(ev)
	if err != nil {
		return nil, err
	}

	q, err := sha256Quote(ev.att.GetQuotes())
	if err != nil {
		return nil, err
	}
	ad, err := tpm2.DecodeAttestationData(q.GetQuote())
	if err != nil {
		return nil, attest.Refuse(attest.ReasonMalformed, "TPM quote cannot be decoded: %v", err)
	}
	// Verify the signature against the quote's own extraData first, so that a
	// quote for another nonce is told apart from a forged one.
	if err := tpmquote.Verify(q, akKey, ad.ExtraData); err != nil {
		return nil, attest.Refuse(attest.ReasonSignature, "TPM quote is not signed by the attestation key, or its PCR values differ from the signed digest: %v", err)
	}
	if subtle.ConstantTimeCompare(ad.ExtraData, reportData[:32]) != 1 {
		return nil, attest.Refuse(attest.ReasonReportData, "TPM quote does not carry this join's nonce and keys")
	}

	if err := replayEventLog(ev.att.GetEventLog(), q.GetPcrs()); err != nil {
		return nil, err
	}
	vr.pcrs = maps.Clone(q.GetPcrs().GetPcrs())
	return vr, nil
}

// trustAK decodes the AK, checks its attributes and decides how it is
// trusted: registration wins over the EK chain, since an admin vouched for
// that exact key and no credential activation is needed.
func (v *Validator) trustAK(ev *evidence) (*verified, crypto.PublicKey, error) {
	pub, err := tpm2.DecodePublic(ev.att.GetAkPub())
	if err != nil {
		return nil, nil, attest.Refuse(attest.ReasonMalformed, "attestation key public area cannot be decoded: %v", err)
	}
	enc, err := pub.Encode()
	if err != nil || !bytes.Equal(enc, ev.att.GetAkPub()) {
		return nil, nil, attest.Refuse(attest.ReasonMalformed, "attestation key public area has trailing or non-canonical bytes")
	}
	if pub.Attributes&akAttributes != akAttributes || pub.Attributes&tpm2.FlagDecrypt != 0 {
		return nil, nil, attest.Refuse(attest.ReasonUntrustedKey, "attestation key is not a restricted signing key generated in and bound to the TPM (attributes %#x)", uint32(pub.Attributes))
	}
	if _, err := pub.NameAlg.Hash(); err != nil {
		return nil, nil, attest.Refuse(attest.ReasonMalformed, "attestation key has an unsupported name algorithm: %v", err)
	}
	key, err := pub.Key()
	if err != nil {
		return nil, nil, attest.Refuse(attest.ReasonMalformed, "attestation key is not usable: %v", err)
	}
	akPKIX, err := x509.MarshalPKIXPublicKey(key)
	if err != nil {
		return nil, nil, attest.Refuse(attest.ReasonMalformed, "attestation key cannot be encoded: %v", err)
	}
	vr := &verified{}

	if v.cfg.RegisteredAKs != nil {
		for _, reg := range v.cfg.RegisteredAKs() {
			if bytes.Equal(reg, akPKIX) {
				vr.trust = AKTrustRegistered
				vr.hardware = hexSHA256(akPKIX)
				return vr, key, nil
			}
		}
	}
	if ev.ekCert == nil {
		return nil, nil, attest.Refuse(attest.ReasonUntrustedKey, "attestation key %s is not registered and the TPM sent no EK certificate", hexSHA256(akPKIX)[:16])
	}
	if v.cfg.EKRoots == nil {
		return nil, nil, attest.Refuse(attest.ReasonUntrustedKey, "attestation key %s is not registered and this server trusts no EK roots", hexSHA256(akPKIX)[:16])
	}
	ek, err := v.verifyEKCert(ev.ekCert)
	if err != nil {
		return nil, nil, err
	}
	if !defaultEKKey(ek.PublicKey) {
		return nil, nil, attest.Refuse(attest.ReasonUntrustedKey, "EK certificate is for a %T key; only the TCG default EKs (RSA 2048, ECC P-256) are supported for credential activation", ek.PublicKey)
	}
	ekPKIX, err := x509.MarshalPKIXPublicKey(ek.PublicKey)
	if err != nil {
		return nil, nil, attest.Refuse(attest.ReasonMalformed, "EK certificate key cannot be encoded: %v", err)
	}
	vr.trust = AKTrustEKChain
	vr.hardware = hexSHA256(ekPKIX)
	return vr, key, nil
}

// defaultEKKey tells whether k is the key of a TCG default EK template (RSA
// 2048 or ECC NIST P-256), whose AES-128 symmetric parameters
// WrapResponse assumes.
func defaultEKKey(k any) bool {
	switch k := k.(type) {
	case *rsa.PublicKey:
		return k.N.BitLen() == 2048
	case *ecdsa.PublicKey:
		return k.Curve == elliptic.P256()
	}
	return false
}

var oidSubjectAltName = asn1.ObjectIdentifier{2, 5, 29, 17}

// verifyEKCert parses an EK certificate and verifies its chain to EKRoots.
func (v *Validator) verifyEKCert(der []byte) (*x509.Certificate, error) {
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, attest.Refuse(attest.ReasonUntrustedKey, "EK certificate cannot be parsed: %v", err)
	}
	// EK certificates name the TPM in a critical subjectAltName holding only
	// a directoryName, which crypto/x509 leaves unhandled; it carries no
	// name we check, so it is safe to accept.
	var unhandled []asn1.ObjectIdentifier
	for _, oid := range cert.UnhandledCriticalExtensions {
		if !oid.Equal(oidSubjectAltName) {
			unhandled = append(unhandled, oid)
		}
	}
	cert.UnhandledCriticalExtensions = unhandled
	if _, err := cert.Verify(x509.VerifyOptions{
		Roots:         v.cfg.EKRoots,
		Intermediates: v.cfg.EKIntermediates,
		// EK certificates carry tcg-kp-EKCertificate (2.23.133.8.1), if any
		// extended key usage, which crypto/x509 does not know.
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
	}); err != nil {
		return nil, attest.Refuse(attest.ReasonUntrustedKey, "attestation key is not registered and the TPM's EK certificate does not chain to a trusted EK root: %v", err)
	}
	return cert, nil
}

// sha256Quote returns the evidence's quote over the SHA-256 PCR bank.
func sha256Quote(quotes []*tpmpb.Quote) (*tpmpb.Quote, error) {
	var found *tpmpb.Quote
	for _, q := range quotes {
		if tpm2.Algorithm(q.GetPcrs().GetHash()) != tpm2.AlgSHA256 {
			continue
		}
		if found != nil {
			return nil, attest.Refuse(attest.ReasonMalformed, "TPM evidence has more than one SHA-256 quote")
		}
		found = q
	}
	if found == nil {
		return nil, attest.Refuse(attest.ReasonMalformed, "TPM evidence has no quote over the SHA-256 PCR bank; enable that bank in the TPM")
	}
	if len(found.GetPcrs().GetPcrs()) == 0 {
		return nil, attest.Refuse(attest.ReasonMalformed, "TPM quote covers no PCR")
	}
	for idx, d := range found.GetPcrs().GetPcrs() {
		if idx > 31 || len(d) != sha256.Size {
			return nil, attest.Refuse(attest.ReasonMalformed, "TPM quote has a bad SHA-256 PCR %d", idx)
		}
	}
	return found, nil
}

// replayEventLog replays the TCG event log's SHA-256 digests against the
// quoted PCRs. A PCR that no event names is not checked by the replay (the
// OS extends some, such as PCR 10 for IMA, outside the firmware log); its
// quoted value is still in the claims for the reference values to pin.
func replayEventLog(log []byte, pcrs *tpmpb.PCRs) error {
	if len(log) == 0 {
		return attest.Refuse(attest.ReasonEventLog, "TPM evidence carries no TCG event log")
	}
	mrs := make([]register.MR, 0, len(pcrs.GetPcrs()))
	for idx, d := range pcrs.GetPcrs() {
		mrs = append(mrs, register.PCR{Index: int(idx), Digest: d, DigestAlg: crypto.SHA256})
	}
	if _, err := tcg.ParseAndReplay(log, mrs, tcg.ParseOpts{}); err != nil {
		return attest.Refuse(attest.ReasonEventLog, "TCG event log does not replay to the quoted PCRs: %v", err)
	}
	return nil
}

// WrapResponse makes payload readable only by the TPM that holds the EK of
// the evidence, when the claims trust the AK through that EK's certificate:
// it makes a credential for (EK, AK name) carrying a fresh secret and
// encrypts payload under it. The TPM releases the secret only when the AK
// with that name is loaded beside the EK, which proves the AK lives in the
// certified TPM. For a registered AK, payload is returned unchanged.
// evidence must be the evidence that produced claims.
func (v *Validator) WrapResponse(claims *attest.Claims, evidence []byte, payload []byte) ([]byte, error) {
	if claims == nil || claims.Variant != attest.VariantTPM || claims.TPM == nil {
		return nil, fmt.Errorf("tpm: wrapping a response needs claims of the tpm variant")
	}
	switch claims.TPM.AKTrust {
	case AKTrustRegistered:
		if isWrapped(payload) {
			return nil, fmt.Errorf("tpm: a plain response may not start like a wrapped one")
		}
		return payload, nil
	case AKTrustEKChain:
	default:
		return nil, fmt.Errorf("tpm: unknown AK trust %q", claims.TPM.AKTrust)
	}

	ev, err := parseEvidence(evidence)
	if err != nil {
		return nil, err
	}
	if ev.ekCert == nil {
		return nil, fmt.Errorf("tpm: evidence has no EK certificate to wrap the response for")
	}
	ek, err := x509.ParseCertificate(ev.ekCert)
	if err != nil {
		return nil, fmt.Errorf("tpm: parsing EK certificate: %w", err)
	}
	ekPKIX, err := x509.MarshalPKIXPublicKey(ek.PublicKey)
	if err != nil {
		return nil, fmt.Errorf("tpm: encoding EK key: %w", err)
	}
	// The claims name the EK they trusted; wrapping for any other EK would
	// release the response to a TPM that was never verified.
	if subtle.ConstantTimeCompare([]byte(hexSHA256(ekPKIX)), []byte(claims.HardwareID)) != 1 {
		return nil, fmt.Errorf("tpm: evidence is not the one these claims were made from")
	}
	ak, err := tpm2.DecodePublic(ev.att.GetAkPub())
	if err != nil {
		return nil, fmt.Errorf("tpm: decoding AK: %w", err)
	}
	name, err := ak.Name()
	if err != nil {
		return nil, fmt.Errorf("tpm: computing AK name: %w", err)
	}

	secret := make([]byte, secretSize)
	nonce := make([]byte, 12)
	rand.Read(secret)
	rand.Read(nonce)
	// The TCG default EK templates (RSA 2048, ECC P-256) use AES-128.
	credBlob, encSecret, err := credactivation.Generate(name.Digest, ek.PublicKey, 16, secret)
	if err != nil {
		return nil, fmt.Errorf("tpm: making credential for the EK: %w", err)
	}
	out, err := sealResponse(secret, credBlob, encSecret, nonce, payload)
	clear(secret)
	if err != nil {
		return nil, fmt.Errorf("tpm: sealing response: %w", err)
	}
	return out, nil
}

func hexSHA256(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}
