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

func TestLineColumn(t *testing.T) {
	data := []byte("ab\ncd")
	for _, tt := range []struct{ off, line, col int }{{0, 1, 1}, {1, 1, 2}, {3, 2, 1}, {4, 2, 2}, {99, 2, 3}} {
		if l, c := LineColumn(data, tt.off); l != tt.line || c != tt.col {
			t.Errorf("LineColumn(%d) = %d:%d, want %d:%d", tt.off, l, c, tt.line, tt.col)
		}
	}
}
