package server

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/hoheit/hoheit/internal/api"
	"github.com/hoheit/hoheit/internal/audit"
	"github.com/hoheit/hoheit/internal/keys"
	"github.com/hoheit/hoheit/internal/segment"
	"github.com/hoheit/hoheit/internal/store"
)

// MeshOptions configure the mesh the server hands out.
type MeshOptions struct {
	// IPv6 is the ULA prefix node addresses are taken from; IPv4, when
	// valid, gives each node a second address.
	IPv6, IPv4 netip.Prefix
	// RotateEvery rotates every pair's pre-shared key.
	RotateEvery time.Duration
	// LongPoll is how long a config request waits for a change (30s).
	LongPoll time.Duration
	// AlertWebhook, when set, receives every segmentation alert as a JSON
	// POST.
	AlertWebhook string
	// AlertsKeep is how many segmentation alerts the store keeps (the
	// newest; 10,000 by default), AlertsMaxAge how long it keeps one
	// (30 days).
	AlertsKeep   int
	AlertsMaxAge time.Duration
}

// DefaultMeshIPv6 is the mesh's default ULA prefix.
var DefaultMeshIPv6 = netip.MustParsePrefix("fd68:6f68:6569::/48")

// nodeMesh is what a node declared at join, kept in store.Node.Mesh.
type nodeMesh struct {
	Labels    map[string]string `json:"labels,omitempty"`
	Endpoints []string          `json:"endpoints,omitempty"`
}

// mesh is the server's view of the mesh: the compiled segmentation policy
// over the active nodes, and a broadcast that wakes every waiting config
// request when anything changes.
type meshState struct {
	opts MeshOptions
	mu   sync.Mutex
	// comp is nil until a policy is applied; without one no node has peers.
	// It compiles the policy as promoted: policy with the promoter's modes.
	comp     *segment.Compiler
	policy   *segment.Policy
	promoter *segment.Promoter
	nodes    map[string]segment.Node
	// peers holds what a node's peers need to know of it, so a config
	// is built without reading the store.
	peers map[string]api.MeshPeer
	// owner indexes the mesh addresses in use by node.
	owner map[netip.Addr]string
	// psks caches the pair keys of the current epoch (derivation may be an
	// HSM call).
	psks     map[[2]string][]byte
	pskEpoch uint64
	// revocations counts removals from the mesh; it goes into every pair
	// key, so any revocation rotates every pre-shared key.
	revocations uint64
	// changed is closed and replaced on every change.
	changed chan struct{}
	// flowKeys counts the flow keys in the store (flowstore.go).
	flowKeys int
	// workloads holds what each node reported (workloads.go), active
	// or not; only active nodes' go into the compile.
	workloads map[string][]segment.Workload
	// hook queues alerts for the webhook.
	hook chan segment.Alert
}

func newMesh(o MeshOptions) *meshState {
	if !o.IPv6.IsValid() {
		o.IPv6 = DefaultMeshIPv6
	}
	if o.RotateEvery <= 0 {
		o.RotateEvery = time.Hour
	}
	if o.LongPoll <= 0 {
		o.LongPoll = 30 * time.Second
	}
	if o.AlertsKeep <= 0 {
		o.AlertsKeep = DefaultAlertsKeep
	}
	if o.AlertsMaxAge <= 0 {
		o.AlertsMaxAge = DefaultAlertsMaxAge
	}
	var hook chan segment.Alert
	if o.AlertWebhook != "" {
		hook = make(chan segment.Alert, 1024)
	}
	return &meshState{opts: o, hook: hook, nodes: map[string]segment.Node{}, peers: map[string]api.MeshPeer{}, psks: map[[2]string][]byte{}, owner: map[netip.Addr]string{},
		changed: make(chan struct{}), workloads: map[string][]segment.Workload{}}
}

// wakeLocked wakes every waiting config request.
func (m *meshState) wakeLocked() {
	close(m.changed)
	m.changed = make(chan struct{})
}

// addresses returns a node's mesh addresses: derived from its id, probing
// past addresses other nodes hold.
func (m *meshState) addresses(id string) []netip.Prefix {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []netip.Prefix
	for _, p := range []netip.Prefix{m.opts.IPv6, m.opts.IPv4} {
		if !p.IsValid() {
			continue
		}
		for i := uint32(0); i <= 1<<16; i++ {
			a := hostIn(p, id, i)
			if owner, taken := m.owner[a]; a.IsValid() && (!taken || owner == id) {
				m.owner[a] = id // reserved, so a concurrent join cannot take it
				out = append(out, netip.PrefixFrom(a, a.BitLen()))
				break
			}
		}
	}
	return out
}

// hostIn picks the host part of an address in p from a hash of id and try.
func hostIn(p netip.Prefix, id string, try uint32) netip.Addr {
	h := sha256.New()
	h.Write([]byte("hoheit mesh address v1\x00" + id))
	binary.Write(h, binary.BigEndian, try)
	sum := h.Sum(nil)
	b := p.Masked().Addr().AsSlice()
	bits := p.Bits()
	for i := range b {
		if i*8 >= bits {
			b[i] = sum[i]
		} else if i*8+8 > bits {
			keep := byte(0xff) << (8 - (bits - i*8))
			b[i] = b[i]&keep | sum[i]&^keep
		}
	}
	a, _ := netip.AddrFromSlice(b)
	// Avoid the network and (IPv4) broadcast addresses.
	last := b[len(b)-1]
	if a == p.Masked().Addr() || (a.Is4() && last == 0xff) || last == 0 {
		return netip.Addr{}
	}
	return a
}

// load fills the mesh from the store: the active nodes and the applied
// policy.
func (s *Server) loadMesh(ctx context.Context) error {
	var policy, promotion, workloads []byte
	var nodes []store.Node
	var flows []store.Flow
	err := s.d.Store.View(ctx, func(tx store.ReadTx) error {
		var err error
		if nodes, err = tx.Nodes(ctx); err != nil {
			return err
		}
		if flows, err = tx.Flows(ctx); err != nil {
			return err
		}
		policy, err = tx.Meta(ctx, metaSegmentPolicy)
		if errors.Is(err, store.ErrNotFound) {
			err = nil
		}
		if err != nil {
			return err
		}
		promotion, err = tx.Meta(ctx, metaPromotion)
		if errors.Is(err, store.ErrNotFound) {
			err = nil
		}
		if err != nil {
			return err
		}
		workloads, err = tx.Meta(ctx, metaWorkloads)
		if errors.Is(err, store.ErrNotFound) {
			err = nil
		}
		return err
	})
	if err != nil {
		return err
	}
	m := s.mesh
	m.mu.Lock()
	defer m.mu.Unlock()
	m.flowKeys = len(flows)
	if err := m.loadWorkloadsLocked(workloads); err != nil {
		return err
	}
	for _, n := range nodes {
		// Every node keeps its addresses, active or not, so a quarantined
		// node that comes back gets the same ones and nobody else takes them.
		m.own(segNode(n))
		if n.Status == statusActive {
			m.nodes[n.ID] = segNode(n)
			m.peers[n.ID] = meshPeer(n)
		}
	}
	if policy != nil {
		p, err := segment.ParsePolicy(policy)
		if err != nil {
			return fmt.Errorf("the stored segmentation policy: %w", err)
		}
		m.policy = p
		m.promoter = segment.NewPromoter(p, s.d.Now)
		var states []segment.PromotionState
		if err := json.Unmarshal(promotion, &states); err == nil {
			m.promoter.Restore(states)
		}
		m.replayFlowsLocked(flows)
		if m.comp, err = segment.NewCompiler(m.promoter.Apply(p), m.inventoryLocked()); err != nil {
			return err
		}
	}
	return nil
}

const metaPromotion = "segment.promotion"

// PromoteOnce moves segments whose quiet window passed one step (learn ->
// monitor -> protect), recompiles, wakes the affected nodes and audits each
// change.
func (s *Server) PromoteOnce(ctx context.Context) error {
	m := s.mesh
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.promoter == nil {
		return nil
	}
	changes := m.promoter.Tick()
	if len(changes) == 0 {
		return nil
	}
	state, err := json.Marshal(m.promoter.State())
	if err != nil {
		return err
	}
	now := s.d.Now()
	err = s.d.Store.Update(ctx, func(tx store.Tx) error {
		for _, c := range changes {
			if _, err := tx.Append(ctx, audit.Record{Time: now, Type: "segment-promotion", Actor: "server",
				Details: map[string]string{"segment": c.Segment, "from": c.From.String(), "to": c.To.String()}}); err != nil {
				return err
			}
		}
		return tx.SetMeta(ctx, metaPromotion, state)
	})
	if err != nil {
		return err
	}
	if _, err := m.comp.Update(segment.SetPolicy{Policy: m.promoter.Apply(m.policy)}); err != nil {
		return err
	}
	for _, c := range changes {
		s.d.Log.Info("segment promoted", "segment", c.Segment, "from", c.From.String(), "to", c.To.String())
	}
	m.wakeLocked()
	return nil
}

// webhook posts queued alerts until ctx ends.
func (s *Server) webhook(ctx context.Context) {
	url := s.mesh.opts.AlertWebhook
	if url == "" {
		return
	}
	client := &http.Client{Timeout: 5 * time.Second}
	for {
		select {
		case <-ctx.Done():
			return
		case a := <-s.mesh.hook:
			body, err := json.Marshal(a)
			if err != nil {
				continue
			}
			req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
			if err != nil {
				s.d.Log.Error("alert webhook", "err", err)
				continue
			}
			req.Header.Set("Content-Type", "application/json")
			resp, err := client.Do(req)
			if err != nil {
				s.d.Log.Warn("alert webhook", "err", err)
				continue
			}
			resp.Body.Close()
			if resp.StatusCode/100 != 2 {
				s.d.Log.Warn("alert webhook", "status", resp.Status)
			}
		}
	}
}

// promote runs PromoteOnce every few seconds, and prunes the stored alerts
// now and then every pruneEvery, until ctx ends.
func (s *Server) promote(ctx context.Context) {
	t := time.NewTicker(5 * time.Second)
	defer t.Stop()
	var pruned time.Time
	for {
		if time.Since(pruned) >= pruneEvery {
			if err := s.pruneAlerts(ctx); err != nil && ctx.Err() == nil {
				s.d.Log.Error("pruning segmentation alerts failed", "err", err)
			}
			pruned = time.Now()
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := s.PromoteOnce(ctx); err != nil && ctx.Err() == nil {
			s.d.Log.Error("segment promotion failed", "err", err)
		}
	}
}

const metaSegmentPolicy = "segment.policy"

func segNode(n store.Node) segment.Node {
	var nm nodeMesh
	json.Unmarshal(n.Mesh, &nm)
	sn := segment.Node{ID: segment.NodeID(n.ID), Labels: nm.Labels}
	for _, a := range strings.Split(n.MeshAddress, ",") {
		if p, err := netip.ParsePrefix(a); err == nil {
			sn.Addresses = append(sn.Addresses, p)
		}
	}
	return sn
}

func (m *meshState) revocationsNow() uint64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.revocations
}

// own records a node's addresses as taken by it.
func (m *meshState) own(n segment.Node) {
	for _, a := range n.Addresses {
		m.owner[a.Addr()] = string(n.ID)
	}
}

func meshPeer(n store.Node) api.MeshPeer {
	var nm nodeMesh
	json.Unmarshal(n.Mesh, &nm)
	mp := api.MeshPeer{NodeID: n.ID, PublicKey: n.WireGuardPublicKey, Endpoints: nm.Endpoints}
	for _, a := range strings.Split(n.MeshAddress, ",") {
		if a != "" {
			mp.AllowedIPs = append(mp.AllowedIPs, a)
		}
	}
	return mp
}

func (m *meshState) inventoryLocked() segment.Inventory {
	inv := segment.Inventory{}
	for _, n := range m.nodes {
		inv.Nodes = append(inv.Nodes, n)
	}
	sort.Slice(inv.Nodes, func(i, j int) bool { return inv.Nodes[i].ID < inv.Nodes[j].ID })
	for _, n := range inv.Nodes {
		inv.Workloads = append(inv.Workloads, m.workloads[string(n.ID)]...)
	}
	return inv
}

// upsert and remove keep the mesh in step with node status; both wake
// waiting config requests.
func (m *meshState) upsert(n store.Node) {
	m.mu.Lock()
	defer m.mu.Unlock()
	sn := segNode(n)
	m.own(sn)
	_, was := m.nodes[n.ID]
	m.nodes[n.ID] = sn
	m.peers[n.ID] = meshPeer(n)
	if m.comp != nil {
		if _, err := m.comp.Update(segment.UpsertNode{Node: sn}); err != nil {
			return
		}
	}
	if !was {
		// A node coming back brings its workloads back, unless another
		// node took their addresses meanwhile (it reports them again).
		if ws := m.workloads[n.ID]; len(ws) > 0 {
			if m.checkWorkloadsLocked(n.ID, ws) != nil {
				delete(m.workloads, n.ID)
			} else {
				m.setWorkloadsLocked(n.ID, ws)
			}
		}
	}
	m.wakeLocked()
}

func (m *meshState) remove(id string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.nodes[id]; !ok {
		return
	}
	delete(m.nodes, id)
	delete(m.peers, id)
	m.revocations++
	for _, k := range m.psks {
		clear(k)
	}
	m.psks = map[[2]string][]byte{}
	if m.comp != nil {
		m.comp.Update(segment.RemoveNode{ID: segment.NodeID(id)})
	}
	m.wakeLocked()
}

// epoch is the number of the current pre-shared key period.
func (s *Server) epoch() uint64 {
	return uint64(s.d.Now().UnixNano() / int64(s.mesh.opts.RotateEvery))
}

// configFor builds a node's mesh config; it returns the config without
// its sealed keys, and the plaintext pre-shared keys by peer.
func (s *Server) configFor(ctx context.Context, n store.Node) (*api.MeshConfig, map[string][]byte, error) {
	m := s.mesh
	m.mu.Lock()
	self := m.nodes[n.ID]
	var rs *segment.NodeRuleSet
	if m.comp != nil {
		rs, _ = m.comp.RuleSet(segment.NodeID(n.ID))
	}
	var peerIDs []string
	if rs != nil {
		if rs.AllPeers {
			for id := range m.nodes {
				if id != n.ID {
					peerIDs = append(peerIDs, id)
				}
			}
		} else {
			for _, p := range rs.Peers {
				peerIDs = append(peerIDs, string(p.Node))
			}
		}
	}
	var peers []api.MeshPeer
	for _, id := range peerIDs {
		if p, ok := m.peers[id]; ok {
			// The addresses of the peer's workloads are routed to it too.
			if wa := m.workloadAddrsLocked(id); len(wa) > 0 {
				p.AllowedIPs = append(slices.Clip(p.AllowedIPs), wa...)
			}
			peers = append(peers, p)
		}
	}
	m.mu.Unlock()
	slices.SortFunc(peers, func(a, b api.MeshPeer) int { return strings.Compare(a.NodeID, b.NodeID) })

	cfg := &api.MeshConfig{PSKEpoch: s.epoch(), PSKGeneration: m.revocationsNow(), Peers: []api.MeshPeer{}}
	for _, a := range self.Addresses {
		cfg.Addresses = append(cfg.Addresses, a.String())
	}
	if rs != nil {
		var err error
		if cfg.Rules, err = json.Marshal(rs); err != nil {
			return nil, nil, err
		}
	}
	psks := map[string][]byte{}
	for _, p := range peers {
		cfg.Peers = append(cfg.Peers, p)
		psk, err := s.pairPSK(ctx, n.ID, p.NodeID, cfg.PSKEpoch)
		if err != nil {
			return nil, nil, err
		}
		psks[p.NodeID] = psk
	}
	// The ETag covers everything but the sealed keys (sealing is
	// randomised); the epoch stands for the keys.
	tag, err := json.Marshal(cfg)
	if err != nil {
		return nil, nil, err
	}
	sum := sha256.Sum256(tag)
	cfg.ETag = hex.EncodeToString(sum[:16])
	return cfg, psks, nil
}

// pairPSK derives the pre-shared key of a node pair for an epoch: the same
// for both ends, different for every pair and period. Keys of the current
// epoch are cached; the caller gets a copy it may clear.
func (s *Server) pairPSK(ctx context.Context, a, b string, epoch uint64) ([]byte, error) {
	if a > b {
		a, b = b, a
	}
	m := s.mesh
	m.mu.Lock()
	gen := m.revocations
	if m.pskEpoch != epoch {
		for _, k := range m.psks {
			clear(k)
		}
		m.psks, m.pskEpoch = map[[2]string][]byte{}, epoch
	}
	k, ok := m.psks[[2]string{a, b}]
	m.mu.Unlock()
	if ok {
		return bytes.Clone(k), nil
	}
	info := fmt.Appendf(nil, "%s\x00%s\x00%d\x00%d", a, b, epoch, gen)
	k, err := s.d.Keys.Derive(ctx, keys.NodeKeyLabelPrefix+"mesh-psk", info, 32)
	if err != nil {
		return nil, err
	}
	m.mu.Lock()
	if m.pskEpoch == epoch && m.revocations == gen {
		m.psks[[2]string{a, b}] = k
	}
	m.mu.Unlock()
	return bytes.Clone(k), nil
}

// handleMeshConfig answers a node's config request, long-polling while
// the node's config equals the ETag it sent.
func (s *Server) handleMeshConfig(w http.ResponseWriter, r *http.Request) error {
	n, err := s.nodeFromCert(r)
	if err != nil {
		return err
	}
	ctx := r.Context()
	have := r.URL.Query().Get("etag")
	deadline := time.NewTimer(s.mesh.opts.LongPoll)
	defer deadline.Stop()
	nextEpoch := time.NewTimer(time.Until(time.Unix(0, int64(s.epoch()+1)*int64(s.mesh.opts.RotateEvery))) + 10*time.Millisecond)
	defer nextEpoch.Stop()
	for {
		s.mesh.mu.Lock()
		changed := s.mesh.changed
		s.mesh.mu.Unlock()
		if n, err = s.node(ctx, n.ID); err != nil {
			return err
		}
		if n.Status != statusActive {
			return errForbidden("node %s is %s", n.ID, n.Status)
		}
		cfg, psks, err := s.configFor(ctx, n)
		if err != nil {
			return err
		}
		if cfg.ETag != have {
			bundle, err := json.Marshal(psks)
			if err != nil {
				return err
			}
			cfg.PSKs, err = keys.Seal(n.HPKEPublicKey, n.ID, cfg.ETag, bundle)
			clear(bundle)
			for _, k := range psks {
				clear(k)
			}
			if err != nil {
				return err
			}
			return writeJSON(w, http.StatusOK, cfg)
		}
		select {
		case <-changed:
		case <-nextEpoch.C:
		case <-deadline.C:
			w.WriteHeader(http.StatusNotModified)
			return nil
		case <-ctx.Done():
			return nil
		}
	}
}

// handleSetPolicy applies a segmentation policy: refused, with the failing
// tests, when its tests section fails.
func (s *Server) handleSetPolicy(w http.ResponseWriter, r *http.Request) error {
	data, err := io.ReadAll(r.Body)
	if err != nil {
		return errBadRequest("reading the policy: %v", err)
	}
	p, err := segment.ParsePolicy(data)
	if err != nil {
		return errBadRequest("%v", err)
	}
	ctx := r.Context()
	now := s.d.Now()
	sum := sha256.Sum256(data)
	m := s.mesh
	m.mu.Lock()
	defer m.mu.Unlock()
	// The deny tests are checked on the real nodes and workloads too: their
	// labels may let a rule reach what an identity's representative cannot.
	if fails := p.RunTestsOn(m.inventoryLocked()); len(fails) > 0 {
		res := api.SegmentPolicyResult{}
		for _, f := range fails {
			res.Failures = append(res.Failures, f.Error())
		}
		return writeJSON(w, http.StatusUnprocessableEntity, res)
	}
	promoter := m.promoter
	if promoter == nil {
		promoter = segment.NewPromoter(p, s.d.Now)
	} else {
		promoter.SetPolicy(p)
	}
	var comp *segment.Compiler
	if m.comp == nil {
		if comp, err = segment.NewCompiler(promoter.Apply(p), m.inventoryLocked()); err != nil {
			return errBadRequest("compiling the policy: %v", err)
		}
	}
	err = s.d.Store.Update(ctx, func(tx store.Tx) error {
		if err := tx.SetMeta(ctx, metaSegmentPolicy, data); err != nil {
			return err
		}
		_, err := tx.Append(ctx, audit.Record{Time: now, Type: "segment-policy", Actor: "token:" + tokenFrom(ctx).Name,
			Details: map[string]string{"sha256": hex.EncodeToString(sum[:]), "rules": fmt.Sprint(len(p.Rules))}})
		return err
	})
	if err != nil {
		return err
	}
	m.policy, m.promoter = p, promoter
	if comp != nil {
		m.comp = comp
	} else if _, err := m.comp.Update(segment.SetPolicy{Policy: promoter.Apply(p)}); err != nil {
		return err
	}
	m.wakeLocked()
	return writeJSON(w, http.StatusOK, api.SegmentPolicyResult{Applied: true, Nodes: len(m.nodes)})
}

func (s *Server) handleGetPolicy(w http.ResponseWriter, r *http.Request) error {
	var data []byte
	err := s.d.Store.View(r.Context(), func(tx store.ReadTx) error {
		var err error
		data, err = tx.Meta(r.Context(), metaSegmentPolicy)
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		return errNotFound("no segmentation policy is applied")
	}
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/yaml")
	_, err = w.Write(data)
	return err
}
