// Command stages runs hoheit's scan pipeline in-process, one stage at a
// time, and reports where the time and memory go: compiling the rule
// packs, reading the file, parsing and normalizing the plan, evaluating
// the rules, writing the JSON report. With -cpuprofile it writes one CPU
// profile per stage for `go tool pprof`.
//
//	go run ./bench/stages -plan bench/out/plan-100000.json [-cpuprofile bench/out/prof] [-memprofile bench/out/heap.pprof]
//
// It calls the same packages as `hoheit scan --format json` (the CLI adds
// only flag handling), so its figures add up to the CLI's.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/pprof"
	"strings"
	"syscall"
	"time"

	"github.com/hoheit/hoheit/internal/cli"
	"github.com/hoheit/hoheit/internal/inventory"
	"github.com/hoheit/hoheit/internal/report"
	"github.com/hoheit/hoheit/internal/rules"
	"github.com/hoheit/hoheit/internal/source"
	"github.com/hoheit/hoheit/internal/source/terraform"
	"github.com/hoheit/hoheit/policies"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "stages:", err)
		os.Exit(1)
	}
}

// stage is the cost of one step of the pipeline.
type stage struct {
	name      string
	wall, cpu time.Duration
	alloc     uint64 // bytes allocated during the stage
	heap      uint64 // live heap after the stage
	gcs       uint32
}

func run() error {
	planPath := flag.String("plan", "", "Terraform plan JSON to scan")
	profile := flag.String("cpuprofile", "", "write a CPU profile per stage to `PREFIX`-<stage>.pprof")
	memProfile := flag.String("memprofile", "", "write a heap profile of what is live after evaluation to `FILE`")
	flag.Parse()
	if *planPath == "" {
		return fmt.Errorf("-plan is required")
	}
	ctx := context.Background()
	var stages []stage
	measure := func(name string, fn func() error) error {
		var stop func()
		if *profile != "" {
			f, err := os.Create(*profile + "-" + name + ".pprof")
			if err != nil {
				return err
			}
			if err := pprof.StartCPUProfile(f); err != nil {
				return err
			}
			stop = func() { pprof.StopCPUProfile(); f.Close() }
		}
		var m0, m1 runtime.MemStats
		runtime.ReadMemStats(&m0)
		c0 := cpuTime()
		t0 := time.Now()
		err := fn()
		wall := time.Since(t0)
		cpu := cpuTime() - c0
		if stop != nil {
			stop()
		}
		runtime.ReadMemStats(&m1)
		stages = append(stages, stage{name, wall, cpu, m1.TotalAlloc - m0.TotalAlloc, m1.HeapAlloc, m1.NumGC - m0.NumGC})
		return err
	}

	var set *rules.Set
	if err := measure("compile", func() error {
		var all []*rules.Rule
		for _, p := range policies.Packs {
			rs, err := rules.LoadFS(policies.FS, p, p)
			if err != nil {
				return err
			}
			all = append(all, rs...)
		}
		c, err := rules.NewCompiler(0)
		if err != nil {
			return err
		}
		set, err = c.Compile(all)
		return err
	}); err != nil {
		return err
	}

	var data []byte
	if err := measure("read", func() (err error) {
		data, err = os.ReadFile(*planPath)
		return err
	}); err != nil {
		return err
	}

	var estate *inventory.Estate
	if err := measure("parse", func() (err error) {
		if kind, ok := terraform.Detect(data); !ok || kind != terraform.KindPlan {
			return fmt.Errorf("%s is not a Terraform plan", *planPath)
		}
		estate, err = terraform.Parse(*planPath, data)
		return err
	}); err != nil {
		return err
	}
	data, estate = nil, nil
	runtime.GC()
	// The CLI reads through source.Read, which adds detection, merging of
	// inputs and what it does to the estate after parsing; time it too, and
	// evaluate its estate, as the CLI does: from here on the collector is
	// paced as `hoheit scan` paces it (cli.PaceScan, the mapped input
	// counted while resident), native attributes are kept only for the
	// types a rule reads them of, and the attributes are released before
	// the report.
	gc := cli.PaceScan()
	defer gc.Stop()
	if err := measure("source.Read", func() (err error) {
		estate, err = source.Read(ctx, []string{*planPath}, source.Options{MaxInputSize: 1 << 40, Mapped: gc.AddExternal, KeepNative: set.ReadsNative})
		return err
	}); err != nil {
		return err
	}

	var res *rules.Result
	if err := measure("evaluate", func() (err error) {
		res, err = set.Evaluate(ctx, estate, rules.EvalOptions{})
		return err
	}); err != nil {
		return err
	}

	if *memProfile != "" {
		// What the scan holds while it reports: the estate and the findings.
		if err := writeHeapProfile(*memProfile); err != nil {
			return err
		}
	}

	estate.ReleaseAttributes()
	if err := measure("report", func() error {
		return report.Write(ctx, io.Discard, "json", res, report.Options{ToolVersion: "bench", Now: time.Now})
	}); err != nil {
		return err
	}

	fail, unknown := 0, 0
	for _, f := range res.Findings {
		switch f.Status {
		case rules.Fail:
			fail++
		case rules.Unknown:
			unknown++
		}
	}
	fmt.Printf("plan %s: %d normalized resources, %d rules, %d failed, %d unknown, GOMAXPROCS %d\n\n",
		*planPath, len(estate.Resources), len(set.Rules), fail, unknown, runtime.GOMAXPROCS(0))
	fmt.Println("| stage | wall | CPU | allocated | live heap after | GCs |")
	fmt.Println("|---|---:|---:|---:|---:|---:|")
	var total time.Duration
	for _, s := range stages {
		if s.name != "read" && s.name != "parse" {
			total += s.wall
		}
		fmt.Printf("| %s | %s | %s | %s | %s | %d |\n", s.name, round(s.wall), round(s.cpu), mib(s.alloc), mib(s.heap), s.gcs)
	}
	fmt.Printf("| total (compile, source.Read, evaluate, report) | %s | | | | |\n", round(total))
	fmt.Printf("\npeak RSS %s\n", peakRSS())
	return nil
}

func writeHeapProfile(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	runtime.GC()
	if err := pprof.WriteHeapProfile(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func round(d time.Duration) time.Duration { return d.Round(time.Millisecond) }

func mib(b uint64) string { return fmt.Sprintf("%.0f MiB", float64(b)/(1<<20)) }

// peakRSS is the process's high-water resident set size from /proc.
func peakRSS() string {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return "unknown"
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			return strings.TrimSpace(v)
		}
	}
	return "unknown"
}
