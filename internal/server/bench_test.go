package server

import (
	"bytes"
	"encoding/json"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/hoheit/hoheit/internal/api"
	"github.com/hoheit/hoheit/internal/attest"
	"github.com/hoheit/hoheit/internal/attest/tpm/tpmtest"
)

// BenchmarkJoin measures the control plane's join: evidence validation,
// the reference value check, certificate issuance, key derivation, HPKE
// sealing and the audited SQLite transaction, over HTTPS on loopback with
// 32 concurrent clients. Evidence is made before the timer starts, since
// nodes make it on their own hardware; each request carries a fresh nonce
// of its own. Run with e.g. -benchtime 2000x; it reports joins/s and the
// p50/p99 latency of a join request.
//
// Two modes per variant: "saturated" keeps 32 requests in flight (capacity);
// "rate=1000" sends one join every millisecond, open loop, and measures
// each latency from its scheduled start (the goal: 1,000 joins/s
// with p99 under 20 ms).
func BenchmarkJoin(b *testing.B) {
	for _, variant := range []string{attest.VariantSNP, attest.VariantTPM} {
		for _, mode := range []string{"saturated", "rate=1000"} {
			b.Run(variant+"/"+mode, func(b *testing.B) { benchJoin(b, variant, mode) })
		}
	}
}

func benchJoin(b *testing.B, variant, mode string) {
	{
		{
			h := newHarness(b, harnessOpts{})
			var iss attest.Issuer
			class := "conf-a"
			switch variant {
			case attest.VariantSNP:
				iss = h.snpIssuer(measureA)
			case attest.VariantTPM:
				sim := tpmtest.Simulator(b, tpmtest.BootEvents(), nil)
				ak, err := sim.AKPublic()
				if err != nil {
					b.Fatal(err)
				}
				h.aks.add(ak)
				iss, class = sim, "tpm-node"
			}
			reqs := make([][]byte, b.N)
			for i := range reqs {
				r := h.newJoin(nodeName(i), class, iss)
				reqs[i], _ = json.Marshal(r.JoinRequest)
			}
			tr := h.client.Transport.(*http.Transport).Clone()
			tr.MaxIdleConnsPerHost = 64
			client := &http.Client{Transport: tr, Timeout: 30 * time.Second}
			lat := make([]time.Duration, b.N)
			join := func(i int, t0 time.Time) {
				resp, err := client.Post(h.url+api.PathJoin, "application/json", bytes.NewReader(reqs[i]))
				if err != nil {
					b.Error(err)
					return
				}
				var wr api.WrappedResponse
				json.NewDecoder(resp.Body).Decode(&wr)
				resp.Body.Close()
				lat[i] = time.Since(t0)
				if resp.StatusCode != 200 {
					b.Errorf("join %d: status %d", i, resp.StatusCode)
				}
			}
			// Warm the connection pool so handshakes are not measured.
			for range 32 {
				client.Get(h.url + api.PathHealth)
			}
			var wg sync.WaitGroup
			b.ResetTimer()
			start := time.Now()
			if mode == "saturated" {
				next := make(chan int)
				for w := 0; w < 32; w++ {
					wg.Add(1)
					go func() {
						defer wg.Done()
						for i := range next {
							join(i, time.Now())
						}
					}()
				}
				for i := range reqs {
					next <- i
				}
				close(next)
			} else {
				for i := range reqs {
					at := start.Add(time.Duration(i) * time.Millisecond)
					time.Sleep(time.Until(at))
					wg.Add(1)
					go func() { defer wg.Done(); join(i, at) }()
				}
			}
			wg.Wait()
			elapsed := time.Since(start)
			b.StopTimer()
			slices.Sort(lat)
			b.ReportMetric(float64(b.N)/elapsed.Seconds(), "joins/s")
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
		}
	}
}

func nodeName(i int) string {
	const digits = "0123456789"
	s := []byte("node-")
	var d []byte
	for {
		d = append(d, digits[i%10])
		i /= 10
		if i == 0 {
			break
		}
	}
	slices.Reverse(d)
	return string(append(s, d...))
}
