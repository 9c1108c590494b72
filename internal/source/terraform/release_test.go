package terraform

import (
	"fmt"
	"testing"
)

// TestReleaser checks the file is released behind the workers: only up to
// the end of the last batch before which every batch is done, from the
// first batch's start, each byte once, whatever order batches finish in.
func TestReleaser(t *testing.T) {
	// Batch i covers [100+i*10, 110+i*10).
	tests := []struct {
		name  string
		min   int
		order []int
		want  []string
	}{
		{"in order", 0, []int{0, 1, 2}, []string{"100-110", "110-120", "120-130"}},
		{"last first", 0, []int{2, 1, 0}, []string{"100-130"}},
		{"gap", 0, []int{0, 2, 3, 1}, []string{"100-110", "110-140"}},
		{"first late", 0, []int{1, 0, 2}, []string{"100-120", "120-130"}},
		// At least 25 bytes at once; the rest stays mapped.
		{"in order, by 25", 25, []int{0, 1, 2, 3, 4, 5}, []string{"100-130", "130-160"}},
		{"gap, by 25", 25, []int{0, 2, 3, 1, 4}, []string{"100-140"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			r := &releaser{release: func(start, end int) { got = append(got, fmt.Sprintf("%d-%d", start, end)) }, done: map[int]int{}, min: tt.min}
			for _, seq := range tt.order {
				r.finished(job{seq: seq, start: 100 + seq*10, end: 110 + seq*10})
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("released %v, want %v", got, tt.want)
			}
			if len(r.done) != 0 {
				t.Errorf("%d batches still waiting", len(r.done))
			}
		})
	}
	var none releaser // no release function: nothing to do
	none.finished(job{seq: 0, end: 10})
}
