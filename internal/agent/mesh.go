package agent

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"github.com/hoheit/hoheit/internal/api"
	"github.com/hoheit/hoheit/internal/mesh"
	"github.com/hoheit/hoheit/internal/segment"
	"github.com/hoheit/hoheit/internal/segment/nft"
)

// MeshConfig turns on the mesh: after joining, the agent brings up its
// WireGuard device with the addresses the server assigned, takes its peers
// and segmentation rules from the server (long poll) and ships flow
// records back.
type MeshConfig struct {
	Datapath   mesh.Datapath
	ListenPort uint16
	// Interface names the host interface of the tun and kernel datapaths
	// (DefaultInterface if empty); with the kernel datapath it may be an
	// existing WireGuard interface, whose name must be unique on the host
	// when a userspace implementation runs it (its UAPI socket is
	// /var/run/wireguard/NAME.sock).
	Interface string
	// NFLOGGroup is the NFLOG group nftables enforcement logs first
	// packets to (nft.DefaultLogGroup if 0); it must be free on the host.
	NFLOGGroup uint16
	// Labels name the node for the segmentation policy; Endpoints are
	// the IP:PORT addresses peers reach its WireGuard device at.
	Labels    map[string]string
	Endpoints []string
	// FlowsEvery is how often flow records are shipped (10s).
	FlowsEvery time.Duration
	// Paths tunes endpoint selection for peers with several endpoints.
	Paths mesh.PathParams
	// Enforce says where the segmentation rules are enforced:
	// EnforceUserspace (the default, not on the kernel datapath) or
	// EnforceNftables (tun and kernel datapaths; the default on kernel).
	Enforce Enforcement
	// EnableForwarding turns on the kernel's IP forwarding for the
	// address families of the node's workloads, which must be forwarded
	// between the mesh device and their network. Off, the agent only
	// warns when forwarding is off.
	EnableForwarding bool
}

// Enforcement names where a node enforces its segmentation rules.
type Enforcement string

// Enforcements.
const (
	// EnforceUserspace runs segment.Filter on every packet between
	// WireGuard and the local stack (tun and netstack datapaths).
	EnforceUserspace Enforcement = "userspace"
	// EnforceNftables puts the rules into the kernel (package
	// segment/nft) on the mesh interface; packets of established
	// connections cost one conntrack lookup, and only the first packet of
	// each connection is copied to the agent to be recorded.
	EnforceNftables Enforcement = "nftables"
)

// DefaultInterface is the mesh device's name on the tun and kernel
// datapaths unless MeshConfig.Interface says otherwise.
const DefaultInterface = "hoheit0"

// onLink gives each mesh address the length of the mesh prefix it lies
// in, so the whole mesh is routed into the device; WireGuard then picks
// the peer by its allowed IPs.
func onLink(addrs, nets []string) []string {
	out := make([]string, 0, len(addrs))
	for _, s := range addrs {
		a, err := netip.ParsePrefix(s)
		if err != nil {
			out = append(out, s)
			continue
		}
		p := a
		for _, n := range nets {
			if np, err := netip.ParsePrefix(n); err == nil && np.Contains(a.Addr()) {
				p = netip.PrefixFrom(a.Addr(), np.Bits())
			}
		}
		out = append(out, p.String())
	}
	return out
}

// filterHook adapts the segmentation filter to the mesh's packet hook.
type filterHook struct{ f *segment.Filter }

func (h filterHook) Allow(pkt []byte, inbound bool) bool {
	// Link-local and multicast traffic (router solicitations, ...) has no
	// peer to go to; drop it quietly rather than report it as a flow.
	if !inbound && localOnly(pkt) {
		return false
	}
	dir := segment.Outbound
	if inbound {
		dir = segment.Inbound
	}
	return h.f.CheckPacket(pkt, dir).Pass()
}

// localOnly reports whether a packet's destination is link-local or
// multicast.
func localOnly(pkt []byte) bool {
	var dst netip.Addr
	switch {
	case len(pkt) >= 40 && pkt[0]>>4 == 6:
		dst = netip.AddrFrom16([16]byte(pkt[24:40]))
	case len(pkt) >= 20 && pkt[0]>>4 == 4:
		dst = netip.AddrFrom4([4]byte(pkt[16:20]))
	default:
		return false
	}
	return dst.IsMulticast() || dst.IsLinkLocalUnicast() || dst.IsLinkLocalMulticast()
}

// enforcement resolves the default: nftables on the kernel datapath (no
// packet passes through the agent there), userspace everywhere else.
func enforcement(e Enforcement, dp mesh.Datapath) Enforcement {
	switch {
	case e != "":
		return e
	case dp == mesh.Kernel:
		return EnforceNftables
	}
	return EnforceUserspace
}

// MeshDevice returns the running mesh device, nil before the mesh is up.
func (a *Agent) MeshDevice() mesh.Device {
	a.mu.RLock()
	defer a.mu.RUnlock()
	return a.dev
}

// MeshAddresses returns the node's mesh addresses as the server assigned them.
func (a *Agent) MeshAddresses() []string {
	a.mu.RLock()
	defer a.mu.RUnlock()
	return a.meshAddr
}

// MeshETag returns the ETag of the mesh config in force ("" before one).
func (a *Agent) MeshETag() string {
	a.mu.RLock()
	defer a.mu.RUnlock()
	return a.meshETag
}

// runMesh brings the mesh up and keeps it in step with the server until
// ctx ends.
func (a *Agent) runMesh(ctx context.Context, addrs []string) error {
	mc := a.cfg.Mesh
	var prefixes []netip.Prefix
	for _, s := range addrs {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return fmt.Errorf("the server assigned a malformed mesh address %q", s)
		}
		prefixes = append(prefixes, p)
	}
	fcfg := segment.FilterConfig{Alerts: func(al segment.Alert) {
		a.cfg.Log.Warn("segmentation: flow outside the policy", "src", al.Src, "dst", al.Dst, "dst_port", al.DstPort, "mode", al.Mode.String())
	}}
	var hook mesh.PacketFilter
	var enf *nft.Enforcer
	ifname := mc.Interface
	if ifname == "" {
		ifname = DefaultInterface
	}
	enforce := enforcement(mc.Enforce, mc.Datapath)
	switch enforce {
	case EnforceUserspace:
		if mc.Datapath == mesh.Kernel {
			return errors.New("the kernel datapath has no packet filter in the agent: enforce with nftables")
		}
	case EnforceNftables:
	default:
		return fmt.Errorf("unknown enforcement %q: want userspace or nftables", mc.Enforce)
	}
	if enforce == EnforceNftables {
		if mc.Datapath != mesh.TUN && mc.Datapath != mesh.Kernel {
			return fmt.Errorf("nftables enforcement needs the tun or kernel datapath, not %q", mc.Datapath)
		}
		// The filter only records here: it sees the first packet of each
		// connection (from the kernel's log), so its connection table needs
		// to remember a connection only briefly (a repeated first packet).
		fcfg.TCPTimeout, fcfg.TCPClosingTimeout, fcfg.UDPTimeout, fcfg.ICMPTimeout = 10*time.Second, 10*time.Second, 10*time.Second, 10*time.Second
		a.filter = segment.NewFilter(nil, fcfg)
		// Before the device exists: the node is closed from its first packet.
		var err error
		enf, err = nft.Open(ctx, nft.Config{Options: nft.Options{Interface: ifname, LogGroup: mc.NFLOGGroup}, Recorder: a.filter, Logger: a.cfg.Log})
		if err != nil {
			return fmt.Errorf("nftables enforcement: %w", err)
		}
		defer enf.Close()
	} else {
		a.filter = segment.NewFilter(nil, fcfg)
		hook = filterHook{a.filter}
	}
	priv := a.wgKey.Bytes()
	dev, err := mesh.Open(ctx, mesh.Options{
		Datapath: mc.Datapath, PrivateKey: priv, Addresses: prefixes, ListenPort: mc.ListenPort,
		InterfaceName: ifname, Filter: hook, Paths: mc.Paths, Logger: a.cfg.Log,
	})
	clear(priv)
	if err != nil {
		return fmt.Errorf("opening the mesh device: %w", err)
	}
	a.mu.Lock()
	a.dev = dev
	a.mu.Unlock()
	defer dev.Close()
	a.cfg.Log.Info("mesh up", "datapath", dev.Datapath(), "addresses", strings.Join(addrs, ","), "port", dev.ListenPort(), "enforce", string(enforce))
	if dev.Datapath() == mesh.Netstack && len(a.workloadList()) > 0 {
		a.cfg.Log.Warn("the netstack datapath has no host interface: peers cannot reach this node's workloads (use --mesh tun or kernel)")
	}
	a.checkForwarding()

	every := mc.FlowsEvery
	if every <= 0 {
		every = 10 * time.Second
	}
	go a.shipFlows(ctx, every)

	etag := ""
	psks := map[string]mesh.Key{}
	backoff := 200 * time.Millisecond
	for ctx.Err() == nil {
		cfg, err := a.pollMesh(ctx, etag)
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			a.cfg.Log.Warn("mesh config", "err", err)
			select {
			case <-ctx.Done():
			case <-time.After(backoff):
			}
			backoff = min(backoff*2, 10*time.Second)
			continue
		}
		if cfg == nil {
			backoff = 200 * time.Millisecond
			continue // not modified
		}
		if err := a.applyMesh(ctx, dev, enf, cfg, prefixes, psks); err != nil {
			// The old etag brings the same config back at once: wait
			// before trying it again, longer each time.
			a.cfg.Log.Error("applying the mesh config", "err", err, "retry_in", backoff)
			select {
			case <-ctx.Done():
			case <-time.After(backoff):
			}
			backoff = min(backoff*2, 10*time.Second)
			continue
		}
		backoff = 200 * time.Millisecond
		etag = cfg.ETag
		a.mu.Lock()
		a.meshETag = etag
		a.mu.Unlock()
	}
	return nil
}

// pollMesh asks for the node's mesh config; nil means unchanged.
func (a *Agent) pollMesh(ctx context.Context, etag string) (*api.MeshConfig, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(a.cfg.Server, "/")+api.PathMeshConfig+"?etag="+url.QueryEscape(etag), nil)
	if err != nil {
		return nil, err
	}
	resp, err := a.longClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusNotModified:
		return nil, nil
	case http.StatusOK:
		var cfg api.MeshConfig
		if err := json.NewDecoder(resp.Body).Decode(&cfg); err != nil {
			return nil, err
		}
		return &cfg, nil
	}
	var e api.Error
	json.NewDecoder(resp.Body).Decode(&e)
	return nil, &RefusedError{Status: resp.StatusCode, Body: e.Error}
}

// applyMesh opens the sealed pre-shared keys, rotates those that changed
// on peers that stay, then applies peers and rules (into the kernel's table
// too when enf is set).
func (a *Agent) applyMesh(ctx context.Context, dev mesh.Device, enf *nft.Enforcer, cfg *api.MeshConfig, addrs []netip.Prefix, psks map[string]mesh.Key) error {
	plain, err := a.hpke.Open(a.cfg.NodeID, cfg.ETag, cfg.PSKs)
	if err != nil {
		return fmt.Errorf("opening the pre-shared keys: %w", err)
	}
	var raw map[string][]byte
	err = json.Unmarshal(plain, &raw)
	clear(plain)
	if err != nil {
		return errors.New("the pre-shared keys are not a JSON object")
	}
	var rules *segment.NodeRuleSet
	if len(cfg.Rules) > 0 && string(cfg.Rules) != "null" {
		rules = &segment.NodeRuleSet{}
		if err := json.Unmarshal(cfg.Rules, rules); err != nil {
			return fmt.Errorf("decoding the rule set: %w", err)
		}
	}
	mcfg := mesh.Config{Addresses: addrs}
	next := map[string]mesh.Key{}
	for _, p := range cfg.Peers {
		var pub mesh.Key
		if len(p.PublicKey) != mesh.KeySize || len(raw[p.NodeID]) != mesh.KeySize {
			return fmt.Errorf("peer %s: malformed key", p.NodeID)
		}
		copy(pub[:], p.PublicKey)
		var psk mesh.Key
		copy(psk[:], raw[p.NodeID])
		clear(raw[p.NodeID])
		next[p.NodeID] = psk
		peer := mesh.Peer{PublicKey: pub, PresharedKey: psk, PersistentKeepalive: 25 * time.Second}
		for _, s := range p.AllowedIPs {
			if pf, err := netip.ParsePrefix(s); err == nil {
				peer.AllowedIPs = append(peer.AllowedIPs, pf)
			}
		}
		for _, s := range p.Endpoints {
			if ap, err := netip.ParseAddrPort(s); err == nil {
				peer.Endpoints = append(peer.Endpoints, ap)
			}
		}
		if old, ok := psks[p.NodeID]; ok && old != psk {
			// Rotate in place so established connections keep going.
			if err := dev.RotatePSK(ctx, pub, psk); err != nil {
				a.cfg.Log.Warn("rotating a pre-shared key", "peer", p.NodeID, "err", err)
			}
		}
		mcfg.Peers = append(mcfg.Peers, peer)
	}
	if err := dev.Apply(ctx, mcfg); err != nil {
		return err
	}
	// Only a changed rule set is swapped in: a swap makes the filter
	// re-check every tracked connection, which a key rotation (same
	// rules, new epoch) has no reason to cause.
	if !bytes.Equal(cfg.Rules, a.meshRules) {
		if enf != nil {
			if err := enf.SetRules(rules); err != nil {
				return fmt.Errorf("applying the rule set to nftables (the previous one stays in force): %w", err)
			}
		}
		a.filter.SetRules(rules)
		a.meshRules = bytes.Clone(cfg.Rules)
	}
	for k := range psks {
		delete(psks, k)
	}
	for k, v := range next {
		psks[k] = v
	}
	a.cfg.Log.Info("mesh config applied", "peers", len(cfg.Peers), "psk_epoch", cfg.PSKEpoch, "rules", rules != nil)
	return nil
}

// shipFlows sends the filter's flow records to the server.
func (a *Agent) shipFlows(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		a.ShipFlows(ctx)
	}
}

// ShipFlows sends the flow records gathered since the last call.
func (a *Agent) ShipFlows(ctx context.Context) error {
	if a.filter == nil {
		return nil
	}
	recs, overflow := a.filter.Flows().Drain()
	if overflow > 0 {
		a.cfg.Log.Warn("flow table full: records dropped", "count", overflow)
	}
	if len(recs) == 0 {
		return nil
	}
	if err := a.call(ctx, http.MethodPost, api.PathSegFlows, recs, nil); err != nil {
		a.cfg.Log.Warn("shipping flow records", "err", err)
		return err
	}
	return nil
}
