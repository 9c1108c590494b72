package cli

import "testing"

func TestByteSize(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want int64
		ok   bool
	}{
		{"512MiB", 512 << 20, true}, {"2GiB", 2 << 30, true}, {"1.5 GiB", 3 << 29, true}, {"100MB", 100e6, true},
		{"1000", 1000, true}, {"64k", 64 << 10, true}, {"0", 0, false}, {"-1MiB", 0, false}, {"lots", 0, false},
	} {
		var s byteSize
		err := s.Set(tt.in)
		if (err == nil) != tt.ok || (tt.ok && int64(s) != tt.want) {
			t.Errorf("Set(%q) = %d, %v; want %d, ok %v", tt.in, s, err, tt.want, tt.ok)
		}
	}
	s := byteSize(512 << 20)
	if s.String() != "512MiB" {
		t.Errorf("String() = %q", s.String())
	}
}
