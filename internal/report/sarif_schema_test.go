//go:build integration

package report

import (
	"archive/tar"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The official SARIF 2.1.0 JSON schema (OASIS, revision rtm.5), as shipped
// in the npm package Microsoft's SARIF tooling publishes. npm is the one
// registry with a copy here; the hash pins the exact file.
const (
	sarifSchemaPackage = "@microsoft/jest-sarif@1.0.0-beta.0"
	sarifSchemaMember  = "package/lib/schemas/sarif-2.1.0-rtm.5.json"
	sarifSchemaSHA256  = "2d99159ae54a3eea97f81781cff48780548657c35949f4b7f25e99a2ba4de4f8"
)

// moduleRoot is the directory of go.mod, where .cache/ lives.
func moduleRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("go.mod not found above the test directory")
		}
		dir = parent
	}
}

// sarifSchemaFile returns the cached official schema, fetching it with npm
// into .cache/sarif/ on first use.
func sarifSchemaFile(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(moduleRoot(t), ".cache", "sarif")
	path := filepath.Join(dir, filepath.Base(sarifSchemaMember))
	if b, err := os.ReadFile(path); err == nil && sha256Hex(b) == sarifSchemaSHA256 {
		return path
	}
	npm, err := exec.LookPath("npm")
	if err != nil {
		t.Fatal("npm is needed once to fetch the SARIF schema: apt-get install -y npm (make test does)")
	}
	tmp := t.TempDir()
	cmd := exec.Command(npm, "pack", "--silent", "--pack-destination", tmp, sarifSchemaPackage)
	cmd.Dir = tmp
	out, err := cmd.Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			t.Fatalf("npm pack %s: %v\n%s", sarifSchemaPackage, err, ee.Stderr)
		}
		t.Fatalf("npm pack %s: %v", sarifSchemaPackage, err)
	}
	tgz := filepath.Join(tmp, strings.TrimSpace(lastLine(string(out))))
	b, err := extractMember(tgz, sarifSchemaMember)
	if err != nil {
		t.Fatalf("reading the SARIF schema from %s: %v", tgz, err)
	}
	if got := sha256Hex(b); got != sarifSchemaSHA256 {
		t.Fatalf("%s in %s has SHA-256 %s, want %s", sarifSchemaMember, sarifSchemaPackage, got, sarifSchemaSHA256)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	tmpFile := path + ".tmp"
	if err := os.WriteFile(tmpFile, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmpFile, path); err != nil {
		t.Fatal(err)
	}
	return path
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return s[i+1:]
	}
	return s
}

func sha256Hex(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

func extractMember(tgz, member string) ([]byte, error) {
	f, err := os.Open(tgz)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return nil, err
	}
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return nil, fmt.Errorf("%s not in the package", member)
		}
		if err != nil {
			return nil, err
		}
		if h.Name == member {
			return io.ReadAll(io.LimitReader(tr, 8<<20))
		}
	}
}

// TestSARIFMatchesOfficialSchema validates the sarif output against the
// OASIS SARIF 2.1.0 schema.
func TestSARIFMatchesOfficialSchema(t *testing.T) {
	s := compileSchema(t, sarifSchemaFile(t))
	for _, c := range goldenCases {
		t.Run(c.name, func(t *testing.T) {
			if err := validate(t, s, render(t, "sarif", c.res(), c.opts)); err != nil {
				t.Errorf("%v", err)
			}
		})
	}
	t.Run("catches a broken log", func(t *testing.T) {
		out := strings.Replace(string(render(t, "sarif", sampleResult(), testOptions)), `"kind": "fail"`, `"kind": "failed"`, 1)
		if err := validate(t, s, []byte(out)); err == nil {
			t.Error("the schema accepted an invalid result kind")
		}
	})
}
