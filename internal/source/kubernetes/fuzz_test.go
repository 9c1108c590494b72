package kubernetes

import (
	"encoding/json"
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
