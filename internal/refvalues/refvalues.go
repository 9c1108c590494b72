// Package refvalues holds the data owner's reference values: per node class,
// the measurements a node must show before the server releases anything to
// it. It parses the YAML format (docs/refvalues.md), checks verified
// attestation claims against it, drafts a file from a known-good node's
// claims (Measure), signs and verifies files with the owner's Ed25519 or
// ECDSA P-256 key, and loads and reloads a directory of signed files for the
// server (Store). The server and the CLI import it; it imports only attest.
package refvalues

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

// APIVersion and Kind identify a reference-values file.
const (
	APIVersion = "hoheit/v1"
	Kind       = "ReferenceValues"
)

// MaxFileSize bounds a reference-values file; real ones are a few KiB.
const MaxFileSize = 1 << 20

// Set is one class's reference values, as parsed from one file. A Set is not
// changed after Parse and may be shared between goroutines.
type Set struct {
	APIVersion string `yaml:"apiVersion"`
	Kind       string `yaml:"kind"`
	// Class is the node class the values are for; the file is CLASS.yaml.
	Class string `yaml:"class"`
	// Revision, when set, must grow with each signed change: a running
	// server refuses to replace a set by one with a lower revision.
	Revision    uint64 `yaml:"revision,omitempty"`
	Description string `yaml:"description,omitempty"`

	TPM      *TPM      `yaml:"tpm,omitempty"`
	SNP      *SNP      `yaml:"sev_snp,omitempty"`
	TDX      *TDX      `yaml:"tdx,omitempty"`
	Insecure *Insecure `yaml:"insecure,omitempty"`
}

// TPM holds the reference values of the tpm variant.
type TPM struct {
	// PCRs are SHA-256 PCR values by index (0-23).
	PCRs map[uint32]*Field[Hex] `yaml:"pcrs"`
	// AKTrust lists how the attestation key may be trusted: ek-chain,
	// registered.
	AKTrust *Field[string] `yaml:"ak_trust,omitempty"`
}

// SNP holds the reference values of the sev-snp variant.
type SNP struct {
	Measurement *Field[Hex]    `yaml:"measurement,omitempty"`
	HostData    *Field[Hex]    `yaml:"host_data,omitempty"`
	FamilyID    *Field[Hex]    `yaml:"family_id,omitempty"`
	ImageID     *Field[Hex]    `yaml:"image_id,omitempty"`
	Policy      *Field[uint64] `yaml:"policy,omitempty"`
	VMPL        *Field[uint32] `yaml:"vmpl,omitempty"`
	Signer      *Field[string] `yaml:"signer,omitempty"`
	// MinimumTCB is the lowest acceptable reported TCB, per component.
	MinimumTCB *TCB `yaml:"minimum_tcb,omitempty"`
	// MinimumGuestSVN is the lowest acceptable guest SVN (one value).
	MinimumGuestSVN *Field[uint32] `yaml:"minimum_guest_svn,omitempty"`
	// AllowDebug accepts guests whose policy allows debugging. Never set it
	// for production: a debuggable guest's memory is open to the host.
	AllowDebug bool `yaml:"allow_debug,omitempty"`
}

// TCB is a minimum SEV-SNP TCB_VERSION by component, in the Milan and Genoa
// layout (bootloader byte 0, TEE byte 1, SNP byte 6, microcode byte 7).
type TCB struct {
	Bootloader uint8 `yaml:"bootloader"`
	TEE        uint8 `yaml:"tee"`
	SNP        uint8 `yaml:"snp"`
	Microcode  uint8 `yaml:"microcode"`
	Enforce    bool  `yaml:"enforce"`
	Line       int   `yaml:"-"`
}

// UnmarshalYAML requires every component and defaults Enforce to true.
func (t *TCB) UnmarshalYAML(n *yaml.Node) error {
	if err := checkKeys(n, "minimum_tcb", "bootloader", "tee", "snp", "microcode", "enforce"); err != nil {
		return err
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		seen[n.Content[i].Value] = true
	}
	for _, k := range []string{"bootloader", "tee", "snp", "microcode"} {
		if !seen[k] {
			return fmt.Errorf("line %d: minimum_tcb needs bootloader, tee, snp and microcode (missing %s)", n.Line, k)
		}
	}
	type plain TCB
	p := plain{Enforce: true}
	if err := n.Decode(&p); err != nil {
		return fmt.Errorf("line %d: minimum_tcb: components are integers 0-255 (%s)", n.Line, innerLine.ReplaceAllString(cleanYAMLError(err), ""))
	}
	*t = TCB(p)
	t.Line = n.Line
	return nil
}

// TDX holds the reference values of the tdx variant.
type TDX struct {
	MRTD *Field[Hex] `yaml:"mrtd,omitempty"`
	// RTMRs by index (0-3).
	RTMRs        map[uint32]*Field[Hex] `yaml:"rtmrs,omitempty"`
	TDAttributes *Field[Hex]            `yaml:"td_attributes,omitempty"`
	XFAM         *Field[Hex]            `yaml:"xfam,omitempty"`
	MRSEAM       *Field[Hex]            `yaml:"mr_seam,omitempty"`
	MRConfigID   *Field[Hex]            `yaml:"mr_config_id,omitempty"`
	MROwner      *Field[Hex]            `yaml:"mr_owner,omitempty"`
	// MinimumTEETCBSVN is the lowest acceptable TEE_TCB_SVN (16 bytes),
	// compared byte by byte.
	MinimumTEETCBSVN *Field[Hex] `yaml:"minimum_tee_tcb_svn,omitempty"`
	// AllowDebug accepts TDs with the DEBUG attribute. Never for production.
	AllowDebug bool `yaml:"allow_debug,omitempty"`
}

// Insecure says whether the class accepts the insecure variant, which
// measures nothing. For development only.
type Insecure struct {
	Allowed bool `yaml:"allowed"`
}

var classPattern = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)

// ValidClass reports whether name can be a class name: lower-case letters,
// digits and inner hyphens, at most 63 characters (it names a file).
func ValidClass(name string) bool { return classPattern.MatchString(name) }

// Parse reads one reference-values file strictly: unknown fields, wrong
// lengths, unknown indices and empty sections are errors that name the line.
func Parse(data []byte) (*Set, error) {
	if len(data) > MaxFileSize {
		return nil, fmt.Errorf("reference values are %d bytes, more than the limit of %d", len(data), MaxFileSize)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var s Set
	if err := dec.Decode(&s); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errors.New("reference values are empty")
		}
		return nil, errors.New(cleanYAMLError(err))
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("line %d: a reference-values file holds one YAML document", extra.Line)
	}
	if err := s.validate(); err != nil {
		return nil, err
	}
	return &s, nil
}

var typeNames = strings.NewReplacer(
	"in type refvalues.Set", "at the top level",
	"in type refvalues.TPM", "in tpm",
	"in type refvalues.SNP", "in sev_snp",
	"in type refvalues.TDX", "in tdx",
	"in type refvalues.Insecure", "in insecure",
	"in type refvalues.plain", "in minimum_tcb",
	"into refvalues.Set", "into reference values (expected a mapping)",
)

var innerLine = regexp.MustCompile(`^line \d+: `)

func cleanYAMLError(err error) string {
	var te *yaml.TypeError
	if errors.As(err, &te) {
		return typeNames.Replace(strings.Join(te.Errors, "; "))
	}
	return strings.TrimPrefix(err.Error(), "yaml: ")
}

func (s *Set) validate() error {
	if s.APIVersion != APIVersion {
		return fmt.Errorf("apiVersion is %q, want %q", s.APIVersion, APIVersion)
	}
	if s.Kind != Kind {
		return fmt.Errorf("kind is %q, want %q", s.Kind, Kind)
	}
	if !ValidClass(s.Class) {
		return fmt.Errorf("class %q is not a valid class name (lower-case letters, digits, inner hyphens, at most 63)", s.Class)
	}
	if s.TPM == nil && s.SNP == nil && s.TDX == nil && s.Insecure == nil {
		return errors.New("no section: give tpm, sev_snp, tdx or insecure")
	}
	if s.TPM != nil {
		if err := s.TPM.validate(); err != nil {
			return sectionError("tpm", err)
		}
	}
	if s.SNP != nil {
		if err := s.SNP.validate(); err != nil {
			return sectionError("sev_snp", err)
		}
	}
	if s.TDX != nil {
		if err := s.TDX.validate(); err != nil {
			return sectionError("tdx", err)
		}
	}
	return nil
}

// sectionError names the section after the line number, if there is one.
func sectionError(section string, err error) error {
	msg := err.Error()
	if loc := innerLine.FindString(msg); loc != "" {
		return fmt.Errorf("%s%s: %s", loc, section, msg[len(loc):])
	}
	return fmt.Errorf("%s: %s", section, msg)
}

func checkLen(name string, f *Field[Hex], n int) error {
	if f == nil {
		return nil
	}
	for _, v := range f.Values {
		if len(v) != n {
			return fmt.Errorf("line %d: %s must be %d bytes (%d hex digits), got %d bytes", f.Line, name, n, 2*n, len(v))
		}
	}
	return nil
}

func checkOneOf[T uint32 | string](name string, f *Field[T], allowed ...T) error {
	if f == nil {
		return nil
	}
	for _, v := range f.Values {
		ok := false
		for _, a := range allowed {
			ok = ok || v == a
		}
		if !ok {
			return fmt.Errorf("line %d: %s %v is not one of %v", f.Line, name, v, allowed)
		}
	}
	return nil
}

func checkSingle[T Value](name string, f *Field[T]) error {
	if f != nil && len(f.Values) != 1 {
		return fmt.Errorf("line %d: %s is a minimum: give one value", f.Line, name)
	}
	return nil
}

func enforced[T Value](fs ...*Field[T]) bool {
	for _, f := range fs {
		if f != nil && f.Enforce {
			return true
		}
	}
	return false
}

func (t *TPM) validate() error {
	var some bool
	for _, i := range sortedKeys(t.PCRs) {
		f := t.PCRs[i]
		if f == nil {
			return fmt.Errorf("pcrs[%d] has no value", i)
		}
		if i > 23 {
			return fmt.Errorf("line %d: PCR index %d out of range 0-23", f.Line, i)
		}
		if err := checkLen(fmt.Sprintf("pcrs[%d] (SHA-256)", i), f, 32); err != nil {
			return err
		}
		some = some || f.Enforce
	}
	if !some {
		return errors.New("no enforced PCR: the section would accept any TPM; add pcrs (hoheit refvalues measure drafts them)")
	}
	return checkOneOf("ak_trust", t.AKTrust, "ek-chain", "registered")
}

func (s *SNP) validate() error {
	for _, c := range []struct {
		name string
		f    *Field[Hex]
		n    int
	}{{"measurement", s.Measurement, 48}, {"host_data", s.HostData, 32}, {"family_id", s.FamilyID, 16}, {"image_id", s.ImageID, 16}} {
		if err := checkLen(c.name, c.f, c.n); err != nil {
			return err
		}
	}
	if !enforced(s.Measurement, s.HostData, s.FamilyID, s.ImageID) {
		return errors.New("no enforced measurement, host_data, family_id or image_id: the section would accept any guest")
	}
	if err := checkOneOf("vmpl", s.VMPL, 0, 1, 2, 3); err != nil {
		return err
	}
	if err := checkOneOf("signer", s.Signer, "vcek", "vlek"); err != nil {
		return err
	}
	return checkSingle("minimum_guest_svn", s.MinimumGuestSVN)
}

func (t *TDX) validate() error {
	for _, c := range []struct {
		name string
		f    *Field[Hex]
		n    int
	}{{"mrtd", t.MRTD, 48}, {"td_attributes", t.TDAttributes, 8}, {"xfam", t.XFAM, 8}, {"mr_seam", t.MRSEAM, 48},
		{"mr_config_id", t.MRConfigID, 48}, {"mr_owner", t.MROwner, 48}, {"minimum_tee_tcb_svn", t.MinimumTEETCBSVN, 16}} {
		if err := checkLen(c.name, c.f, c.n); err != nil {
			return err
		}
	}
	some := enforced(t.MRTD)
	for _, i := range sortedKeys(t.RTMRs) {
		f := t.RTMRs[i]
		if f == nil {
			return fmt.Errorf("rtmrs[%d] has no value", i)
		}
		if i > 3 {
			return fmt.Errorf("line %d: RTMR index %d out of range 0-3", f.Line, i)
		}
		if err := checkLen(fmt.Sprintf("rtmrs[%d]", i), f, 48); err != nil {
			return err
		}
		some = some || f.Enforce
	}
	if !some {
		return errors.New("no enforced mrtd or rtmrs: the section would accept any TD")
	}
	return checkSingle("minimum_tee_tcb_svn", t.MinimumTEETCBSVN)
}

func sortedKeys[V any](m map[uint32]V) []uint32 {
	out := make([]uint32, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
