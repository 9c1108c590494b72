package gctune

import (
	"runtime"
	"runtime/debug"
	"testing"
	"time"
)

var sink [][]byte

// allocate makes n MiB of garbage, in 64 KiB pieces, keeping the last
// keep MiB alive.
func allocate(n, keep int) {
	sink = nil
	for i := 0; i < n*16; i++ {
		sink = append(sink, make([]byte, 64<<10))
		if len(sink) > keep*16 {
			sink = sink[1:]
		}
	}
}

func numGC() uint32 {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.NumGC
}

func TestFloor(t *testing.T) {
	t.Setenv("GOGC", "")
	t.Setenv("GOMEMLIMIT", "")
	runtime.GC()
	prevPercent := debug.SetGCPercent(100)
	defer debug.SetGCPercent(prevPercent)

	tests := []struct {
		name              string
		floor             int64
		allocMiB, keepMiB int
		wantCollections   bool
	}{
		// Default pacing would collect a dozen times making 256 MiB.
		{"below the floor nothing is collected", 1 << 30, 256, 4, false},
		// Beyond the floor the collector runs, and keeps running as the
		// heap churns: no fixed limit stops it.
		{"above the floor it collects", 32 << 20, 256, 16, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			runtime.GC()
			tu := Start(tc.floor, 50)
			if tu == nil {
				t.Fatal("Start returned nil without GOGC or GOMEMLIMIT set")
			}
			before := numGC()
			allocate(tc.allocMiB, tc.keepMiB)
			got := numGC() - before
			tu.Stop()
			sink = nil
			if (got > 0) != tc.wantCollections {
				t.Fatalf("%d collections, want collections: %v", got, tc.wantCollections)
			}
			if p := debug.SetGCPercent(100); p != 100 {
				t.Fatalf("after Stop GOGC is %d, want the previous 100", p)
			}
			if l := debug.SetMemoryLimit(-1); l != prevLimit {
				t.Fatalf("after Stop the memory limit is %d, want %d", l, prevLimit)
			}
		})
	}
}

var prevLimit = debug.SetMemoryLimit(-1)

func TestEnvironmentWins(t *testing.T) {
	for _, env := range []string{"GOGC", "GOMEMLIMIT"} {
		t.Run(env, func(t *testing.T) {
			t.Setenv(env, "100")
			if tu := Start(1<<30, 50); tu != nil {
				tu.Stop()
				t.Fatalf("Start tuned the collector although %s is set", env)
			}
			var tu *Tuner
			tu.AddExternal(1) // nil does nothing
			tu.Stop()
		})
	}
}

func TestAddExternalAfterStop(t *testing.T) {
	t.Setenv("GOGC", "")
	t.Setenv("GOMEMLIMIT", "")
	tu := Start(64<<20, 50)
	tu.Stop()
	tu.AddExternal(1 << 20)
	if l := debug.SetMemoryLimit(-1); l != prevLimit {
		t.Fatalf("AddExternal after Stop changed the limit to %d", l)
	}
}

// TestAddExternal checks memory held outside the heap lowers the heap's
// floor while it is held, never below half the floor, and that giving it
// back restores the floor.
func TestAddExternal(t *testing.T) {
	t.Setenv("GOGC", "")
	t.Setenv("GOMEMLIMIT", "")
	runtime.GC()
	const floor = 4 << 30 // far above what the test's heap holds live
	tu := Start(floor, 50)
	defer tu.Stop()
	tests := []struct {
		name  string
		delta int64
		want  int64
	}{
		{"mapped", 1 << 30, floor - 1<<30},
		{"more mapped", 1 << 30, floor - 2<<30},
		{"beyond half", 1 << 30, floor / 2},
		{"released", -2 << 30, floor - 1<<30},
		{"unmapped", -1 << 30, floor},
		{"never negative", -1 << 30, floor},
	}
	for _, tt := range tests {
		tu.AddExternal(tt.delta)
		if got := debug.SetMemoryLimit(-1); got != tt.want {
			t.Errorf("%s: limit %d, want %d", tt.name, got, tt.want)
		}
	}
	var none *Tuner
	none.AddExternal(1) // nil does nothing
}

// TestPeakHolds checks that once much was live, the limit stays at half
// again that much after the job drops it: the process holds the memory
// already, and a lower limit would have the collector run without pause.
func TestPeakHolds(t *testing.T) {
	t.Setenv("GOGC", "")
	t.Setenv("GOMEMLIMIT", "")
	runtime.GC()
	tu := Start(16<<20, 50)
	defer tu.Stop()
	limitAfterGC := func() int64 {
		// The limit is set by a cleanup that runs after the collection.
		runtime.GC()
		for range 100 {
			time.Sleep(10 * time.Millisecond)
			runtime.Gosched()
		}
		return debug.SetMemoryLimit(-1)
	}
	held := make([][]byte, 0, 128)
	for range 128 {
		held = append(held, make([]byte, 1<<20))
	}
	high := limitAfterGC()
	if high < 128<<20 {
		t.Fatalf("with 128 MiB live the limit is %d", high)
	}
	runtime.KeepAlive(held)
	held = nil
	if low := limitAfterGC(); low < high {
		t.Errorf("the limit fell from %d to %d when what was live was dropped", high, low)
	}
}
