package mesh

import "time"

// PathParams tune how the paths to a multi-endpoint peer are measured and
// chosen. Zero fields take the defaults in parentheses.
type PathParams struct {
	// Interval between probes on each path (1s).
	Interval time.Duration
	// DownAfter without a probe answer marks a path down (3s), so a failed
	// active path is left within DownAfter plus one Interval.
	DownAfter time.Duration
	// UpAfter answers in a row, none more than DownAfter apart, bring a down
	// path back (3). This hysteresis keeps a flapping path from being chosen.
	UpAfter int
	// Margin is how much faster (in smoothed round trip) a less preferred
	// path must be to be chosen over a more preferred one (2ms, or 20% of the
	// fastest round trip when that is larger).
	Margin time.Duration
}

func (p PathParams) withDefaults() PathParams {
	if p.Interval <= 0 {
		p.Interval = time.Second
	}
	if p.DownAfter <= 0 {
		p.DownAfter = 3 * p.Interval
	}
	if p.UpAfter <= 0 {
		p.UpAfter = 3
	}
	if p.Margin <= 0 {
		p.Margin = 2 * time.Millisecond
	}
	return p
}

// Selector chooses one of a peer's endpoints from probe answers. It is a
// pure state machine: it reads time only from the injected clock and does no
// I/O, so it is driven by tests step by step. Not safe for concurrent use.
//
// Rules: every path starts up (optimistic, so the first endpoint is used at
// once). A path with no answer for DownAfter goes down; a down path comes
// back after UpAfter answers in a row. Among the up paths with a measured
// round trip, those within the margin of the fastest are eligible and the
// most preferred (lowest index) of them is chosen; the active path keeps its
// place while it stays within twice the margin, so two similar paths do not
// flap. If no path is up the active one is kept.
type Selector struct {
	now    func() time.Time
	p      PathParams
	paths  []pathState
	active int
}

type pathState struct {
	up        bool
	lastReply time.Time // or creation time
	streak    int       // answers in a row while down
	rtt       time.Duration
	measured  bool
}

// NewSelector returns a selector over n endpoints (index 0 preferred) that
// reads the time from now.
func NewSelector(n int, p PathParams, now func() time.Time) *Selector {
	s := &Selector{now: now, p: p.withDefaults(), paths: make([]pathState, n)}
	t := now()
	for i := range s.paths {
		s.paths[i] = pathState{up: true, lastReply: t}
	}
	return s
}

// Active returns the index of the endpoint traffic should use.
func (s *Selector) Active() int { return s.active }

// Answer records a probe answer on path i with its round trip.
func (s *Selector) Answer(i int, rtt time.Duration) {
	if i < 0 || i >= len(s.paths) {
		return
	}
	t := s.now()
	ps := &s.paths[i]
	if !ps.up {
		if t.Sub(ps.lastReply) > s.p.DownAfter {
			ps.streak = 0
		}
		ps.streak++
		if ps.streak >= s.p.UpAfter {
			ps.up, ps.streak = true, 0
		}
	}
	ps.lastReply = t
	if !ps.measured {
		ps.rtt, ps.measured = rtt, true
	} else {
		ps.rtt = (7*ps.rtt + rtt) / 8 // like TCP's SRTT
	}
}

// Evaluate marks silent paths down, chooses the active path and reports
// whether it changed.
func (s *Selector) Evaluate() (active int, changed bool) {
	t := s.now()
	for i := range s.paths {
		ps := &s.paths[i]
		if ps.up && t.Sub(ps.lastReply) > s.p.DownAfter {
			ps.up, ps.streak = false, 0
		}
	}
	best := s.choose()
	if best < 0 || best == s.active {
		return s.active, false
	}
	s.active = best
	return best, true
}

func (s *Selector) choose() int {
	var fastest time.Duration = -1
	anyUp := false
	for _, ps := range s.paths {
		if !ps.up {
			continue
		}
		anyUp = true
		if ps.measured && (fastest < 0 || ps.rtt < fastest) {
			fastest = ps.rtt
		}
	}
	if !anyUp {
		return -1
	}
	margin := max(s.p.Margin, fastest/5)
	eligible := func(i int, m time.Duration) bool {
		ps := s.paths[i]
		if !ps.up {
			return false
		}
		if fastest < 0 { // nothing measured yet: every up path will do
			return true
		}
		return ps.measured && ps.rtt <= fastest+m
	}
	for i := range s.paths {
		if eligible(i, margin) {
			if i > s.active && eligible(s.active, 2*margin) {
				return s.active
			}
			return i
		}
	}
	return -1
}

// Path reports whether path i is up and its smoothed round trip (0 if never
// measured).
func (s *Selector) Path(i int) (up bool, rtt time.Duration) {
	ps := s.paths[i]
	return ps.up, ps.rtt
}
