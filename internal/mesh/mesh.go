// Package mesh runs the node side of hoheit's encrypted WireGuard mesh.
//
// The agent (internal/agent) opens one Device per node with the node's own
// WireGuard private key, then drives it with the configuration the control
// plane hands out: the node's mesh addresses and the peers its segmentation
// rules let it talk to, each with a per-pair pre-shared key and one or more
// endpoints. Apply reconfigures incrementally, RotatePSK swaps a pair's
// pre-shared key without dropping connections, and a peer that publishes
// several endpoints is probed per path so traffic uses the best live one.
//
// Three datapaths sit behind the Device interface: Netstack (wireguard-go
// with a gVisor user-space network stack, no privileges), TUN (a kernel TUN
// device driven by wireguard-go, needs CAP_NET_ADMIN) and Kernel (the
// in-kernel WireGuard module through wgctrl). Pick chooses one. The
// user-space datapaths pass every packet between the WireGuard device and the
// local stack through an optional PacketFilter, which is where
// internal/segment enforces microsegmentation.
//
// Nothing here talks to the control plane; the server and the agent wire it.
package mesh

import (
	"context"
	"crypto/ecdh"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"time"
)

// KeySize is the size of WireGuard private, public and pre-shared keys.
const KeySize = 32

// Key is a WireGuard public key or pre-shared key. Private keys are passed as
// plain bytes in Options and never stored in a Key that could be printed.
type Key [KeySize]byte

// String returns the standard base64 form. Call it on public keys only.
func (k Key) String() string { return base64.StdEncoding.EncodeToString(k[:]) }

// IsZero reports whether k is all zeros (an unset key).
func (k Key) IsZero() bool { return k == Key{} }

// ParseKey decodes the standard base64 form of a WireGuard key.
func ParseKey(s string) (Key, error) {
	var k Key
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil || len(b) != KeySize {
		return k, fmt.Errorf("mesh: a WireGuard key is %d bytes in base64", KeySize)
	}
	copy(k[:], b)
	return k, nil
}

// PublicKey returns the WireGuard (X25519) public key of a 32-byte private
// key, the same value crypto/ecdh computes.
func PublicKey(privateKey []byte) (Key, error) {
	var k Key
	priv, err := ecdh.X25519().NewPrivateKey(privateKey)
	if err != nil {
		return k, fmt.Errorf("mesh: private key: want %d bytes of X25519 key", KeySize)
	}
	copy(k[:], priv.PublicKey().Bytes())
	return k, nil
}

// Datapath names how packets move between WireGuard and the node.
type Datapath string

// The datapaths. Auto lets Pick decide.
const (
	Auto     Datapath = "auto"
	Kernel   Datapath = "kernel"
	TUN      Datapath = "tun"
	Netstack Datapath = "netstack"
)

// ParseDatapath accepts "auto", "kernel", "tun" and "netstack" ("" is auto).
func ParseDatapath(s string) (Datapath, error) {
	switch d := Datapath(s); d {
	case "":
		return Auto, nil
	case Auto, Kernel, TUN, Netstack:
		return d, nil
	}
	return "", fmt.Errorf("mesh: unknown datapath %q: use auto, kernel, tun or netstack", s)
}

// Config is what the control plane hands a node: its own mesh addresses and
// the peers it may talk to. Apply makes the device match it exactly.
type Config struct {
	// Addresses are the node's mesh addresses with the mesh prefix length,
	// e.g. fd7a:5c1e:1::12/64 and optionally 100.96.0.12/16. The prefix
	// length decides which destinations are routed into the mesh (TUN and
	// Kernel); the Netstack datapath routes everything into the mesh.
	Addresses []netip.Prefix
	// Peers are the peers the node may reach. Peers not listed are removed.
	Peers []Peer
}

// Peer is one remote node.
type Peer struct {
	// PublicKey is the peer's WireGuard public key, bound in its attestation.
	PublicKey Key
	// AllowedIPs are the peer's mesh addresses (usually /128 and /32) and
	// the prefixes of the workloads it routes: packets to them go to this
	// peer, packets from this peer must carry one of them as source. On
	// the tun and kernel datapaths prefixes outside the node's own mesh
	// prefixes are routed into the device.
	AllowedIPs []netip.Prefix
	// Endpoints are the peer's published UDP endpoints in order of
	// preference. With more than one, each path is probed and the best live
	// one carries traffic. Empty means the peer connects to us (we learn its
	// address from its authenticated packets).
	Endpoints []netip.AddrPort
	// PresharedKey is the pair's post-quantum pre-shared key. Required: a
	// peer without one is refused.
	PresharedKey Key
	// PersistentKeepalive, if non-zero, keeps NAT mappings open.
	PersistentKeepalive time.Duration
}

// Device is one node's mesh interface, whatever the datapath.
type Device interface {
	// Datapath reports the datapath in use.
	Datapath() Datapath
	// PublicKey is the node's WireGuard public key.
	PublicKey() Key
	// ListenPort is the UDP port WireGuard listens on.
	ListenPort() uint16
	// Apply makes the device match cfg: it adds, updates and removes peers
	// without tearing the device down. A removed peer can send and receive
	// nothing from the moment Apply returns.
	Apply(ctx context.Context, cfg Config) error
	// RotatePSK replaces one peer's pre-shared key. Established sessions keep
	// carrying traffic; the next handshake, started at once, uses the new key.
	RotatePSK(ctx context.Context, peer Key, psk Key) error
	// Status reports every configured peer.
	Status(ctx context.Context) ([]PeerStatus, error)
	// Close removes the device and releases its socket.
	Close() error
}

// PeerStatus is one peer's state as seen by this node.
type PeerStatus struct {
	PublicKey     Key
	Endpoint      netip.AddrPort // where packets go now (zero if unknown)
	LastHandshake time.Time      // zero if none yet
	RxBytes       uint64
	TxBytes       uint64
	// Paths is set for peers with more than one endpoint.
	Paths []PathStatus
}

// PathStatus is the measured state of one endpoint of a peer.
type PathStatus struct {
	Endpoint netip.AddrPort
	Up       bool
	RTT      time.Duration // smoothed probe round trip; 0 if never measured
	Active   bool
}

// Options open a Device.
type Options struct {
	// Datapath to use; Auto (or "") lets Pick decide.
	Datapath Datapath
	// PrivateKey is the node's 32-byte X25519 WireGuard private key. It is
	// copied; it never leaves the device and is never logged.
	PrivateKey []byte
	// Addresses are the node's initial mesh addresses (see Config). The
	// Netstack datapath cannot change them later.
	Addresses []netip.Prefix
	// ListenPort is the UDP port; 0 picks a free one.
	ListenPort uint16
	// InterfaceName for TUN and Kernel; default "hoheit0".
	InterfaceName string
	// MTU of the mesh interface; default 1420.
	MTU int
	// Filter, if set, sees every packet between WireGuard and the local
	// stack. Only the Netstack and TUN datapaths run it; with Auto a filter
	// rules out Kernel, and asking for Kernel with a filter is an error.
	Filter PacketFilter
	// Paths tunes endpoint probing; zero values take the defaults.
	Paths PathParams
	// Logger receives datapath events; nil discards them.
	Logger *slog.Logger
}

// Errors a caller may branch on.
var (
	// ErrUnavailable means the requested datapath cannot run on this host.
	ErrUnavailable = errors.New("mesh: datapath unavailable")
	// ErrAddressChange means the datapath cannot change its addresses in
	// place (Netstack); open a new device instead.
	ErrAddressChange = errors.New("mesh: this datapath cannot change its addresses; open a new device")
)

// Open creates a Device on the datapath Options ask for (or Pick's choice),
// brings it up with no peers, and returns it. Configure it with Apply.
func Open(ctx context.Context, opts Options) (Device, error) {
	opts = openDefaults(opts)
	if len(opts.PrivateKey) != KeySize {
		return nil, fmt.Errorf("mesh: private key: want %d bytes, got %d", KeySize, len(opts.PrivateKey))
	}
	if err := validateAddresses(opts.Addresses); err != nil {
		return nil, err
	}
	dp, err := pick(opts.Datapath, opts.Filter != nil, probeHost())
	if err != nil {
		return nil, err
	}
	switch dp {
	case Netstack:
		return OpenNetstack(opts)
	case TUN:
		return openTUN(ctx, opts)
	case Kernel:
		return openKernel(ctx, opts)
	}
	return nil, fmt.Errorf("mesh: datapath %q: %w", dp, ErrUnavailable)
}

func openDefaults(opts Options) Options {
	if opts.MTU == 0 {
		opts.MTU = 1420
	}
	if opts.InterfaceName == "" {
		opts.InterfaceName = "hoheit0"
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return opts
}

func validateAddresses(addrs []netip.Prefix) error {
	for _, p := range addrs {
		if !p.IsValid() || p.Addr().Zone() != "" {
			return fmt.Errorf("mesh: invalid mesh address %v", p)
		}
	}
	return nil
}

// validate checks a Config before anything is changed: fail closed on
// missing keys and on allowed IPs two peers would share (WireGuard would
// silently give the prefix to the later peer).
func (c Config) validate(self Key) error {
	if err := validateAddresses(c.Addresses); err != nil {
		return err
	}
	seen := make(map[Key]bool, len(c.Peers))
	type owned struct {
		p   netip.Prefix
		key Key
	}
	var all []owned
	for i, p := range c.Peers {
		if p.PublicKey.IsZero() {
			return fmt.Errorf("mesh: peer %d: no public key", i)
		}
		if p.PublicKey == self {
			return fmt.Errorf("mesh: peer %s is this node", p.PublicKey)
		}
		if seen[p.PublicKey] {
			return fmt.Errorf("mesh: peer %s listed twice", p.PublicKey)
		}
		seen[p.PublicKey] = true
		if p.PresharedKey.IsZero() {
			return fmt.Errorf("mesh: peer %s: no pre-shared key", p.PublicKey)
		}
		if p.PersistentKeepalive < 0 || p.PersistentKeepalive > 65535*time.Second {
			return fmt.Errorf("mesh: peer %s: keepalive out of range", p.PublicKey)
		}
		for _, e := range p.Endpoints {
			if !e.IsValid() || e.Port() == 0 {
				return fmt.Errorf("mesh: peer %s: invalid endpoint %v", p.PublicKey, e)
			}
		}
		for _, a := range p.AllowedIPs {
			if !a.IsValid() {
				return fmt.Errorf("mesh: peer %s: invalid allowed IP %v", p.PublicKey, a)
			}
			a = a.Masked()
			for _, o := range all {
				if o.p.Overlaps(a) && o.key != p.PublicKey {
					return fmt.Errorf("mesh: allowed IP %v of peer %s overlaps %v of peer %s", a, p.PublicKey, o.p, o.key)
				}
			}
			all = append(all, owned{a, p.PublicKey})
		}
	}
	return nil
}
