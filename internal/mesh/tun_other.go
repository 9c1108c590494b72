//go:build !linux

package mesh

import (
	"context"
	"fmt"
)

func openTUN(ctx context.Context, opts Options) (Device, error) {
	return nil, fmt.Errorf("mesh: tun datapath is implemented on Linux only: %w", ErrUnavailable)
}

func openKernel(ctx context.Context, opts Options) (Device, error) {
	return nil, fmt.Errorf("mesh: kernel datapath is implemented on Linux only: %w", ErrUnavailable)
}
