package policies

import (
	"io/fs"
	"path"
	"strings"
	"testing"

	"github.com/hoheit/hoheit/internal/rules"
)

// TestGoldenCases runs every rule's golden cases through the engine, as
// `hoheit policy test` does, so that a rule whose check no longer gives the
// verdicts its cases want fails here, beside the rule.
func TestGoldenCases(t *testing.T) {
	c, err := rules.NewCompiler(0)
	if err != nil {
		t.Fatal(err)
	}
	for _, pack := range Packs {
		rs, err := rules.LoadFS(FS, pack, pack)
		if err != nil {
			t.Fatalf("loading %s: %v", pack, err)
		}
		set, err := c.Compile(rs)
		if err != nil {
			t.Fatalf("compiling %s: %v", pack, err)
		}
		for _, r := range rs {
			file := path.Join(pack, "testdata", strings.ToLower(r.ID)+".yaml")
			data, err := fs.ReadFile(FS, file)
			if err != nil {
				continue // TestPackShape reports missing case files
			}
			cf, err := rules.ParseCases(file, data)
			if err != nil {
				t.Errorf("%v", err)
				continue
			}
			for _, res := range set.RunCases(cf) {
				if !res.OK() {
					t.Errorf("%s:%d: %s %q: want %s, got %s %s", res.File, res.Line, res.Rule, res.Case, res.Want, res.Got, res.Problem)
				}
			}
		}
	}
}
