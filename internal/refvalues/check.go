package refvalues

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/hoheit/hoheit/internal/attest"
)

// Check compares verified claims with the set's reference values. It checks
// the section for the claims' variant (which must exist) and any other
// section the claims also carry. A mismatch in an enforced field refuses
// the node: err is an *attest.Refusal whose reason is that of the first
// failure (debug, then TCB, then measurements) and whose detail names every
// failing field with what was expected and what was measured. A mismatch
// in a warn-only field adds a warning instead. Insecure claims are refused
// unless the set has insecure: {allowed: true}.
func (s *Set) Check(c *attest.Claims) (warnings []string, err error) {
	if c == nil {
		return nil, attest.Refuse(attest.ReasonMalformed, "no claims")
	}
	if c.Insecure || c.Variant == attest.VariantInsecure {
		if s.Insecure == nil || !s.Insecure.Allowed {
			return nil, attest.Refuse(attest.ReasonVariantNotAllowed,
				"class %q does not accept the insecure variant (its reference values lack insecure: {allowed: true})", s.Class)
		}
		return []string{fmt.Sprintf("class %q accepted insecure evidence: nothing was measured", s.Class)}, nil
	}
	var missing bool
	switch c.Variant {
	case attest.VariantTPM:
		missing = s.TPM == nil
		if c.TPM == nil {
			return nil, attest.Refuse(attest.ReasonMalformed, "tpm claims carry no TPM measurements")
		}
	case attest.VariantSNP:
		missing = s.SNP == nil
		if c.SNP == nil {
			return nil, attest.Refuse(attest.ReasonMalformed, "sev-snp claims carry no SNP report")
		}
	case attest.VariantTDX:
		missing = s.TDX == nil
		if c.TDX == nil {
			return nil, attest.Refuse(attest.ReasonMalformed, "tdx claims carry no TDX quote")
		}
	default:
		missing = true
	}
	if missing {
		return nil, attest.Refuse(attest.ReasonRefValues, "class %q has no reference values for attestation variant %q", s.Class, c.Variant)
	}

	ch := &checker{}
	if s.TPM != nil && c.TPM != nil {
		s.TPM.check(ch, c.TPM)
	}
	if s.SNP != nil && c.SNP != nil {
		s.SNP.check(ch, c.SNP)
	}
	if s.TDX != nil && c.TDX != nil {
		s.TDX.check(ch, c.TDX)
	}
	for i := range ch.warnings {
		ch.warnings[i] = fmt.Sprintf("class %q: %s", s.Class, ch.warnings[i])
	}
	if len(ch.failures) == 0 {
		return ch.warnings, nil
	}
	details := make([]string, len(ch.failures))
	for i, f := range ch.failures {
		details[i] = f.detail
	}
	return ch.warnings, attest.Refuse(ch.failures[0].reason, "class %q: %s", s.Class, strings.Join(details, "; "))
}

type failure struct{ reason, detail string }

type checker struct {
	warnings []string
	failures []failure
}

func (ch *checker) fail(reason string, enforce bool, format string, args ...any) {
	detail := fmt.Sprintf(format, args...)
	if enforce {
		ch.failures = append(ch.failures, failure{reason, detail})
		return
	}
	ch.warnings = append(ch.warnings, detail+" (warn-only)")
}

func wantHex(vs []Hex) string {
	if len(vs) == 1 {
		return vs[0].String()
	}
	s := make([]string, len(vs))
	for i, v := range vs {
		s[i] = v.String()
	}
	return "one of [" + strings.Join(s, ", ") + "]"
}

func want[T uint64 | uint32 | string](vs []T, format string) string {
	s := make([]string, len(vs))
	for i, v := range vs {
		s[i] = fmt.Sprintf(format, v)
	}
	if len(s) == 1 {
		return s[0]
	}
	return "one of [" + strings.Join(s, ", ") + "]"
}

func (ch *checker) hex(reason, name string, f *Field[Hex], got []byte) {
	if f == nil {
		return
	}
	for _, v := range f.Values {
		if bytes.Equal(v, got) {
			return
		}
	}
	if len(got) == 0 {
		ch.fail(reason, f.Enforce, "%s: not measured, want %s", name, wantHex(f.Values))
		return
	}
	ch.fail(reason, f.Enforce, "%s: got %s, want %s", name, hex.EncodeToString(got), wantHex(f.Values))
}

func matchValue[T uint64 | uint32 | string](ch *checker, reason, name, format string, f *Field[T], got T) {
	if f == nil {
		return
	}
	for _, v := range f.Values {
		if v == got {
			return
		}
	}
	ch.fail(reason, f.Enforce, "%s: got "+format+", want %s", name, got, want(f.Values, format))
}

func (t *TPM) check(ch *checker, c *attest.TPMClaims) {
	matchValue(ch, attest.ReasonUntrustedKey, "tpm ak_trust", "%s", t.AKTrust, c.AKTrust)
	for _, i := range sortedKeys(t.PCRs) {
		ch.hex(attest.ReasonMeasurement, fmt.Sprintf("tpm pcrs[%d]", i), t.PCRs[i], c.PCRs[i])
	}
}

// snpPolicyDebug is bit 19 of the SEV-SNP guest policy.
const snpPolicyDebug = 1 << 19

func (s *SNP) check(ch *checker, c *attest.SNPClaims) {
	if (c.Debug || c.Policy&snpPolicyDebug != 0) && !s.AllowDebug {
		ch.fail(attest.ReasonDebug, true, "sev_snp: the guest policy allows debugging (policy 0x%x) and allow_debug is not set", c.Policy)
	}
	if m := s.MinimumTCB; m != nil {
		got := DecomposeTCB(c.ReportedTCB)
		var low []string
		for _, p := range []struct {
			name      string
			got, want uint8
		}{{"bootloader", got.Bootloader, m.Bootloader}, {"tee", got.TEE, m.TEE}, {"snp", got.SNP, m.SNP}, {"microcode", got.Microcode, m.Microcode}} {
			if p.got < p.want {
				low = append(low, fmt.Sprintf("%s %d below minimum %d", p.name, p.got, p.want))
			}
		}
		if len(low) > 0 {
			ch.fail(attest.ReasonTCB, m.Enforce, "sev_snp reported TCB 0x%016x: %s", c.ReportedTCB, strings.Join(low, ", "))
		}
	}
	if f := s.MinimumGuestSVN; f != nil && c.GuestSVN < f.Values[0] {
		ch.fail(attest.ReasonTCB, f.Enforce, "sev_snp guest_svn %d below minimum %d", c.GuestSVN, f.Values[0])
	}
	ch.hex(attest.ReasonMeasurement, "sev_snp measurement", s.Measurement, c.Measurement)
	ch.hex(attest.ReasonMeasurement, "sev_snp host_data", s.HostData, c.HostData)
	ch.hex(attest.ReasonMeasurement, "sev_snp family_id", s.FamilyID, c.FamilyID)
	ch.hex(attest.ReasonMeasurement, "sev_snp image_id", s.ImageID, c.ImageID)
	matchValue(ch, attest.ReasonMeasurement, "sev_snp policy", "0x%x", s.Policy, c.Policy)
	matchValue(ch, attest.ReasonMeasurement, "sev_snp vmpl", "%d", s.VMPL, c.VMPL)
	matchValue(ch, attest.ReasonMeasurement, "sev_snp signer", "%s", s.Signer, c.Signer)
}

// TCBParts are the components of an SEV-SNP TCB_VERSION that reference
// values constrain.
type TCBParts struct {
	Bootloader, TEE, SNP, Microcode uint8
}

// DecomposeTCB splits a raw TCB_VERSION in the Milan/Genoa layout, as
// go-sev-guest's kds.DecomposeTCBVersion does.
func DecomposeTCB(tcb uint64) TCBParts {
	return TCBParts{
		Bootloader: uint8(tcb),
		TEE:        uint8(tcb >> 8),
		SNP:        uint8(tcb >> 48),
		Microcode:  uint8(tcb >> 56),
	}
}

// tdAttributesDebug is bit 0 of TD_ATTRIBUTES (TUD.DEBUG).
const tdAttributesDebug = 1

func (t *TDX) check(ch *checker, c *attest.TDXClaims) {
	if (c.Debug || len(c.TDAttributes) > 0 && c.TDAttributes[0]&tdAttributesDebug != 0) && !t.AllowDebug {
		ch.fail(attest.ReasonDebug, true, "tdx: the TD has the DEBUG attribute and allow_debug is not set")
	}
	if f := t.MinimumTEETCBSVN; f != nil {
		min := f.Values[0]
		var low []string
		for i := range min {
			var got byte
			if i < len(c.TEETCBSVN) {
				got = c.TEETCBSVN[i]
			}
			if got < min[i] {
				low = append(low, fmt.Sprintf("byte %d: %d below minimum %d", i, got, min[i]))
			}
		}
		if len(low) > 0 {
			ch.fail(attest.ReasonTCB, f.Enforce, "tdx tee_tcb_svn %s: %s", hex.EncodeToString(c.TEETCBSVN), strings.Join(low, ", "))
		}
	}
	ch.hex(attest.ReasonMeasurement, "tdx mrtd", t.MRTD, c.MRTD)
	for _, i := range sortedKeys(t.RTMRs) {
		var got []byte
		if int(i) < len(c.RTMRs) {
			got = c.RTMRs[i]
		}
		ch.hex(attest.ReasonMeasurement, fmt.Sprintf("tdx rtmrs[%d]", i), t.RTMRs[i], got)
	}
	ch.hex(attest.ReasonMeasurement, "tdx td_attributes", t.TDAttributes, c.TDAttributes)
	ch.hex(attest.ReasonMeasurement, "tdx xfam", t.XFAM, c.XFAM)
	ch.hex(attest.ReasonMeasurement, "tdx mr_seam", t.MRSEAM, c.MRSEAM)
	ch.hex(attest.ReasonMeasurement, "tdx mr_config_id", t.MRConfigID, c.MRConfigID)
	ch.hex(attest.ReasonMeasurement, "tdx mr_owner", t.MROwner, c.MROwner)
}
