package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestServerCheckConfig(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	os.WriteFile(bad, []byte("trust_domain: \"Bad Domain\"\nkeys: {backend: vault}\nattestation: {allow: [tpm, magic]}\n"), 0o600)
	typo := filepath.Join(t.TempDir(), "typo.yaml")
	os.WriteFile(typo, []byte("trust_domian: x\n"), 0o600)
	tests := []struct {
		name     string
		args     []string
		code     int
		contains []string
	}{
		{"the reference example is valid", []string{"server", "--config", "../../examples/server.yaml", "--check-config"}, 0,
			[]string{"configuration is valid", "2 classes", "confidential, web"}},
		{"every problem at once", []string{"server", "--config", bad, "--check-config"}, 2,
			[]string{"trust_domain", "data_dir: required", `keys.backend "vault"`, `unknown variant "magic"`, "set ek_roots or registered_aks"}},
		{"a misspelt key", []string{"server", "--config", typo, "--check-config"}, 2, []string{"trust_domian"}},
		{"neither --config nor --dev", []string{"server"}, 2, []string{"--dev"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := run(t, "", tt.args...)
			if code != tt.code {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tt.code, stdout, stderr)
			}
			for _, c := range tt.contains {
				if !strings.Contains(stdout+stderr, c) {
					t.Errorf("output does not mention %q:\n%s%s", c, stdout, stderr)
				}
			}
		})
	}
}
