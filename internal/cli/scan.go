package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/hoheit/hoheit/internal/gctune"
	"github.com/hoheit/hoheit/internal/inventory"
	"github.com/hoheit/hoheit/internal/rules"
)

type scanFlags struct {
	sel             ruleSelection
	format          string
	output          string
	failOn          string
	exceptions      string
	showUnsupported bool
	maxInputSize    byteSize
	maxDepth        int
	color           string
	quiet           bool
	cpuProfile      string
	memProfile      string
}

func newScanCmd(d *Deps) *cobra.Command {
	f := &scanFlags{}
	cmd := &cobra.Command{
		Use:   "scan PATH...",
		Short: "Check Terraform plans, state, Kubernetes manifests and snapshots against the policy packs",
		Long: `Scan reads every PATH (a file, a directory searched recursively, or - for
stdin), detects what each file is from its content (Terraform plan or state
JSON from 'terraform show -json', Kubernetes manifests, hoheit snapshots),
normalizes the resources, and runs the rule packs over all of them in one pass.

A value Terraform knows only after apply is 'unknown', never false: a rule
that depends on it is reported as unknown, not as a failure. Settings split
over several resources (aws_s3_bucket_versioning, azurerm_storage_container,
...) are joined onto the resource they configure.

Exit codes: 0 no finding at or above --fail-on; 1 there is one; 2 bad usage
or an input that could not be read (the others are still scanned and the
report names the failed input).`,
		Example: `  hoheit scan examples/estate
  terraform show -json plan.out | hoheit scan -
  hoheit scan plan.json --pack bsi-c5 --fail-on critical
  hoheit scan infra/ --format sarif --output hoheit.sarif
  hoheit scan k8s/ --exceptions exceptions.yaml --format html -o report.html
  hoheit scan plan.json --rules ./our-rules --pack none`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error { return runScan(cmd, d, f, args) },
	}
	fl := cmd.Flags()
	addSelectionFlags(cmd, &f.sel)
	fl.StringVarP(&f.format, "format", "f", "table", "report format: "+strings.Join(d.Formats, ", "))
	fl.StringVarP(&f.output, "output", "o", "", "write the report to `FILE` instead of stdout")
	fl.StringVar(&f.failOn, "fail-on", "high", "exit 1 if a finding has this `SEVERITY` or higher: low, medium, high, critical, none")
	fl.StringVar(&f.exceptions, "exceptions", "", "accepted risks: a YAML `FILE` of exceptions (see docs/rules.md#exceptions)")
	fl.BoolVar(&f.showUnsupported, "show-unsupported", false, "list the resource types hoheit does not model yet")
	f.maxInputSize = 512 << 20
	fl.Var(&f.maxInputSize, "max-input-size", "refuse input files larger than this, e.g. 512MiB, 2GiB")
	fl.IntVar(&f.maxDepth, "max-depth", 512, "refuse inputs nested deeper than this many `LEVELS`")
	fl.StringVar(&f.color, "color", "auto", "colour in the table: auto, always, never")
	fl.BoolVarP(&f.quiet, "quiet", "q", false, "no progress messages on stderr")
	fl.StringVar(&f.cpuProfile, "cpuprofile", "", "write a CPU profile to `FILE` (for performance reports)")
	_ = fl.MarkHidden("cpuprofile")
	fl.StringVar(&f.memProfile, "memprofile", "", "write an allocation profile of the scan to `FILE` (for performance reports)")
	_ = fl.MarkHidden("memprofile")
	return cmd
}

func addSelectionFlags(cmd *cobra.Command, s *ruleSelection) {
	fl := cmd.Flags()
	fl.StringSliceVar(&s.packs, "pack", nil, "built-in packs to use (default all: baseline, bsi-c5, gdpr; 'none' for only --rules)")
	fl.StringSliceVar(&s.custom, "rules", nil, "your own rule files or directories, added to the packs (repeatable)")
	fl.StringSliceVar(&s.frameworks, "framework", nil, "only rules mapped to this framework, e.g. bsi-c5, gdpr")
}

// scanHeapBudget is the memory a scan may hold before the collector runs:
// a 100,000-resource Terraform plan's estate, the rules' and the report's
// work fit in it, and the scan stays under 1 GiB (docs/benchmarks.md).
// Smaller scans never reach it; GOGC or GOMEMLIMIT, if set, win.
const scanHeapBudget = 896 << 20

// PaceScan paces the collector for one scan (gctune) with the scan's heap
// budget, until the Tuner is stopped; bench/stages uses it too, so its
// figures are the CLI's.
func PaceScan() *gctune.Tuner { return gctune.Start(scanHeapBudget, 50) }

func runScan(cmd *cobra.Command, d *Deps, f *scanFlags, args []string) error {
	ctx := cmd.Context()
	if !slices.Contains(d.Formats, f.format) {
		return usageError("unknown format %q: use one of %s", f.format, strings.Join(d.Formats, ", "))
	}
	failOn, err := rules.ParseSeverity(f.failOn)
	if err != nil {
		return usageError("--fail-on: %v", err)
	}
	if !slices.Contains([]string{"auto", "always", "never"}, f.color) {
		return usageError("--color must be auto, always or never")
	}
	var exceptions []*rules.Exception
	if f.exceptions != "" {
		if exceptions, err = rules.LoadExceptions(f.exceptions); err != nil {
			return usageError("%v", err)
		}
	}
	if f.cpuProfile != "" {
		stop, err := startCPUProfile(f.cpuProfile)
		if err != nil {
			return usageError("--cpuprofile: %v", err)
		}
		defer stop()
	}
	if f.memProfile != "" {
		defer writeAllocProfile(d, f.memProfile)
	}
	progress := !f.quiet && d.IsTerminal(d.Stderr)
	start := d.Now()
	// The estate is most of the heap, and collecting it while it is built
	// or read by the rules is wasted work: the collector waits until the
	// heap nears scanHeapBudget (less what of the mapped input files is
	// resident: all of a file when it is mapped, less and less as the
	// reader passes over it), then keeps its goal at half again what is
	// live.
	gc := PaceScan()
	defer gc.Stop()
	// The rules compile while the inputs are read (compiling the packs is
	// a tenth of a 10,000-resource scan); the reader asks them only which
	// types keep native attributes, once it maps its first resource. A
	// rule that does not compile stops the reading of further inputs.
	readCtx, stopReading := context.WithCancel(ctx)
	defer stopReading()
	type compiled struct {
		set *rules.Set
		err error
	}
	compiling := make(chan compiled, 1)
	go func() {
		set, err := f.sel.compile(d)
		if err != nil {
			stopReading()
		}
		compiling <- compiled{set, err}
	}()
	// No report shows native attributes: only the types some rule reads
	// resource.native of keep them, which the compiled rules tell.
	var c compiled
	var once sync.Once
	ruleSet := func() *rules.Set {
		once.Do(func() { c = <-compiling })
		return c.set
	}
	keepNative := func(typ string) bool {
		set := ruleSet()
		return set == nil || set.ReadsNative(typ)
	}
	estate, readErr := d.ReadEstate(readCtx, args, ReadOptions{MaxInputSize: int64(f.maxInputSize), MaxDepth: f.maxDepth, Stdin: d.Stdin, Mapped: gc.AddExternal, KeepNative: keepNative})
	ruleSet()
	if c.err != nil {
		return c.err
	}
	set := c.set
	if readErr != nil {
		return usageError("%v", readErr)
	}
	if progress {
		fmt.Fprintf(d.Stderr, "read %d resources from %d inputs in %s; checking %d rules\n",
			len(estate.Resources), len(estate.Inputs), d.Now().Sub(start).Round(time.Millisecond), len(set.Rules))
	}
	opts := rules.EvalOptions{Exceptions: exceptions, Now: d.Now}
	if progress && len(estate.Resources) > 50_000 {
		var last time.Time
		opts.Progress = func(done, total int) {
			if now := time.Now(); now.Sub(last) > 200*time.Millisecond || done == total {
				last = now
				fmt.Fprintf(d.Stderr, "\rchecked %d/%d resources", done, total)
				if done == total {
					fmt.Fprintln(d.Stderr)
				}
			}
		}
	}
	res, err := set.Evaluate(ctx, estate, opts)
	if err != nil {
		return err
	}
	// No report shows attributes, normalized or native; releasing them
	// frees half the heap before the report is built.
	estate.ReleaseAttributes()

	w, closeOut, err := openOutput(d, f.output)
	if err != nil {
		return err
	}
	color := f.color == "always" || (f.color == "auto" && f.output == "" && d.IsTerminal(d.Stdout))
	if err := d.WriteReport(ctx, w, f.format, res, ReportOptions{Color: color, ToolVersion: d.Version, Now: d.Now(), ShowUnsupported: f.showUnsupported}); err != nil {
		_ = closeOut()
		return fmt.Errorf("writing the %s report: %w", f.format, err)
	}
	if err := closeOut(); err != nil {
		return fmt.Errorf("writing the report: %w", err)
	}
	if f.showUnsupported && f.format != "table" {
		writeUnsupported(d.Stderr, estate)
	} else if !f.quiet && len(estate.Unsupported) > 0 && f.format != "table" && f.output != "" {
		n := 0
		for _, u := range estate.Unsupported {
			n += u.Count
		}
		fmt.Fprintf(d.Stderr, "%d resources of %d types are not modelled yet and were not checked (--show-unsupported lists them)\n", n, len(estate.Unsupported))
	}
	return scanExit(d, res, failOn)
}

// scanExit decides the exit code: failed inputs first, then findings.
func scanExit(d *Deps, res *rules.Result, failOn rules.Severity) error {
	var failed []string
	for _, in := range res.Estate.Inputs {
		if in.Error != "" {
			failed = append(failed, in.Error)
		}
	}
	if len(failed) > 0 {
		return &ExitError{Code: ExitUsage, Err: fmt.Errorf("%d input(s) could not be read; the rest was scanned:\n  %s", len(failed), strings.Join(failed, "\n  "))}
	}
	for _, f := range res.Findings {
		if f.Status == rules.Fail && f.Rule.Severity >= failOn {
			return &ExitError{Code: ExitFindings}
		}
	}
	return nil
}

func startCPUProfile(path string) (func(), error) {
	out, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(out); err != nil {
		out.Close()
		return nil, err
	}
	return func() { pprof.StopCPUProfile(); out.Close() }, nil
}

func writeAllocProfile(d *Deps, path string) {
	// The profile is as of the last collection: one now makes it whole.
	runtime.GC()
	out, err := os.Create(path)
	if err == nil {
		err = pprof.Lookup("allocs").WriteTo(out, 0)
		if cerr := out.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		fmt.Fprintf(d.Stderr, "--memprofile: %v\n", err)
	}
}

func writeUnsupported(w io.Writer, e *inventory.Estate) {
	if len(e.Unsupported) == 0 {
		fmt.Fprintln(w, "Every resource type in the inputs is modelled.")
		return
	}
	fmt.Fprintln(w, "\nNot modelled yet (counted, not checked):")
	for _, u := range e.Unsupported {
		fmt.Fprintf(w, "  %-12s %-55s %5d  e.g. %s\n", u.Provider, u.NativeType, u.Count, strings.Join(u.Examples, ", "))
	}
}

func newInventoryCmd(d *Deps) *cobra.Command {
	maxInputSize := byteSize(512 << 20)
	var maxDepth int
	var typ []string
	var native bool
	cmd := &cobra.Command{
		Use:   "inventory PATH...",
		Short: "Print the normalized estate as JSON: what the rules see",
		Long: `Inventory reads the same inputs as scan and prints the normalized estate as
JSON: each resource with its normalized type and attributes (docs/model.md),
the attributes known only after apply, its source location and, unless
--native=false, the provider's own attributes. Use it to write or debug a
rule: 'resource.encryption.at_rest.key_manager' in a check reads exactly the
value shown here.`,
		Example: `  hoheit inventory examples/estate/aws
  hoheit inventory plan.json --type object_storage.bucket --native=false`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			for _, t := range typ {
				if _, ok := inventory.Schemas[t]; !ok {
					return usageError("unknown type %q; the normalized types are %s", t, strings.Join(inventory.TypeNames(), ", "))
				}
			}
			e, err := d.ReadEstate(cmd.Context(), args, ReadOptions{MaxInputSize: int64(maxInputSize), MaxDepth: maxDepth, Stdin: d.Stdin})
			if err != nil {
				return usageError("%v", err)
			}
			if len(typ) > 0 {
				kept := e.Resources[:0]
				for _, r := range e.Resources {
					if slices.Contains(typ, r.Type) {
						kept = append(kept, r)
					}
				}
				e.Resources = kept
			}
			if !native {
				for _, r := range e.Resources {
					r.Native = nil
				}
			}
			enc := json.NewEncoder(d.Stdout)
			enc.SetIndent("", "  ")
			if err := enc.Encode(e); err != nil {
				return fmt.Errorf("writing the inventory: %w", err)
			}
			for _, in := range e.Inputs {
				if in.Error != "" {
					return &ExitError{Code: ExitUsage, Err: fmt.Errorf("input could not be read: %s", in.Error)}
				}
			}
			return nil
		},
	}
	cmd.Flags().Var(&maxInputSize, "max-input-size", "refuse input files larger than this, e.g. 512MiB, 2GiB")
	cmd.Flags().IntVar(&maxDepth, "max-depth", 512, "refuse inputs nested deeper than this many `LEVELS`")
	cmd.Flags().StringSliceVar(&typ, "type", nil, "only resources of this normalized `TYPE`")
	cmd.Flags().BoolVar(&native, "native", true, "include the provider's own attributes")
	return cmd
}
