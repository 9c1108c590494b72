package segment

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestPromoter(t *testing.T) {
	src := head + `identities:
  web: {match_labels: {app: web}}
  db: {match_labels: {app: db}}
segments:
  shop:
    identities: [web, db]
    mode: learn
    promotion: {monitor_after: 1h, protect_after: 2h}
  manual:
    identities: []
`
	src = strings.Replace(src, "  manual:\n    identities: []\n", "", 1)
	p, err := ParsePolicy([]byte(src))
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
	now := t0
	pr := NewPromoter(p, func() time.Time { return now })
	flow := FlowKey{Src: "web", Dst: "db", Proto: TCP, Port: 5432, Verdict: AllowUnlisted}
	other := FlowKey{Src: "web", Dst: "db", Proto: TCP, Port: 5433, Verdict: AllowUnlisted}

	var log []string
	at := func(d time.Duration, what string, f func()) {
		now = t0.Add(d)
		if f != nil {
			f()
		}
		for _, pm := range pr.Tick() {
			log = append(log, fmt.Sprintf("%v %s: %s -> %s", d, pm.Segment, pm.From, pm.To))
		}
		m, _ := pr.Mode("shop")
		log = append(log, fmt.Sprintf("%v %s => %s", d, what, m))
	}
	at(0, "start", nil)
	at(30*time.Minute, "new flow", func() { pr.Observe("shop", flow, now) })
	at(80*time.Minute, "same flow again (not new)", func() { pr.Observe("shop", flow, now) })
	at(89*time.Minute, "quiet 59m", nil)
	at(90*time.Minute, "another new flow", func() { pr.Observe("shop", other, now) })
	at(150*time.Minute, "quiet 60m", nil)
	at(200*time.Minute, "violation", func() { pr.Observe("shop", other, now) })
	at(210*time.Minute, "allowed flow is no violation", func() { pr.Observe("shop", FlowKey{Verdict: Allow}, now) })
	at(319*time.Minute, "quiet 1h59m", nil)
	at(320*time.Minute, "quiet 2h", nil)
	at(900*time.Minute, "protect stays", func() { pr.Observe("shop", flow, now) })
	golden(t, "promote/learn-to-protect.golden", []byte(strings.Join(log, "\n")+"\n"))

	if m, _ := pr.Mode("shop"); m != Protect {
		t.Fatalf("mode = %s, want protect", m)
	}
	q := pr.Apply(p)
	if q.Segments[0].Mode != Protect || p.Segments[0].Mode != Learn {
		t.Fatalf("Apply: %s (policy %s)", q.Segments[0].Mode, p.Segments[0].Mode)
	}

	// State survives a restart; a restored state never loosens the policy.
	pr2 := NewPromoter(p, func() time.Time { return now })
	pr2.Restore(pr.State())
	if m, _ := pr2.Mode("shop"); m != Protect {
		t.Fatalf("restored mode = %s", m)
	}
	pp := *p
	pp.Segments = []Segment{p.Segments[0]}
	pp.Segments[0].Mode = Protect
	pr3 := NewPromoter(&pp, func() time.Time { return now })
	pr3.Restore([]PromotionState{{Segment: "shop", Mode: Learn}})
	if m, _ := pr3.Mode("shop"); m != Protect {
		t.Fatalf("restore loosened protect to %s", m)
	}

	// Applying the same policy again keeps the promotion; a policy that
	// declares another mode for the segment takes effect, looser or not.
	declare := func(m Mode) *Policy {
		q := *p
		q.Segments = slices.Clone(p.Segments)
		q.Segments[0].Mode = m
		return &q
	}
	for _, step := range []struct {
		declared, want Mode
	}{
		{Learn, Protect},   // the same file again
		{Monitor, Monitor}, // declared monitor: starts over in monitor
		{Learn, Learn},     // back to learn, on purpose
		{Learn, Learn},
	} {
		pr.SetPolicy(declare(step.declared))
		if m, _ := pr.Mode("shop"); m != step.want {
			t.Fatalf("after applying a policy declaring %s: mode %s, want %s", step.declared, m, step.want)
		}
	}
}

func TestPromoterDisabled(t *testing.T) {
	p := shopPolicy(t) // ops has no promotion
	now := time.Unix(0, 0)
	pr := NewPromoter(p, func() time.Time { return now })
	now = now.Add(10000 * time.Hour)
	if got := pr.Tick(); len(got) != 0 {
		t.Fatalf("promoted without promotion windows: %v", got)
	}
}
