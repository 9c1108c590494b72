package mesh

import (
	"context"
	"fmt"
	"net/netip"
	"os/exec"
	"slices"
	"strings"

	"golang.zx2c4.com/wireguard/tun"
)

// openTUN creates a kernel TUN interface driven by wireguard-go. Addresses
// and link state are set with iproute2's ip(8), as wg-quick does.
func openTUN(ctx context.Context, opts Options) (Device, error) {
	td, err := tun.CreateTUN(opts.InterfaceName, opts.MTU)
	if err != nil {
		return nil, fmt.Errorf("mesh: creating TUN %s (needs CAP_NET_ADMIN): %w", opts.InterfaceName, err)
	}
	name, err := td.Name()
	if err != nil {
		td.Close()
		return nil, fmt.Errorf("mesh: TUN name: %w", err)
	}
	u, err := newUserspace(TUN, td, opts)
	if err != nil {
		return nil, err
	}
	u.setAddrs = func(ctx context.Context, old, new []netip.Prefix) error { return setLinkAddrs(ctx, name, old, new) }
	u.setRoutes = func(ctx context.Context, old, new []netip.Prefix) ([]netip.Prefix, error) {
		return syncRoutes(ctx, name, old, new)
	}
	if err := setLinkAddrs(ctx, name, nil, opts.Addresses); err != nil {
		u.Close()
		return nil, err
	}
	if err := ipCmd(ctx, "link", "set", "dev", name, "up"); err != nil {
		u.Close()
		return nil, err
	}
	return u, nil
}

// setLinkAddrs removes the addresses in old but not in new and adds those
// in new but not in old.
func setLinkAddrs(ctx context.Context, dev string, old, new []netip.Prefix) error {
	for _, p := range old {
		if !slices.Contains(new, p) {
			if err := ipCmd(ctx, "addr", "del", p.String(), "dev", dev); err != nil {
				return err
			}
		}
	}
	for _, p := range new {
		if !slices.Contains(old, p) {
			args := []string{"addr", "add", p.String(), "dev", dev}
			if p.Addr().Is6() {
				args = append(args, "nodad") // usable at once
			}
			if err := ipCmd(ctx, args...); err != nil {
				return err
			}
		}
	}
	return nil
}

func ipCmd(ctx context.Context, args ...string) error {
	out, err := exec.CommandContext(ctx, "ip", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("mesh: ip %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}
