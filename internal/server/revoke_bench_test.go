package server

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/hoheit/hoheit/internal/api"
)

const fullMeshPolicy = `apiVersion: hoheit/v1
kind: SegmentPolicy
name: full
identities:
  member: {match_labels: {mesh: "yes"}}
rules:
  - {name: members, from: member, to: member, ports: [tcp/443]}
`

// meshClient is a joined node that long-polls its mesh config over mTLS.
type meshClient struct {
	id     string
	client *http.Client
	etag   string
}

func (h *harness) joinMeshClient(id string) *meshClient {
	h.t.Helper()
	n := h.joinHand(id, map[string]string{"mesh": "yes"})
	c := *n.client
	c.Timeout = 0 // it long-polls
	return &meshClient{id: id, client: &c}
}

// poll long-polls once and returns whether the config changed.
func (c *meshClient) poll(h *harness) (bool, error) {
	resp, err := c.client.Get(h.url + api.PathMeshConfig + "?etag=" + c.etag)
	if err != nil {
		return false, err
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNotModified {
		return false, nil
	}
	if resp.StatusCode != 200 {
		return false, fmt.Errorf("status %d", resp.StatusCode)
	}
	var cfg api.MeshConfig
	if err := json.NewDecoder(resp.Body).Decode(&cfg); err != nil {
		return false, err
	}
	c.etag = cfg.ETag
	return true, nil
}

// BenchmarkRevocationPropagation: 100 nodes in a full mesh long-poll their
// configs; one more node is revoked; the benchmark reports how long until
// each of the 100 has received its new config without that peer (p50,
// p99, max), measured from the admin's revoke call.
func BenchmarkRevocationPropagation(b *testing.B) {
	h := newHarness(b, harnessOpts{allowInsecure: true})
	if st, res := h.putPolicy([]byte(fullMeshPolicy)); st != 200 {
		b.Fatalf("policy: %d %+v", st, res)
	}
	const peers = 100
	var observers []*meshClient
	for i := range peers {
		observers = append(observers, h.joinMeshClient(fmt.Sprintf("peer-%03d", i)))
	}
	victims := make([]string, b.N)
	for i := range victims {
		victims[i] = fmt.Sprintf("victim-%03d", i)
		h.joinMeshClient(victims[i])
	}
	for _, o := range observers {
		if _, err := o.poll(h); err != nil {
			b.Fatal(err)
		}
	}
	var all []time.Duration
	b.ResetTimer()
	for i := range b.N {
		// Every observer waits on its long poll.
		got := make([]time.Duration, peers)
		var wg sync.WaitGroup
		ready := make(chan struct{}, peers)
		var start time.Time
		var startMu sync.RWMutex
		startMu.Lock()
		for j, o := range observers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ready <- struct{}{}
				for {
					changed, err := o.poll(h)
					if err != nil {
						b.Error(err)
						return
					}
					if changed {
						startMu.RLock()
						got[j] = time.Since(start)
						startMu.RUnlock()
						return
					}
				}
			}()
		}
		for range peers {
			<-ready
		}
		time.Sleep(50 * time.Millisecond) // the polls reach the server
		start = time.Now()
		startMu.Unlock()
		if st, e := h.postAdmin(api.PathNodes+"/"+victims[i]+"/revoke", api.RevokeRequest{Reason: "benchmark"}); st != 200 {
			b.Fatalf("revoke: %d %+v", st, e)
		}
		wg.Wait()
		all = append(all, got...)
	}
	b.StopTimer()
	slices.Sort(all)
	b.ReportMetric(float64(all[len(all)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(all[len(all)*99/100].Microseconds())/1000, "p99-ms")
	b.ReportMetric(float64(all[len(all)-1].Microseconds())/1000, "max-ms")
}
