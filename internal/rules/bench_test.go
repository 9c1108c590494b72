package rules

import (
	"context"
	"fmt"
	"testing"

	"github.com/hoheit/hoheit/internal/inventory"
)

// benchEstate builds n resources over several types with realistic
// normalized attributes, half compliant.
func benchEstate(n int) *inventory.Estate {
	e := &inventory.Estate{}
	for i := 0; i < n; i++ {
		r := &inventory.Resource{Provider: []string{"aws", "azure", "gcp", "otc"}[i%4], Region: "eu-central-1", ID: fmt.Sprint(i),
			Tags: map[string]string{"classification": []string{"internal", "confidential"}[i%2]}}
		switch i % 3 {
		case 0:
			r.Type = "object_storage.bucket"
			r.Set("encryption.at_rest.key_manager", []string{"customer", "provider"}[i%2])
			r.Set("public", i%5 == 0)
		case 1:
			r.Type = "network.firewall"
			r.Set("rules", []any{
				map[string]any{"direction": "ingress", "action": "allow", "protocol": "tcp", "port_from": int64(443), "port_to": int64(443), "sources": []any{"0.0.0.0/0"}, "from_internet": true},
				map[string]any{"direction": "ingress", "action": "allow", "protocol": "tcp", "port_from": int64(22), "port_to": int64(22), "sources": []any{"10.0.0.0/8"}, "from_internet": i%2 == 0},
			})
		case 2:
			r.Type = "compute.instance"
			r.Set("confidential_computing", []string{"sev-snp", "none"}[i%2])
			r.Set("metadata_service.token_required", i%2 == 0)
		}
		e.Add(r)
	}
	e.Finalize()
	return e
}

func benchRules() []*Rule {
	return []*Rule{
		{ID: "B1", Title: "t", Severity: High, Types: []string{"object_storage.bucket"}, Check: `resource.encryption.at_rest.key_manager in ["customer", "external"]`},
		{ID: "B2", Title: "t", Severity: High, Types: []string{"object_storage.bucket"}, Check: `!resource.public`},
		{ID: "F1", Title: "t", Severity: High, Types: []string{"network.firewall"}, Check: `!resource.rules.exists(r, r.direction == "ingress" && r.action == "allow" && r.from_internet && r.port_from <= 22 && r.port_to >= 22)`},
		{ID: "I1", Title: "t", Severity: High, Types: []string{"compute.instance"}, Precondition: `resource.tags.?classification.orValue("") == "confidential"`, Check: `resource.confidential_computing in ["sev-snp", "tdx"]`},
		{ID: "I2", Title: "t", Severity: High, Types: []string{"compute.instance"}, Check: `resource.metadata_service.token_required`},
		{ID: "R1", Title: "t", Severity: High, Types: []string{"object_storage.bucket", "compute.instance", "network.firewall"}, Check: `resource.jurisdiction.eea || resource.jurisdiction.adequacy`},
	}
}

// BenchmarkEvaluate measures rule evaluation alone (no parsing) over 100,000
// resources; see docs/benchmarks.md for the whole scan.
func BenchmarkEvaluate(b *testing.B) {
	set := mustCompile(b, benchRules()...)
	e := benchEstate(100_000)
	b.ResetTimer()
	for b.Loop() {
		if _, err := set.Evaluate(context.Background(), e, EvalOptions{}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/100_000/4, "ns/check")
}

// BenchmarkEvaluatePacks measures the built-in packs over a generated plan
// of 20,000 resources on one worker: the rules' share of a scan, steadier
// than the whole scan on a shared machine.
func BenchmarkEvaluatePacks(b *testing.B) {
	set, e := packsOnPlan(b, 20_000, 1)
	b.ResetTimer()
	for b.Loop() {
		if _, err := set.Evaluate(context.Background(), e, EvalOptions{Workers: 1}); err != nil {
			b.Fatal(err)
		}
	}
}
