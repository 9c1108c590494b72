package server

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/netip"
	"regexp"
	"slices"
	"sort"

	"github.com/hoheit/hoheit/internal/api"
	"github.com/hoheit/hoheit/internal/audit"
	"github.com/hoheit/hoheit/internal/segment"
	"github.com/hoheit/hoheit/internal/store"
)

// Workloads a node reports (PUT /v1/mesh/workloads): service instances it
// routes, with labels the policy selects and addresses its peers route to
// it. The server checks that no node claims another's addresses, keeps
// every node's list in meta, compiles them with the nodes (a workload
// inherits its node's labels), and adds a node's workload addresses to the
// AllowedIPs its peers get.

const metaWorkloads = "mesh.workloads"

// Bounds of what one node may report.
const (
	maxWorkloads         = 256
	maxWorkloadAddresses = 64
	maxWorkloadLabels    = 64
)

var workloadNameRE = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9._-]{0,62})$`)

// parseWorkloads checks a node's report and returns its workloads as the
// compiler takes them, named NODE/NAME.
func parseWorkloads(node string, in []api.Workload) ([]segment.Workload, error) {
	if len(in) > maxWorkloads {
		return nil, fmt.Errorf("%d workloads: at most %d per node", len(in), maxWorkloads)
	}
	out := make([]segment.Workload, 0, len(in))
	seen := map[string]bool{}
	for _, w := range in {
		if !workloadNameRE.MatchString(w.Name) {
			return nil, fmt.Errorf("workload %q: a name is 1-63 letters, digits, '.', '_' or '-'", w.Name)
		}
		if seen[w.Name] {
			return nil, fmt.Errorf("workload %q listed twice", w.Name)
		}
		seen[w.Name] = true
		if len(w.Labels) > maxWorkloadLabels {
			return nil, fmt.Errorf("workload %q: at most %d labels", w.Name, maxWorkloadLabels)
		}
		for k, v := range w.Labels {
			if k == "" || len(k) > 253 || len(v) > 253 {
				return nil, fmt.Errorf("workload %q: label %q: keys 1-253, values up to 253 characters", w.Name, k)
			}
		}
		if len(w.Addresses) == 0 || len(w.Addresses) > maxWorkloadAddresses {
			return nil, fmt.Errorf("workload %q: give 1 to %d addresses", w.Name, maxWorkloadAddresses)
		}
		sw := segment.Workload{Name: node + "/" + w.Name, Node: segment.NodeID(node), Labels: maps.Clone(w.Labels)}
		for _, s := range w.Addresses {
			p, err := segment.ParseWorkloadAddress(s)
			if err != nil {
				return nil, fmt.Errorf("workload %q: %w", w.Name, err)
			}
			sw.Addresses = append(sw.Addresses, p)
		}
		out = append(out, sw)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// checkWorkloadsLocked refuses workloads of node whose addresses overlap
// the mesh prefixes, each other, the workloads of other active nodes, or
// contain a node's WireGuard endpoint (its peers would route the tunnel
// into itself).
func (m *meshState) checkWorkloadsLocked(node string, ws []segment.Workload) error {
	type claim struct {
		p     netip.Prefix
		owner string
	}
	var taken []claim
	for id, others := range m.workloads {
		if _, active := m.nodes[id]; !active || id == node {
			continue
		}
		for _, w := range others {
			for _, p := range w.Addresses {
				taken = append(taken, claim{p, w.Name})
			}
		}
	}
	var endpoints []netip.Addr
	for _, p := range m.peers {
		for _, e := range p.Endpoints {
			if ap, err := netip.ParseAddrPort(e); err == nil {
				endpoints = append(endpoints, ap.Addr().Unmap())
			}
		}
	}
	for i, w := range ws {
		for _, p := range w.Addresses {
			for _, mp := range []netip.Prefix{m.opts.IPv6, m.opts.IPv4} {
				if mp.IsValid() && mp.Overlaps(p) {
					return fmt.Errorf("workload %s: %s overlaps the mesh prefix %s", w.Name, p, mp)
				}
			}
			for _, c := range taken {
				if c.p.Overlaps(p) {
					return fmt.Errorf("workload %s: %s overlaps %s of workload %s", w.Name, p, c.p, c.owner)
				}
			}
			for _, e := range endpoints {
				if p.Contains(e) {
					return fmt.Errorf("workload %s: %s contains the WireGuard endpoint %s of a node", w.Name, p, e)
				}
			}
		}
		for _, v := range ws[:i] {
			for _, p := range w.Addresses {
				for _, q := range v.Addresses {
					if p.Overlaps(q) {
						return fmt.Errorf("workload %s: %s overlaps %s of workload %s", w.Name, p, q, v.Name)
					}
				}
			}
		}
	}
	return nil
}

// setWorkloadsLocked makes ws the workloads of node in the compiler (when
// the node is active and a policy is applied).
func (m *meshState) setWorkloadsLocked(node string, ws []segment.Workload) error {
	old := m.workloads[node]
	if len(ws) == 0 {
		delete(m.workloads, node)
	} else {
		m.workloads[node] = ws
	}
	if _, active := m.nodes[node]; !active || m.comp == nil {
		return nil
	}
	var errs []error
	for _, o := range old {
		if !slices.ContainsFunc(ws, func(w segment.Workload) bool { return w.Name == o.Name }) {
			_, err := m.comp.Update(segment.RemoveWorkload{Name: o.Name})
			errs = append(errs, err)
		}
	}
	for _, w := range ws {
		_, err := m.comp.Update(segment.UpsertWorkload{Workload: w})
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// workloadAddrsLocked returns the addresses of node's workloads.
func (m *meshState) workloadAddrsLocked(node string) []string {
	var out []string
	for _, w := range m.workloads[node] {
		for _, p := range w.Addresses {
			out = append(out, p.String())
		}
	}
	return out
}

// handlePutWorkloads replaces the calling node's workloads.
func (s *Server) handlePutWorkloads(w http.ResponseWriter, r *http.Request) error {
	n, err := s.nodeFromCert(r)
	if err != nil {
		return err
	}
	var req api.WorkloadsRequest
	if err := readJSON(r, &req); err != nil {
		return err
	}
	ws, err := parseWorkloads(n.ID, req.Workloads)
	if err != nil {
		return errBadRequest("%v", err)
	}
	ctx := r.Context()
	m := s.mesh
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.checkWorkloadsLocked(n.ID, ws); err != nil {
		return &httpError{http.StatusConflict, "conflict", err.Error()}
	}
	if workloadsEqual(m.workloads[n.ID], ws) {
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
	reported := make(map[string][]api.Workload, len(m.workloads)+1)
	for id, list := range m.workloads {
		reported[id] = apiWorkloads(list)
	}
	if len(ws) == 0 {
		delete(reported, n.ID)
	} else {
		reported[n.ID] = apiWorkloads(ws)
	}
	data, err := json.Marshal(reported)
	if err != nil {
		return err
	}
	mine, _ := json.Marshal(reported[n.ID])
	sum := sha256.Sum256(mine)
	err = s.d.Store.Update(ctx, func(tx store.Tx) error {
		if err := tx.SetMeta(ctx, metaWorkloads, data); err != nil {
			return err
		}
		_, err := tx.Append(ctx, audit.Record{Time: s.d.Now(), Type: "mesh-workloads", Node: n.ID, Class: n.Class, Actor: "node:" + n.ID,
			Details: map[string]string{"workloads": fmt.Sprint(len(ws)), "sha256": hex.EncodeToString(sum[:])}})
		return err
	})
	if err != nil {
		return err
	}
	if err := m.setWorkloadsLocked(n.ID, ws); err != nil {
		s.d.Log.Error("compiling reported workloads", "node", n.ID, "err", err)
	}
	m.wakeLocked()
	s.d.Log.Info("node workloads", "node", n.ID, "workloads", len(ws))
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// loadWorkloadsLocked restores the reported workloads from meta.
func (m *meshState) loadWorkloadsLocked(data []byte) error {
	if data == nil {
		return nil
	}
	var reported map[string][]api.Workload
	if err := json.Unmarshal(data, &reported); err != nil {
		return fmt.Errorf("the stored workloads: %w", err)
	}
	for id, list := range reported {
		ws, err := parseWorkloads(id, list)
		if err != nil {
			return fmt.Errorf("the stored workloads of %s: %w", id, err)
		}
		m.workloads[id] = ws
	}
	return nil
}

func apiWorkloads(ws []segment.Workload) []api.Workload {
	out := make([]api.Workload, 0, len(ws))
	for _, w := range ws {
		aw := api.Workload{Name: w.Name[len(w.Node)+1:], Labels: w.Labels}
		for _, p := range w.Addresses {
			aw.Addresses = append(aw.Addresses, p.String())
		}
		out = append(out, aw)
	}
	return out
}

func workloadsEqual(a, b []segment.Workload) bool {
	return slices.EqualFunc(a, b, func(x, y segment.Workload) bool {
		return x.Name == y.Name && x.Node == y.Node && maps.Equal(x.Labels, y.Labels) && slices.Equal(x.Addresses, y.Addresses)
	})
}
