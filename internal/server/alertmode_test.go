package server

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/hoheit/hoheit/internal/api"
	"github.com/hoheit/hoheit/internal/segment"
)

// TestAlertsFollowTheMode: a flow outside the policy is an alert in monitor
// mode and (dropped) in protect mode, carrying the mode the node enforced;
// in learn mode it is recorded as a flow and nothing more.
func TestAlertsFollowTheMode(t *testing.T) {
	tests := []struct {
		mode      string
		verdict   segment.Verdict
		wantAlert bool
		wantMode  segment.Mode
	}{
		{"learn", segment.AllowUnlisted, false, 0},
		{"monitor", segment.AllowUnlisted, true, segment.Monitor},
		{"protect", segment.Drop, true, segment.Protect},
	}
	for _, tc := range tests {
		t.Run(tc.mode, func(t *testing.T) {
			h := newHarness(t, harnessOpts{allowInsecure: true})
			policy := fmt.Appendf(nil, `apiVersion: hoheit/v1
kind: SegmentPolicy
name: shop
mode: %s
identities:
  web: {match_labels: {app: web}}
  db: {match_labels: {app: db}}
rules:
  - {name: web-to-db, from: web, to: db, ports: [tcp/5432]}
`, tc.mode)
			if st, res := h.putPolicy(policy); st != 200 {
				t.Fatalf("apply: %d %+v", st, res)
			}
			web := h.joinHand("web-1", map[string]string{"app": "web"})
			h.joinHand("db-1", map[string]string{"app": "db"})
			t0 := h.clock.Now()
			web.ship(h, flow("web", "db", 22, tc.verdict, 1, t0), flow("web", "db", 5432, segment.Allow, 1, t0))

			var flows []segment.FlowRecord
			var alerts []segment.Alert
			json.Unmarshal(h.getRaw(api.PathSegFlows), &flows)
			json.Unmarshal(h.getRaw(api.PathSegAlerts), &alerts)
			if len(flows) != 2 {
				t.Fatalf("%d flows recorded, want 2: %+v", len(flows), flows)
			}
			if got := len(alerts) > 0; got != tc.wantAlert {
				t.Fatalf("alerts %+v, want an alert: %v", alerts, tc.wantAlert)
			}
			if tc.wantAlert && (len(alerts) != 1 || alerts[0].Mode != tc.wantMode || alerts[0].Flow.Port != 22) {
				t.Fatalf("alerts %+v, want one for port 22 in mode %v", alerts, tc.wantMode)
			}
		})
	}
}

// TestPolicyTestsOnRealNodes: a deny test that holds for the identities'
// representatives is refused when a joined node's labels make it false,
// and the refusal names the nodes.
func TestPolicyTestsOnRealNodes(t *testing.T) {
	h := newHarness(t, harnessOpts{allowInsecure: true})
	policy := []byte(`apiVersion: hoheit/v1
kind: SegmentPolicy
name: shop
identities:
  web: {match_labels: {app: web}}
  backup: {match_labels: {role: backup}}
  db: {match_labels: {app: db}}
rules:
  - {name: backup-to-db, from: backup, to: db, ports: [tcp/5432]}
tests:
  - web -> db:5432 deny
`)
	h.joinHand("db-1", map[string]string{"app": "db"})
	h.joinHand("web-1", map[string]string{"app": "web"})
	if st, res := h.putPolicy(policy); st != 200 || !res.Applied {
		t.Fatalf("apply with separate web and backup nodes: %d %+v", st, res)
	}
	h.joinHand("web-2", map[string]string{"app": "web", "role": "backup"})
	st, res := h.putPolicy(policy)
	if st != 422 || len(res.Failures) != 1 || !strings.Contains(res.Failures[0], "from web-2 to db-1") {
		t.Fatalf("apply with a web node that is also a backup: %d %+v, want 422 naming web-2 -> db-1", st, res)
	}
}
