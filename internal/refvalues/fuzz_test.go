package refvalues

import (
	"os"
	"path/filepath"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/hoheit/hoheit/internal/attest"
)

// FuzzParse feeds arbitrary bytes to the loader's parser: it must never
// panic, and what it accepts must check claims without panicking and parse
// again after marshalling.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "sets", "*.yaml"))
	for _, file := range files {
		if data, err := os.ReadFile(file); err == nil {
			f.Add(data)
		}
	}
	var cs []*attest.Claims
	for _, name := range []string{"tpm-web", "snp", "snp-debug", "tdx", "tdx-debug", "insecure", "variant-unknown"} {
		cs = append(cs, readClaims(f, name))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := Parse(data)
		if err != nil {
			return
		}
		if !ValidClass(s.Class) {
			t.Fatalf("accepted class %q", s.Class)
		}
		for _, c := range cs {
			_, _ = s.Check(c)
		}
		out, err := yaml.Marshal(s)
		if err != nil {
			t.Fatalf("marshal: %v", err)
		}
		if _, err := Parse(out); err != nil {
			t.Fatalf("marshalled set does not parse: %v\n%s", err, out)
		}
	})
}
