// Package gctune paces the Go collector for one large, short-lived job
// such as a scan: the heap may grow to a floor without any collection,
// and beyond it the goal stays proportional to what is live. The cli
// package uses it around `hoheit scan`.
//
// With the default GOGC=100 a scan that builds a 600 MB estate collects
// about ten times on its way up (at 9, 16, 37, 62, ... 383 MB), each time
// marking everything built so far, and again every few hundred MB while
// rules run and the report is written. Below the floor none of that
// happens. Above it the goal is live + live*percent/100 for the most that
// was ever live, so a heap larger than the floor is never collected
// continuously (no fixed limit to thrash against), also not once a job
// drops most of what it held: the process holds that memory already, and
// a limit below it would have the collector run without pause while the
// runtime returns it. The floor is a soft memory limit (runtime/debug), so
// it bounds what the process holds, not only the heap's objects.
package gctune

import (
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
)

// Tuner is one tuning in force; the zero value and nil do nothing.
type Tuner struct {
	mu       sync.Mutex
	floor    int64
	percent  int64
	external int64
	// peak is the most that was live after a collection.
	peak        int64
	stopped     bool
	prevPercent int
	prevLimit   int64
	sample      [1]metrics.Sample
}

// Start turns the collector's proportional pacing off below floor bytes
// and sets a goal of live + live*percent/100 above it, until Stop. If GOGC
// or GOMEMLIMIT is set in the environment, the user's choice wins and
// Start returns nil.
func Start(floor int64, percent int) *Tuner {
	if os.Getenv("GOGC") != "" || os.Getenv("GOMEMLIMIT") != "" || floor <= 0 {
		return nil
	}
	t := &Tuner{floor: floor, percent: int64(percent)}
	t.sample[0].Name = "/gc/heap/live:bytes"
	t.prevPercent = debug.SetGCPercent(-1)
	t.prevLimit = debug.SetMemoryLimit(floor)
	t.arm()
	return t
}

// AddExternal counts delta more bytes (fewer, if negative) that the
// process holds outside the Go heap and that share the floor with it: a
// mapped input file's resident pages, which a reader gives back as it
// passes over them. The heap's floor is the floor less what is held
// outside, never below half the floor.
func (t *Tuner) AddExternal(delta int64) {
	if t == nil {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.stopped {
		return
	}
	t.external = max(t.external+delta, 0)
	t.apply()
}

// Stop restores the collector's settings from before Start.
func (t *Tuner) Stop() {
	if t == nil {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.stopped {
		return
	}
	t.stopped = true
	debug.SetMemoryLimit(t.prevLimit)
	debug.SetGCPercent(t.prevPercent)
}

// sentinel is allocated to be collected: its cleanup runs after each
// collection and arms the next one.
type sentinel struct{ _ [64]byte }

func (t *Tuner) arm() {
	runtime.AddCleanup(new(sentinel), func(t *Tuner) {
		t.mu.Lock()
		defer t.mu.Unlock()
		if t.stopped {
			return
		}
		t.apply()
		t.arm()
	}, t)
}

// apply sets the limit from the floor and the heap that survived the
// last collection. t.mu is held.
func (t *Tuner) apply() {
	metrics.Read(t.sample[:])
	if t.sample[0].Value.Kind() == metrics.KindUint64 {
		t.peak = max(t.peak, int64(t.sample[0].Value.Uint64()))
	}
	goal := max(t.floor-t.external, t.floor/2, t.peak+t.peak*t.percent/100)
	debug.SetMemoryLimit(goal)
}
