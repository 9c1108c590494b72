package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// caseNames are the two cases of a run, in the order they alternate.
var caseNames = []struct{ id, title string }{
	{"A", "plain wireguard-go"},
	{"B", "hoheit, 1,000-rule policy"},
}

// measure is one case's figures in one round.
type measure struct {
	mbps, retrans float64
	// tunnelCPU is the CPU time (user + system, seconds) the two tunnel
	// processes (wireguard-go or hoheit agent, both namespaces) used during
	// the iperf3 run, per GB received.
	tunnelCPU          float64
	pp                 PingPong
	pingP50, pingAvg   float64 // ms
	pingRecv, pingSent int
}

// runReport reads the files mesh-throughput.sh leaves in -dir
// (round-NN-{A,B}-{iperf.json,pingpong.json,ping.txt}) and prints markdown:
// every round, the medians, and the ratios hoheit / plain.
func runReport(args []string) error {
	fs := flag.NewFlagSet("report", flag.ContinueOnError)
	dir := fs.String("dir", "", "`DIR` of a mesh-throughput.sh run")
	if err := fs.Parse(args); err != nil {
		return err
	}
	rounds := map[int]map[string]*measure{}
	files, err := filepath.Glob(filepath.Join(*dir, "round-*-iperf.json"))
	if err != nil {
		return err
	}
	for _, f := range files {
		var r int
		var c string
		if _, err := fmt.Sscanf(filepath.Base(f), "round-%02d-%1s-iperf.json", &r, &c); err != nil {
			return fmt.Errorf("%s: %w", f, err)
		}
		m, err := readMeasure(strings.TrimSuffix(f, "-iperf.json"))
		if err != nil {
			return err
		}
		if rounds[r] == nil {
			rounds[r] = map[string]*measure{}
		}
		rounds[r][c] = m
	}
	var nums []int
	for r, cs := range rounds {
		if cs["A"] != nil && cs["B"] != nil {
			nums = append(nums, r)
		}
	}
	if len(nums) == 0 {
		return fmt.Errorf("%s: no complete round (both cases)", *dir)
	}
	slices.Sort(nums)
	w := os.Stdout
	printRounds(w, nums, rounds)
	printMedians(w, nums, rounds)
	return nil
}

func readMeasure(prefix string) (*measure, error) {
	m := &measure{}
	var ip struct {
		End struct {
			SumSent     struct{ Retransmits float64 } `json:"sum_sent"`
			SumReceived struct {
				BitsPerSecond float64 `json:"bits_per_second"`
				Bytes         float64 `json:"bytes"`
			} `json:"sum_received"`
		} `json:"end"`
		Error string `json:"error"`
	}
	b, err := os.ReadFile(prefix + "-iperf.json")
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(b, &ip); err != nil {
		return nil, fmt.Errorf("%s-iperf.json: %w", prefix, err)
	}
	if ip.Error != "" {
		return nil, fmt.Errorf("%s-iperf.json: iperf3: %s", prefix, ip.Error)
	}
	m.mbps = ip.End.SumReceived.BitsPerSecond / 1e6
	m.retrans = ip.End.SumSent.Retransmits
	if b, err = os.ReadFile(prefix + "-cpu.txt"); err == nil {
		var t0, t1, hz float64
		if _, err := fmt.Sscan(string(b), &t0, &t1, &hz); err == nil && hz > 0 && ip.End.SumReceived.Bytes > 0 {
			m.tunnelCPU = (t1 - t0) / hz / (ip.End.SumReceived.Bytes / 1e9)
		}
	}
	if b, err = os.ReadFile(prefix + "-pingpong.json"); err != nil {
		return nil, err
	}
	if err := json.Unmarshal(b, &m.pp); err != nil {
		return nil, fmt.Errorf("%s-pingpong.json: %w", prefix, err)
	}
	f, err := os.Open(prefix + "-ping.txt")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var times []float64
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if i := strings.Index(line, " time="); i >= 0 {
			v := strings.TrimSuffix(strings.TrimSpace(line[i+6:]), " ms")
			if x, err := strconv.ParseFloat(v, 64); err == nil {
				times = append(times, x)
			}
		}
		if strings.Contains(line, "packets transmitted") {
			fmt.Sscanf(line, "%d packets transmitted, %d received", &m.pingSent, &m.pingRecv)
		}
	}
	if len(times) == 0 {
		return nil, fmt.Errorf("%s-ping.txt: no replies", prefix)
	}
	m.pingP50 = median(times)
	var sum float64
	for _, t := range times {
		sum += t
	}
	m.pingAvg = sum / float64(len(times))
	return m, nil
}

func printRounds(w io.Writer, nums []int, rounds map[int]map[string]*measure) {
	fmt.Fprintln(w, "| round | case | TCP Mbit/s | retransmits | tunnel CPU s/GB | TCP round trip p50 / p99 µs | ping p50 / avg ms (received) |")
	fmt.Fprintln(w, "|---|---|---:|---:|---:|---:|---:|")
	for _, r := range nums {
		for _, c := range caseNames {
			m := rounds[r][c.id]
			fmt.Fprintf(w, "| %d | %s | %.0f | %.0f | %.2f | %.0f / %.0f | %.3f / %.3f (%d/%d) |\n", r, c.title,
				m.mbps, m.retrans, m.tunnelCPU, m.pp.P50US, m.pp.P99US, m.pingP50, m.pingAvg, m.pingRecv, m.pingSent)
		}
	}
	fmt.Fprintln(w)
}

func printMedians(w io.Writer, nums []int, rounds map[int]map[string]*measure) {
	type metric struct {
		name     string
		get      func(*measure) float64
		format   string
		higherOK bool // throughput: ratio B/A; costs and latency: A/B
	}
	metrics := []metric{
		{"TCP throughput, Mbit/s", func(m *measure) float64 { return m.mbps }, "%.0f", true},
		{"tunnel CPU per GB, s", func(m *measure) float64 { return m.tunnelCPU }, "%.2f", false},
		{"TCP round trip p50, µs", func(m *measure) float64 { return m.pp.P50US }, "%.0f", false},
		{"TCP round trip p99, µs", func(m *measure) float64 { return m.pp.P99US }, "%.0f", false},
		{"ping p50, ms", func(m *measure) float64 { return m.pingP50 }, "%.3f", false},
		{"ping avg, ms", func(m *measure) float64 { return m.pingAvg }, "%.3f", false},
	}
	fmt.Fprintf(w, "Medians of %d rounds (ratio: hoheit / plain for throughput, plain / hoheit for CPU and latency; 1.0 = equal, below 1 = hoheit worse):\n\n", len(nums))
	fmt.Fprintln(w, "| figure | plain wireguard-go | hoheit, 1,000-rule policy | ratio of medians | median of per-round ratios (min-max) |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|")
	for _, mt := range metrics {
		var a, b, ratios []float64
		for _, r := range nums {
			x, y := mt.get(rounds[r]["A"]), mt.get(rounds[r]["B"])
			a, b = append(a, x), append(b, y)
			if mt.higherOK {
				ratios = append(ratios, y/x)
			} else {
				ratios = append(ratios, x/y)
			}
		}
		ma, mb := median(a), median(b)
		ratio := mb / ma
		if !mt.higherOK {
			ratio = ma / mb
		}
		fmt.Fprintf(w, "| %s | "+mt.format+" | "+mt.format+" | %.2f | %.2f (%.2f-%.2f) |\n", mt.name, ma, mb, ratio,
			median(ratios), slices.Min(ratios), slices.Max(ratios))
	}
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}
