package mesh

import (
	"fmt"
)

// hostCaps is what the host offers; probeHost fills it, tests fake it.
type hostCaps struct {
	kernelWireGuard bool // the wireguard generic netlink family exists
	tunUsable       bool // CAP_NET_ADMIN and /dev/net/tun
}

// Pick resolves a requested datapath on this host: Auto becomes Kernel if the
// kernel has WireGuard, else TUN if the process has CAP_NET_ADMIN and
// /dev/net/tun exists, else Netstack. An explicit choice is checked and
// returned, or refused with ErrUnavailable. Kernel is checked when the
// device opens, because it also runs on an existing WireGuard interface of
// the configured name (a userspace implementation such as wireguard-go or
// boringtun) where the kernel has no module; Auto never picks such an
// interface by itself.
func Pick(want Datapath) (Datapath, error) {
	return pick(want, false, probeHost())
}

func pick(want Datapath, needFilter bool, h hostCaps) (Datapath, error) {
	switch want {
	case "", Auto:
		switch {
		case h.kernelWireGuard && !needFilter:
			return Kernel, nil
		case h.tunUsable:
			return TUN, nil
		}
		return Netstack, nil
	case Kernel:
		if needFilter {
			return "", fmt.Errorf("mesh: the kernel datapath cannot run a packet filter; use tun: %w", ErrUnavailable)
		}
		// openKernel takes an existing WireGuard interface, or creates one
		// if the kernel has the module, or refuses with ErrUnavailable.
		return Kernel, nil
	case TUN:
		if !h.tunUsable {
			return "", fmt.Errorf("mesh: tun datapath needs CAP_NET_ADMIN and /dev/net/tun: %w", ErrUnavailable)
		}
		return TUN, nil
	case Netstack:
		return Netstack, nil
	}
	return "", fmt.Errorf("mesh: unknown datapath %q: use auto, kernel, tun or netstack", want)
}
