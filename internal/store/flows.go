package store

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/netip"
	"time"
)

// Segmentation flow records and alerts on SQLite (tables segment_flows and
// segment_alerts, migration 0003).

func (t *sqliteTx) Flows(ctx context.Context) ([]Flow, error) {
	rows, err := t.stmt(ctx, qFlows).QueryContext(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading flows: %w", err)
	}
	defer rows.Close()
	var out []Flow
	for rows.Next() {
		var f Flow
		var srcAddr, dstAddr string
		var count, first, last int64
		if err := rows.Scan(&f.Src, &f.Dst, &srcAddr, &dstAddr, &f.Proto, &f.Port, &f.Verdict, &f.Node, &count, &first, &last); err != nil {
			return nil, fmt.Errorf("reading flows: %w", err)
		}
		if f.SrcAddr, err = parseAddr(srcAddr); err != nil {
			return nil, fmt.Errorf("reading flows: %w", err)
		}
		if f.DstAddr, err = parseAddr(dstAddr); err != nil {
			return nil, fmt.Errorf("reading flows: %w", err)
		}
		f.Count = uint64(count)
		f.FirstSeen, f.LastSeen = time.Unix(0, first).UTC(), time.Unix(0, last).UTC()
		out = append(out, f)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading flows: %w", err)
	}
	return out, nil
}

func (t *sqliteTx) FlowCount(ctx context.Context) (int, error) {
	var n int
	if err := t.stmt(ctx, qFlowCount).QueryRowContext(ctx).Scan(&n); err != nil {
		return 0, fmt.Errorf("counting flows: %w", err)
	}
	return n, nil
}

// flowTimes checks a flow's times; the columns are NOT NULL.
func flowTimes(f Flow) (first, last int64, err error) {
	if f.FirstSeen.IsZero() || f.LastSeen.IsZero() {
		return 0, 0, errors.New("first and last seen are required")
	}
	a, err1 := nanos(f.FirstSeen)
	b, err2 := nanos(f.LastSeen)
	if err := errors.Join(err1, err2); err != nil {
		return 0, 0, err
	}
	return a.(int64), b.(int64), nil
}

func saturate(n uint64) int64 { return int64(min(n, math.MaxInt64)) }

func (t *sqliteTx) MergeFlow(ctx context.Context, f Flow) (bool, error) {
	first, last, err := flowTimes(f)
	if err != nil {
		return false, fmt.Errorf("storing flow: %w", err)
	}
	res, err := t.stmt(ctx, qMergeFlow).ExecContext(ctx, saturate(f.Count), first, last,
		f.Src, f.Dst, addrText(f.SrcAddr), addrText(f.DstAddr), f.Proto, f.Port, f.Verdict)
	if err != nil {
		return false, fmt.Errorf("storing flow: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("storing flow: %w", err)
	}
	return n > 0, nil
}

func (t *sqliteTx) InsertFlow(ctx context.Context, f Flow) error {
	first, last, err := flowTimes(f)
	if err != nil {
		return fmt.Errorf("storing flow: %w", err)
	}
	if _, err := t.stmt(ctx, qInsertFlow).ExecContext(ctx, f.Src, f.Dst, addrText(f.SrcAddr), addrText(f.DstAddr), f.Proto, f.Port, f.Verdict,
		f.Node, saturate(f.Count), first, last); err != nil {
		return fmt.Errorf("storing flow: %w", err)
	}
	return nil
}

func (t *sqliteTx) AddAlert(ctx context.Context, a Alert) (int64, error) {
	if a.Time.IsZero() || a.ReceivedAt.IsZero() {
		return 0, errors.New("storing alert: time and received time are required")
	}
	at, err1 := nanos(a.Time)
	recv, err2 := nanos(a.ReceivedAt)
	if err := errors.Join(err1, err2); err != nil {
		return 0, fmt.Errorf("storing alert: %w", err)
	}
	k := a.Flow
	res, err := t.stmt(ctx, qAddAlert).ExecContext(ctx, at, recv, a.Node, a.Mode, a.Reason,
		k.Src, k.Dst, addrText(k.SrcAddr), addrText(k.DstAddr), k.Proto, k.Port, k.Verdict,
		addrText(a.Src), addrText(a.Dst), a.SrcPort, a.DstPort, a.Direction)
	if err != nil {
		return 0, fmt.Errorf("storing alert: %w", err)
	}
	id, err := res.LastInsertId()
	if err != nil {
		return 0, fmt.Errorf("storing alert: %w", err)
	}
	return id, nil
}

func (t *sqliteTx) Alerts(ctx context.Context, limit int) ([]Alert, error) {
	if limit <= 0 {
		limit = -1 // SQLite: no limit
	}
	rows, err := t.stmt(ctx, qAlerts).QueryContext(ctx, limit)
	if err != nil {
		return nil, fmt.Errorf("reading alerts: %w", err)
	}
	defer rows.Close()
	var out []Alert
	for rows.Next() {
		a, err := scanAlert(rows)
		if err != nil {
			return nil, fmt.Errorf("reading alerts: %w", err)
		}
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading alerts: %w", err)
	}
	return out, nil
}

func scanAlert(s scanner) (Alert, error) {
	var a Alert
	var at, recv int64
	var addrs [4]string
	k := &a.Flow
	if err := s.Scan(&a.ID, &at, &recv, &a.Node, &a.Mode, &a.Reason, &k.Src, &k.Dst, &addrs[0], &addrs[1], &k.Proto, &k.Port, &k.Verdict,
		&addrs[2], &addrs[3], &a.SrcPort, &a.DstPort, &a.Direction); err != nil {
		return Alert{}, err
	}
	a.Time, a.ReceivedAt = time.Unix(0, at).UTC(), time.Unix(0, recv).UTC()
	for i, dst := range []*netip.Addr{&k.SrcAddr, &k.DstAddr, &a.Src, &a.Dst} {
		var err error
		if *dst, err = parseAddr(addrs[i]); err != nil {
			return Alert{}, fmt.Errorf("alert %d: %w", a.ID, err)
		}
	}
	return a, nil
}

func (t *sqliteTx) PruneAlerts(ctx context.Context, keep int, receivedBefore time.Time) (int64, error) {
	var deleted int64
	run := func(q query, arg any) error {
		res, err := t.stmt(ctx, q).ExecContext(ctx, arg)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		deleted += n
		return err
	}
	if !receivedBefore.IsZero() {
		before, err := nanos(receivedBefore)
		if err != nil {
			return 0, fmt.Errorf("pruning alerts: %w", err)
		}
		if err := run(qPruneAlertsAge, before); err != nil {
			return 0, fmt.Errorf("pruning alerts: %w", err)
		}
	}
	if keep > 0 {
		if err := run(qPruneAlertsKeep, keep); err != nil {
			return 0, fmt.Errorf("pruning alerts: %w", err)
		}
	}
	return deleted, nil
}

// addrText stores an address as text, the zero address as the empty string.
func addrText(a netip.Addr) string {
	if !a.IsValid() {
		return ""
	}
	return a.String()
}

func parseAddr(s string) (netip.Addr, error) {
	if s == "" {
		return netip.Addr{}, nil
	}
	return netip.ParseAddr(s)
}
