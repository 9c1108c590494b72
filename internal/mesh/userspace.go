package mesh

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdh"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.zx2c4.com/wireguard/conn"
	"golang.zx2c4.com/wireguard/device"
	"golang.zx2c4.com/wireguard/tun"
)

// userspace is a Device on wireguard-go, shared by the Netstack and TUN
// datapaths; they differ only in the tun.Device below it and in how mesh
// addresses are set.
type userspace struct {
	dp     Datapath
	log    *slog.Logger
	dev    *device.Device
	bind   *probeBind
	priv   *ecdh.PrivateKey
	pub    Key
	port   uint16
	params PathParams
	now    func() time.Time

	// setAddrs changes the interface's addresses; nil means the datapath
	// cannot (Netstack).
	setAddrs func(ctx context.Context, old, new []netip.Prefix) error
	// setRoutes moves the host's routes into the device from old to new
	// and returns what it routes afterwards (see syncRoutes); nil means
	// the datapath has no host interface (Netstack).
	setRoutes func(ctx context.Context, old, new []netip.Prefix) ([]netip.Prefix, error)
	onClose   func() error

	applyMu sync.Mutex // serializes Apply and RotatePSK

	// Guarded by applyMu: the prefixes routed into the device (routes),
	// whether the last sync left nothing to retry, and what was refused.
	routes        []netip.Prefix
	routesSynced  bool
	routesRefused []netip.Prefix

	mu        sync.Mutex // guards the fields below; never held across I/O
	addrs     []netip.Prefix
	peers     map[Key]*peerState
	pending   map[[8]byte]pendingProbe
	probeKeys atomic.Pointer[map[Key]*[32]byte]

	stop      chan struct{}
	wg        sync.WaitGroup
	closeOnce sync.Once
}

type peerState struct {
	cfg      Peer
	sel      *Selector       // nil unless the peer has several endpoints
	eps      []conn.Endpoint // parsed cfg.Endpoints
	rotating bool            // a PSK rotation waits for its handshake
}

type pendingProbe struct {
	peer Key
	sel  *Selector
	idx  int
	sent time.Time
}

var _ Device = (*userspace)(nil)

func newUserspace(dp Datapath, td tun.Device, opts Options) (*userspace, error) {
	priv, err := ecdh.X25519().NewPrivateKey(opts.PrivateKey)
	if err != nil {
		td.Close()
		return nil, fmt.Errorf("mesh: private key: %w", err)
	}
	u := &userspace{
		dp:      dp,
		log:     opts.Logger.With("datapath", string(dp)),
		bind:    &probeBind{Bind: conn.NewDefaultBind()},
		priv:    priv,
		params:  opts.Paths.withDefaults(),
		now:     time.Now,
		addrs:   slices.Clone(opts.Addresses),
		peers:   map[Key]*peerState{},
		pending: map[[8]byte]pendingProbe{},
		stop:    make(chan struct{}),
	}
	copy(u.pub[:], priv.PublicKey().Bytes())
	empty := map[Key]*[32]byte{}
	u.probeKeys.Store(&empty)
	h := u.handleProbe
	u.bind.onProbe.Store(&h)

	u.dev = device.NewDevice(newFilteredTUN(td, opts.Filter), u.bind, wgLogger(u.log))
	var b bytes.Buffer
	fmt.Fprintf(&b, "private_key=%s\nlisten_port=%d\n", hex.EncodeToString(opts.PrivateKey), opts.ListenPort)
	err = u.dev.IpcSetOperation(&b)
	clear(b.Bytes())
	if err != nil {
		u.dev.Close()
		return nil, fmt.Errorf("mesh: configuring device: %w", err)
	}
	if err := u.dev.Up(); err != nil {
		u.dev.Close()
		return nil, fmt.Errorf("mesh: bringing device up: %w", err)
	}
	st, err := u.readState()
	if err != nil {
		u.dev.Close()
		return nil, err
	}
	u.port = st.port
	u.wg.Add(1)
	go u.probeLoop()
	return u, nil
}

func wgLogger(l *slog.Logger) *device.Logger {
	return &device.Logger{
		Verbosef: func(format string, args ...any) {
			if l.Enabled(context.Background(), slog.LevelDebug) {
				l.Debug("wireguard: " + fmt.Sprintf(format, args...))
			}
		},
		Errorf: func(format string, args ...any) {
			l.Warn("wireguard: " + fmt.Sprintf(format, args...))
		},
	}
}

func (u *userspace) Datapath() Datapath { return u.dp }
func (u *userspace) PublicKey() Key     { return u.pub }
func (u *userspace) ListenPort() uint16 { return u.port }
func hexKey(k Key) string               { return hex.EncodeToString(k[:]) }
func peerEqual(a, b Peer) bool {
	return a.PublicKey == b.PublicKey && a.PresharedKey == b.PresharedKey &&
		a.PersistentKeepalive == b.PersistentKeepalive &&
		slices.Equal(a.AllowedIPs, b.AllowedIPs) && slices.Equal(a.Endpoints, b.Endpoints)
}

// Apply implements Device.
func (u *userspace) Apply(ctx context.Context, cfg Config) error {
	if err := cfg.validate(u.pub); err != nil {
		return err
	}
	u.applyMu.Lock()
	defer u.applyMu.Unlock()
	if err := ctx.Err(); err != nil {
		return err
	}
	select {
	case <-u.stop:
		return errors.New("mesh: device is closed")
	default:
	}

	u.mu.Lock()
	oldAddrs := slices.Clone(u.addrs)
	old := make(map[Key]*peerState, len(u.peers))
	for k, v := range u.peers {
		old[k] = v
	}
	u.mu.Unlock()

	if !slices.Equal(oldAddrs, cfg.Addresses) {
		if u.setAddrs == nil {
			return ErrAddressChange
		}
		if err := u.setAddrs(ctx, oldAddrs, cfg.Addresses); err != nil {
			return err
		}
		u.mu.Lock()
		u.addrs = slices.Clone(cfg.Addresses)
		u.mu.Unlock()
	}

	// Probe keys for new peers must exist before the peers do.
	keys := map[Key]*[32]byte{}
	cur := *u.probeKeys.Load()
	for _, p := range cfg.Peers {
		if k, ok := cur[p.PublicKey]; ok {
			keys[p.PublicKey] = k
			continue
		}
		k, err := pairProbeKey(u.priv, u.pub, p.PublicKey)
		if err != nil {
			return fmt.Errorf("mesh: peer %s: unusable public key", p.PublicKey)
		}
		keys[p.PublicKey] = k
	}
	merged := unionKeys(cur, keys)
	u.probeKeys.Store(&merged)

	var b bytes.Buffer
	next := make(map[Key]*peerState, len(cfg.Peers))
	want := make(map[Key]bool, len(cfg.Peers))
	for _, p := range cfg.Peers {
		want[p.PublicKey] = true
	}
	// Removals first: a revoked peer goes before anything else changes.
	for k := range old {
		if !want[k] {
			fmt.Fprintf(&b, "public_key=%s\nremove=true\n", hexKey(k))
		}
	}
	for _, p := range cfg.Peers {
		prev, existed := old[p.PublicKey]
		if existed && peerEqual(prev.cfg, p) {
			next[p.PublicKey] = prev
			continue
		}
		ps := &peerState{cfg: clonePeer(p)}
		endpointsChanged := !existed || !slices.Equal(prev.cfg.Endpoints, p.Endpoints)
		if existed && !endpointsChanged {
			ps.sel, ps.eps = prev.sel, prev.eps
		} else {
			for _, e := range p.Endpoints {
				ep, err := u.bind.ParseEndpoint(e.String())
				if err != nil {
					return fmt.Errorf("mesh: peer %s: endpoint %v: %w", p.PublicKey, e, err)
				}
				ps.eps = append(ps.eps, ep)
			}
			if len(p.Endpoints) > 1 {
				ps.sel = NewSelector(len(p.Endpoints), u.params, u.now)
			}
		}
		fmt.Fprintf(&b, "public_key=%s\n", hexKey(p.PublicKey))
		if existed {
			b.WriteString("update_only=true\n")
		}
		fmt.Fprintf(&b, "preshared_key=%s\n", hexKey(p.PresharedKey))
		fmt.Fprintf(&b, "persistent_keepalive_interval=%d\n", int(p.PersistentKeepalive/time.Second))
		b.WriteString("replace_allowed_ips=true\n")
		for _, a := range p.AllowedIPs {
			fmt.Fprintf(&b, "allowed_ip=%s\n", a.Masked())
		}
		if endpointsChanged && len(p.Endpoints) > 0 {
			i := 0
			if ps.sel != nil {
				i = ps.sel.Active()
			}
			fmt.Fprintf(&b, "endpoint=%s\n", p.Endpoints[i])
		}
		next[p.PublicKey] = ps
	}
	if b.Len() > 0 {
		err := u.dev.IpcSetOperation(&b)
		clear(b.Bytes())
		if err != nil {
			// Partly applied: take the device's view of which peers exist.
			u.resync(old, next)
			return fmt.Errorf("mesh: applying configuration: %w", err)
		}
	}
	u.mu.Lock()
	u.peers = next
	for n, pp := range u.pending {
		if next[pp.peer] == nil || next[pp.peer].sel != pp.sel {
			delete(u.pending, n)
		}
	}
	u.mu.Unlock()
	u.probeKeys.Store(&keys)
	u.syncRoutes(ctx, cfg)
	return nil
}

// syncRoutes routes the peers' allowed IPs that lie outside the node's
// on-link prefixes (the networks behind peers, such as their workloads)
// into the device, and removes the routes it added that are no longer
// wanted. Called with applyMu held, after the peers are configured. A
// failure is logged, not returned: the peers and so the rules are in
// force, a route the host already has is the operator's to resolve, and
// the next Apply tries again.
func (u *userspace) syncRoutes(ctx context.Context, cfg Config) {
	if u.setRoutes == nil {
		return
	}
	want, refused := meshRoutes(cfg)
	if !slices.Equal(refused, u.routesRefused) && len(refused) > 0 {
		u.log.Warn("mesh: not routing peer prefixes that contain a WireGuard endpoint or everything", "prefixes", fmt.Sprint(refused))
	}
	u.routesRefused = refused
	if u.routesSynced && slices.Equal(want, u.routes) {
		return
	}
	routed, err := u.setRoutes(ctx, u.routes, want)
	if err != nil {
		u.log.Warn("mesh: routing peers' prefixes into the mesh device", "err", err)
	}
	if !slices.Equal(routed, u.routes) {
		u.log.Info("mesh: routes into the mesh device", "prefixes", fmt.Sprint(routed))
		if miss := familiesWithout(routed, cfg.Addresses); len(miss) > 0 {
			u.log.Warn("mesh: the node has no mesh address of the family of these routed prefixes, so it cannot reach them (give the mesh an address of that family)", "prefixes", fmt.Sprint(miss))
		}
	}
	u.routes, u.routesSynced = routed, err == nil
}

// resync keeps the peers wireguard-go actually has after a failed IpcSet.
func (u *userspace) resync(old, next map[Key]*peerState) {
	st, err := u.readState()
	u.mu.Lock()
	defer u.mu.Unlock()
	if err != nil {
		return
	}
	peers := map[Key]*peerState{}
	for _, p := range st.peers {
		if ps := next[p.PublicKey]; ps != nil {
			peers[p.PublicKey] = ps
		} else if ps := old[p.PublicKey]; ps != nil {
			peers[p.PublicKey] = ps
		}
	}
	u.peers = peers
}

func unionKeys(a, b map[Key]*[32]byte) map[Key]*[32]byte {
	m := make(map[Key]*[32]byte, len(a)+len(b))
	for k, v := range a {
		m[k] = v
	}
	for k, v := range b {
		m[k] = v
	}
	return m
}

func clonePeer(p Peer) Peer {
	p.AllowedIPs = slices.Clone(p.AllowedIPs)
	p.Endpoints = slices.Clone(p.Endpoints)
	return p
}

// RotatePSK implements Device. wireguard-go keeps using the current session
// keys; the new key is mixed into the next handshake, which the side with
// the lower public key starts here and retries each second (WireGuard
// itself rate-limits initiations to one per 5 s) until one completes, for
// at most 90 s. If the other side has not received its copy yet, those
// handshakes fail harmlessly and the current session keeps carrying
// traffic. Only one side starts: both learn of a rotation at the same
// moment, and two initiations crossing each other make each side replace
// its half-done handshake with the other's, which cost one side its
// session keys in tests (the stream stalled for seconds until the next
// handshake).
func (u *userspace) RotatePSK(ctx context.Context, peer Key, psk Key) error {
	if psk.IsZero() {
		return fmt.Errorf("mesh: peer %s: refusing an all-zero pre-shared key", peer)
	}
	u.applyMu.Lock()
	defer u.applyMu.Unlock()
	u.mu.Lock()
	ps := u.peers[peer]
	u.mu.Unlock()
	if ps == nil {
		return fmt.Errorf("mesh: peer %s is not configured", peer)
	}
	select {
	case <-u.stop:
		return errors.New("mesh: device is closed")
	default:
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "public_key=%s\nupdate_only=true\npreshared_key=%s\n", hexKey(peer), hexKey(psk))
	err := u.dev.IpcSetOperation(&b)
	clear(b.Bytes())
	if err != nil {
		return fmt.Errorf("mesh: peer %s: setting pre-shared key: %w", peer, err)
	}
	rotated := u.now()
	u.mu.Lock()
	ps.cfg.PresharedKey = psk
	start := !ps.rotating && bytes.Compare(u.pub[:], peer[:]) < 0
	ps.rotating = ps.rotating || start
	u.mu.Unlock()
	if start {
		u.wg.Add(1)
		go u.rehandshake(peer, ps, rotated)
	}
	return nil
}

func (u *userspace) rehandshake(key Key, ps *peerState, since time.Time) {
	defer u.wg.Done()
	defer func() { u.mu.Lock(); ps.rotating = false; u.mu.Unlock() }()
	t := time.NewTicker(time.Second)
	defer t.Stop()
	deadline := since.Add(90 * time.Second)
	for {
		u.mu.Lock()
		current := u.peers[key] == ps
		u.mu.Unlock()
		if !current {
			return // removed or replaced
		}
		if hs, ok := u.lastHandshake(key); ok && hs.After(since) {
			return
		}
		if p := u.dev.LookupPeer(device.NoisePublicKey(key)); p != nil {
			_ = p.SendHandshakeInitiation(false) // no-op within 5 s of the last one
		}
		if u.now().After(deadline) {
			u.log.Warn("mesh: no handshake with the rotated pre-shared key; does the peer have it?", "peer", key.String())
			return
		}
		select {
		case <-u.stop:
			return
		case <-t.C:
		}
	}
}

func (u *userspace) lastHandshake(key Key) (time.Time, bool) {
	st, err := u.readState()
	if err != nil {
		return time.Time{}, false
	}
	for _, p := range st.peers {
		if p.PublicKey == key {
			return p.LastHandshake, true
		}
	}
	return time.Time{}, false
}

// Status implements Device.
func (u *userspace) Status(ctx context.Context) ([]PeerStatus, error) {
	st, err := u.readState()
	if err != nil {
		return nil, err
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	out := st.peers
	for i := range out {
		ps := u.peers[out[i].PublicKey]
		if ps == nil || ps.sel == nil {
			continue
		}
		for j, e := range ps.cfg.Endpoints {
			up, rtt := ps.sel.Path(j)
			out[i].Paths = append(out[i].Paths, PathStatus{Endpoint: e, Up: up, RTT: rtt, Active: j == ps.sel.Active()})
		}
	}
	slices.SortFunc(out, func(a, b PeerStatus) int { return bytes.Compare(a.PublicKey[:], b.PublicKey[:]) })
	return out, nil
}

type deviceState struct {
	port  uint16
	peers []PeerStatus
}

// readState parses wireguard-go's UAPI dump. The dump holds the private
// and pre-shared keys; they are skipped and the buffer is wiped.
func (u *userspace) readState() (deviceState, error) {
	var st deviceState
	var b bytes.Buffer
	if err := u.dev.IpcGetOperation(&b); err != nil {
		return st, fmt.Errorf("mesh: reading device state: %w", err)
	}
	defer clear(b.Bytes())
	var cur *PeerStatus
	var secs, nsecs int64
	flush := func() {
		if cur != nil {
			if secs != 0 || nsecs != 0 {
				cur.LastHandshake = time.Unix(secs, nsecs)
			}
			st.peers = append(st.peers, *cur)
		}
		secs, nsecs = 0, 0
	}
	sc := bufio.NewScanner(bytes.NewReader(b.Bytes()))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), "=")
		if !ok {
			continue
		}
		switch k {
		case "listen_port":
			n, _ := strconv.ParseUint(v, 10, 16)
			st.port = uint16(n)
		case "public_key":
			flush()
			cur = &PeerStatus{}
			kb, err := hex.DecodeString(v)
			if err != nil || len(kb) != KeySize {
				return st, errors.New("mesh: malformed device state")
			}
			copy(cur.PublicKey[:], kb)
		case "endpoint":
			if cur != nil {
				cur.Endpoint, _ = netip.ParseAddrPort(v)
			}
		case "last_handshake_time_sec":
			secs, _ = strconv.ParseInt(v, 10, 64)
		case "last_handshake_time_nsec":
			nsecs, _ = strconv.ParseInt(v, 10, 64)
		case "rx_bytes":
			if cur != nil {
				cur.RxBytes, _ = strconv.ParseUint(v, 10, 64)
			}
		case "tx_bytes":
			if cur != nil {
				cur.TxBytes, _ = strconv.ParseUint(v, 10, 64)
			}
		}
	}
	flush()
	return st, nil
}

// probeLoop probes every endpoint of every multi-endpoint peer each
// Interval, lets each peer's Selector decide, and points WireGuard at the
// chosen endpoint (again, if WireGuard roamed away from it).
func (u *userspace) probeLoop() {
	defer u.wg.Done()
	t := time.NewTicker(u.params.Interval)
	defer t.Stop()
	for {
		select {
		case <-u.stop:
			return
		case <-t.C:
		}
		u.probeRound()
	}
}

type probeSend struct {
	ep  conn.Endpoint
	msg []byte
}

func (u *userspace) probeRound() {
	now := u.now()
	var sends []probeSend
	want := map[Key]netip.AddrPort{}
	u.mu.Lock()
	for n, pp := range u.pending {
		if now.Sub(pp.sent) > u.params.DownAfter {
			delete(u.pending, n)
		}
	}
	keys := *u.probeKeys.Load()
	for k, ps := range u.peers {
		if ps.sel == nil {
			continue
		}
		if i, changed := ps.sel.Evaluate(); changed {
			u.log.Info("mesh: switching path", "peer", k.String(), "endpoint", ps.cfg.Endpoints[i].String())
		}
		want[k] = ps.cfg.Endpoints[ps.sel.Active()]
		pk := keys[k]
		if pk == nil {
			continue
		}
		for i, ep := range ps.eps {
			var nonce [8]byte
			rand.Read(nonce[:])
			u.pending[nonce] = pendingProbe{peer: k, sel: ps.sel, idx: i, sent: now}
			sends = append(sends, probeSend{ep, probeMsg{sender: u.pub, nonce: nonce}.marshal(pk)})
		}
	}
	u.mu.Unlock()
	for _, s := range sends {
		_ = u.bind.Send([][]byte{s.msg}, s.ep) // a dead path fails here or stays silent
	}
	if len(want) == 0 {
		return
	}
	st, err := u.readState()
	if err != nil {
		return
	}
	var b bytes.Buffer
	for _, p := range st.peers {
		if w, ok := want[p.PublicKey]; ok && p.Endpoint != w {
			fmt.Fprintf(&b, "public_key=%s\nupdate_only=true\nendpoint=%s\n", hexKey(p.PublicKey), w)
		}
	}
	if b.Len() > 0 {
		if err := u.dev.IpcSetOperation(&b); err != nil {
			u.log.Warn("mesh: setting endpoint", "err", err)
		}
	}
}

// handleProbe runs on the bind's receive goroutine for each probe packet.
func (u *userspace) handleProbe(b []byte, from conn.Endpoint) {
	keys := *u.probeKeys.Load()
	m, err := parseProbe(b, func(k Key) (*[32]byte, bool) { pk, ok := keys[k]; return pk, ok })
	if err != nil {
		return // not from a peer of ours: drop silently
	}
	if !m.answer {
		reply := probeMsg{answer: true, sender: u.pub, nonce: m.nonce}.marshal(keys[m.sender])
		_ = u.bind.Send([][]byte{reply}, from)
		return
	}
	now := u.now()
	u.mu.Lock()
	defer u.mu.Unlock()
	pp, ok := u.pending[m.nonce]
	if !ok || pp.peer != m.sender {
		return
	}
	delete(u.pending, m.nonce)
	if ps := u.peers[pp.peer]; ps != nil && ps.sel == pp.sel {
		ps.sel.Answer(pp.idx, now.Sub(pp.sent))
	}
}

// Close implements Device.
func (u *userspace) Close() error {
	var err error
	u.closeOnce.Do(func() {
		u.applyMu.Lock() // no Apply or RotatePSK in flight; none starts a goroutine after this
		close(u.stop)
		if u.setRoutes != nil && len(u.routes) > 0 {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			u.routes, err = u.setRoutes(ctx, u.routes, nil)
			cancel()
		}
		u.applyMu.Unlock()
		u.dev.Close()
		u.wg.Wait()
		if u.onClose != nil {
			err = errors.Join(err, u.onClose())
		}
	})
	return err
}
