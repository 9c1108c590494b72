package mesh

import (
	"fmt"
	"net/netip"

	"golang.zx2c4.com/wireguard/tun/netstack"
)

// NetstackDevice is a Device whose local stack is gVisor's netstack inside
// this process: no privileges, no interface on the host. Programs reach the
// mesh only through Net (dial, listen, ping).
type NetstackDevice struct {
	*userspace
	net *netstack.Net
}

// Net is the user-space network stack bound to the node's mesh addresses.
func (d *NetstackDevice) Net() *netstack.Net { return d.net }

// OpenNetstack opens a Netstack device whatever Options.Datapath says. The
// addresses in opts are fixed for the life of the device.
func OpenNetstack(opts Options) (*NetstackDevice, error) {
	opts = openDefaults(opts)
	if len(opts.PrivateKey) != KeySize {
		return nil, fmt.Errorf("mesh: private key: want %d bytes, got %d", KeySize, len(opts.PrivateKey))
	}
	if len(opts.Addresses) == 0 {
		return nil, fmt.Errorf("mesh: netstack needs the node's mesh addresses at open")
	}
	if err := validateAddresses(opts.Addresses); err != nil {
		return nil, err
	}
	addrs := make([]netip.Addr, len(opts.Addresses))
	for i, p := range opts.Addresses {
		addrs[i] = p.Addr()
	}
	td, n, err := netstack.CreateNetTUN(addrs, nil, opts.MTU)
	if err != nil {
		return nil, fmt.Errorf("mesh: creating netstack: %w", err)
	}
	u, err := newUserspace(Netstack, td, opts)
	if err != nil {
		return nil, err
	}
	return &NetstackDevice{userspace: u, net: n}, nil
}
