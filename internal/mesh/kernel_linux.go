package mesh

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"sync"

	"golang.zx2c4.com/wireguard/wgctrl"
	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"
)

// kernelDevice drives the in-kernel WireGuard module through wgctrl. It has
// no packet filter (segment enforces with nftables there) and no path
// probing: the kernel owns the UDP socket, so a multi-endpoint peer gets its
// first endpoint and the kernel's roaming.
//
// Untested on this project's machines, which lack the module.
type kernelDevice struct {
	name   string
	client *wgctrl.Client
	pub    Key
	port   uint16

	mu    sync.Mutex
	addrs []netip.Prefix
	peers map[Key]Peer
}

func openKernel(ctx context.Context, opts Options) (Device, error) {
	if !kernelHasWireGuard() {
		return nil, fmt.Errorf("mesh: kernel datapath: this kernel has no WireGuard module: %w", ErrUnavailable)
	}
	pub, err := PublicKey(opts.PrivateKey)
	if err != nil {
		return nil, err
	}
	if err := ipCmd(ctx, "link", "add", "dev", opts.InterfaceName, "type", "wireguard"); err != nil {
		return nil, err
	}
	d := &kernelDevice{name: opts.InterfaceName, pub: pub, peers: map[Key]Peer{}}
	fail := func(err error) (Device, error) { d.Close(); return nil, err }
	if d.client, err = wgctrl.New(); err != nil {
		return fail(fmt.Errorf("mesh: wgctrl: %w", err))
	}
	var priv wgtypes.Key
	copy(priv[:], opts.PrivateKey)
	port := int(opts.ListenPort)
	err = d.client.ConfigureDevice(d.name, wgtypes.Config{PrivateKey: &priv, ListenPort: &port, ReplacePeers: true})
	clear(priv[:])
	if err != nil {
		return fail(fmt.Errorf("mesh: configuring %s: %w", d.name, err))
	}
	if err := setLinkAddrs(ctx, d.name, nil, opts.Addresses); err != nil {
		return fail(err)
	}
	d.addrs = slices.Clone(opts.Addresses)
	if err := ipCmd(ctx, "link", "set", "dev", d.name, "up"); err != nil {
		return fail(err)
	}
	dev, err := d.client.Device(d.name)
	if err != nil {
		return fail(fmt.Errorf("mesh: reading %s: %w", d.name, err))
	}
	d.port = uint16(dev.ListenPort)
	return d, nil
}

func (d *kernelDevice) Datapath() Datapath { return Kernel }
func (d *kernelDevice) PublicKey() Key     { return d.pub }
func (d *kernelDevice) ListenPort() uint16 { return d.port }

func (d *kernelDevice) Apply(ctx context.Context, cfg Config) error {
	if err := cfg.validate(d.pub); err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if !slices.Equal(d.addrs, cfg.Addresses) {
		if err := setLinkAddrs(ctx, d.name, d.addrs, cfg.Addresses); err != nil {
			return err
		}
		d.addrs = slices.Clone(cfg.Addresses)
	}
	want := map[Key]bool{}
	var pcs []wgtypes.PeerConfig
	for _, p := range cfg.Peers {
		want[p.PublicKey] = true
	}
	for k := range d.peers {
		if !want[k] {
			pcs = append(pcs, wgtypes.PeerConfig{PublicKey: wgtypes.Key(k), Remove: true})
		}
	}
	for _, p := range cfg.Peers {
		prev, existed := d.peers[p.PublicKey]
		if existed && peerEqual(prev, p) {
			continue
		}
		psk := wgtypes.Key(p.PresharedKey)
		ka := p.PersistentKeepalive
		pc := wgtypes.PeerConfig{PublicKey: wgtypes.Key(p.PublicKey), UpdateOnly: existed, PresharedKey: &psk,
			PersistentKeepaliveInterval: &ka, ReplaceAllowedIPs: true}
		for _, a := range p.AllowedIPs {
			a = a.Masked()
			pc.AllowedIPs = append(pc.AllowedIPs, net.IPNet{IP: a.Addr().AsSlice(), Mask: net.CIDRMask(a.Bits(), a.Addr().BitLen())})
		}
		if len(p.Endpoints) > 0 && (!existed || !slices.Equal(prev.Endpoints, p.Endpoints)) {
			pc.Endpoint = net.UDPAddrFromAddrPort(p.Endpoints[0])
		}
		pcs = append(pcs, pc)
	}
	if len(pcs) == 0 {
		return nil
	}
	if err := d.client.ConfigureDevice(d.name, wgtypes.Config{Peers: pcs}); err != nil {
		return fmt.Errorf("mesh: configuring %s: %w", d.name, err)
	}
	d.peers = map[Key]Peer{}
	for _, p := range cfg.Peers {
		d.peers[p.PublicKey] = clonePeer(p)
	}
	return nil
}

// RotatePSK sets the key for the kernel's next handshake (at the latest
// after two minutes); wgctrl cannot start one early.
func (d *kernelDevice) RotatePSK(ctx context.Context, peer Key, psk Key) error {
	if psk.IsZero() {
		return fmt.Errorf("mesh: peer %s: refusing an all-zero pre-shared key", peer)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	p, ok := d.peers[peer]
	if !ok {
		return fmt.Errorf("mesh: peer %s is not configured", peer)
	}
	k := wgtypes.Key(psk)
	err := d.client.ConfigureDevice(d.name, wgtypes.Config{Peers: []wgtypes.PeerConfig{{PublicKey: wgtypes.Key(peer), UpdateOnly: true, PresharedKey: &k}}})
	if err != nil {
		return fmt.Errorf("mesh: peer %s: setting pre-shared key: %w", peer, err)
	}
	p.PresharedKey = psk
	d.peers[peer] = p
	return nil
}

func (d *kernelDevice) Status(ctx context.Context) ([]PeerStatus, error) {
	dev, err := d.client.Device(d.name)
	if err != nil {
		return nil, fmt.Errorf("mesh: reading %s: %w", d.name, err)
	}
	var out []PeerStatus
	for _, p := range dev.Peers {
		ps := PeerStatus{PublicKey: Key(p.PublicKey), LastHandshake: p.LastHandshakeTime,
			RxBytes: uint64(p.ReceiveBytes), TxBytes: uint64(p.TransmitBytes)}
		if p.Endpoint != nil {
			ps.Endpoint = p.Endpoint.AddrPort()
		}
		out = append(out, ps)
	}
	return out, nil
}

func (d *kernelDevice) Close() error {
	if d.client != nil {
		d.client.Close()
	}
	return ipCmd(context.Background(), "link", "del", "dev", d.name)
}
