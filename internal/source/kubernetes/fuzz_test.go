package kubernetes

import (
	"encoding/json"
	"fmt"
	"reflect"
	"testing"

	"github.com/hoheit/hoheit/internal/inventory"
)

// FuzzParse feeds arbitrary bytes to the manifest reader. It must never
// panic, and what it accepts must be valid normalized resources.
func FuzzParse(f *testing.F) {
	f.Add([]byte("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: c, image: i}]}\n"))
	f.Add([]byte(`{"apiVersion":"v1","kind":"List","items":[{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"d"}}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		e, err := Parse("fuzz.yaml", data)
		if err != nil {
			return
		}
		e.Finalize()
		for _, r := range e.Resources {
			if _, ok := inventory.Schemas[r.Type]; !ok {
				t.Fatalf("resource %s has unknown type %q", r.Address, r.Type)
			}
			if r.Provider != Provider || r.ID == "" {
				t.Fatalf("resource %+v lacks provider or id", r)
			}
			if _, err := json.Marshal(r.Attrs); err != nil {
				t.Fatalf("attributes of %s do not marshal: %v", r.Address, err)
			}
		}
	})
}

// FuzzSplit checks that cutting a YAML stream at its "---" lines to parse
// the parts in parallel yields what parsing it whole does.
func FuzzSplit(f *testing.F) {
	f.Add([]byte("a: 1\n---\nb: [2]\n--- |\n  text\n...\nc: 3\n"))
	f.Add([]byte("a: |\n  x\n---\n---\n# c\n--- {b: 1}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		type doc struct {
			V     string
			Line  int
			Items []int
		}
		var split []doc
		d := &decoder{file: "f", maxDepth: DefaultMaxDepth}
		errSplit := d.decodeYAML(data, func(v any, line int, items []int) error {
			split = append(split, doc{fmt.Sprint(v), line, items})
			return nil
		})
		whole := (&decoder{file: "f", maxDepth: DefaultMaxDepth, budget: 2*len(data) + 1024}).parseChunk(data)
		if (errSplit == nil) != (whole.err == nil) {
			t.Fatalf("split: %v; whole: %v", errSplit, whole.err)
		}
		if errSplit != nil {
			return
		}
		if len(split) != len(whole.docs) {
			t.Fatalf("split into %d documents, whole %d", len(split), len(whole.docs))
		}
		for i, w := range whole.docs {
			if got := (doc{fmt.Sprint(w.v), w.line, w.itemLines}); !reflect.DeepEqual(got, split[i]) {
				t.Fatalf("document %d: split %+v, whole %+v", i, split[i], got)
			}
		}
	})
}
