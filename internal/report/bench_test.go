package report

import (
	"context"
	"fmt"
	"io"
	"testing"

	"github.com/hoheit/hoheit/internal/inventory"
	"github.com/hoheit/hoheit/internal/rules"
)

// largeResult is a scan of n buckets, each failing two of three rules.
func largeResult(n int) *rules.Result {
	rs := []*rules.Rule{
		{ID: "R-1", Title: "Encrypted", Severity: rules.High, Frameworks: map[string][]string{"bsi-c5": {"CRY-03"}}, Pack: "bsi-c5"},
		{ID: "R-2", Title: "Logged", Severity: rules.Medium, Frameworks: map[string][]string{"bsi-c5": {"OPS-15"}, "gdpr": {"Art. 33"}}, Pack: "bsi-c5"},
		{ID: "R-3", Title: "Private", Severity: rules.Critical, Pack: "baseline"},
	}
	res := &rules.Result{Estate: &inventory.Estate{}, Rules: rs, Checks: 3 * n, Passed: n}
	for i := range n {
		r := &inventory.Resource{
			Provider: "aws", Account: "123456789012", Region: "eu-central-1",
			Type: "object_storage.bucket", NativeType: "aws_s3_bucket",
			ID: fmt.Sprintf("arn:aws:s3:::bucket-%06d", i), Address: fmt.Sprintf("aws_s3_bucket.b[%d]", i),
			Source: inventory.Location{File: "main.tf", Line: 1 + i},
		}
		res.Estate.Resources = append(res.Estate.Resources, r)
		res.Findings = append(res.Findings,
			rules.Finding{Rule: rs[i%3], Resource: r, Status: rules.Fail, Evidence: rules.EvidenceOf(map[string]any{"encryption.at_rest.enabled": false})},
			rules.Finding{Rule: rs[(i+1)%3], Resource: r, Status: rules.Fail})
	}
	return res
}

// BenchmarkWrite writes 20,000 findings in each format.
func BenchmarkWrite(b *testing.B) {
	res := largeResult(10_000)
	for _, format := range Formats {
		b.Run(format, func(b *testing.B) {
			for b.Loop() {
				if err := Write(context.Background(), io.Discard, format, res, testOptions); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
