package store

import (
	"context"
	"math"
	"net/netip"
	"path/filepath"
	"reflect"
	"testing"
	"time"
)

// TestFlowsAggregateAndSurviveReopen: MergeFlow adds counts and widens the
// times of a stored key only; InsertFlow stores new keys; everything is
// there after the database is closed and opened again.
func TestFlowsAggregateAndSurviveReopen(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "hoheit.db")
	s := openTest(t, path)
	t0 := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	web := Flow{FlowKey: FlowKey{Src: "web", Dst: "db", Proto: 6, Port: 5432}, Node: "web-1", Count: 2, FirstSeen: t0, LastSeen: t0.Add(time.Second)}
	unnamed := Flow{FlowKey: FlowKey{Src: "web", DstAddr: netip.MustParseAddr("fd00::9"), Proto: 17, Port: 53, Verdict: 2}, Node: "web-1", Count: 1, FirstSeen: t0, LastSeen: t0}
	upsert := func(tx Tx, f Flow) (bool, error) {
		found, err := tx.MergeFlow(ctx, f)
		if err != nil || found {
			return false, err
		}
		return true, tx.InsertFlow(ctx, f)
	}
	var news []bool
	err := s.Update(ctx, func(tx Tx) error {
		for _, f := range []Flow{web, unnamed} {
			isNew, err := upsert(tx, f)
			if err != nil {
				return err
			}
			news = append(news, isNew)
		}
		// The same key from another node, earlier and later.
		again := web
		again.Node, again.Count, again.FirstSeen, again.LastSeen = "web-2", 3, t0.Add(-time.Minute), t0.Add(time.Hour)
		isNew, err := upsert(tx, again)
		news = append(news, isNew)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := []bool{true, true, false}; !reflect.DeepEqual(news, want) {
		t.Errorf("new keys %v, want %v", news, want)
	}
	s.Close()
	s = openTest(t, path)
	var got []Flow
	var n int
	if err := s.View(ctx, func(tx ReadTx) error {
		var err error
		if got, err = tx.Flows(ctx); err != nil {
			return err
		}
		n, err = tx.FlowCount(ctx)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	wantWeb := web
	wantWeb.Count, wantWeb.FirstSeen, wantWeb.LastSeen = 5, t0.Add(-time.Minute), t0.Add(time.Hour)
	want := []Flow{unnamed, wantWeb} // ordered by key: dst "" before "db"
	if !reflect.DeepEqual(got, want) || n != 2 {
		t.Errorf("after reopen: %d flows\n%+v\nwant\n%+v", n, got, want)
	}
}

func TestFlowCountSaturates(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, filepath.Join(t.TempDir(), "hoheit.db"))
	t0 := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	f := Flow{FlowKey: FlowKey{Src: "a", Dst: "b", Proto: 6, Port: 1}, Count: math.MaxUint64, FirstSeen: t0, LastSeen: t0}
	err := s.Update(ctx, func(tx Tx) error {
		if err := tx.InsertFlow(ctx, f); err != nil {
			return err
		}
		_, err := tx.MergeFlow(ctx, f)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	s.View(ctx, func(tx ReadTx) error {
		fs, err := tx.Flows(ctx)
		if err != nil || len(fs) != 1 || fs[0].Count != math.MaxInt64 {
			t.Errorf("flows %+v (%v), want one with count 2^63-1", fs, err)
		}
		return nil
	})
	// A flow without times is refused, not stored as NULL.
	if err := s.Update(ctx, func(tx Tx) error { return tx.InsertFlow(ctx, Flow{FlowKey: FlowKey{Src: "x"}}) }); err == nil {
		t.Error("a flow without first/last seen was stored")
	}
}

// TestAlertsRetention: alerts keep their fields and order; PruneAlerts keeps
// the newest by count and drops those received before the cutoff.
func TestAlertsRetention(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "hoheit.db")
	s := openTest(t, path)
	t0 := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	mk := func(i int) Alert {
		return Alert{Time: t0.Add(time.Duration(i) * time.Second), ReceivedAt: t0.Add(time.Duration(i) * time.Hour), Node: "web-1", Mode: 1,
			Reason: "dropped outside the policy", Flow: FlowKey{Src: "web", Dst: "db", Proto: 6, Port: uint16(5000 + i), Verdict: 0},
			Src: netip.MustParseAddr("fd00::1"), Dst: netip.MustParseAddr("fd00::2"), SrcPort: 40000, DstPort: uint16(5000 + i), Direction: 1}
	}
	var want []Alert
	err := s.Update(ctx, func(tx Tx) error {
		for i := range 10 {
			a := mk(i)
			id, err := tx.AddAlert(ctx, a)
			if err != nil {
				return err
			}
			a.ID = id
			want = append(want, a)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	alerts := func() []Alert {
		t.Helper()
		var out []Alert
		if err := s.View(ctx, func(tx ReadTx) error {
			var err error
			out, err = tx.Alerts(ctx, 0)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		return out
	}
	s.Close()
	s = openTest(t, path)
	if got := alerts(); !reflect.DeepEqual(got, want) {
		t.Fatalf("alerts after reopen\n%+v\nwant\n%+v", got, want)
	}
	prune := func(keep int, before time.Time) int64 {
		t.Helper()
		var n int64
		if err := s.Update(ctx, func(tx Tx) error {
			var err error
			n, err = tx.PruneAlerts(ctx, keep, before)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := prune(0, time.Time{}); n != 0 {
		t.Errorf("pruning without limits deleted %d", n)
	}
	if n := prune(7, time.Time{}); n != 3 || !reflect.DeepEqual(alerts(), want[3:]) {
		t.Errorf("keep 7: deleted %d, left %+v", n, alerts())
	}
	// Received before t0+5h: alerts 3 and 4 go.
	if n := prune(100, t0.Add(5*time.Hour)); n != 2 || !reflect.DeepEqual(alerts(), want[5:]) {
		t.Errorf("age: deleted %d, left %+v", n, alerts())
	}
	if n := prune(100, time.Time{}); n != 0 {
		t.Errorf("keep 100 of 5 deleted %d", n)
	}
	// Ids keep increasing after a prune.
	var id int64
	s.Update(ctx, func(tx Tx) error {
		var err error
		id, err = tx.AddAlert(ctx, mk(11))
		return err
	})
	if id <= want[9].ID {
		t.Errorf("new alert id %d after %d", id, want[9].ID)
	}
}
