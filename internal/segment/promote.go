package segment

import (
	"slices"
	"sort"
	"time"
)

// maxSeenFlows bounds the flow keys a Promoter remembers per segment;
// beyond it every flow counts as new, which only delays promotion.
const maxSeenFlows = 100_000

// PromotionState is one segment's promotion state; persist it to survive
// restarts (State, Restore).
type PromotionState struct {
	Segment string
	Mode    Mode
	// Since is when the segment entered Mode.
	Since time.Time
	// LastNewFlow (learn) and LastViolation (monitor) restart the quiet
	// window.
	LastNewFlow, LastViolation time.Time
}

// ModeChange is a promotion decided by Tick.
type ModeChange struct {
	Segment  string
	From, To Mode
	At       time.Time
}

// Promoter is the automatic promotion state machine: a segment in learn
// mode moves to monitor once no new flow was seen for its MonitorAfter
// window, a segment in monitor mode moves to protect once no violation was
// seen for its ProtectAfter window. It is pure: time comes from the
// injected clock, flows from Observe, and the caller applies the result
// (Apply, then Compiler.Update(SetPolicy{...})). Not safe for concurrent
// use.
type Promoter struct {
	now  func() time.Time
	segs map[string]*promoSeg
}

type promoSeg struct {
	PromotionState
	cfg Promotion
	// declared is the mode the policy file gives the segment; Mode moves
	// on from it by promotion.
	declared Mode
	seen     map[FlowKey]struct{}
}

// NewPromoter starts every segment of p in its policy mode, now.
func NewPromoter(p *Policy, clock func() time.Time) *Promoter {
	if clock == nil {
		clock = time.Now
	}
	pr := &Promoter{now: clock, segs: map[string]*promoSeg{}}
	pr.SetPolicy(p)
	return pr
}

// SetPolicy adopts a new policy: segments that kept their name, declared
// mode and promotion windows keep their state (applying the same file
// again does not undo a promotion); others start over in the mode the
// policy declares (so changing a segment's mode, to learn again after a
// promotion for example, takes effect).
func (pr *Promoter) SetPolicy(p *Policy) {
	now := pr.now()
	next := map[string]*promoSeg{}
	for _, s := range p.Segments {
		if old, ok := pr.segs[s.Name]; ok && old.cfg == s.Promotion && old.declared == s.Mode {
			next[s.Name] = old
			continue
		}
		next[s.Name] = &promoSeg{PromotionState: PromotionState{Segment: s.Name, Mode: s.Mode, Since: now}, cfg: s.Promotion, declared: s.Mode, seen: map[FlowKey]struct{}{}}
	}
	pr.segs = next
}

// Observe feeds one flow record of a segment (the segment of its
// destination identity, as Policy.ModeOf tells). In learn mode a flow key
// not seen before restarts the quiet window; in monitor mode a flow outside
// the policy (Verdict AllowUnlisted or Drop) does.
func (pr *Promoter) Observe(segment string, k FlowKey, at time.Time) {
	s, ok := pr.segs[segment]
	if !ok {
		return
	}
	switch s.Mode {
	case Learn:
		k.Verdict = 0
		if _, seen := s.seen[k]; seen {
			return
		}
		if len(s.seen) < maxSeenFlows {
			s.seen[k] = struct{}{}
		}
		if at.After(s.LastNewFlow) {
			s.LastNewFlow = at
		}
	case Monitor:
		if k.Verdict != Allow && at.After(s.LastViolation) {
			s.LastViolation = at
		}
	}
}

// Tick promotes every segment whose quiet window has passed and returns
// the promotions (sorted by segment). A segment moves one step per Tick.
func (pr *Promoter) Tick() []ModeChange {
	now := pr.now()
	var out []ModeChange
	for _, name := range sortedKeys(pr.segs) {
		s := pr.segs[name]
		var window time.Duration
		var last time.Time
		var to Mode
		switch s.Mode {
		case Learn:
			window, last, to = s.cfg.MonitorAfter, s.LastNewFlow, Monitor
		case Monitor:
			window, last, to = s.cfg.ProtectAfter, s.LastViolation, Protect
		default:
			continue
		}
		if window <= 0 {
			continue
		}
		if s.Since.After(last) {
			last = s.Since
		}
		if now.Sub(last) < window {
			continue
		}
		out = append(out, ModeChange{Segment: name, From: s.Mode, To: to, At: now})
		s.Mode, s.Since = to, now
		s.seen = map[FlowKey]struct{}{}
	}
	return out
}

// Mode returns a segment's current mode.
func (pr *Promoter) Mode(segment string) (Mode, bool) {
	s, ok := pr.segs[segment]
	if !ok {
		return 0, false
	}
	return s.Mode, true
}

// State returns every segment's state, sorted by segment.
func (pr *Promoter) State() []PromotionState {
	out := make([]PromotionState, 0, len(pr.segs))
	for _, s := range pr.segs {
		out = append(out, s.PromotionState)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Segment < out[j].Segment })
	return out
}

// Restore reinstates persisted states of segments the policy still has.
// A restored mode is never more permissive than the policy's own.
func (pr *Promoter) Restore(states []PromotionState) {
	for _, st := range states {
		s, ok := pr.segs[st.Segment]
		if !ok || stricter(s.Mode, st.Mode) {
			continue
		}
		s.PromotionState = st
	}
}

// Apply returns a copy of p whose segments carry the promoter's modes;
// compile that.
func (pr *Promoter) Apply(p *Policy) *Policy {
	q := *p
	q.Segments = slices.Clone(p.Segments)
	for i := range q.Segments {
		if s, ok := pr.segs[q.Segments[i].Name]; ok {
			q.Segments[i].Mode = s.Mode
		}
	}
	return &q
}
