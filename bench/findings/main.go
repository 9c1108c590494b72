// Command findings prints the number of failed checks in a JSON report of
// hoheit (`hoheit scan --format json`) or trivy (`trivy config --format
// json`), so bench/compare.sh can put both side by side without jq:
//
//	findings hoheit report.json   # prints: failed unknown resources
//	findings trivy report.json    # prints: failed
package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "findings:", err)
		os.Exit(1)
	}
}

func run(args []string, out io.Writer) error {
	if len(args) != 2 {
		return errors.New("usage: findings hoheit|trivy REPORT.json")
	}
	f, err := os.Open(args[1])
	if err != nil {
		return err
	}
	defer f.Close()
	switch args[0] {
	case "hoheit":
		var r struct {
			Summary struct {
				Resources int `json:"resources"`
				Failed    int `json:"failed"`
				Unknown   int `json:"unknown"`
			} `json:"summary"`
		}
		if err := json.NewDecoder(f).Decode(&r); err != nil {
			return fmt.Errorf("reading hoheit report %s: %w", args[1], err)
		}
		fmt.Fprintln(out, r.Summary.Failed, r.Summary.Unknown, r.Summary.Resources)
	case "trivy":
		var r struct {
			Results []struct {
				MisconfSummary struct {
					Failures int `json:"Failures"`
				} `json:"MisconfSummary"`
			} `json:"Results"`
		}
		if err := json.NewDecoder(f).Decode(&r); err != nil {
			return fmt.Errorf("reading trivy report %s: %w", args[1], err)
		}
		n := 0
		for _, res := range r.Results {
			n += res.MisconfSummary.Failures
		}
		fmt.Fprintln(out, n)
	default:
		return fmt.Errorf("unknown report kind %q: want hoheit or trivy", args[0])
	}
	return nil
}
