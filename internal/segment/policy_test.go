package segment

import (
	"strings"
	"testing"
)

func TestParseExamplePolicy(t *testing.T) {
	p := shopPolicy(t)
	if len(p.Identities) != 5 || len(p.Rules) != 4 || len(p.Tests) != 8 || len(p.Segments) != 2 {
		t.Fatalf("parsed %d identities, %d rules, %d tests, %d segments", len(p.Identities), len(p.Rules), len(p.Tests), len(p.Segments))
	}
	if f := p.RunTests(); len(f) != 0 {
		t.Fatalf("example policy tests fail: %v", f)
	}
	if m, seg := p.ModeOf("monitoring"); m != Monitor || seg != "ops" {
		t.Errorf("ModeOf(monitoring) = %v %q", m, seg)
	}
	if s := p.Segments[1]; s.Name != "shop" || s.Promotion.MonitorAfter.Hours() != 72 || s.Promotion.ProtectAfter.Hours() != 168 {
		t.Errorf("shop segment = %+v", s)
	}
}

const head = "apiVersion: hoheit/v1\nkind: SegmentPolicy\n"

func TestParsePolicyErrors(t *testing.T) {
	for _, tc := range []struct {
		name, yaml, want string
	}{
		{"unknown key", head + "identities:\n  web:\n    match_label: {app: web}\n", "line 5: field match_label not found"},
		{"unknown top key", head + "rulez: []\n", "line 3: field rulez not found"},
		{"bad version", "apiVersion: hoheit/v2\nkind: SegmentPolicy\n", "line 1: apiVersion must be"},
		{"bad kind", "apiVersion: hoheit/v1\nkind: Policy\n", "line 2: kind must be"},
		{"unknown identity in rule", head + "identities:\n  web: {match_labels: {app: web}}\nrules:\n  - name: r\n    from: web\n    to: db\n    ports: [tcp/1]\n", `line 6: rule "r": unknown identity "db"`},
		{"bad port", head + "identities:\n  web: {}\nrules:\n  - {from: web, to: web, ports: [tcp/70000]}\n", `line 6: rule "rule-1": "tcp/70000": port "70000"`},
		{"bad range", head + "identities:\n  web: {}\nrules:\n  - {from: web, to: web, ports: [udp/20-10]}\n", "range ends before it starts"},
		{"icmp port", head + "identities:\n  web: {}\nrules:\n  - {from: web, to: web, ports: [icmp/8]}\n", "icmp has no ports"},
		{"no ports", head + "identities:\n  web: {}\nrules:\n  - {from: web, to: web}\n", "lists no ports"},
		{"dup rule", head + "identities:\n  web: {}\nrules:\n  - {name: a, from: web, to: web, ports: [tcp]}\n  - {name: a, from: web, to: web, ports: [tcp]}\n", `line 7: rule name "a" already used on line 6`},
		{"bad operator", head + "identities:\n  web:\n    match_expressions: [{key: app, operator: Like, values: [x]}]\n", `line 4: identity "web": operator "Like"`},
		{"in without values", head + "identities:\n  web:\n    match_expressions: [{key: app, operator: In}]\n", "In on \"app\" needs values"},
		{"bad mode", head + "mode: enforce\n", "line 3: mode \"enforce\""},
		{"segment overlap", head + "identities:\n  web: {}\nsegments:\n  a: {identities: [web]}\n  b: {identities: [web]}\n", `line 7: identity "web" is in segments "a" and "b"`},
		{"bad duration", head + "identities:\n  web: {}\nsegments:\n  a: {identities: [web], promotion: {monitor_after: soon}}\n", `line 6: "soon" is not a duration`},
		{"bad test", head + "identities:\n  web: {}\ntests:\n  - web to web\n", "line 6: test \"web to web\""},
		{"test unknown identity", head + "identities:\n  web: {}\ntests:\n  - web -> db:5432 deny\n", `unknown identity "db"`},
		{"test bad expect", head + "identities:\n  web: {}\ntests:\n  - web -> web:5432 maybe\n", "expected allow or deny"},
		{"duplicate key", head + "identities:\n  web: {}\n  web: {}\n", "line 5: mapping key \"web\" already defined"},
		{"two documents", head + "---\n" + head, "one YAML document"},
		{"bad label value", head + "identities:\n  web: {match_labels: {app: 'a b'}}\n", "label value \"a b\""},
		{"not a mapping", "- a\n", "cannot unmarshal"},
		{"empty", "", "policy is empty"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParsePolicy([]byte(tc.yaml))
			if err == nil {
				t.Fatalf("ParsePolicy succeeded, want %q", tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q does not contain %q", err, tc.want)
			}
		})
	}
}

func TestRunTestsFailures(t *testing.T) {
	src := head + `identities:
  web: {match_labels: {app: web}}
  customer-db: {match_labels: {app: customer-db}}
  billing: {match_labels: {app: billing}}
  everything: {}
  db-like:
    match_expressions: [{key: app, operator: In, values: [customer-db, other-db]}]
rules:
  - name: web-to-billing
    from: web
    to: billing
    ports: [tcp/8443]
  - name: anything-to-dbs
    from: everything
    to: db-like
    ports: [tcp/5000-6000]
tests:
  - web -> billing:8443 allow
  - web -> customer-db:5432 deny
  - billing -> customer-db:5432/udp deny
  - web -> billing:8444 allow
`
	p, err := ParsePolicy([]byte(src))
	if err != nil {
		t.Fatal(err)
	}
	got := p.RunTests()
	var lines []string
	for _, f := range got {
		lines = append(lines, f.Error())
	}
	golden(t, "runtests/failures.golden", []byte(strings.Join(lines, "\n")+"\n"))
	if len(got) != 2 {
		t.Fatalf("got %d failures, want 2: %v", len(got), lines)
	}
	if got[0].Rule != "anything-to-dbs" || got[0].RuleLine != 15 || got[0].Expected != ExpectDeny || got[0].Actual != ExpectAllow {
		t.Errorf("failure 0 = %+v", got[0])
	}
	if got[1].Rule != "" || got[1].Expected != ExpectAllow {
		t.Errorf("failure 1 = %+v", got[1])
	}
}
