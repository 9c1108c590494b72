//go:build integration

package luks

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestFormatAndTest(t *testing.T) {
	var c Cryptsetup
	if _, err := c.bin(); err != nil {
		t.Fatal(err) // CI installs cryptsetup (scripts/test-deps.sh); missing is a failure
	}
	ctx := context.Background()
	img := filepath.Join(t.TempDir(), "volume.img")
	if err := os.WriteFile(img, make([]byte, 20<<20), 0o600); err != nil {
		t.Fatal(err)
	}
	key := bytes.Repeat([]byte{0x42}, 32)
	if err := c.Format(ctx, img, key); err != nil {
		t.Fatalf("Format: %v", err)
	}
	tests := []struct {
		name    string
		key     []byte
		wantErr error
	}{
		{"the released key opens it", key, nil},
		{"another key is refused", bytes.Repeat([]byte{0x43}, 32), ErrWrongKey},
		{"a truncated key is refused", key[:31], ErrWrongKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := c.Test(ctx, img, tt.key)
			if tt.wantErr == nil && err != nil {
				t.Fatalf("Test: %v", err)
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Fatalf("Test: got %v, want %v", err, tt.wantErr)
			}
		})
	}
	if err := c.Test(ctx, filepath.Join(t.TempDir(), "missing.img"), key); err == nil || errors.Is(err, ErrWrongKey) {
		t.Fatalf("a missing device must fail with its own error, got %v", err)
	}
}
