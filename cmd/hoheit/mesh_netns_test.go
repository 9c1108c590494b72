//go:build integration

package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestNetnsHelper is not a test: the namespace test runs this binary inside
// a namespace to serve or dial TCP (HOHEIT_NETNS_HELPER=serve:ADDR or
// dial:ADDR).
func TestNetnsHelper(t *testing.T) {
	mode, addr, ok := strings.Cut(os.Getenv("HOHEIT_NETNS_HELPER"), ":")
	if !ok {
		return
	}
	switch mode {
	case "serve":
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			fmt.Println("listen:", err)
			os.Exit(1)
		}
		fmt.Println("listening")
		for {
			c, err := ln.Accept()
			if err != nil {
				os.Exit(1)
			}
			go func() { io.Copy(c, c); c.Close() }()
		}
	case "dial":
		c, err := net.DialTimeout("tcp", addr, 2*time.Second)
		if err != nil {
			fmt.Println("dial:", err)
			os.Exit(1)
		}
		c.SetDeadline(time.Now().Add(2 * time.Second))
		c.Write([]byte("ping"))
		buf := make([]byte, 4)
		if _, err := io.ReadFull(c, buf); err != nil {
			fmt.Println("read:", err)
			os.Exit(1)
		}
		fmt.Println("ok")
		os.Exit(0)
	}
}

// netnsHelper runs this test binary in network namespace ns as
// TestNetnsHelper, in mode serve or dial.
func netnsHelper(ctx context.Context, ns, mode, addr string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, "ip", "netns", "exec", ns, os.Args[0], "-test.run=^TestNetnsHelper$")
	cmd.Env = append(os.Environ(), "HOHEIT_NETNS_HELPER="+mode+":"+addr)
	return cmd
}

// netnsServe starts a TCP echo server on addr in namespace ns, stopped
// when the test ends.
func netnsServe(ctx context.Context, t *testing.T, ns, addr string) {
	t.Helper()
	cmd := netnsHelper(ctx, ns, "serve", addr)
	out, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	line, _ := bufio.NewReader(out).ReadString('\n')
	if !strings.Contains(line, "listening") {
		t.Fatalf("serve %s in %s: %s", addr, ns, line)
	}
}

// netnsDial connects to addr from namespace ns and checks the echo.
// netnsProtected serves the allowed and the denied port on both addresses
// (IPv6 and IPv4) in serverNS, then checks from clientNS that the allowed
// port is reached over both and the denied one over neither; what names
// the flow in failures.
func netnsProtected(ctx context.Context, t *testing.T, serverNS, clientNS string, addrs [2]string, allowPort, denyPort, what string) {
	t.Helper()
	for _, a := range addrs {
		netnsServe(ctx, t, serverNS, net.JoinHostPort(a, allowPort))
		netnsServe(ctx, t, serverNS, net.JoinHostPort(a, denyPort))
	}
	for i, a := range addrs {
		family := [2]string{"IPv6", "IPv4"}[i]
		allowed, denied := net.JoinHostPort(a, allowPort), net.JoinHostPort(a, denyPort)
		waitFor(t, 30*time.Second, what+":"+allowPort+" over "+family, func() error { return netnsDial(ctx, clientNS, allowed) })
		if err := netnsDial(ctx, clientNS, denied); err == nil {
			t.Fatalf("%s:%s reached over %s in protect mode", what, denyPort, family)
		}
	}
}

func netnsDial(ctx context.Context, ns, addr string) error {
	out, err := netnsHelper(ctx, ns, "dial", addr).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "ok") {
		return fmt.Errorf("%v: %s", err, out)
	}
	return nil
}

// TestMeshInNamespaces: three network namespaces stand for three clouds,
// a fourth for the control plane; every node runs the hoheit binary as its
// own process with the TUN datapath. web reaches pricelist on tcp/8080; a
// connection from web to customer-db:5432 is dropped and reported; web and
// pricelist have two paths, and when the preferred one is cut, traffic
// continues on the other.
func TestMeshInNamespaces(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("needs root for network namespaces and TUN devices (CI runs as root)")
	}
	bin := hoheitBinary(t)
	id := os.Getpid() % 100000
	ns := func(n string) string { return fmt.Sprintf("h%s-%d", n, id) }
	ip := func(args ...string) {
		t.Helper()
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
		}
	}
	for _, n := range []string{"sw", "cp", "c1", "c2", "c3"} {
		ip("netns", "add", ns(n))
		name := ns(n)
		t.Cleanup(func() { exec.Command("ip", "netns", "del", name).Run() })
		ip("-n", name, "link", "set", "lo", "up")
	}
	// Two switches: path A joins everything, path B only c1 and c2.
	ip("-n", ns("sw"), "link", "add", "brA", "type", "bridge")
	ip("-n", ns("sw"), "link", "add", "brB", "type", "bridge")
	ip("-n", ns("sw"), "link", "set", "brA", "up")
	ip("-n", ns("sw"), "link", "set", "brB", "up")
	link := func(node, dev, br, addr string) {
		peer := "s" + node + dev
		ip("link", "add", dev, "netns", ns(node), "type", "veth", "peer", "name", peer, "netns", ns("sw"))
		ip("-n", ns("sw"), "link", "set", peer, "master", br)
		ip("-n", ns("sw"), "link", "set", peer, "up")
		ip("-n", ns(node), "addr", "add", addr+"/24", "dev", dev)
		ip("-n", ns(node), "link", "set", dev, "up")
	}
	link("cp", "pa", "brA", "10.77.0.1")
	link("c1", "pa", "brA", "10.77.0.2")
	link("c2", "pa", "brA", "10.77.0.3")
	link("c3", "pa", "brA", "10.77.0.4")
	link("c1", "pb", "brB", "10.78.0.2")
	link("c2", "pb", "brB", "10.78.0.3")

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	dir := t.TempDir()
	data := filepath.Join(dir, "cp")
	start := func(name, node string, args ...string) *bufferLog {
		t.Helper()
		cmd := exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", ns(node), bin}, args...)...)
		out := &bufferLog{syncWriter{w: &bytes.Buffer{}}}
		cmd.Stdout, cmd.Stderr = out, out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			cmd.Process.Kill()
			cmd.Wait()
			if t.Failed() {
				t.Logf("--- %s ---\n%s", name, out.String())
			}
		})
		return out
	}
	in := func(node string, args ...string) (string, error) {
		out, err := exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", ns(node), bin}, args...)...).CombinedOutput()
		return string(out), err
	}
	start("server", "cp", "server", "--dev", "--data-dir", data, "--listen", "10.77.0.1:8443", "--log-level", "warn")
	api := []string{"--server", "https://10.77.0.1:8443", "--ca", filepath.Join(data, "ca.pem"), "--token-file", filepath.Join(data, "admin.token")}
	waitFor(t, 30*time.Second, "the policy to apply", func() error {
		out, err := in("cp", append([]string{"segment", "apply", "../../examples/segment/shop.yaml"}, api...)...)
		if err != nil {
			return fmt.Errorf("%v: %s", err, out)
		}
		return nil
	})
	agent := func(node, name string, labels []string, endpoints ...string) {
		args := []string{"agent", "--server", "https://10.77.0.1:8443", "--ca", filepath.Join(data, "ca.pem"), "--class", "dev",
			"--attestation", "insecure", "--name", name, "--mesh", "tun", "--mesh-port", "51820"}
		for _, l := range labels {
			args = append(args, "--label", l)
		}
		for _, e := range endpoints {
			args = append(args, "--endpoint", e)
		}
		start(name, node, args...)
	}
	agent("c1", "web-1", []string{"app=web", "env=prod", "cloud=aws"}, "10.78.0.2:51820", "10.77.0.2:51820")
	agent("c2", "pricelist-1", []string{"app=pricelist", "env=prod", "cloud=azure"}, "10.78.0.3:51820", "10.77.0.3:51820")
	agent("c3", "customer-db-1", []string{"app=customer-db", "env=prod", "site=dc-berlin"}, "10.77.0.4:51820")

	meshAddr := func(node string) string {
		var addr string
		waitFor(t, 30*time.Second, node+"'s mesh address", func() error {
			out, err := exec.Command("ip", "-n", ns(node), "-o", "-6", "addr", "show", "dev", "hoheit0", "scope", "global").CombinedOutput()
			if err != nil {
				return fmt.Errorf("%v: %s", err, out)
			}
			f := strings.Fields(string(out))
			for i, w := range f {
				if w == "inet6" && i+1 < len(f) {
					addr = strings.Split(f[i+1], "/")[0]
					return nil
				}
			}
			return fmt.Errorf("no address yet: %s", out)
		})
		return addr
	}
	webAddr, priceAddr, dbAddr := meshAddr("c1"), meshAddr("c2"), meshAddr("c3")
	_ = webAddr
	serve := func(node, addr string) { netnsServe(ctx, t, ns(node), addr) }
	dial := func(node, addr string) error { return netnsDial(ctx, ns(node), addr) }
	serve("c2", net.JoinHostPort(priceAddr, "8080"))
	serve("c3", net.JoinHostPort(dbAddr, "5432"))

	waitFor(t, 30*time.Second, "web -> pricelist:8080", func() error { return dial("c1", net.JoinHostPort(priceAddr, "8080")) })
	if err := dial("c1", net.JoinHostPort(dbAddr, "5432")); err == nil {
		t.Fatal("the web node reached customer-db:5432")
	}
	waitFor(t, 30*time.Second, "the alert for web -> customer-db:5432", func() error {
		out, err := in("cp", append([]string{"segment", "alerts"}, api...)...)
		if err != nil {
			return fmt.Errorf("%v: %s", err, out)
		}
		for _, l := range strings.Split(out, "\n") {
			if strings.Contains(l, "web-1") && strings.Contains(l, "5432") && strings.Contains(l, "drop") {
				return nil
			}
		}
		return fmt.Errorf("not yet: %s", out)
	})

	// Cut the preferred path between web and pricelist.
	ip("-n", ns("c1"), "link", "set", "pb", "down")
	cut := time.Now()
	waitFor(t, 20*time.Second, "traffic on the remaining path", func() error { return dial("c1", net.JoinHostPort(priceAddr, "8080")) })
	t.Logf("web -> pricelist continued %v after its preferred path was cut", time.Since(cut).Round(10*time.Millisecond))
}

func waitFor(t *testing.T, within time.Duration, what string, f func() error) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("waiting for %s: %v", what, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

type bufferLog struct{ syncWriter }

func (b *bufferLog) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	if s, ok := b.w.(fmt.Stringer); ok {
		return s.String()
	}
	return ""
}
