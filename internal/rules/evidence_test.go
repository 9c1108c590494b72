package rules

import (
	"bytes"
	"encoding/json"
	"testing"
)

// TestEvidenceJSON checks evidence is written byte for byte as a map of the
// same entries, by every encoder setting the reports use.
func TestEvidenceJSON(t *testing.T) {
	tests := []struct {
		name string
		m    map[string]any
	}{
		{"empty", map[string]any{}},
		{"scalars", map[string]any{"b": true, "a": "x", "n": int64(3), "f": 1.5, "nil": nil}},
		{"html", map[string]any{"a<b": "<script>&</script>", "z": []any{"&"}}},
		{"nested", map[string]any{"tags": map[string]string{"b": "2", "a": "1"}, "list": []any{map[string]any{"y": 1.0, "x": "\n"}}}},
		{"order", map[string]any{"encryption.at_rest.key_manager": "provider", "encryption.at_rest.enabled": true, "encryption": nil}},
	}
	encoders := map[string]func(v any) ([]byte, error){
		"Marshal":       json.Marshal,
		"MarshalIndent": func(v any) ([]byte, error) { return json.MarshalIndent(v, "", "  ") },
		"no HTML escape": func(v any) ([]byte, error) {
			var b bytes.Buffer
			enc := json.NewEncoder(&b)
			enc.SetEscapeHTML(false)
			err := enc.Encode(v)
			return b.Bytes(), err
		},
	}
	for _, tt := range tests {
		for name, encode := range encoders {
			t.Run(tt.name+"/"+name, func(t *testing.T) {
				want, err := encode(tt.m)
				if err != nil {
					t.Fatal(err)
				}
				got, err := encode(EvidenceOf(tt.m))
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got, want) {
					t.Errorf("got  %s\nwant %s", got, want)
				}
				if v, ok := EvidenceOf(tt.m).Get("a"); ok != (tt.m["a"] != nil) || ok && v != tt.m["a"] {
					t.Errorf("Get(a) = %v, %v", v, ok)
				}
			})
		}
	}
	if got, _ := json.Marshal(Evidence(nil)); string(got) != "{}" {
		t.Errorf("nil evidence = %s, want {}", got)
	}
	if got := EvidenceOf(map[string]any{"a": 1, "b": 2}).Map(); len(got) != 2 || got["b"] != 2 {
		t.Errorf("Map() = %v", got)
	}
}
