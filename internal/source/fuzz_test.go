package source

import "testing"

// FuzzDetect feeds arbitrary bytes to content detection. It must never
// panic, and must agree with itself at any depth limit it does not hit.
func FuzzDetect(f *testing.F) {
	f.Add([]byte(`{"format_version":"1.2","planned_values":{}}`))
	f.Add([]byte("apiVersion: v1\nkind: Pod\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		kind, ok := Detect(data)
		if ok != (kind != "") {
			t.Fatalf("Detect = %q, %v", kind, ok)
		}
		if k, err := detect("fuzz", data, 1<<20); ok && (err != nil || k != kind) {
			t.Fatalf("detect with a higher limit = %q, %v; Detect = %q", k, err, kind)
		}
	})
}
