package store

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hoheit/hoheit/internal/audit"
)

// BenchmarkJoinTx measures the write transaction of one join as the server
// runs it: upsert the node and append its join entry to the audit log, one
// Update each. It reports joins/s and latency percentiles of Update,
// waiting for the writer included:
//
//   - saturated: 16 goroutines per CPU issue joins back to back; joins/s is
//     the store's capacity, the latencies are those of a full queue.
//   - rate=1000: joins arrive at 1,000/s (the server's target) whatever the
//     previous ones do (an open loop, no coordinated omission); the
//     latencies are measured from each join's scheduled arrival.
//   - rate=1000-no-op: the same schedule with no work, the noise floor of a
//     shared machine.
//
// Run as
//
//	go test -run '^$' -bench BenchmarkJoinTx -cpu 2 -benchtime 5000x ./internal/store/
func BenchmarkJoinTx(b *testing.B) {
	b.Run("saturated", func(b *testing.B) {
		s := openBench(b)
		var next atomic.Int64
		var mu sync.Mutex
		var lat []time.Duration
		b.SetParallelism(16)
		b.ReportAllocs()
		b.ResetTimer()
		start := time.Now()
		b.RunParallel(func(pb *testing.PB) {
			var mine []time.Duration
			for pb.Next() {
				t0 := time.Now()
				if err := benchJoin(s, next.Add(1)); err != nil {
					b.Error(err)
					return
				}
				mine = append(mine, time.Since(t0))
			}
			mu.Lock()
			lat = append(lat, mine...)
			mu.Unlock()
		})
		reportLatency(b, lat, time.Since(start))
	})
	b.Run("rate=1000", func(b *testing.B) {
		s := openBench(b)
		openLoop(b, func(i int) error { return benchJoin(s, int64(i)) })
	})
	// The same schedule doing nothing: how late goroutines run on this
	// machine at the moment, the floor under rate=1000's latencies.
	b.Run("rate=1000-no-op", func(b *testing.B) {
		openLoop(b, func(int) error { return nil })
	})
}

// openLoop calls op b.N times at 1,000 per second, each in its own goroutine,
// and reports latencies from each call's scheduled start.
func openLoop(b *testing.B, op func(i int) error) {
	const interval = time.Millisecond
	lat := make([]time.Duration, b.N)
	var wg sync.WaitGroup
	b.ResetTimer()
	start := time.Now()
	for i := range b.N {
		due := start.Add(time.Duration(i) * interval)
		if d := time.Until(due); d > 0 {
			time.Sleep(d)
		}
		wg.Go(func() {
			if err := op(i); err != nil {
				b.Error(err)
			}
			lat[i] = time.Since(due)
		})
	}
	wg.Wait()
	reportLatency(b, lat, time.Since(start))
}

func openBench(b *testing.B) Store {
	s, err := OpenSQLite(context.Background(), filepath.Join(b.TempDir(), "hoheit.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	return s
}

// benchJoin is one join's transaction; ids repeat every 5,000 so that most
// joins of a long run are re-joins that update a row.
func benchJoin(s Store, i int64) error {
	ctx := context.Background()
	id := fmt.Sprintf("node-%d", i%5000)
	n := testNode(id)
	r := audit.Record{Type: audit.TypeJoin, Node: id, Class: "web", Actor: "node:" + id, RequestID: fmt.Sprint("req-", i),
		Details: map[string]string{"variant": "tpm", "cert_serial": n.CertSerial,
			"hpke_key_sha256": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"}}
	return s.Update(ctx, func(tx Tx) error {
		if err := tx.PutNode(ctx, n); err != nil {
			return err
		}
		_, err := tx.Append(ctx, r)
		return err
	})
}

func reportLatency(b *testing.B, lat []time.Duration, elapsed time.Duration) {
	b.StopTimer()
	if len(lat) == 0 {
		return
	}
	slices.Sort(lat)
	pct := func(p float64) float64 {
		return float64(lat[min(len(lat)-1, int(p*float64(len(lat))))].Microseconds()) / 1000
	}
	b.ReportMetric(float64(len(lat))/elapsed.Seconds(), "joins/s")
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
	b.ReportMetric(float64(lat[len(lat)-1].Microseconds())/1000, "max-ms")
}
