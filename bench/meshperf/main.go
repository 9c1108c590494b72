// Command meshperf is the helper of bench/mesh-throughput.sh, which measures
// TCP throughput and latency through the hoheit mesh with a 1,000-rule
// segmentation policy against plain wireguard-go on the same path:
//
//	meshperf policy -rules 1000 -o policy.yaml    # the policy (and its check)
//	meshperf serve -listen [::]:5301               # TCP echo server
//	meshperf pingpong -addr [fd..]:5301 -n 20000   # 1-byte TCP round trips, JSON
//	meshperf probe -addr [fd..]:5999               # exit 0 if a connection opens
//	meshperf report -dir bench/out/mesh            # markdown tables of a run
//
// It is a benchmark tool, not part of the hoheit binary.
package main

import (
	"fmt"
	"os"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	args := os.Args[2:]
	var err error
	switch os.Args[1] {
	case "policy":
		err = runPolicy(args)
	case "serve":
		err = runServe(args)
	case "pingpong":
		err = runPingPong(args)
	case "probe":
		err = runProbe(args)
	case "report":
		err = runReport(args)
	default:
		usage()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "meshperf:", err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: meshperf policy|serve|pingpong|probe|report [flags]")
	os.Exit(2)
}
