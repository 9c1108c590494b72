package terraform

import (
	"bytes"
	"math/rand/v2"
	"testing"
)

// TestLastIndex checks lastIndex against bytes.LastIndex, with matches at
// and across the edges of its chunks.
func TestLastIndex(t *testing.T) {
	key := []byte(`"configuration":`)
	r := rand.New(rand.NewPCG(3, 4))
	for n := 0; n < 200; n++ {
		data := bytes.Repeat([]byte("x"), r.IntN(3<<20))
		for range r.IntN(4) {
			if len(data) >= len(key) {
				at := r.IntN(len(data) - len(key) + 1)
				if r.IntN(2) == 0 {
					// Straddle a chunk boundary counted from the end.
					at = max(0, len(data)-(1<<20)-r.IntN(len(key)))
				}
				copy(data[at:], key)
			}
		}
		if got, want := lastIndex(data, key), bytes.LastIndex(data, key); got != want {
			t.Fatalf("len %d: lastIndex %d, bytes.LastIndex %d", len(data), got, want)
		}
	}
	if got := lastIndex(nil, key); got != -1 {
		t.Fatalf("lastIndex(nil) = %d", got)
	}
}
