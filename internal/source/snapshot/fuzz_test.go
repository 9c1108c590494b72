package snapshot

import (
	"bytes"
	"testing"
)

// FuzzParse feeds arbitrary bytes to the snapshot reader. It must never
// panic, and a snapshot it accepts must survive Write and Parse again.
func FuzzParse(f *testing.F) {
	f.Add([]byte(`{"hoheit_snapshot":1,"resources":[{"provider":"aws","type":"compute.disk","id":"v","attributes":{"size_gb":1}}]}`))
	f.Add([]byte(`{"hoheit_snapshot":2}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		e, meta, err := Decode("fuzz.json", data)
		if err != nil {
			return
		}
		var buf bytes.Buffer
		if err := Write(&buf, e, meta); err != nil {
			t.Fatalf("Write of an accepted snapshot failed: %v", err)
		}
		e2, err := Parse("again.json", buf.Bytes())
		if err != nil {
			t.Fatalf("Parse of Write's output failed: %v\n%s", err, buf.Bytes())
		}
		if len(e2.Resources) != len(e.Resources) {
			t.Fatalf("%d resources after a round trip, want %d", len(e2.Resources), len(e.Resources))
		}
	})
}
