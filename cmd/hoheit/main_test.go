package main

import (
	"bytes"
	"context"
	"flag"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/hoheit/hoheit/internal/cli"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// run executes the CLI in-process with main's real wiring, a fixed clock and
// version, and the given stdin.
func run(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	d := deps()
	d.Stdin = strings.NewReader(stdin)
	d.Stdout, d.Stderr = &out, &errb
	d.Version = "test"
	d.Now = func() time.Time { return time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC) }
	code := cli.Execute(context.Background(), d, args)
	return code, out.String(), errb.String()
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := "testdata/" + name
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./cmd/hoheit -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file; if the change is intended, run go test ./cmd/hoheit -update and review the diff", path)
	}
}

// TestExampleEstate runs the README's first command: it must find the
// planted mistakes (exit 1), read every input, and give the same report
// every time.
func TestExampleEstate(t *testing.T) {
	code, out, stderr := run(t, "", "scan", "../../examples/estate", "--format", "csv")
	if code != cli.ExitFindings {
		t.Fatalf("exit %d, want %d (findings)\n%s", code, cli.ExitFindings, stderr)
	}
	if strings.Contains(stderr, "could not be read") {
		t.Fatalf("an example input failed: %s", stderr)
	}
	golden(t, "example-estate.csv", []byte(out))
	_, first, _ := run(t, "", "scan", "../../examples/estate", "--format", "json")
	_, again, _ := run(t, "", "scan", "../../examples/estate", "--format", "json")
	if again != first {
		t.Error("two scans of the same estate gave different reports")
	}
}

func TestStdinAndVersion(t *testing.T) {
	plan, err := os.ReadFile("../../examples/estate/aws/plan.json")
	if err != nil {
		t.Fatal(err)
	}
	code, out, stderr := run(t, string(plan), "scan", "-", "--format", "csv", "--fail-on", "none")
	if code != cli.ExitOK || !strings.Contains(out, "aws_s3_bucket.public_site") {
		t.Fatalf("scan -: exit %d\n%s\n%s", code, out, stderr)
	}
	code, out, _ = run(t, "", "version")
	if code != cli.ExitOK || !strings.HasPrefix(out, "hoheit test (go") {
		t.Fatalf("version: exit %d, %q", code, out)
	}
}

func TestMalformedInputNamesFileAndLine(t *testing.T) {
	dir := t.TempDir()
	good, err := os.ReadFile("../../examples/estate/aws/plan.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dir+"/good.json", good, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dir+"/broken.json", []byte("{\n  \"format_version\": \"1.2\",\n  \"planned_values\": {\n    \"root_module\": {,}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, stderr := run(t, "", "scan", dir, "--format", "json")
	if code != cli.ExitUsage {
		t.Fatalf("exit %d, want %d", code, cli.ExitUsage)
	}
	if !strings.Contains(stderr, "broken.json:4:") {
		t.Errorf("stderr does not name broken.json:4: %s", stderr)
	}
	if !strings.Contains(out, "aws_s3_bucket.public_site") || !strings.Contains(out, "broken.json") {
		t.Errorf("the good input was not scanned or the report does not name the failed one")
	}
	if strings.Contains(stderr, "goroutine ") {
		t.Errorf("stack trace reached the user")
	}
}

// TestNativeRuleOnPlan checks a rule that reads resource.native sees the
// provider's attributes of a Terraform plan's resources: a scan keeps them
// only for the types such a rule reads, and these are.
func TestNativeRuleOnPlan(t *testing.T) {
	dir := t.TempDir()
	rule := `id: T-NATIVE-BUCKET-NAME
title: Bucket names carry the agency prefix
description: test
severity: high
types: [object_storage.bucket]
check: resource.native.bucket.startsWith("lfd-buergerportal")
`
	if err := os.WriteFile(dir+"/rule.yaml", []byte(rule), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, stderr := run(t, "", "scan", "../../examples/estate/aws/plan.json", "--rules", dir, "--pack", "none", "--format", "csv")
	if code != cli.ExitFindings {
		t.Fatalf("exit %d, want %d\n%s\n%s", code, cli.ExitFindings, out, stderr)
	}
	// Every bucket but the portal's fails; none errs for a missing native.
	if strings.Contains(out, "aws_s3_bucket.public_site") || !strings.Contains(out, "aws_s3_bucket.records") || strings.Contains(out, ",error,") {
		t.Errorf("findings do not follow the native bucket names:\n%s", out)
	}
}
