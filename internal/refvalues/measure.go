package refvalues

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"slices"

	"github.com/hoheit/hoheit/internal/attest"
)

// pcrMeaning says what the usual PCRs measure (TCG PC Client profile), for
// the comments of a draft.
var pcrMeaning = map[uint32]string{
	0:  "firmware code (SRTM, BIOS/UEFI)",
	1:  "firmware configuration",
	2:  "option ROM code",
	3:  "option ROM configuration",
	4:  "boot loader code (shim, GRUB, systemd-boot) and boot attempts",
	5:  "boot loader configuration, GPT",
	6:  "platform manufacturer specific",
	7:  "Secure Boot state and keys (PK, KEK, db, dbx)",
	8:  "GRUB commands / kernel command line",
	9:  "GRUB: files read (kernel, initrd)",
	11: "unified kernel image (systemd-stub)",
	12: "kernel command line (systemd-stub)",
	14: "shim MOK certificates",
}

// Measure drafts a reference-values file for class from a known-good node's
// verified claims: every measured field enforced, debug allowed only if the
// node runs with it. The draft parses; review it before signing.
func Measure(class string, c *attest.Claims) ([]byte, error) {
	if !ValidClass(class) {
		return nil, fmt.Errorf("class %q is not a valid class name (lower-case letters, digits, inner hyphens, at most 63)", class)
	}
	if c == nil {
		return nil, fmt.Errorf("no claims")
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "# Reference values for node class %q, drafted by 'hoheit refvalues measure'\n", class)
	b.WriteString("# from one known-good node's verified claims. Review every value, remove what\n")
	b.WriteString("# you do not want to pin, mark fields warn-only with {value: ..., enforce: false},\n")
	b.WriteString("# raise revision on every change, then: hoheit refvalues sign FILE --key owner.key\n")
	b.WriteString("# Format: docs/refvalues.md\n")
	fmt.Fprintf(&b, "apiVersion: %s\nkind: %s\nclass: %s\nrevision: 1\n", APIVersion, Kind, class)

	switch {
	case c.Insecure || c.Variant == attest.VariantInsecure:
		b.WriteString("# The node used the insecure variant: nothing was measured. For development\n")
		b.WriteString("# only; never sign this for a class that holds real data.\n")
		b.WriteString("insecure:\n  allowed: true\n")
	case c.Variant == attest.VariantTPM && c.TPM != nil:
		measureTPM(&b, c.TPM)
	case c.Variant == attest.VariantSNP && c.SNP != nil:
		measureSNP(&b, c.SNP)
	case c.Variant == attest.VariantTDX && c.TDX != nil:
		measureTDX(&b, c.TDX)
	default:
		return nil, fmt.Errorf("the claims of variant %q carry no measurements to draft from", c.Variant)
	}
	if _, err := Parse(b.Bytes()); err != nil {
		return nil, fmt.Errorf("the claims do not make valid reference values: %w", err)
	}
	return b.Bytes(), nil
}

func measureTPM(b *bytes.Buffer, c *attest.TPMClaims) {
	b.WriteString("tpm:\n")
	if c.AKTrust != "" {
		fmt.Fprintf(b, "  # how the node's attestation key was trusted: ek-chain or registered\n  ak_trust: %s\n", c.AKTrust)
	}
	b.WriteString("  # SHA-256 PCR values. PCRs that change on every boot or update of\n")
	b.WriteString("  # unrelated software are better removed or made warn-only.\n")
	b.WriteString("  pcrs:\n")
	idx := make([]uint32, 0, len(c.PCRs))
	for i := range c.PCRs {
		idx = append(idx, i)
	}
	slices.Sort(idx)
	for _, i := range idx {
		if m, ok := pcrMeaning[i]; ok {
			fmt.Fprintf(b, "    # %s\n", m)
		}
		fmt.Fprintf(b, "    %d: %s\n", i, hex.EncodeToString(c.PCRs[i]))
	}
}

func measureSNP(b *bytes.Buffer, c *attest.SNPClaims) {
	tcb := DecomposeTCB(c.ReportedTCB)
	b.WriteString("sev_snp:\n")
	b.WriteString("  # launch measurement of the initial guest memory (firmware, kernel, ...)\n")
	fmt.Fprintf(b, "  measurement: %s\n", hex.EncodeToString(c.Measurement))
	b.WriteString("  # data the host provided at launch\n")
	fmt.Fprintf(b, "  host_data: %s\n", hex.EncodeToString(c.HostData))
	fmt.Fprintf(b, "  family_id: %s\n  image_id: %s\n", hex.EncodeToString(c.FamilyID), hex.EncodeToString(c.ImageID))
	b.WriteString("  # guest policy: bit 19 allows debugging, bit 16 SMT, bit 17 must be 1\n")
	fmt.Fprintf(b, "  policy: 0x%x\n", c.Policy)
	fmt.Fprintf(b, "  vmpl: %d\n", c.VMPL)
	b.WriteString("  # lowest TCB accepted, per component (Milan/Genoa layout); the node reported\n")
	fmt.Fprintf(b, "  # 0x%016x. Raise it when AMD publishes a security update.\n", c.ReportedTCB)
	fmt.Fprintf(b, "  minimum_tcb: {bootloader: %d, tee: %d, snp: %d, microcode: %d}\n", tcb.Bootloader, tcb.TEE, tcb.SNP, tcb.Microcode)
	fmt.Fprintf(b, "  minimum_guest_svn: %d\n", c.GuestSVN)
	debug := c.Debug || c.Policy&snpPolicyDebug != 0
	if debug {
		b.WriteString("  # WARNING: this node runs with debugging allowed: the host can read its\n")
		b.WriteString("  # memory. Set false (or remove) for any class that holds real data.\n")
	}
	fmt.Fprintf(b, "  allow_debug: %t\n", debug)
}

func measureTDX(b *bytes.Buffer, c *attest.TDXClaims) {
	b.WriteString("tdx:\n")
	b.WriteString("  # measurement of the initial TD (virtual firmware)\n")
	fmt.Fprintf(b, "  mrtd: %s\n", hex.EncodeToString(c.MRTD))
	if len(c.RTMRs) > 0 {
		b.WriteString("  # runtime measurements: 0 firmware configuration, 1 OS loader and kernel,\n")
		b.WriteString("  # 2 kernel command line and initrd, 3 reserved for the OS\n")
		b.WriteString("  rtmrs:\n")
		for i, r := range c.RTMRs {
			if i > 3 {
				break
			}
			fmt.Fprintf(b, "    %d: %s\n", i, hex.EncodeToString(r))
		}
	}
	for _, f := range []struct {
		name string
		v    []byte
		n    int
	}{{"td_attributes", c.TDAttributes, 8}, {"xfam", c.XFAM, 8}, {"mr_seam", c.MRSEAM, 48}, {"mr_config_id", c.MRConfigID, 48}, {"mr_owner", c.MROwner, 48}} {
		if len(f.v) == f.n {
			fmt.Fprintf(b, "  %s: %s\n", f.name, hex.EncodeToString(f.v))
		}
	}
	if len(c.TEETCBSVN) == 16 {
		b.WriteString("  # lowest TEE_TCB_SVN accepted, byte by byte\n")
		fmt.Fprintf(b, "  minimum_tee_tcb_svn: %s\n", hex.EncodeToString(c.TEETCBSVN))
	}
	debug := c.Debug || len(c.TDAttributes) > 0 && c.TDAttributes[0]&tdAttributesDebug != 0
	if debug {
		b.WriteString("  # WARNING: this TD runs with the DEBUG attribute: the host can read its\n")
		b.WriteString("  # memory. Set false (or remove) for any class that holds real data.\n")
	}
	fmt.Fprintf(b, "  allow_debug: %t\n", debug)
}
