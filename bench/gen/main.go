// Command gen writes a synthetic Terraform plan (`terraform show -json`
// format) of N resources over the aws, azurerm, google and
// opentelekomcloud providers, for benchmarks:
//
//	go run ./bench/gen -n 10000 -o plan.json [-seed 1] [-stats]
//
// The output is streamed; memory stays constant up to millions of
// resources. The same -n and -seed always give the same file.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"slices"

	"github.com/hoheit/hoheit/bench/gen/plan"
)

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("gen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	n := fs.Int("n", 1000, "number of resources")
	out := fs.String("o", "-", "output file, - for standard output")
	seed := fs.Int64("seed", 1, "seed of the good/bad settings mix")
	stats := fs.Bool("stats", false, "print the number of resources per type to standard error")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if *n < 0 {
		return fmt.Errorf("-n must not be negative, got %d", *n)
	}

	w := stdout
	var f *os.File
	if *out != "-" {
		var err error
		if f, err = os.Create(*out); err != nil {
			return err
		}
		defer f.Close()
		w = f
	}
	if err := plan.Write(w, *n, *seed); err != nil {
		return err
	}
	if f != nil {
		if err := f.Close(); err != nil {
			return fmt.Errorf("writing %s: %w", *out, err)
		}
	}
	if *stats {
		counts := plan.Count(*n, *seed)
		types := make([]string, 0, len(counts))
		for t := range counts {
			types = append(types, t)
		}
		slices.Sort(types)
		for _, t := range types {
			fmt.Fprintf(stderr, "%7d %s\n", counts[t], t)
		}
	}
	return nil
}
