package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/hoheit/hoheit/bench/gen/plan"
	"github.com/hoheit/hoheit/internal/report"
	"github.com/hoheit/hoheit/internal/rules"
	"github.com/hoheit/hoheit/internal/source"
	"github.com/hoheit/hoheit/policies"
)

// BenchmarkScan measures a whole scan of a synthetic Terraform plan over the
// four clouds with every pack, phase by phase: reading (parse, normalize,
// join), evaluating, and writing the JSON report. docs/benchmarks.md records
// the results beside trivy's.
//
//	go test -run '^$' -bench BenchmarkScan -benchtime 3x ./internal/cli
func BenchmarkScan(b *testing.B) {
	for _, n := range []int{10_000, 100_000} {
		path := filepath.Join(b.TempDir(), "plan.json")
		f, err := os.Create(path)
		if err != nil {
			b.Fatal(err)
		}
		if err := plan.Write(f, n, 1); err != nil {
			b.Fatal(err)
		}
		f.Close()
		set := compilePacks(b)
		ctx := context.Background()
		b.Run(fmt.Sprintf("resources=%d/read", n), func(b *testing.B) {
			for b.Loop() {
				if _, err := source.Read(ctx, []string{path}, source.Options{}); err != nil {
					b.Fatal(err)
				}
			}
		})
		estate, err := source.Read(ctx, []string{path}, source.Options{})
		if err != nil {
			b.Fatal(err)
		}
		res, err := set.Evaluate(ctx, estate, rules.EvalOptions{})
		if err != nil {
			b.Fatal(err)
		}
		b.Run(fmt.Sprintf("resources=%d/evaluate", n), func(b *testing.B) {
			for b.Loop() {
				if res, err = set.Evaluate(ctx, estate, rules.EvalOptions{}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(res.Checks), "checks")
			b.ReportMetric(float64(len(res.Findings)), "findings")
		})
		b.Run(fmt.Sprintf("resources=%d/report-json", n), func(b *testing.B) {
			for b.Loop() {
				if err := report.Write(ctx, io.Discard, "json", res, report.Options{}); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(fmt.Sprintf("resources=%d/total", n), func(b *testing.B) {
			for b.Loop() {
				e, err := source.Read(ctx, []string{path}, source.Options{})
				if err != nil {
					b.Fatal(err)
				}
				r, err := set.Evaluate(ctx, e, rules.EvalOptions{})
				if err != nil {
					b.Fatal(err)
				}
				if err := report.Write(ctx, io.Discard, "json", r, report.Options{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func compilePacks(b *testing.B) *rules.Set {
	var all []*rules.Rule
	for _, p := range policies.Packs {
		rs, err := rules.LoadFS(policies.FS, p, p)
		if err != nil {
			b.Fatal(err)
		}
		all = append(all, rs...)
	}
	c, err := rules.NewCompiler(0)
	if err != nil {
		b.Fatal(err)
	}
	set, err := c.Compile(all)
	if err != nil {
		b.Fatal(err)
	}
	return set
}
