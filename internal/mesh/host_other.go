//go:build !linux

package mesh

import (
	"context"
	"net/netip"
)

func probeHost() hostCaps { return hostCaps{} }

// syncRoutes has nothing to do where no datapath has a host interface.
func syncRoutes(ctx context.Context, ifname string, old, new []netip.Prefix) ([]netip.Prefix, error) {
	return nil, nil
}
