package position

import "testing"

func TestLines(t *testing.T) {
	l := NewLines([]byte("a\nbb\n\nccc\n"))
	for _, tt := range []struct{ off, want int }{{0, 1}, {1, 1}, {2, 2}, {5, 3}, {6, 4}, {100, 5}, {3, 2}} {
		if got := l.At(tt.off); got != tt.want {
			t.Errorf("At(%d) = %d, want %d", tt.off, got, tt.want)
		}
	}
}
