package terraform

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/hoheit/hoheit/internal/inventory"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// TestParseGolden parses every testdata/*.plan.json and *.state.json and
// compares the estate with the .golden.json beside it. The goldens leave
// out each resource's native values (they repeat the input) and show
// everything the reader derived.
func TestParseGolden(t *testing.T) {
	inputs, err := filepath.Glob("testdata/*.plan.json")
	if err != nil {
		t.Fatal(err)
	}
	states, _ := filepath.Glob("testdata/*.state.json")
	inputs = append(inputs, states...)
	if len(inputs) == 0 {
		t.Fatal("no test inputs in testdata/")
	}
	for _, in := range inputs {
		name := strings.TrimSuffix(filepath.Base(in), ".json")
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(in)
			if err != nil {
				t.Fatal(err)
			}
			est, err := Parse(filepath.Base(in), data)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			for _, r := range est.Resources {
				if r.Native == nil && len(r.NativeJSON) == 0 {
					t.Errorf("%s: native values missing", r.Address)
				}
			}
			got := goldenView(t, est)
			golden := strings.TrimSuffix(in, ".json") + ".golden.json"
			if *update {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("reading golden (run go test -update to create it): %v", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("estate differs from %s (run go test ./internal/source/terraform -update and review the diff):\n%s", golden, lineDiff(string(want), string(got)))
			}
		})
	}
}

func goldenView(t *testing.T, est *inventory.Estate) []byte {
	t.Helper()
	view := *est
	view.Resources = make([]*inventory.Resource, len(est.Resources))
	for i, r := range est.Resources {
		c := *r
		c.Native, c.NativeJSON = nil, nil
		c.Unknown = slices.Sorted(slices.Values(r.Unknown))
		view.Resources[i] = &c
	}
	b, err := json.MarshalIndent(view, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return append(b, '\n')
}

// lineDiff shows the first lines where two texts differ.
func lineDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var b strings.Builder
	shown := 0
	for i := 0; i < max(len(w), len(g)) && shown < 20; i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			b.WriteString("line " + strconv.Itoa(i+1) + ":\n  want: " + wl + "\n  got:  " + gl + "\n")
			shown++
		}
	}
	return b.String()
}
