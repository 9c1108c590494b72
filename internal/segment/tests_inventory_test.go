package segment

import (
	"fmt"
	"strings"
	"testing"
)

// TestRunTestsOn: a deny test that holds for the identities' representatives
// fails on a real endpoint whose extra labels let another rule reach the
// destination; the failure names the pair and the rule.
func TestRunTestsOn(t *testing.T) {
	p, err := ParsePolicy([]byte(head + `identities:
  web: {match_labels: {app: web}}
  backup: {match_labels: {role: backup}}
  db: {match_labels: {app: db}}
rules:
  - {name: backup-to-db, from: backup, to: db, ports: [tcp/5432]}
tests:
  - web -> db:5432 deny
  - backup -> db:5432 allow
`))
	if err != nil {
		t.Fatal(err)
	}
	if f := p.RunTests(); len(f) != 0 {
		t.Fatalf("representatives: %v", f)
	}
	db := Node{ID: "db-1", Labels: map[string]string{"app": "db"}}
	for _, tc := range []struct {
		name string
		inv  Inventory
		want string // "" for no failure
	}{
		{"separate nodes", Inventory{Nodes: []Node{db, {ID: "web-1", Labels: map[string]string{"app": "web"}}, {ID: "bk-1", Labels: map[string]string{"role": "backup"}}}}, ""},
		{"a web node that is also a backup", Inventory{Nodes: []Node{db, {ID: "web-2", Labels: map[string]string{"app": "web", "role": "backup"}}}},
			`web -> db:5432: expected deny, got allow from web-2 to db-1 (allowed by rule "backup-to-db" on line 8)`},
		{"a web workload on a backup node inherits its label", Inventory{Nodes: []Node{db, {ID: "bk-1", Labels: map[string]string{"role": "backup"}}},
			Workloads: []Workload{{Name: "bk-1/web", Node: "bk-1", Labels: map[string]string{"app": "web"}}}},
			`from bk-1/web to db-1`},
		{"no endpoints", Inventory{}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fails := p.RunTestsOn(tc.inv)
			if tc.want == "" {
				if len(fails) != 0 {
					t.Fatalf("failures %v, want none", fails)
				}
				return
			}
			if len(fails) != 1 || !strings.Contains(fails[0].Error(), tc.want) {
				t.Fatalf("failures %v, want one containing %q", fails, tc.want)
			}
		})
	}
}

// BenchmarkRunTestsOn1000x5000: ten deny tests on 1,000 nodes and 5,000
// rules, as the server runs them before it applies a policy.
func BenchmarkRunTestsOn1000x5000(b *testing.B) {
	p, inv := bigSetup(b, 1000, 5000)
	for i := range 10 {
		// Ports the rules use, between identities no rule connects.
		p.Tests = append(p.Tests, FlowTest{From: fmt.Sprintf("app%d-prod", i), To: fmt.Sprintf("app%d-test", 249-i), Proto: TCP, Port: uint16(1000 + 900*i), Expect: ExpectDeny, Line: i + 1})
	}
	b.ResetTimer()
	for b.Loop() {
		p.RunTestsOn(inv)
	}
}
