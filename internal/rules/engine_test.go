package rules

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/hoheit/hoheit/internal/inventory"
)

func bucket(id string, attrs map[string]any, unknown ...string) *inventory.Resource {
	r := &inventory.Resource{Provider: "aws", Region: "eu-central-1", Type: "object_storage.bucket",
		NativeType: "aws_s3_bucket", ID: id, Address: id, Attrs: attrs, Unknown: unknown,
		Tags: map[string]string{"team": "web"}}
	return r
}

func mustCompile(t testing.TB, rs ...*Rule) *Set {
	t.Helper()
	c, err := NewCompiler(0)
	if err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile(rs)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func cmkRule() *Rule {
	return &Rule{ID: "CMK", Title: "cmk", Severity: High, Types: []string{"object_storage.bucket"},
		Check: `resource.encryption.at_rest.key_manager in ["customer", "external"]`}
}

func TestCompileErrors(t *testing.T) {
	tests := []struct {
		name string
		rule Rule
		want string
	}{
		{"suggests attribute path", Rule{ID: "X", Title: "x", Severity: Low, Types: []string{"object_storage.bucket"}, Check: "resource.encrypted"},
			"no attribute 'encrypted' on object_storage.bucket; did you mean 'encryption.at_rest.enabled'?"},
		{"nested typo", Rule{ID: "X", Title: "x", Severity: Low, Types: []string{"compute.instance"}, Check: "resource.metadata_service.token_requried"},
			"did you mean 'metadata_service.token_required'?"},
		{"list element typo", Rule{ID: "X", Title: "x", Severity: Low, Types: []string{"network.firewall"}, Check: "resource.rules.all(r, r.port_form > 0)"},
			"no attribute 'port_form'"},
		{"not bool", Rule{ID: "X", Title: "x", Severity: Low, Types: []string{"compute.disk"}, Check: "resource.size_gb"}, "must be a bool expression"},
		{"unknown type", Rule{ID: "X", Title: "x", Severity: Low, Types: []string{"s3.bucket"}, Check: "true"}, `unknown type "s3.bucket"`},
		{"missing fields", Rule{ID: "X"}, "missing title, severity, types, check"},
		{"type mismatch", Rule{ID: "X", Title: "x", Severity: Low, Types: []string{"compute.disk"}, Check: `resource.size_gb > "10"`}, "no matching overload"},
	}
	c, err := NewCompiler(0)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := tt.rule
			_, err := c.Compile([]*Rule{&r})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error = %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestEvaluate(t *testing.T) {
	s := mustCompile(t, cmkRule())
	e := &inventory.Estate{Resources: []*inventory.Resource{
		bucket("good", map[string]any{"encryption": map[string]any{"at_rest": map[string]any{"enabled": true, "key_manager": "customer"}}}),
		bucket("bad", map[string]any{"encryption": map[string]any{"at_rest": map[string]any{"enabled": true, "key_manager": "provider"}}}),
		bucket("later", map[string]any{}, "encryption.at_rest.key_manager"),
		bucket("excepted", map[string]any{}),
	}}
	e.Finalize()
	xs := []*Exception{
		{Rule: "CM*", Resources: Selector{ID: "exc*", Tags: map[string]string{"team": "web"}}, Justification: "ok", Owner: "o", Expires: Date{time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)}},
		{Rule: "CMK", Resources: Selector{ID: "bad"}, Justification: "old", Owner: "o", Expires: Date{time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)}},
	}
	res, err := s.Evaluate(context.Background(), e, EvalOptions{Exceptions: xs, Now: func() time.Time { return time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC) }})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]Status{}
	for _, f := range res.Findings {
		got[f.Resource.ID] = f.Status
	}
	want := map[string]Status{"bad": Fail, "later": Unknown, "excepted": Suppressed}
	if len(got) != len(want) {
		t.Errorf("findings = %v, want %v", got, want)
	}
	for id, st := range want {
		if got[id] != st {
			t.Errorf("%s: status %q, want %q", id, got[id], st)
		}
	}
	if res.Checks != 4 || res.Passed != 1 {
		t.Errorf("checks=%d passed=%d, want 4 and 1", res.Checks, res.Passed)
	}
	if len(res.ExpiredExceptions) != 1 || res.ExpiredExceptions[0].Rule != "CMK" {
		t.Errorf("expired = %v, want the 2025 exception", res.ExpiredExceptions)
	}
	for _, f := range res.Findings {
		if f.Resource.ID == "bad" && evidenceOf(f, "encryption.at_rest.key_manager") != "provider" {
			t.Errorf("evidence = %v", f.Evidence)
		}
	}
}

func TestUnknownDoesNotDecideWhenIrrelevant(t *testing.T) {
	// An unknown attribute the check does not need leaves a definite verdict.
	r := cmkRule()
	r.Check = `resource.encryption.at_rest.key_manager == "customer" || resource.versioning.enabled`
	s := mustCompile(t, r)
	e := &inventory.Estate{Resources: []*inventory.Resource{
		bucket("a", map[string]any{"encryption": map[string]any{"at_rest": map[string]any{"key_manager": "customer"}}}, "versioning.enabled"),
	}}
	e.Finalize()
	res, err := s.Evaluate(context.Background(), e, EvalOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Findings) != 0 {
		t.Fatalf("findings = %+v, want none: the known branch decides", res.Findings[0])
	}
}

func TestRuntimeErrorIsAFinding(t *testing.T) {
	r := cmkRule()
	r.Check = `resource.native.missing == "x"`
	s := mustCompile(t, r)
	e := &inventory.Estate{Resources: []*inventory.Resource{bucket("a", nil)}}
	e.Finalize()
	res, err := s.Evaluate(context.Background(), e, EvalOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Findings) != 1 || res.Findings[0].Status != Error || !strings.Contains(res.Findings[0].Message, "missing") {
		t.Fatalf("findings = %+v, want one error naming the key", res.Findings)
	}
}

func TestGlob(t *testing.T) {
	for _, tt := range []struct {
		p, s string
		want bool
	}{
		{"*", "", true}, {"a*", "abc", true}, {"a*c", "abc", true}, {"a?c", "abc", true},
		{"module.*.aws_s3_bucket.b", `module.x["1"].aws_s3_bucket.b`, true}, {"a*d", "abc", false}, {"abc", "ab", false},
	} {
		if got := glob(tt.p, tt.s); got != tt.want {
			t.Errorf("glob(%q, %q) = %v", tt.p, tt.s, got)
		}
	}
}

func TestSampleCases(t *testing.T) {
	c, err := NewCompiler(0)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		typ, pre, check string
	}{
		{"object_storage.bucket", "", `resource.encryption.at_rest.key_manager in ["customer", "external"]`},
		{"compute.instance", `resource.tags["classification"] == "vs-nfd"`, `resource.confidential_computing in ["sev-snp", "tdx"]`},
		{"logging.audit_trail", "", `resource.retention_days >= 365 && resource.all_regions`},
		{"database.instance", "", `!resource.public || resource.jurisdiction.eea`},
	}
	for _, tt := range tests {
		t.Run(tt.check, func(t *testing.T) {
			r := &Rule{ID: "G", Title: "g", Severity: Low, Types: []string{tt.typ}, Precondition: tt.pre, Check: tt.check}
			pass, fail, err := c.SampleCases(r, tt.typ)
			if err != nil {
				t.Fatal(err)
			}
			if pass == nil || fail == nil {
				t.Fatalf("pass=%v fail=%v, want both", pass, fail)
			}
			out, err := CaseYAML("G", tt.typ, "aws", pass, fail)
			if err != nil {
				t.Fatal(err)
			}
			cf, err := ParseCases("gen.yaml", out)
			if err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			set := mustCompile(t, r)
			for _, res := range set.RunCases(cf) {
				if !res.OK() {
					t.Errorf("generated case %q: want %s, got %s %s\n%s", res.Case, res.Want, res.Got, res.Problem, out)
				}
			}
		})
	}
}

func TestParseDataFile(t *testing.T) {
	if _, err := Parse("criteria.yaml", []byte("catalogue: C5\nareas: []\n")); !errors.Is(err, ErrNoRule) {
		t.Fatalf("err = %v, want ErrNoRule", err)
	}
	if _, err := Parse("typo.yaml", []byte("id: X\nseverty: high\n")); err == nil || !strings.Contains(err.Error(), "typo.yaml:1: line 2: field severty not found") {
		t.Fatalf("err = %v, want the misspelt field with its line", err)
	}
}

func TestCostLimit(t *testing.T) {
	// A quadratic check over a long list exceeds the limit: an error result
	// for that resource, never a hang.
	c, err := NewCompiler(10_000)
	if err != nil {
		t.Fatal(err)
	}
	set, err := c.Compile([]*Rule{{ID: "SLOW", Title: "t", Severity: Low, Types: []string{"network.firewall"},
		Check: `resource.rules.all(a, resource.rules.all(b, a.port_from <= b.port_to || true))`}})
	if err != nil {
		t.Fatal(err)
	}
	var rs []any
	for i := 0; i < 500; i++ {
		rs = append(rs, map[string]any{"port_from": int64(i), "port_to": int64(i)})
	}
	r := &inventory.Resource{Type: "network.firewall", ID: "fw"}
	r.Set("rules", rs)
	e := &inventory.Estate{Resources: []*inventory.Resource{r}}
	e.Finalize()
	res, err := set.Evaluate(context.Background(), e, EvalOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Findings) != 1 || res.Findings[0].Status != Error || !strings.Contains(res.Findings[0].Message, "cost limit") {
		t.Fatalf("findings = %+v, want one error for the cost limit", res.Findings)
	}
}

func TestNativeDecodedOnDemand(t *testing.T) {
	r := cmkRule()
	r.Check = `resource.native.bucket == "b"`
	s := mustCompile(t, r)
	res := bucket("a", nil)
	res.NativeJSON = []byte(`{"bucket":"x"}`)
	e := &inventory.Estate{Resources: []*inventory.Resource{res}}
	e.Finalize()
	out, err := s.Evaluate(context.Background(), e, EvalOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Findings) != 1 || out.Findings[0].Status != Fail {
		t.Fatalf("findings = %+v, want one fail read from the native JSON", out.Findings)
	}
}

// evidenceOf returns the evidence a finding recorded for path.
func evidenceOf(f Finding, path string) any {
	v, _ := f.Evidence.Get(path)
	return v
}

// TestFreeBoundSound checks the programs run without cost tracking are
// only run where tracking could not have stopped them: on the largest
// input within the bound the tracked program stays under the limit, and
// one past the bound the engine runs the tracked program again.
func TestFreeBoundSound(t *testing.T) {
	tests := []struct {
		name  string
		limit uint64
		check string
		// input builds a firewall whose lists and strings are n long.
		input func(n int) []any
	}{
		{"quadratic", 10_000, `resource.rules.all(a, resource.rules.all(b, a.port_from <= b.port_to || true))`,
			func(n int) []any {
				var rs []any
				for i := 0; i < n; i++ {
					rs = append(rs, map[string]any{"port_from": int64(i), "port_to": int64(i)})
				}
				return rs
			}},
		// The bound must exceed the common fields ("network.firewall").
		{"strings", DefaultCostLimit, `!resource.rules.exists(r, r.sources.exists(s, s.contains("0.0.0.0/0") || s.matches("^10[.]")))`,
			func(n int) []any {
				var rs []any
				for i := 0; i < n; i++ {
					var srcs []any
					for j := 0; j < n; j++ {
						srcs = append(srcs, strings.Repeat("x", n))
					}
					rs = append(rs, map[string]any{"sources": srcs})
				}
				return rs
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := NewCompiler(tt.limit)
			if err != nil {
				t.Fatal(err)
			}
			set, err := c.Compile([]*Rule{{ID: "X", Title: "t", Severity: Low, Types: []string{"network.firewall"}, Check: tt.check}})
			if err != nil {
				t.Fatal(err)
			}
			p := set.byType["network.firewall"][0]
			if p.checkFree == nil {
				t.Fatal("no untracked program")
			}
			free, bound := p.checkFree.get()
			if free == nil || bound <= uint64(len("network.firewall")) {
				t.Fatalf("no untracked program (bound %d)", bound)
			}
			t.Logf("bound %d", bound)
			n := int(bound)
			r := &inventory.Resource{Type: "network.firewall", ID: "fw"}
			r.Set("rules", tt.input(n))
			act := &resourceActivation{}
			act.set(r)
			if got := act.size(bound); got > bound {
				t.Fatalf("input at the bound measured %d, bound %d", got, bound)
			}
			if _, _, err := p.check.Eval(act); err != nil {
				t.Fatalf("tracked program on input at the bound %d: %v", n, err)
			}
			if p.choose(p.check, p.checkFree, act) != free {
				t.Errorf("input at the bound does not run untracked")
			}
			r.Set("rules", tt.input(n+1))
			act.set(r)
			if p.choose(p.check, p.checkFree, act) != p.check {
				t.Errorf("input past the bound %d runs untracked", n)
			}
		})
	}
}
