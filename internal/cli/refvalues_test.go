package cli

import (
	"crypto"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hoheit/hoheit/internal/refvalues"
)

const exampleDir = "../../examples/refvalues"

// TestRefvaluesWorkflow runs keygen, measure, check, sign and verify as an
// owner would, then breaks the file and the key.
func TestRefvaluesWorkflow(t *testing.T) {
	for _, alg := range []string{"ed25519", "ecdsa-p256"} {
		t.Run(alg, func(t *testing.T) {
			dir := t.TempDir()
			owner := filepath.Join(dir, "owner")
			file := filepath.Join(dir, "web.yaml")
			claims := filepath.Join(exampleDir, "claims", "web-node.json")

			ok := func(wantOut string, args ...string) run {
				t.Helper()
				got := execute(t, nil, "", false, args...)
				if got.code != ExitOK || !strings.Contains(got.stdout+got.stderr, wantOut) {
					t.Fatalf("%v: exit %d, want 0 and %q\nstdout: %s\nstderr: %s", args, got.code, wantOut, got.stdout, got.stderr)
				}
				return got
			}
			fail := func(code int, wantErr string, args ...string) {
				t.Helper()
				got := execute(t, nil, "", false, args...)
				if got.code != code || !strings.Contains(got.stdout+got.stderr, wantErr) {
					t.Fatalf("%v: exit %d, want %d and %q\nstdout: %s\nstderr: %s", args, got.code, code, wantErr, got.stdout, got.stderr)
				}
			}

			ok("key id sha256:", "refvalues", "keygen", "--alg", alg, "--out", owner)
			if fi, err := os.Stat(owner + ".key"); err != nil || fi.Mode().Perm() != 0o600 {
				t.Fatalf("private key mode: %v %v", fi.Mode(), err)
			}
			fail(ExitUsage, "exists; use --force", "refvalues", "keygen", "--alg", alg, "--out", owner)

			ok("review it", "refvalues", "measure", claims, "--class", "web", "-o", file)
			ok("accepted: class web", "refvalues", "check", file, "--claims", claims)
			fail(ExitFindings, "unsigned", "refvalues", "verify", file, "--key", owner+".pub")
			fail(ExitFindings, "unsigned", "refvalues", "check", file, "--claims", claims, "--key", owner+".pub")

			ok("signed "+file, "refvalues", "sign", file, "--key", owner+".key")
			ok("ok: "+file+" (class web, revision 1) signed by sha256:", "refvalues", "verify", file, "--key", owner+".pub")
			ok("accepted", "refvalues", "check", file, "--claims", claims, "--key", owner+".pub")

			// Another owner's key: untrusted. Several trusted keys: fine.
			ok("", "refvalues", "keygen", "--out", filepath.Join(dir, "other"))
			fail(ExitFindings, refvalues.ProblemUntrustedKey, "refvalues", "verify", file, "--key", filepath.Join(dir, "other.pub"))
			ok("ok: ", "refvalues", "verify", file, "--key", filepath.Join(dir, "other.pub"), "--key", owner+".pub")

			// Edited after signing.
			data, _ := os.ReadFile(file)
			write(t, file, strings.Replace(string(data), "revision: 1", "revision: 2", 1))
			fail(ExitFindings, "changed after it was signed", "refvalues", "verify", file, "--key", owner+".pub")

			// The right file under the wrong class name.
			ok("", "refvalues", "sign", file, "--key", owner+".key")
			renamed := filepath.Join(dir, "db.yaml")
			copyFile(t, file, renamed)
			copyFile(t, file+".sig", renamed+".sig")
			fail(ExitFindings, `declares class "web"`, "refvalues", "verify", renamed, "--key", owner+".pub")
		})
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	data, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	write(t, to, string(data))
}

func TestRefvaluesMeasureStdin(t *testing.T) {
	claims, err := os.ReadFile(filepath.Join(exampleDir, "claims", "confidential-node.json"))
	if err != nil {
		t.Fatal(err)
	}
	got := execute(t, nil, string(claims), false, "refvalues", "measure", "-", "--class", "confidential")
	if got.code != ExitOK || !strings.Contains(got.stdout, "sev_snp:") || !strings.Contains(got.stdout, "allow_debug: false") {
		t.Fatalf("exit %d\n%s%s", got.code, got.stdout, got.stderr)
	}
	if _, err := refvalues.Parse([]byte(got.stdout)); err != nil {
		t.Fatalf("draft does not parse: %v", err)
	}
}

func TestRefvaluesCheckRefusal(t *testing.T) {
	got := execute(t, nil, "", false, "refvalues", "check", filepath.Join(exampleDir, "confidential.yaml"),
		"--claims", filepath.Join(exampleDir, "claims", "web-node.json"))
	if got.code != ExitFindings || !strings.Contains(got.stdout, "refused: reference-values-invalid") {
		t.Fatalf("exit %d\n%s%s", got.code, got.stdout, got.stderr)
	}
}

// The committed examples verify with the example key, so they never drift.
func TestRefvaluesExamplesVerify(t *testing.T) {
	for _, class := range []string{"web", "confidential"} {
		got := execute(t, nil, "", false, "refvalues", "verify", filepath.Join(exampleDir, class+".yaml"),
			"--key", filepath.Join(exampleDir, "example-owner-DO-NOT-USE.pub"))
		if got.code != ExitOK {
			t.Errorf("%s: exit %d: %s", class, got.code, got.stderr)
		}
		got = execute(t, nil, "", false, "refvalues", "check", filepath.Join(exampleDir, class+".yaml"),
			"--claims", filepath.Join(exampleDir, "claims", map[string]string{"web": "web-node.json", "confidential": "confidential-node.json"}[class]))
		if got.code != ExitOK {
			t.Errorf("%s check: exit %d: %s%s", class, got.code, got.stdout, got.stderr)
		}
	}
	s, errs := refvalues.Load(exampleDir, mustKeys(t, filepath.Join(exampleDir, "example-owner-DO-NOT-USE.pub")))
	if len(errs) != 0 || strings.Join(s.Classes(), ",") != "confidential,web" {
		t.Fatalf("loading the example directory: %v %v", s.Classes(), errs)
	}
}

func mustKeys(t *testing.T, file string) []crypto.PublicKey {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	keys, err := refvalues.ParsePublicKeys(data)
	if err != nil {
		t.Fatal(err)
	}
	return keys
}

func TestRefvaluesUsage(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	write(t, bad, "apiVersion: hoheit/v1\nkind: ReferenceValues\nclass: bad\ntpm:\n  pcrz: {}\n")
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"refvalues", "keygen"}, "--out NAME is required"},
		{[]string{"refvalues", "keygen", "--out", filepath.Join(dir, "k"), "--alg", "rsa"}, "--alg must be"},
		{[]string{"refvalues", "sign", bad}, "--key KEY is required"},
		{[]string{"refvalues", "sign", bad, "--key", "nope.key"}, "line 5: field pcrz not found in tpm"},
		{[]string{"refvalues", "verify", bad}, "--key PUB is required"},
		{[]string{"refvalues", "measure", "nope.json"}, "--class NAME is required"},
		{[]string{"refvalues", "measure", bad, "--class", "x"}, "not attestation claims JSON"},
		{[]string{"refvalues", "measure", filepath.Join(exampleDir, "claims", "web-node.json"), "--class", "Web"}, "not a valid class name"},
		{[]string{"refvalues", "check", bad}, "--claims CLAIMS.json is required"},
	}
	for _, tt := range tests {
		got := execute(t, nil, "", false, tt.args...)
		if got.code != ExitUsage || !strings.Contains(got.stderr, tt.want) {
			t.Errorf("%v: exit %d, stderr %q, want 2 and %q", tt.args, got.code, got.stderr, tt.want)
		}
	}
}
