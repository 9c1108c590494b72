package server

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/hoheit/hoheit/internal/segment"
	"github.com/hoheit/hoheit/internal/store"
)

// Segmentation flow records and alerts live in the store, so that a
// restart of the server loses neither them nor what promotion learnt from
// them: every shipment of a node is merged into the aggregated flows in one
// write transaction, together with the alerts it raises and the promoter's
// state.

// Alert retention defaults (MeshOptions.AlertsKeep, AlertsMaxAge).
const (
	DefaultAlertsKeep   = 10000
	DefaultAlertsMaxAge = 30 * 24 * time.Hour
)

// maxFlows bounds the flow keys the server stores; records of new keys
// beyond it are dropped (and logged). Existing keys keep counting.
const maxFlows = 100000

// Reasons stored with alerts.
const (
	reasonDropped  = "no rule allows this flow: dropped (protect)"
	reasonUnlisted = "no rule allows this flow: passed (learn or monitor)"
)

// handlePostFlows takes a node's flow records and merges them into the
// stored flows; a flow key its filter dropped or let pass outside the
// policy, seen for the first time, becomes an alert.
func (s *Server) handlePostFlows(w http.ResponseWriter, r *http.Request) error {
	n, err := s.nodeFromCert(r)
	if err != nil {
		return err
	}
	var recs []segment.FlowRecord
	if err := readJSON(r, &recs); err != nil {
		return err
	}
	ctx := r.Context()
	now := s.d.Now()
	m := s.mesh
	// The lock is held across the transaction, as PromoteOnce does, so the
	// promoter state written here is never older than one written before.
	m.mu.Lock()
	defer m.mu.Unlock()
	for i := range recs {
		rec := &recs[i]
		rec.Node = segment.NodeID(n.ID)
		if m.comp != nil {
			*rec = m.comp.ResolveFlow(*rec)
		}
		rec.FirstSeen, rec.LastSeen = seenTimes(rec.FirstSeen, rec.LastSeen, now)
	}
	var alerts []segment.Alert
	var inserted, dropped int
	err = s.d.Store.Update(ctx, func(tx store.Tx) error {
		alerts, inserted, dropped = alerts[:0], 0, 0
		observed := false
		for _, rec := range recs {
			f := storeFlow(rec)
			found, err := tx.MergeFlow(ctx, f)
			if err != nil {
				return err
			}
			if !found {
				if m.flowKeys+inserted >= maxFlows {
					dropped++
					continue
				}
				if err := tx.InsertFlow(ctx, f); err != nil {
					return err
				}
				inserted++
			}
			if m.promoter != nil && m.policy != nil {
				if _, seg := m.policy.ModeOf(rec.Dst); seg != "" {
					m.promoter.Observe(seg, rec.FlowKey, rec.LastSeen)
					observed = true
				}
			}
			mode, alert := m.alertFor(rec)
			if alert && !found {
				a := segment.Alert{Time: rec.FirstSeen, Node: rec.Node, Mode: mode, Flow: rec.FlowKey, Src: rec.SrcAddr, Dst: rec.DstAddr, DstPort: rec.Port}
				if _, err := tx.AddAlert(ctx, storeAlert(a, now)); err != nil {
					return err
				}
				alerts = append(alerts, a)
			}
		}
		if len(alerts) > 0 {
			if _, err := tx.PruneAlerts(ctx, m.opts.AlertsKeep, time.Time{}); err != nil {
				return err
			}
		}
		if observed {
			state, err := json.Marshal(m.promoter.State())
			if err != nil {
				return err
			}
			return tx.SetMeta(ctx, metaPromotion, state)
		}
		return nil
	})
	if err != nil {
		return err
	}
	m.flowKeys += inserted
	if dropped > 0 {
		s.d.Log.Warn("segment flow table full: records of new flows dropped", "node", n.ID, "dropped", dropped, "max", maxFlows)
	}
	for _, a := range alerts {
		if m.hook != nil {
			select {
			case m.hook <- a:
			default:
				s.d.Log.Warn("alert webhook queue full: alert not sent", "node", n.ID)
			}
		}
		s.d.Log.Warn("segmentation violation", "node", n.ID, "src", a.Flow.Src, "dst", a.Flow.Dst, "proto", a.Flow.Proto.String(), "port", a.Flow.Port, "verdict", a.Flow.Verdict.String())
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) handleGetFlows(w http.ResponseWriter, r *http.Request) error {
	var flows []store.Flow
	err := s.d.Store.View(r.Context(), func(tx store.ReadTx) error {
		var err error
		flows, err = tx.Flows(r.Context())
		return err
	})
	if err != nil {
		return err
	}
	out := make([]segment.FlowRecord, 0, len(flows))
	for _, f := range flows {
		out = append(out, segFlow(f))
	}
	segment.SortFlows(out)
	return writeJSON(w, http.StatusOK, out)
}

// handleGetAlerts returns the alerts kept, oldest first; ?limit=N the
// newest N of them.
func (s *Server) handleGetAlerts(w http.ResponseWriter, r *http.Request) error {
	limit := 0
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return errBadRequest("limit must be a positive number of alerts, not %q", v)
		}
		limit = n
	}
	var alerts []store.Alert
	err := s.d.Store.View(r.Context(), func(tx store.ReadTx) error {
		var err error
		alerts, err = tx.Alerts(r.Context(), limit)
		return err
	})
	if err != nil {
		return err
	}
	out := make([]segment.Alert, 0, len(alerts))
	for _, a := range alerts {
		out = append(out, segAlert(a))
	}
	return writeJSON(w, http.StatusOK, out)
}

// pruneAlerts deletes the alerts beyond the retention's count and age.
func (s *Server) pruneAlerts(ctx context.Context) error {
	o := s.mesh.opts
	var n int64
	err := s.d.Store.Update(ctx, func(tx store.Tx) error {
		var err error
		n, err = tx.PruneAlerts(ctx, o.AlertsKeep, s.d.Now().Add(-o.AlertsMaxAge))
		return err
	})
	if err == nil && n > 0 {
		s.d.Log.Info("segmentation alerts pruned", "deleted", n, "keep", o.AlertsKeep, "max_age", o.AlertsMaxAge.String())
	}
	return err
}

// pruneEvery is how often the promote loop prunes alerts by age.
const pruneEvery = time.Minute

// replayFlowsLocked feeds the stored flows to a freshly restored promoter,
// so that flow keys it saw before a restart do not count as new after it
// (which would restart every learn window). Only flows seen since the
// segment entered its mode count. The timestamps the promoter keeps were
// persisted with the flows and only move later here.
func (m *meshState) replayFlowsLocked(flows []store.Flow) {
	if m.promoter == nil || m.policy == nil {
		return
	}
	since := map[string]time.Time{}
	for _, st := range m.promoter.State() {
		since[st.Segment] = st.Since
	}
	for _, f := range flows {
		rec := segFlow(f)
		_, seg := m.policy.ModeOf(rec.Dst)
		if seg == "" || rec.LastSeen.Before(since[seg]) {
			continue
		}
		m.promoter.Observe(seg, rec.FlowKey, rec.FirstSeen)
	}
}

// seenTimes makes a node's first and last seen storable: a zero time, or
// one outside what the store can hold, becomes now; last is never before
// first.
func seenTimes(first, last, now time.Time) (time.Time, time.Time) {
	fix := func(t time.Time) time.Time {
		if y := t.Year(); t.IsZero() || y < 1700 || y > 2200 {
			return now
		}
		return t
	}
	first, last = fix(first), fix(last)
	if last.Before(first) {
		last = first
	}
	return first, last
}

func storeKey(k segment.FlowKey) store.FlowKey {
	return store.FlowKey{Src: k.Src, Dst: k.Dst, SrcAddr: k.SrcAddr, DstAddr: k.DstAddr, Proto: uint8(k.Proto), Port: k.Port, Verdict: uint8(k.Verdict)}
}

func segKey(k store.FlowKey) segment.FlowKey {
	return segment.FlowKey{Src: k.Src, Dst: k.Dst, SrcAddr: k.SrcAddr, DstAddr: k.DstAddr, Proto: segment.Proto(k.Proto), Port: k.Port, Verdict: segment.Verdict(k.Verdict)}
}

func storeFlow(r segment.FlowRecord) store.Flow {
	return store.Flow{FlowKey: storeKey(r.FlowKey), Node: string(r.Node), Count: r.Count, FirstSeen: r.FirstSeen, LastSeen: r.LastSeen}
}

func segFlow(f store.Flow) segment.FlowRecord {
	return segment.FlowRecord{FlowKey: segKey(f.FlowKey), Node: segment.NodeID(f.Node), Count: f.Count, FirstSeen: f.FirstSeen, LastSeen: f.LastSeen}
}

func storeAlert(a segment.Alert, received time.Time) store.Alert {
	reason := reasonUnlisted
	if a.Flow.Verdict == segment.Drop {
		reason = reasonDropped
	}
	return store.Alert{Time: a.Time, ReceivedAt: received, Node: string(a.Node), Mode: uint8(a.Mode), Reason: reason, Flow: storeKey(a.Flow),
		Src: a.Src, Dst: a.Dst, SrcPort: a.SrcPort, DstPort: a.DstPort, Direction: uint8(a.Direction)}
}

func segAlert(a store.Alert) segment.Alert {
	return segment.Alert{Time: a.Time, Node: segment.NodeID(a.Node), Mode: segment.Mode(a.Mode), Flow: segKey(a.Flow),
		Src: a.Src, Dst: a.Dst, SrcPort: a.SrcPort, DstPort: a.DstPort, Direction: segment.Direction(a.Direction)}
}

// alertFor reports whether a flow record is a violation, and the mode the
// recording node enforced it in: that of its own endpoint in the flow
// (found by address or identity in its rule set), else the policy's
// default. A drop always is one; a flow outside the policy that was let
// through only in monitor mode (learn mode records it, nothing more).
// Without a compiled policy every flow outside it is reported.
func (m *meshState) alertFor(rec segment.FlowRecord) (segment.Mode, bool) {
	if rec.Verdict == segment.Allow {
		return 0, false
	}
	mode := segment.Protect
	if m.comp != nil {
		if rs, ok := m.comp.RuleSet(rec.Node); ok {
			mode = localMode(rs, rec.FlowKey)
		}
	}
	return mode, rec.Verdict == segment.Drop || mode == segment.Monitor
}

func localMode(rs *segment.NodeRuleSet, k segment.FlowKey) segment.Mode {
	for _, l := range rs.Locals {
		for _, p := range l.Addresses {
			if (k.SrcAddr.IsValid() && p.Contains(k.SrcAddr)) || (k.DstAddr.IsValid() && p.Contains(k.DstAddr)) {
				return l.Mode
			}
		}
		for _, id := range l.Identities {
			if id != "" && (id == k.Src || id == k.Dst) {
				return l.Mode
			}
		}
	}
	return rs.DefaultMode
}
