// Package attest holds what every attestation variant shares: the binding of
// a server nonce and the agent's public keys into the hardware report, the
// evidence Issuer (agent side) and Validator (server side) interfaces, the
// claims a validator extracts, refusals with a stable reason, and a registry
// of variants. The variants live in the sub-packages tpm, snp, tdx and
// insecure. The server, the agent and refvalues import this package; it
// imports nothing of hoheit's.
package attest

import (
	"context"
	"crypto/sha512"
	"encoding/binary"
	"errors"
	"fmt"
	"sort"
	"sync"
)

// Variant names, as they appear in configuration, evidence and audit entries.
const (
	VariantTPM      = "tpm"
	VariantSNP      = "sev-snp"
	VariantTDX      = "tdx"
	VariantInsecure = "insecure"
)

// NonceSize is the length of a server nonce in bytes.
const NonceSize = 32

// bindingLabel separates hoheit's report data from any other use of the same
// hardware report. Changing it invalidates every evidence in flight.
const bindingLabel = "hoheit attestation binding v1"

// Binding is what evidence must bind: the server's fresh nonce and the
// agent's public keys.
type Binding struct {
	// Nonce is the single-use server nonce (NonceSize bytes).
	Nonce []byte
	// HPKEPublicKey is the agent's HPKE (ML-KEM-768 + X25519) public key;
	// every secret the server releases is sealed to it.
	HPKEPublicKey []byte
	// CertPublicKey is the PKIX DER encoding of the key the agent's node
	// certificate will certify.
	CertPublicKey []byte
	// WireGuardPublicKey is the agent's 32-byte WireGuard public key.
	WireGuardPublicKey []byte
}

// ReportData returns the 64 bytes placed in the hardware report (SNP
// REPORT_DATA, TDX REPORTDATA; the TPM quote's extraData takes the first 32):
// SHA-512 over the label and each field, length-prefixed, in the order of the
// struct. Length prefixes make the encoding unambiguous.
func (b Binding) ReportData() [64]byte {
	h := sha512.New()
	var n [4]byte
	write := func(p []byte) {
		binary.BigEndian.PutUint32(n[:], uint32(len(p)))
		h.Write(n[:])
		h.Write(p)
	}
	write([]byte(bindingLabel))
	write(b.Nonce)
	write(b.HPKEPublicKey)
	write(b.CertPublicKey)
	write(b.WireGuardPublicKey)
	var out [64]byte
	copy(out[:], h.Sum(nil))
	return out
}

// Issuer produces evidence on the agent's machine.
type Issuer interface {
	Variant() string
	// Issue returns the variant's evidence, encoded, whose hardware report
	// carries reportData.
	Issue(ctx context.Context, reportData [64]byte) ([]byte, error)
}

// Validator checks evidence on the server.
type Validator interface {
	Variant() string
	// Validate checks the evidence's authenticity (signatures, certificate
	// chains to trusted roots, event log replay) and that it carries
	// reportData, and returns what it measured. Every failure is a *Refusal.
	// Comparing the claims with reference values is refvalues' job.
	Validate(ctx context.Context, evidence []byte, reportData [64]byte) (*Claims, error)
}

// Claims are the measured, verified facts of one evidence.
type Claims struct {
	Variant string `json:"variant"`
	// HardwareID identifies the attesting hardware where the variant has
	// such an identity (TPM: SHA-256 of the attestation key's public area
	// or EK; SNP: chip id), hex. Empty where there is none.
	HardwareID string     `json:"hardware_id,omitempty"`
	TPM        *TPMClaims `json:"tpm,omitempty"`
	SNP        *SNPClaims `json:"sev_snp,omitempty"`
	TDX        *TDXClaims `json:"tdx,omitempty"`
	// Insecure is set for the insecure variant: nothing was measured.
	Insecure bool `json:"insecure,omitempty"`
}

// TPMClaims are the facts of a TPM quote whose event log replayed.
type TPMClaims struct {
	// PCRs are the quoted SHA-256 PCR values by index.
	PCRs map[uint32][]byte `json:"pcrs"`
	// AKTrust says how the attestation key was trusted: "ek-chain" or
	// "registered".
	AKTrust string `json:"ak_trust"`
}

// SNPClaims are the facts of a verified SEV-SNP attestation report.
type SNPClaims struct {
	Measurement []byte `json:"measurement"`
	HostData    []byte `json:"host_data"`
	// Policy is the raw guest policy; Debug is its debug bit.
	Policy uint64 `json:"policy"`
	Debug  bool   `json:"debug"`
	VMPL   uint32 `json:"vmpl"`
	// ReportedTCB is the raw TCB_VERSION the report's signature covers.
	ReportedTCB uint64 `json:"reported_tcb"`
	GuestSVN    uint32 `json:"guest_svn"`
	FamilyID    []byte `json:"family_id"`
	ImageID     []byte `json:"image_id"`
	ChipID      []byte `json:"chip_id"`
	// Signer is "vcek" or "vlek".
	Signer string `json:"signer"`
}

// TDXClaims are the facts of a verified TDX quote v4.
type TDXClaims struct {
	MRTD         []byte   `json:"mrtd"`
	RTMRs        [][]byte `json:"rtmrs"`
	TDAttributes []byte   `json:"td_attributes"`
	// Debug is the TD attributes' DEBUG bit.
	Debug      bool   `json:"debug"`
	XFAM       []byte `json:"xfam"`
	MRSEAM     []byte `json:"mr_seam"`
	TEETCBSVN  []byte `json:"tee_tcb_svn"`
	MRConfigID []byte `json:"mr_config_id"`
	MROwner    []byte `json:"mr_owner"`
}

// Refusal reasons. They are stable: they appear in API responses and in the
// audit log, and operators alert on them.
const (
	ReasonMalformed         = "evidence-malformed"
	ReasonSignature         = "signature-invalid"
	ReasonChain             = "certificate-chain-invalid"
	ReasonReportData        = "report-data-mismatch"
	ReasonEventLog          = "event-log-invalid"
	ReasonUntrustedKey      = "attestation-key-untrusted"
	ReasonCollateral        = "collateral-missing"
	ReasonVariantNotAllowed = "variant-not-allowed"
	ReasonMeasurement       = "measurement-mismatch"
	ReasonDebug             = "debug-enabled"
	ReasonTCB               = "tcb-below-minimum"
	ReasonNonceUnknown      = "nonce-unknown"
	ReasonNonceReplayed     = "nonce-replayed"
	ReasonNonceExpired      = "nonce-expired"
	ReasonRefValues         = "reference-values-invalid"
	ReasonClass             = "class-mismatch"
	ReasonIdentity          = "identity-mismatch"
	ReasonRevoked           = "node-revoked"
	ReasonForbidden         = "forbidden"
)

// Refusal is a verification failure with a stable reason and a detail that
// says what differed. It never carries secrets.
type Refusal struct {
	Reason string
	Detail string
}

func (r *Refusal) Error() string {
	if r.Detail == "" {
		return r.Reason
	}
	return r.Reason + ": " + r.Detail
}

// Refuse returns a *Refusal.
func Refuse(reason, format string, args ...any) error {
	return &Refusal{Reason: reason, Detail: fmt.Sprintf(format, args...)}
}

// ReasonOf returns the reason of the first Refusal in err's chain, or
// "internal" when there is none.
func ReasonOf(err error) string {
	var r *Refusal
	if errors.As(err, &r) {
		return r.Reason
	}
	return "internal"
}

// Registry maps variant names to validators.
type Registry struct {
	mu sync.RWMutex
	v  map[string]Validator
}

// Register adds a validator; a second one for the same variant replaces the first.
func (r *Registry) Register(v Validator) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.v == nil {
		r.v = map[string]Validator{}
	}
	r.v[v.Variant()] = v
}

// Validator returns the validator for variant, or a refusal when the
// variant is not registered (not built in, or not allowed by configuration).
func (r *Registry) Validator(variant string) (Validator, error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	v, ok := r.v[variant]
	if !ok {
		return nil, Refuse(ReasonVariantNotAllowed, "attestation variant %q is not allowed by this server (allowed: %v)", variant, r.variantsLocked())
	}
	return v, nil
}

// Variants lists the registered variants, sorted.
func (r *Registry) Variants() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.variantsLocked()
}

func (r *Registry) variantsLocked() []string {
	out := make([]string, 0, len(r.v))
	for k := range r.v {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// ResponseWrapper is implemented by validators whose trust in the attesting
// key completes only when the hardware itself opens the server's response:
// a TPM attestation key trusted through its EK certificate is bound to the
// EK by credential activation. The server wraps the whole join response
// (certificate and sealed keys) with WrapResponse; only the TPM that holds
// the EK can unwrap it. A validator returns payload unchanged when the
// claims need no wrapping.
type ResponseWrapper interface {
	WrapResponse(claims *Claims, evidence []byte, payload []byte) ([]byte, error)
}

// ResponseUnwrapper is the agent side of ResponseWrapper.
type ResponseUnwrapper interface {
	UnwrapResponse(ctx context.Context, wrapped []byte) ([]byte, error)
}
