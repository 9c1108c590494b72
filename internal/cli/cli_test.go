package cli

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/hoheit/hoheit/internal/inventory"
	"github.com/hoheit/hoheit/internal/rules"
)

// packFS is a one-rule pack, so these tests do not depend on the shipped packs.
var packFS = fstest.MapFS{
	"base/bucket-cmk.yaml": {Data: []byte(`id: T-CMK
title: Buckets use customer keys
severity: high
types: [object_storage.bucket]
check: resource.encryption.at_rest.key_manager in ["customer", "external"]
frameworks: {bsi-c5: [CRY-03]}
`)},
	"base/testdata/t-cmk.yaml": {Data: []byte(`rule: T-CMK
cases:
  - {name: ok, want: pass, resource: {type: object_storage.bucket, attributes: {encryption: {at_rest: {key_manager: customer}}}}}
  - {name: bad, want: fail, resource: {type: object_storage.bucket}}
`)},
}

type run struct {
	code           int
	stdout, stderr string
}

func execute(t *testing.T, estate *inventory.Estate, stdin string, terminal bool, args ...string) run {
	t.Helper()
	var out, errb bytes.Buffer
	d := Deps{
		ReadEstate: func(ctx context.Context, paths []string, _ ReadOptions) (*inventory.Estate, error) {
			if estate == nil {
				return nil, fmt.Errorf("no inputs could be read")
			}
			estate.Finalize()
			return estate, nil
		},
		WriteReport: func(_ context.Context, w io.Writer, format string, res *rules.Result, _ ReportOptions) error {
			for _, f := range res.Findings {
				fmt.Fprintf(w, "%s %s %s\n", f.Status, f.Rule.ID, f.Resource.ID)
			}
			return nil
		},
		Formats:    []string{"table", "json"},
		Packs:      packFS,
		PackNames:  []string{"base"},
		Version:    "test",
		Stdin:      strings.NewReader(stdin),
		Stdout:     &out,
		Stderr:     &errb,
		IsTerminal: func(any) bool { return terminal },
		Now:        func() time.Time { return time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC) },
	}
	code := Execute(context.Background(), d, args)
	return run{code, out.String(), errb.String()}
}

func estateWith(keyManager string, inputErr string) *inventory.Estate {
	r := &inventory.Resource{Provider: "aws", Region: "eu-central-1", Type: "object_storage.bucket", ID: "b1", Address: "aws_s3_bucket.b1"}
	r.Set("encryption.at_rest.key_manager", keyManager)
	e := &inventory.Estate{Resources: []*inventory.Resource{r}, Inputs: []inventory.Input{{Path: "plan.json", Kind: "terraform-plan", Resources: 1}}}
	if inputErr != "" {
		e.Inputs = append(e.Inputs, inventory.Input{Path: "bad.json", Error: inputErr})
	}
	return e
}

func TestScanExitCodes(t *testing.T) {
	tests := []struct {
		name     string
		estate   *inventory.Estate
		args     []string
		want     int
		contains string
	}{
		{"finding at fail-on", estateWith("provider", ""), []string{"scan", "x"}, ExitFindings, "fail T-CMK b1"},
		{"finding below fail-on", estateWith("provider", ""), []string{"scan", "x", "--fail-on", "critical"}, ExitOK, "fail T-CMK b1"},
		{"compliant", estateWith("customer", ""), []string{"scan", "x"}, ExitOK, ""},
		{"failed input wins", estateWith("customer", "bad.json:3: invalid character"), []string{"scan", "x"}, ExitUsage, "bad.json:3"},
		{"nothing readable", nil, []string{"scan", "x"}, ExitUsage, "no inputs could be read"},
		{"unknown format", estateWith("customer", ""), []string{"scan", "x", "--format", "pdf"}, ExitUsage, `unknown format "pdf"`},
		{"bad fail-on", estateWith("customer", ""), []string{"scan", "x", "--fail-on", "urgent"}, ExitUsage, "unknown severity"},
		{"no path", estateWith("customer", ""), []string{"scan"}, ExitUsage, "requires at least 1 arg"},
		{"unknown flag", estateWith("customer", ""), []string{"scan", "x", "--nope"}, ExitUsage, "unknown flag"},
		{"unknown pack", estateWith("customer", ""), []string{"scan", "x", "--pack", "pci"}, ExitUsage, `unknown pack "pci"`},
		// The rules compile while the inputs are read; their error is the
		// one reported.
		{"rules fail before inputs", nil, []string{"scan", "x", "--pack", "pci"}, ExitUsage, `unknown pack "pci"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := execute(t, tt.estate, "", false, tt.args...)
			if got.code != tt.want {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", got.code, tt.want, got.stdout, got.stderr)
			}
			if !strings.Contains(got.stdout+got.stderr, tt.contains) {
				t.Errorf("output lacks %q\nstdout: %s\nstderr: %s", tt.contains, got.stdout, got.stderr)
			}
			if strings.Contains(got.stderr, "goroutine") || strings.Contains(got.stderr, "panic") {
				t.Errorf("stack trace reached the user: %s", got.stderr)
			}
		})
	}
}

func TestScanExceptions(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "x.yaml")
	write(t, file, "exceptions:\n  - rule: T-*\n    resources: {id: b*}\n    justification: accepted\n    owner: isb\n    expires: 2027-01-31\n")
	got := execute(t, estateWith("provider", ""), "", false, "scan", "x", "--exceptions", file)
	if got.code != ExitOK || !strings.Contains(got.stdout, "suppressed T-CMK b1") {
		t.Fatalf("exit %d, stdout %q, want the finding suppressed and exit 0", got.code, got.stdout)
	}
	write(t, file, "exceptions:\n  - rule: T-*\n    owner: isb\n")
	got = execute(t, estateWith("provider", ""), "", false, "scan", "x", "--exceptions", file)
	if got.code != ExitUsage || !strings.Contains(got.stderr, "missing expires, justification") {
		t.Fatalf("exit %d, stderr %q, want a usage error naming the missing fields", got.code, got.stderr)
	}
}

func TestPolicyNewFlagsThenTest(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "our-rules")
	got := execute(t, nil, "", false, "policy", "new", "--dir", dir, "--id", "ORG-1", "--title", "t", "--severity", "high",
		"--type", "compute.instance", "--check", `resource.confidential_computing in ["sev-snp", "tdx"]`, "--framework", "bsi-c5=CRY-01,CRY-03")
	if got.code != ExitOK {
		t.Fatalf("policy new: exit %d: %s", got.code, got.stderr)
	}
	got = execute(t, nil, "", false, "policy", "test", dir, "-v")
	if got.code != ExitOK || !strings.Contains(got.stdout, "2 passed, 0 failed") {
		t.Fatalf("policy test of the generated rule: exit %d\n%s%s", got.code, got.stdout, got.stderr)
	}
	// A case that lies must fail the test.
	cases := filepath.Join(dir, "testdata", "org-1.yaml")
	data, err := os.ReadFile(cases)
	if err != nil {
		t.Fatal(err)
	}
	write(t, cases, strings.Replace(string(data), "want: pass", "want: fail", 1))
	got = execute(t, nil, "", false, "policy", "test", dir)
	if got.code != ExitFindings || !strings.Contains(got.stdout, "want fail, got pass") {
		t.Fatalf("policy test with a wrong case: exit %d\n%s", got.code, got.stdout)
	}
}

func TestPolicyNewErrors(t *testing.T) {
	dir := t.TempDir()
	got := execute(t, nil, "", false, "policy", "new", "--dir", dir, "--id", "X")
	if got.code != ExitUsage || !strings.Contains(got.stderr, "missing --check, --severity, --title, --type") {
		t.Fatalf("exit %d, stderr %q", got.code, got.stderr)
	}
	got = execute(t, nil, "", false, "policy", "new", "--dir", dir, "--id", "X", "--title", "t", "--severity", "low",
		"--type", "object_storage.bucket", "--check", "resource.encrypted")
	if got.code != ExitUsage || !strings.Contains(got.stderr, "did you mean 'encryption.at_rest.enabled'?") {
		t.Fatalf("exit %d, stderr %q", got.code, got.stderr)
	}
}

func TestPolicyNewInteractive(t *testing.T) {
	dir := t.TempDir()
	answers := strings.Join([]string{
		"9bad id", "ORG-2", // id refused, then accepted
		"Disks are encrypted", "", // title, severity default high
		"compute.dsk", "compute.disk", // type refused, then accepted
		"resource.encrypted", "resource.encryption.at_rest.enabled", // check with a typo, then right
		"CRY-03", "", // C5, no GDPR
	}, "\n") + "\n"
	got := execute(t, nil, answers, true, "policy", "new", "--dir", dir)
	if got.code != ExitOK {
		t.Fatalf("exit %d\nstdout: %s\nstderr: %s", got.code, got.stdout, got.stderr)
	}
	for _, want := range []string{"rule id \"9bad id\"", `unknown type "compute.dsk"`, "did you mean 'encryption.at_rest.enabled'?"} {
		if !strings.Contains(got.stderr, want) {
			t.Errorf("prompts lack %q:\n%s", want, got.stderr)
		}
	}
	rule, err := os.ReadFile(filepath.Join(dir, "org-2.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"severity: high", "- CRY-03", "check: resource.encryption.at_rest.enabled"} {
		if !strings.Contains(string(rule), want) {
			t.Errorf("rule file lacks %q:\n%s", want, rule)
		}
	}
}

func TestPolicyListShowTest(t *testing.T) {
	got := execute(t, nil, "", false, "policy", "list")
	if got.code != ExitOK || !strings.Contains(got.stdout, "T-CMK") || !strings.Contains(got.stdout, "bsi-c5:CRY-03") {
		t.Fatalf("list: exit %d\n%s%s", got.code, got.stdout, got.stderr)
	}
	got = execute(t, nil, "", false, "policy", "show", "t-cmk")
	if got.code != ExitOK || !strings.Contains(got.stdout, "check: resource.encryption.at_rest.key_manager") {
		t.Fatalf("show: exit %d\n%s%s", got.code, got.stdout, got.stderr)
	}
	got = execute(t, nil, "", false, "policy", "show", "nope")
	if got.code != ExitUsage {
		t.Fatalf("show nope: exit %d, want %d", got.code, ExitUsage)
	}
	got = execute(t, nil, "", false, "policy", "test")
	if got.code != ExitOK || !strings.Contains(got.stdout, "2 passed, 0 failed") {
		t.Fatalf("test: exit %d\n%s", got.code, got.stdout)
	}
}

func write(t *testing.T, path, data string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}
