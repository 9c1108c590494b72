package snp

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/hoheit/hoheit/internal/attest"
)

// TestChainCache: a chain that verified is not verified again within its
// TTL, but every report's signature still is; a foreign chain and an
// expired entry are verified in full.
func TestChainCache(t *testing.T) {
	ctx := context.Background()
	p := newPlatform(t, goodTCB)
	var mu sync.Mutex
	now := time.Now()
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	v := mustValidator(t, ValidatorConfig{Roots: p.roots(), Now: clock})

	rd := freshBinding(t).ReportData()
	if _, err := v.Validate(ctx, issue(t, p, rd, goodGuest()), rd); err != nil {
		t.Fatal(err)
	}
	if len(v.chains) != 1 {
		t.Fatalf("%d chains cached, want 1", len(v.chains))
	}
	// Cached: a valid report passes, an altered one is refused.
	rd2 := freshBinding(t).ReportData()
	if _, err := v.Validate(ctx, issue(t, p, rd2, goodGuest()), rd2); err != nil {
		t.Fatalf("cached chain: %v", err)
	}
	att, _ := DecodeEvidence(issue(t, p, rd2, goodGuest()))
	att.Report.Signature[3] ^= 1
	ev, _ := EncodeEvidence(att)
	_, err := v.Validate(ctx, ev, rd2)
	wantRefusal(t, err, attest.ReasonSignature)

	// After the TTL the chain is verified in full again (and remembered anew).
	mu.Lock()
	now = now.Add(chainTTL + time.Second)
	mu.Unlock()
	rd4 := freshBinding(t).ReportData()
	if _, err := v.Validate(ctx, issue(t, p, rd4, goodGuest()), rd4); err != nil {
		t.Fatal(err)
	}
	for _, e := range v.chains {
		if !e.expires.After(clock().Add(chainTTL - time.Second)) {
			t.Fatal("an expired entry was used instead of verifying the chain again")
		}
	}
}
