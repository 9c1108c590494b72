package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"slices"
	"time"
)

// runServe echoes every byte it reads, per connection, until killed.
func runServe(args []string) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	listen := fs.String("listen", "", "TCP `ADDR` to listen on, e.g. [::]:5301")
	if err := fs.Parse(args); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	fmt.Println("listening", ln.Addr())
	for {
		c, err := ln.Accept()
		if err != nil {
			return err
		}
		go func() {
			defer c.Close()
			if tc, ok := c.(*net.TCPConn); ok {
				tc.SetNoDelay(true)
			}
			io.Copy(c, c)
		}()
	}
}

// PingPong is the result of one pingpong run (microseconds).
type PingPong struct {
	N      int     `json:"n"`
	Size   int     `json:"size"`
	MeanUS float64 `json:"mean_us"`
	P50US  float64 `json:"p50_us"`
	P90US  float64 `json:"p90_us"`
	P99US  float64 `json:"p99_us"`
	MaxUS  float64 `json:"max_us"`
}

// runPingPong opens one TCP connection and does n sequential round trips of
// size bytes (write, read the echo), after a warm-up, and prints the
// round-trip distribution as JSON.
func runPingPong(args []string) error {
	fs := flag.NewFlagSet("pingpong", flag.ContinueOnError)
	addr := fs.String("addr", "", "`ADDR` of a meshperf serve")
	n := fs.Int("n", 20000, "measured round trips")
	warm := fs.Int("warmup", 500, "round trips before measuring")
	size := fs.Int("size", 1, "bytes per message")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *n < 1 || *size < 1 {
		return errors.New("-n and -size must be positive")
	}
	c, err := net.DialTimeout("tcp", *addr, 3*time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	c.(*net.TCPConn).SetNoDelay(true)
	c.SetDeadline(time.Now().Add(5 * time.Minute))
	buf := make([]byte, *size)
	rtts := make([]time.Duration, 0, *n)
	for i := 0; i < *warm+*n; i++ {
		start := time.Now()
		if _, err := c.Write(buf); err != nil {
			return err
		}
		if _, err := io.ReadFull(c, buf); err != nil {
			return err
		}
		if i >= *warm {
			rtts = append(rtts, time.Since(start))
		}
	}
	slices.Sort(rtts)
	var sum time.Duration
	for _, d := range rtts {
		sum += d
	}
	us := func(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e3 }
	q := func(f float64) float64 { return us(rtts[min(len(rtts)-1, int(f*float64(len(rtts))))]) }
	return json.NewEncoder(os.Stdout).Encode(PingPong{
		N: len(rtts), Size: *size, MeanUS: us(sum) / float64(len(rtts)),
		P50US: q(0.50), P90US: q(0.90), P99US: q(0.99), MaxUS: us(rtts[len(rtts)-1]),
	})
}

// runProbe exits 0 when a TCP connection to addr opens and carries an echo
// within the timeout, 1 otherwise.
func runProbe(args []string) error {
	fs := flag.NewFlagSet("probe", flag.ContinueOnError)
	addr := fs.String("addr", "", "`ADDR` of a meshperf serve")
	timeout := fs.Duration("timeout", 2*time.Second, "give up after this long")
	if err := fs.Parse(args); err != nil {
		return err
	}
	c, err := net.DialTimeout("tcp", *addr, *timeout)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(*timeout))
	if _, err := c.Write([]byte{'x'}); err != nil {
		return err
	}
	b := make([]byte, 1)
	if _, err := io.ReadFull(c, b); err != nil {
		return err
	}
	fmt.Println("connected", *addr)
	return nil
}
