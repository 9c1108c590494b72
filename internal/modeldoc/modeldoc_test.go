package modeldoc

import (
	"bytes"
	"flag"
	"os"
	"testing"
)

var update = flag.Bool("update", false, "rewrite docs/model.md")

const docPath = "../../docs/model.md"

// TestModelDoc keeps docs/model.md equal to what the schema says.
func TestModelDoc(t *testing.T) {
	got := Render()
	if *update {
		if err := os.WriteFile(docPath, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(docPath)
	if err != nil {
		t.Fatalf("%v (run go test ./internal/modeldoc -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("docs/model.md is out of date: run go test ./internal/modeldoc -update")
	}
	for _, s := range []string{"## object_storage.bucket", "`encryption.at_rest.key_manager`", "`rules[].from_internet`"} {
		if !bytes.Contains(got, []byte(s)) {
			t.Errorf("model doc lacks %q", s)
		}
	}
}
