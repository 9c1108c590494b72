package mesh

import (
	"testing"
	"time"
)

type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time          { return c.t }
func (c *fakeClock) advance(d time.Duration) { c.t = c.t.Add(d) }

// A step advances the clock, delivers answers (path index -> rtt), then
// evaluates and checks the active path.
type step struct {
	advance time.Duration
	answers map[int]time.Duration
	active  int
	changed bool
}

func TestSelector(t *testing.T) {
	ms := time.Millisecond
	p := PathParams{Interval: 100 * ms, DownAfter: 300 * ms, UpAfter: 3, Margin: 2 * ms}
	both := func(a, b time.Duration) map[int]time.Duration { return map[int]time.Duration{0: a, 1: b} }
	only1 := func(b time.Duration) map[int]time.Duration { return map[int]time.Duration{1: b} }
	tests := []struct {
		name  string
		n     int
		steps []step
	}{
		{"starts on the preferred path", 2, []step{
			{0, nil, 0, false},
			{100 * ms, both(10*ms, 10*ms), 0, false},
		}},
		{"a much faster second path wins", 2, []step{
			{100 * ms, both(50*ms, 10*ms), 1, true},
			{100 * ms, both(50*ms, 10*ms), 1, false},
		}},
		{"a slightly faster second path does not", 2, []step{
			{100 * ms, both(10*ms, 9*ms), 0, false},
			{100 * ms, both(10*ms, 9*ms), 0, false},
		}},
		{"fails over when the active path goes silent, and back when it recovers", 2, []step{
			{100 * ms, both(5*ms, 5*ms), 0, false},
			{100 * ms, only1(5 * ms), 0, false},
			{100 * ms, only1(5 * ms), 0, false},
			{100 * ms, only1(5 * ms), 0, false}, // 300ms silent: not yet (> DownAfter)
			{10 * ms, only1(5 * ms), 1, true},   // 310ms silent: down
			{100 * ms, only1(5 * ms), 1, false},
			{100 * ms, both(5*ms, 5*ms), 1, false}, // 1st answer after the outage
			{100 * ms, both(5*ms, 5*ms), 1, false}, // 2nd
			{100 * ms, both(5*ms, 5*ms), 0, true},  // 3rd: up again, preferred
		}},
		{"a flapping path stays down", 2, []step{
			{100 * ms, both(5*ms, 5*ms), 0, false},
			{400 * ms, only1(5 * ms), 1, true},
			{100 * ms, both(5*ms, 5*ms), 1, false},
			{100 * ms, only1(5 * ms), 1, false},
			{100 * ms, only1(5 * ms), 1, false},
			{100 * ms, only1(5 * ms), 1, false},
			{100 * ms, both(5*ms, 5*ms), 1, false}, // gap > DownAfter: streak restarts
			{100 * ms, both(5*ms, 5*ms), 1, false},
			{100 * ms, both(5*ms, 5*ms), 0, true},
		}},
		{"all paths down keeps the active one", 2, []step{
			{100 * ms, both(5*ms, 5*ms), 0, false},
			{time.Second, nil, 0, false},
			{time.Second, nil, 0, false},
		}},
		{"the third of three paths takes over when two fail", 3, []step{
			{100 * ms, map[int]time.Duration{0: 5 * ms, 1: 5 * ms, 2: 5 * ms}, 0, false},
			{400 * ms, map[int]time.Duration{2: 5 * ms}, 2, true},
			{100 * ms, map[int]time.Duration{1: 5 * ms, 2: 5 * ms}, 2, false},
			{100 * ms, map[int]time.Duration{1: 5 * ms, 2: 5 * ms}, 2, false},
			{100 * ms, map[int]time.Duration{1: 5 * ms, 2: 5 * ms}, 1, true},
		}},
		{"an active path that grows slow is left", 2, []step{
			{100 * ms, both(5*ms, 5*ms), 0, false},
			{100 * ms, both(200*ms, 5*ms), 1, true}, // smoothed: ~29ms
			{100 * ms, both(200*ms, 5*ms), 1, false},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := &fakeClock{t: time.Unix(1_700_000_000, 0)}
			s := NewSelector(tt.n, p, clk.now)
			for i, st := range tt.steps {
				clk.advance(st.advance)
				for idx, rtt := range st.answers {
					s.Answer(idx, rtt)
				}
				active, changed := s.Evaluate()
				if active != st.active || changed != st.changed {
					t.Fatalf("step %d: active %d changed %v, want %d %v", i, active, changed, st.active, st.changed)
				}
			}
		})
	}
}

func TestSelectorIgnoresBadIndex(t *testing.T) {
	clk := &fakeClock{t: time.Unix(0, 0)}
	s := NewSelector(2, PathParams{}, clk.now)
	s.Answer(-1, time.Millisecond)
	s.Answer(2, time.Millisecond)
	if a, _ := s.Evaluate(); a != 0 {
		t.Fatalf("active %d", a)
	}
}
