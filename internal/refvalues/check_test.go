package refvalues

import (
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hoheit/hoheit/internal/attest"
)

var update = flag.Bool("update", false, "rewrite golden files")

func readSet(t testing.TB, name string) *Set {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "sets", name+".yaml"))
	if err != nil {
		t.Fatal(err)
	}
	s, err := Parse(data)
	if err != nil {
		t.Fatalf("sets/%s.yaml: %v", name, err)
	}
	return s
}

func readClaims(t testing.TB, name string) *attest.Claims {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "claims", name+".json"))
	if err != nil {
		t.Fatal(err)
	}
	var c attest.Claims
	if err := json.Unmarshal(data, &c); err != nil {
		t.Fatalf("claims/%s.json: %v", name, err)
	}
	return &c
}

// golden compares got with testdata/DIR/NAME.golden, or rewrites it with -update.
func golden(t *testing.T, path, got string) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs:\n--- got\n%s--- want\n%s", path, got, want)
	}
}

// renderCheck writes a check's outcome as the golden files hold it.
func renderCheck(warnings []string, err error) string {
	var b strings.Builder
	for _, w := range warnings {
		b.WriteString("warning: " + w + "\n")
	}
	if err == nil {
		b.WriteString("accepted\n")
		return b.String()
	}
	var r *attest.Refusal
	if !errors.As(err, &r) {
		b.WriteString("ERROR (not a refusal): " + err.Error() + "\n")
		return b.String()
	}
	b.WriteString("refused: " + r.Reason + "\n")
	b.WriteString("detail: " + r.Detail + "\n")
	return b.String()
}

func TestCheck(t *testing.T) {
	tests := []struct {
		name, set, claims string
		reason            string // "" accepted
	}{
		// tpm
		{"tpm-accepted", "web", "tpm-web", ""},
		{"tpm-pcr-differs", "web", "tpm-web-pcr7-differs", attest.ReasonMeasurement},
		{"tpm-pcr-missing", "web", "tpm-web-pcr4-missing", attest.ReasonMeasurement},
		{"tpm-warn-only-pcr-differs", "web", "tpm-web-pcr8-differs", ""},
		{"tpm-ak-trust", "web", "tpm-web-registered", attest.ReasonUntrustedKey},
		{"class-a-evidence-for-class-b", "db", "tpm-web", attest.ReasonMeasurement},
		{"tpm-no-measurements", "web", "tpm-no-measurements", attest.ReasonMalformed},
		// sev-snp
		{"snp-accepted", "snp", "snp", ""},
		{"snp-debug", "snp", "snp-debug", attest.ReasonDebug},
		{"snp-debug-allowed", "snp-debug", "snp-debug", ""},
		{"snp-tcb-below-minimum", "snp", "snp-tcb-low", attest.ReasonTCB},
		{"snp-tcb-all-below", "snp", "snp-tcb-all-low", attest.ReasonTCB},
		{"snp-tcb-warn-only", "snp-warn", "snp-tcb-low", ""},
		{"snp-guest-svn", "snp", "snp-guest-svn-low", attest.ReasonTCB},
		{"snp-guest-svn-warn-only", "snp-warn", "snp-guest-svn-low", ""},
		{"snp-measurement-differs", "snp", "snp-measurement-differs", attest.ReasonMeasurement},
		{"snp-vmpl", "snp", "snp-vmpl2", attest.ReasonMeasurement},
		{"snp-vmpl-warn-only", "snp-warn", "snp-vmpl2", ""},
		// tdx
		{"tdx-accepted", "tdx", "tdx", ""},
		{"tdx-debug", "tdx", "tdx-debug", attest.ReasonDebug},
		{"tdx-rtmr-differs", "tdx", "tdx-rtmr2-differs", attest.ReasonMeasurement},
		{"tdx-mrtd-differs", "tdx", "tdx-mrtd-differs", attest.ReasonMeasurement},
		{"tdx-tcb-below-minimum", "tdx", "tdx-tcb-low", attest.ReasonTCB},
		// variants
		{"no-section-for-variant", "web", "snp", attest.ReasonRefValues},
		{"unknown-variant", "web", "variant-unknown", attest.ReasonRefValues},
		{"insecure-refused", "web", "insecure", attest.ReasonVariantNotAllowed},
		{"insecure-allowed", "dev", "insecure", ""},
		{"insecure-set-refuses-tpm", "dev", "tpm-web", attest.ReasonRefValues},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			warnings, err := readSet(t, tt.set).Check(readClaims(t, tt.claims))
			if got := reasonOrEmpty(err); got != tt.reason {
				t.Errorf("reason %q, want %q (err: %v)", got, tt.reason, err)
			}
			golden(t, filepath.Join("testdata", "check", tt.name+".golden"), renderCheck(warnings, err))
		})
	}
}

func reasonOrEmpty(err error) string {
	if err == nil {
		return ""
	}
	return attest.ReasonOf(err)
}

func TestCheckNilClaims(t *testing.T) {
	if _, err := readSet(t, "web").Check(nil); attest.ReasonOf(err) != attest.ReasonMalformed {
		t.Fatalf("nil claims: %v", err)
	}
}

// The debug bit of the policy refuses even when the validator did not set Debug.
func TestCheckDebugFromPolicyBit(t *testing.T) {
	c := readClaims(t, "snp")
	c.SNP.Policy |= snpPolicyDebug
	if _, err := readSet(t, "snp").Check(c); attest.ReasonOf(err) != attest.ReasonDebug {
		t.Fatalf("policy bit 19 without Debug: %v", err)
	}
}

func TestMeasureRoundTrip(t *testing.T) {
	for _, name := range []string{"tpm-web", "tpm-db", "snp", "snp-debug", "tdx", "tdx-debug", "insecure"} {
		t.Run(name, func(t *testing.T) {
			c := readClaims(t, name)
			data, err := Measure("node-class", c)
			if err != nil {
				t.Fatal(err)
			}
			s, err := Parse(data)
			if err != nil {
				t.Fatalf("draft does not parse: %v\n%s", err, data)
			}
			if s.Class != "node-class" {
				t.Errorf("class %q", s.Class)
			}
			warnings, err := s.Check(c)
			if err != nil {
				t.Fatalf("draft refuses the node it was measured from: %v\n%s", err, data)
			}
			if name != "insecure" && len(warnings) != 0 {
				t.Errorf("warnings: %v", warnings)
			}
		})
	}
	// Every field of a draft is enforced.
	s, err := Parse(must(Measure("x", readClaims(t, "tdx"))))
	if err != nil {
		t.Fatal(err)
	}
	c := readClaims(t, "tdx")
	c.TDX.MROwner = make([]byte, 48)
	c.TDX.MROwner[0] = 1
	if _, err := s.Check(c); attest.ReasonOf(err) != attest.ReasonMeasurement {
		t.Errorf("draft does not enforce mr_owner: %v", err)
	}
}

func must(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}

func TestMeasureRefuses(t *testing.T) {
	if _, err := Measure("Bad Class", readClaims(t, "snp")); err == nil {
		t.Error("invalid class name accepted")
	}
	if _, err := Measure("x", readClaims(t, "tpm-no-measurements")); err == nil {
		t.Error("claims without measurements accepted")
	}
	c := readClaims(t, "snp")
	c.SNP.Measurement = c.SNP.Measurement[:10]
	if _, err := Measure("x", c); err == nil {
		t.Error("short measurement accepted")
	}
}

// TestParseErrors runs every testdata/parse/*.yaml and compares Parse's
// error with its .golden file.
func TestParseErrors(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "parse", "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no parse cases: %v", err)
	}
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".yaml")
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			_, err = Parse(data)
			got := "ok\n"
			if err != nil {
				got = "error: " + err.Error() + "\n"
			}
			if strings.HasPrefix(name, "ok-") != (err == nil) {
				t.Errorf("%s: got %s", name, got)
			}
			golden(t, strings.TrimSuffix(f, ".yaml")+".golden", got)
		})
	}
}

func TestParseWarnOnlyField(t *testing.T) {
	s := readSet(t, "web")
	f := s.TPM.PCRs[8]
	if f.Enforce || len(f.Values) != 2 {
		t.Fatalf("pcrs[8] = %+v, want two values, warn-only", f)
	}
	if !s.TPM.PCRs[0].Enforce {
		t.Fatal("pcrs[0] not enforced by default")
	}
}
