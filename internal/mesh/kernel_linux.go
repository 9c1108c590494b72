package mesh

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"slices"
	"sync"

	"golang.zx2c4.com/wireguard/wgctrl"
	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"
)

// kernelDevice drives a WireGuard interface through wgctrl: the in-kernel
// module over generic netlink, or a userspace implementation (wireguard-go,
// boringtun) over its UAPI socket in /var/run/wireguard. It has no packet
// filter (segment enforces with nftables there) and no path probing: the
// implementation owns the UDP socket, so a multi-endpoint peer gets its
// first endpoint and WireGuard's roaming.
//
// If the interface already exists (an operator made it with
// systemd-networkd, or runs boringtun), the device configures it and leaves
// it in place on Close; otherwise it creates a kernel interface and deletes
// it on Close.
type kernelDevice struct {
	name    string
	client  *wgctrl.Client
	pub     Key
	port    uint16
	created bool           // hoheit made the link, so Close deletes it
	before  []netip.Prefix // addresses the link had when hoheit found it
	log     *slog.Logger

	mu     sync.Mutex
	closed bool
	addrs  []netip.Prefix
	peers  map[Key]Peer
	// routes are the prefixes hoheit routed into the interface (see
	// syncRoutes); routesSynced is false while a failed sync waits for the
	// next Apply.
	routes        []netip.Prefix
	routesSynced  bool
	routesRefused []netip.Prefix
}

// kernelModule reports whether the kernel can create WireGuard interfaces;
// a variable so that a test can pin the answer whatever the host has.
var kernelModule = kernelHasWireGuard

func openKernel(ctx context.Context, opts Options) (Device, error) {
	pub, err := PublicKey(opts.PrivateKey)
	if err != nil {
		return nil, err
	}
	client, err := wgctrl.New()
	if err != nil {
		return nil, fmt.Errorf("mesh: wgctrl: %w", err)
	}
	d := &kernelDevice{name: opts.InterfaceName, client: client, pub: pub, peers: map[Key]Peer{}, log: opts.Logger}
	existing, err := d.find()
	if err != nil {
		client.Close()
		return nil, err
	}
	if existing {
		if d.before, err = linkAddrs(d.name); err != nil {
			client.Close()
			return nil, err
		}
	} else {
		if !kernelModule() {
			client.Close()
			return nil, fmt.Errorf("mesh: kernel datapath: this kernel has no WireGuard module and no WireGuard interface %s exists (load the module, or start wireguard-go or boringtun on %s first): %w",
				d.name, d.name, ErrUnavailable)
		}
		if err := ipCmd(ctx, "link", "add", "dev", d.name, "mtu", fmt.Sprint(opts.MTU), "type", "wireguard"); err != nil {
			client.Close()
			return nil, err
		}
		d.created = true
	}
	fail := func(err error) (Device, error) { d.Close(); return nil, err }

	var priv wgtypes.Key
	copy(priv[:], opts.PrivateKey)
	// ReplacePeers: peers left on an existing interface (an earlier run that
	// crashed, an operator's) are not the control plane's and must not stay.
	wc := wgtypes.Config{PrivateKey: &priv, ReplacePeers: true}
	if port := int(opts.ListenPort); port != 0 || d.created {
		wc.ListenPort = &port // on an existing interface, 0 keeps its port
	}
	err = d.client.ConfigureDevice(d.name, wc)
	clear(priv[:])
	if err != nil {
		return fail(fmt.Errorf("mesh: configuring %s: %w", d.name, err))
	}
	// Add only what is missing: a pre-made interface may carry the
	// addresses already, and ip refuses to add one twice.
	var have []netip.Prefix
	for _, p := range d.before {
		if slices.Contains(opts.Addresses, p) {
			have = append(have, p)
		}
	}
	if err := setLinkAddrs(ctx, d.name, have, opts.Addresses); err != nil {
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

// find reports whether the interface exists and wgctrl can configure it. An
// interface of that name that wgctrl cannot see (a TUN device, a veth) is an
// error, as is a userspace socket for a name with no link in this network
// namespace: UAPI sockets in /var/run/wireguard are shared by all
// namespaces, so that socket belongs to an interface somewhere else.
func (d *kernelDevice) find() (bool, error) {
	_, werr := d.client.Device(d.name)
	_, lerr := net.InterfaceByName(d.name)
	link := lerr == nil
	switch {
	case werr == nil && link:
		return true, nil
	case werr == nil:
		return false, fmt.Errorf("mesh: kernel datapath: a WireGuard socket for %s exists but there is no interface %s in this network namespace; give each namespace's interface its own name", d.name, d.name)
	case !errors.Is(werr, os.ErrNotExist):
		return false, fmt.Errorf("mesh: reading %s: %w", d.name, werr)
	case link:
		return false, fmt.Errorf("mesh: kernel datapath: interface %s exists but is not a WireGuard interface (neither the kernel's nor a userspace implementation's socket in /var/run/wireguard); remove it or choose another name", d.name)
	}
	return false, nil
}

// linkAddrs lists the addresses on an interface.
func linkAddrs(name string) ([]netip.Prefix, error) {
	ifi, err := net.InterfaceByName(name)
	if err != nil {
		return nil, fmt.Errorf("mesh: interface %s: %w", name, err)
	}
	as, err := ifi.Addrs()
	if err != nil {
		return nil, fmt.Errorf("mesh: addresses of %s: %w", name, err)
	}
	var out []netip.Prefix
	for _, a := range as {
		n, ok := a.(*net.IPNet)
		if !ok {
			continue
		}
		ip, ok := netip.AddrFromSlice(n.IP)
		if !ok {
			continue
		}
		ones, _ := n.Mask.Size()
		out = append(out, netip.PrefixFrom(ip.Unmap(), ones))
	}
	return out, nil
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
	if d.closed {
		return errors.New("mesh: device is closed")
	}
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
	if len(pcs) > 0 {
		if err := d.client.ConfigureDevice(d.name, wgtypes.Config{Peers: pcs}); err != nil {
			return fmt.Errorf("mesh: configuring %s: %w", d.name, err)
		}
		d.peers = map[Key]Peer{}
		for _, p := range cfg.Peers {
			d.peers[p.PublicKey] = clonePeer(p)
		}
	}
	d.syncRoutes(ctx, cfg)
	return nil
}

// syncRoutes routes the peers' allowed IPs outside the node's own prefixes
// (their workloads) into the interface, as the tun datapath does. Called
// with mu held, after the peers are configured; a failure is logged, not
// returned (the peers are in force; the next Apply retries).
func (d *kernelDevice) syncRoutes(ctx context.Context, cfg Config) {
	want, refused := meshRoutes(cfg)
	if len(refused) > 0 && !slices.Equal(refused, d.routesRefused) {
		d.log.Warn("mesh: not routing peer prefixes that contain a WireGuard endpoint or everything", "prefixes", fmt.Sprint(refused))
	}
	d.routesRefused = refused
	if d.routesSynced && slices.Equal(want, d.routes) {
		return
	}
	routed, err := syncRoutes(ctx, d.name, d.routes, want)
	if err != nil {
		d.log.Warn("mesh: routing peers' prefixes into the mesh device", "err", err)
	}
	if !slices.Equal(routed, d.routes) {
		d.log.Info("mesh: routes into the mesh device", "prefixes", fmt.Sprint(routed))
	}
	d.routes, d.routesSynced = routed, err == nil
}

// RotatePSK sets the key for the next handshake, which is WireGuard's own:
// wgctrl cannot start one. The initiator rekeys after two minutes of a
// session when it sends; an idle session expires after three minutes and
// the next packet handshakes with the new key.
func (d *kernelDevice) RotatePSK(ctx context.Context, peer Key, psk Key) error {
	if psk.IsZero() {
		return fmt.Errorf("mesh: peer %s: refusing an all-zero pre-shared key", peer)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return errors.New("mesh: device is closed")
	}
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
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return nil, errors.New("mesh: device is closed")
	}
	dev, err := d.client.Device(d.name)
	if err != nil {
		return nil, fmt.Errorf("mesh: reading %s: %w", d.name, err)
	}
	var out []PeerStatus
	for _, p := range dev.Peers {
		ps := PeerStatus{PublicKey: Key(p.PublicKey), LastHandshake: p.LastHandshakeTime,
			RxBytes: uint64(p.ReceiveBytes), TxBytes: uint64(p.TransmitBytes)}
		if p.Endpoint != nil {
			ap := p.Endpoint.AddrPort() // wgctrl gives IPv4 as ::ffff:a.b.c.d
			ps.Endpoint = netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
		}
		out = append(out, ps)
	}
	return out, nil
}

// Close deletes the interface if hoheit created it. An interface that
// existed before stays: its peers, the node's private key and the
// addresses and routes hoheit added are removed, so nothing reaches the mesh through
// it until the next Open.
func (d *kernelDevice) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return nil
	}
	d.closed = true
	defer d.client.Close()
	ctx := context.Background()
	if d.created {
		return ipCmd(ctx, "link", "del", "dev", d.name)
	}
	var zero wgtypes.Key
	wc := wgtypes.Config{PrivateKey: &zero}
	for k := range d.peers {
		wc.Peers = append(wc.Peers, wgtypes.PeerConfig{PublicKey: wgtypes.Key(k), Remove: true})
	}
	var errs []error
	if _, err := syncRoutes(ctx, d.name, d.routes, nil); err != nil {
		errs = append(errs, err)
	}
	d.routes = nil
	if err := d.client.ConfigureDevice(d.name, wc); err != nil {
		errs = append(errs, fmt.Errorf("mesh: removing hoheit's peers from %s: %w", d.name, err))
	}
	d.peers = nil
	var keep []netip.Prefix
	for _, p := range d.addrs {
		if slices.Contains(d.before, p) {
			keep = append(keep, p)
		}
	}
	if err := setLinkAddrs(ctx, d.name, d.addrs, keep); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}
