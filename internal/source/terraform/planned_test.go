package terraform

import (
	"slices"
	"testing"
)

func TestPlannedIndexFind(t *testing.T) {
	var x plannedIndex
	for i, a := range []string{"a.x", "b.x", "c.x", "b.x", "d.x"} {
		x.add(plannedPos{address: a, seq: i})
	}
	// Asked in order, out of order, again, and for what is not there;
	// want is the seq found, -1 for none, or either of two for an address
	// listed twice.
	tests := []struct {
		address string
		want    []int
	}{
		{"a.x", []int{0}},
		{"b.x", []int{1, 3}},
		{"d.x", []int{4}}, // out of order: the map
		{"c.x", []int{2}},
		{"b.x", []int{1, 3}},
		{"e.x", []int{-1}},
		{"a.x", []int{0}},
		{"c.x", []int{2}},
		{"b.x", []int{1, 3}}, // in order again after a lookup in the map
		{"d.x", []int{4}},
	}
	for i, tt := range tests {
		pos, ok := x.find(tt.address)
		got := -1
		if ok {
			got = pos.seq
			if pos.address != tt.address {
				t.Fatalf("%d: find(%q) returned %q", i, tt.address, pos.address)
			}
		}
		if !slices.Contains(tt.want, got) {
			t.Errorf("%d: find(%q) = %d, want one of %v", i, tt.address, got, tt.want)
		}
	}
}
