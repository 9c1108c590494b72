package report_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/hoheit/hoheit/internal/inventory"
	"github.com/hoheit/hoheit/internal/report"
	"github.com/hoheit/hoheit/internal/rules"
)

// ExampleWrite renders one failed check as the terminal table.
func ExampleWrite() {
	rule := &rules.Rule{
		ID:         "C5-CRY-03-ENCRYPTED-AT-REST",
		Title:      "Stored data is encrypted at rest",
		Severity:   rules.High,
		Frameworks: map[string][]string{"bsi-c5": {"CRY-03"}, "gdpr": {"Art. 32(1)(a)"}},
	}
	bucket := &inventory.Resource{
		Provider: "aws", Type: "object_storage.bucket", NativeType: "aws_s3_bucket",
		Address: "aws_s3_bucket.akten", Source: inventory.Location{File: "main.tf", Line: 12},
	}
	res := &rules.Result{
		Estate:   &inventory.Estate{Resources: []*inventory.Resource{bucket}, Inputs: []inventory.Input{{Path: "plan.json", Resources: 1}}},
		Rules:    []*rules.Rule{rule},
		Findings: []rules.Finding{{Rule: rule, Resource: bucket, Status: rules.Fail}},
		Checks:   1,
	}
	err := report.Write(context.Background(), os.Stdout, "table", res, report.Options{
		ToolVersion: "v1.0.0",
		Now:         func() time.Time { return time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC) },
	})
	if err != nil {
		fmt.Println(err)
	}
	// Output:
	// hoheit v1.0.0  scan 2026-11-23 10:00 UTC  1 resource from 1 input
	//
	//  HIGH
	//   C5-CRY-03-ENCRYPTED-AT-REST  Stored data is encrypted at rest  [bsi-c5 CRY-03 · gdpr Art. 32(1)(a)]
	//     FAIL        aws_s3_bucket.akten  main.tf:12
	//
	// Summary
	//   checks 1 · passed 0 · failed 1 (critical 0, high 1, medium 0, low 0)
	//   suppressed 0 · errors 0 · unknown before apply 0 · expired exceptions 0
	//   inputs 1, failed 0, skipped 0 · unsupported types 0 (0 resources)
	//
	// By framework
	//   BSI C5                 1 of 1 control with failures
	//   GDPR (DSGVO)           1 of 1 control with failures
}

// ExampleWrite_unknownFormat shows the error a caller prints for a
// mistyped --format.
func ExampleWrite_unknownFormat() {
	err := report.Write(context.Background(), os.Stdout, "xlsx", &rules.Result{}, report.Options{})
	fmt.Println(err)
	fmt.Println(strings.Join(report.Formats, " "))
	// Output:
	// unknown report format "xlsx": use one of table, json, sarif, ocsf, html, csv, junit
	// table json sarif ocsf html csv junit
}
