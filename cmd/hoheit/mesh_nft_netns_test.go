//go:build integration

package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestMeshNftablesInNamespaces: two nodes enforce with nftables, on the
// tun datapath (--enforce nftables) and on the kernel datapath (where it is
// the default), the kernel datapath driving an existing WireGuard interface
// that upstream wireguard-go runs (this machine's kernel has no WireGuard
// module; wgctrl configures both the same way). web reaches pricelist on
// tcp/8080 (and the replies pass); web -> pricelist:5432 is dropped in
// protect mode and reported as an alert; after the policy's segment is
// switched to learn, the same connection works and is recorded as a flow.
// Stopping an agent removes its table.
func TestMeshNftablesInNamespaces(t *testing.T) {
	for _, datapath := range []string{"tun", "kernel"} {
		t.Run(datapath, func(t *testing.T) { testMeshNftables(t, datapath) })
	}
}

var (
	wgOnce sync.Once
	wgPath string
	wgErr  error
)

// wireguardGo builds upstream wireguard-go from the module hoheit depends on.
func wireguardGo(t *testing.T) string {
	t.Helper()
	wgOnce.Do(func() {
		dir, err := os.MkdirTemp("", "hoheit-wg-")
		if err != nil {
			wgErr = err
			return
		}
		wgPath = filepath.Join(dir, "wireguard-go")
		if out, err := exec.Command("go", "build", "-o", wgPath, "golang.zx2c4.com/wireguard").CombinedOutput(); err != nil {
			wgErr = fmt.Errorf("building wireguard-go: %v\n%s", err, out)
		}
	})
	if wgErr != nil {
		t.Fatal(wgErr)
	}
	return wgPath
}

func testMeshNftables(t *testing.T, datapath string) {
	if os.Geteuid() != 0 {
		t.Fatal("needs root for network namespaces, TUN devices and nftables (CI runs as root)")
	}
	if _, err := exec.LookPath("nft"); err != nil {
		t.Fatal("needs the nft command to inspect the tables (Debian nftables; scripts/test-deps.sh installs it)")
	}
	bin := hoheitBinary(t)
	id := os.Getpid() % 100000
	ns := func(n string) string { return fmt.Sprintf("hn%s-%d", n, id) }
	ip := func(args ...string) {
		t.Helper()
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
		}
	}
	for _, n := range []string{"sw", "cp", "c1", "c2"} {
		ip("netns", "add", ns(n))
		name := ns(n)
		t.Cleanup(func() { exec.Command("ip", "netns", "del", name).Run() })
		ip("-n", name, "link", "set", "lo", "up")
	}
	ip("-n", ns("sw"), "link", "add", "brN", "type", "bridge")
	ip("-n", ns("sw"), "link", "set", "brN", "up")
	for _, l := range []struct{ node, addr string }{{"cp", "10.79.0.1"}, {"c1", "10.79.0.2"}, {"c2", "10.79.0.3"}} {
		peer := "s" + l.node
		ip("link", "add", "eth0", "netns", ns(l.node), "type", "veth", "peer", "name", peer, "netns", ns("sw"))
		ip("-n", ns("sw"), "link", "set", peer, "master", "brN")
		ip("-n", ns("sw"), "link", "set", peer, "up")
		ip("-n", ns(l.node), "addr", "add", l.addr+"/24", "dev", "eth0")
		ip("-n", ns(l.node), "link", "set", "eth0", "up")
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	dir := t.TempDir()
	data := filepath.Join(dir, "cp")
	run := func(name, node, prog string, args ...string) *exec.Cmd {
		t.Helper()
		cmd := exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", ns(node), prog}, args...)...)
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
		return cmd
	}
	start := func(name, node string, args ...string) *exec.Cmd {
		t.Helper()
		return run(name, node, bin, args...)
	}
	in := func(node string, args ...string) (string, error) {
		out, err := exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", ns(node)}, args...)...).CombinedOutput()
		return string(out), err
	}
	// Dual stack: nodes get an IPv4 mesh address too.
	start("server", "cp", "server", "--dev", "--data-dir", data, "--listen", "10.79.0.1:8443", "--log-level", "warn", "--mesh-ipv4", "100.80.0.0/16")
	api := []string{"--server", "https://10.79.0.1:8443", "--ca", filepath.Join(data, "ca.pem"), "--token-file", filepath.Join(data, "admin.token")}
	apply := func(policy string) {
		t.Helper()
		waitFor(t, 30*time.Second, "the policy "+policy+" to apply", func() error {
			out, err := in("cp", append([]string{bin, "segment", "apply", policy}, api...)...)
			if err != nil {
				return fmt.Errorf("%v: %s", err, out)
			}
			return nil
		})
	}
	apply("../../examples/segment/shop.yaml")

	// The tun devices live in their namespaces; wireguard-go's UAPI
	// sockets (/var/run/wireguard/NAME.sock) are host-wide, so on the
	// kernel datapath each node's interface has a name of its own.
	ifname := func(node string) string {
		if datapath == "kernel" {
			return "hk" + node
		}
		return "hoheit0"
	}
	agent := func(node, name, endpoint string, labels ...string) *exec.Cmd {
		args := []string{"agent", "--endpoint", endpoint, "--server", "https://10.79.0.1:8443", "--ca", filepath.Join(data, "ca.pem"), "--class", "dev",
			"--attestation", "insecure", "--name", name, "--mesh", datapath, "--mesh-port", "51820", "--mesh-interface", ifname(node)}
		if datapath == "tun" {
			args = append(args, "--enforce", "nftables")
		} else {
			// The interface exists before the agent, as an operator's
			// wireguard-go or boringtun would have it.
			run("wireguard-go "+name, node, wireguardGo(t), "-f", ifname(node))
			waitFor(t, 10*time.Second, "wireguard-go's interface in "+node, func() error {
				out, err := exec.Command("ip", "-n", ns(node), "link", "show", ifname(node)).CombinedOutput()
				if err != nil {
					return fmt.Errorf("%v: %s", err, out)
				}
				return nil
			})
		}
		for _, l := range labels {
			args = append(args, "--label", l)
		}
		return start(name, node, args...)
	}
	webAgent := agent("c1", "web-1", "10.79.0.2:51820", "app=web", "env=prod", "cloud=aws")
	agent("c2", "pricelist-1", "10.79.0.3:51820", "app=pricelist", "env=prod", "cloud=azure")

	var priceAddr, priceAddr4 string
	waitFor(t, 30*time.Second, "pricelist's mesh addresses", func() error {
		out, err := exec.Command("ip", "-n", ns("c2"), "-o", "addr", "show", "dev", ifname("c2"), "scope", "global").CombinedOutput()
		if err != nil {
			return fmt.Errorf("%v: %s", err, out)
		}
		f := strings.Fields(string(out))
		for i, w := range f {
			if i+1 < len(f) && w == "inet6" {
				priceAddr = strings.Split(f[i+1], "/")[0]
			}
			if i+1 < len(f) && w == "inet" {
				priceAddr4 = strings.Split(f[i+1], "/")[0]
			}
		}
		if priceAddr == "" || priceAddr4 == "" {
			return fmt.Errorf("no IPv6 and IPv4 address yet: %s", out)
		}
		return nil
	})
	waitFor(t, 30*time.Second, "pricelist's table with the web rule", func() error {
		out, err := in("c2", "nft", "list", "table", "inet", "hoheit")
		if err != nil || !strings.Contains(out, "in.web-to-pricelist") {
			return fmt.Errorf("%v: %s", err, out)
		}
		return nil
	})

	dial := func(node, addr string) error { return netnsDial(ctx, ns(node), addr) }
	denied := net.JoinHostPort(priceAddr, "5432")

	// Protect: the echo over 8080 needs the replies to pass both tables,
	// over IPv6 and IPv4.
	netnsProtected(ctx, t, ns("c2"), ns("c1"), [2]string{priceAddr, priceAddr4}, "8080", "5432", "web -> pricelist")
	waitFor(t, 30*time.Second, "the alert for web -> pricelist:5432", func() error {
		out, err := in("cp", append([]string{bin, "segment", "alerts"}, api...)...)
		if err != nil {
			return fmt.Errorf("%v: %s", err, out)
		}
		for _, l := range strings.Split(out, "\n") {
			if strings.Contains(l, "5432") && strings.Contains(l, "drop") {
				return nil
			}
		}
		return fmt.Errorf("not yet: %s", out)
	})

	// Learn: the same connection passes and is recorded.
	shop, err := os.ReadFile("../../examples/segment/shop.yaml")
	if err != nil {
		t.Fatal(err)
	}
	learn := filepath.Join(dir, "shop-learn.yaml")
	shop = bytes.ReplaceAll(shop, []byte("mode: protect"), []byte("mode: learn"))
	if err := os.WriteFile(learn, shop, 0o644); err != nil {
		t.Fatal(err)
	}
	apply(learn)
	waitFor(t, 30*time.Second, "web -> pricelist:5432 in learn mode", func() error { return dial("c1", denied) })
	waitFor(t, 30*time.Second, "the flow record of web -> pricelist:5432", func() error {
		out, err := in("cp", append([]string{bin, "segment", "flows"}, api...)...)
		if err != nil {
			return fmt.Errorf("%v: %s", err, out)
		}
		for _, l := range strings.Split(out, "\n") {
			if strings.Contains(l, "5432") && strings.Contains(l, "unlisted") {
				return nil
			}
		}
		return fmt.Errorf("not yet: %s", out)
	})

	// A stopped agent removes its table.
	if err := webAgent.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 15*time.Second, "web's table to go", func() error {
		out, err := in("c1", "nft", "list", "tables")
		if err != nil {
			return fmt.Errorf("%v: %s", err, out)
		}
		if strings.Contains(out, "hoheit") {
			return fmt.Errorf("still there: %s", out)
		}
		return nil
	})
}
