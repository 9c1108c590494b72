//go:build integration

package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// workloadPolicy lets web reach the customer database, a container behind
// another node, on tcp/5432 only. web is in monitor mode, so its own
// filter lets web -> customer-db:6379 out (and reports it): the drop must
// come from the hosting node's filter, on the forwarded packet.
const workloadPolicy = `apiVersion: hoheit/v1
kind: SegmentPolicy
name: workloads
mode: protect
identities:
  web:
    match_labels: {app: web}
  customer-db:
    match_labels: {app: customer-db}
segments:
  front:
    identities: [web]
    mode: monitor
  data:
    identities: [customer-db]
    mode: protect
rules:
  - name: web-to-customer-db
    from: web
    to: customer-db
    ports: [tcp/5432]
tests:
  - web -> customer-db:5432 allow
  - web -> customer-db:6379 deny
`

// TestMeshWorkloadInNamespaces: a "container" namespace sits behind the
// node db-host-1 (a veth, its address fd00:c8:1::10, default route via the
// node), which reports it with --workloads as customer-db. From the web
// node, TCP to the container on 5432 goes through the mesh (web routes
// the workload's prefix into hoheit0) and is forwarded by db-host-1;
// 6379 is dropped by db-host-1's filter and shows in 'segment alerts'.
// Everything runs as separate hoheit processes on the tun datapath, once
// with each enforcement on db-host-1 (userspace filter, nftables: there
// the forward chain sees the workload's packets).
func TestMeshWorkloadInNamespaces(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("needs root for network namespaces and TUN devices (CI runs as root)")
	}
	for _, enforce := range []string{"userspace", "nftables"} {
		t.Run(enforce, func(t *testing.T) { testMeshWorkload(t, enforce) })
	}
}

func testMeshWorkload(t *testing.T, enforce string) {
	bin := hoheitBinary(t)
	id := os.Getpid() % 100000
	ns := func(n string) string { return fmt.Sprintf("hw%s%s-%d", enforce[:1], n, id) }
	ip := func(args ...string) {
		t.Helper()
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
		}
	}
	for _, n := range []string{"sw", "cp", "c1", "c2", "ct"} {
		ip("netns", "add", ns(n))
		name := ns(n)
		t.Cleanup(func() { exec.Command("ip", "netns", "del", name).Run() })
		ip("-n", name, "link", "set", "lo", "up")
	}
	ip("-n", ns("sw"), "link", "add", "brW", "type", "bridge")
	ip("-n", ns("sw"), "link", "set", "brW", "up")
	for _, l := range []struct{ node, addr string }{{"cp", "10.81.0.1"}, {"c1", "10.81.0.2"}, {"c2", "10.81.0.3"}} {
		peer := "s" + l.node
		ip("link", "add", "eth0", "netns", ns(l.node), "type", "veth", "peer", "name", peer, "netns", ns("sw"))
		ip("-n", ns("sw"), "link", "set", peer, "master", "brW")
		ip("-n", ns("sw"), "link", "set", peer, "up")
		ip("-n", ns(l.node), "addr", "add", l.addr+"/24", "dev", "eth0")
		ip("-n", ns(l.node), "link", "set", "eth0", "up")
	}
	// The container network of db-host-1 (c2): what a container runtime's
	// bridge or veth would be.
	const workload = "fd00:c8:1::10"
	ip("link", "add", "wl0", "netns", ns("c2"), "type", "veth", "peer", "name", "eth0", "netns", ns("ct"))
	ip("-n", ns("c2"), "addr", "add", "fd00:c8:1::1/64", "dev", "wl0", "nodad")
	ip("-n", ns("ct"), "addr", "add", workload+"/64", "dev", "eth0", "nodad")
	ip("-n", ns("c2"), "link", "set", "wl0", "up")
	ip("-n", ns("ct"), "link", "set", "eth0", "up")
	ip("-n", ns("ct"), "route", "add", "default", "via", "fd00:c8:1::1")
	// and IPv4, reached over the nodes' IPv4 mesh addresses.
	const workload4 = "10.200.1.10"
	ip("-n", ns("c2"), "addr", "add", "10.200.1.1/24", "dev", "wl0")
	ip("-n", ns("ct"), "addr", "add", workload4+"/24", "dev", "eth0")
	ip("-n", ns("ct"), "route", "add", "default", "via", "10.200.1.1")

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	dir := t.TempDir()
	data := filepath.Join(dir, "cp")
	start := func(name, node string, args ...string) {
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
	}
	in := func(node string, args ...string) (string, error) {
		out, err := exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", ns(node)}, args...)...).CombinedOutput()
		return string(out), err
	}
	start("server", "cp", "server", "--dev", "--data-dir", data, "--listen", "10.81.0.1:8443", "--log-level", "warn", "--mesh-ipv4", "100.81.0.0/16")
	api := []string{"--server", "https://10.81.0.1:8443", "--ca", filepath.Join(data, "ca.pem"), "--token-file", filepath.Join(data, "admin.token")}
	policy := filepath.Join(dir, "workloads-policy.yaml")
	workloads := filepath.Join(dir, "workloads.yaml")
	if err := os.WriteFile(policy, []byte(workloadPolicy), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(workloads, []byte("- name: customer-db-0\n  labels: {app: customer-db}\n  addresses: ["+workload+", "+workload4+"]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, "the policy to apply", func() error {
		out, err := in("cp", append([]string{bin, "segment", "apply", policy}, api...)...)
		if err != nil {
			return fmt.Errorf("%v: %s", err, out)
		}
		return nil
	})
	agent := func(node, name, endpoint string, extra ...string) {
		args := []string{"agent", "--endpoint", endpoint, "--server", "https://10.81.0.1:8443", "--ca", filepath.Join(data, "ca.pem"), "--class", "dev",
			"--attestation", "insecure", "--name", name, "--mesh", "tun", "--mesh-port", "51820"}
		start(name, node, append(args, extra...)...)
	}
	agent("c1", "web-1", "10.81.0.2:51820", "--label", "app=web")
	agent("c2", "db-host-1", "10.81.0.3:51820", "--label", "app=db-host", "--workloads", workloads, "--enable-forwarding", "--enforce", enforce)

	// web routes the workload into the mesh once its peer config has it.
	waitFor(t, 30*time.Second, "web's route to the workload", func() error {
		out, err := exec.Command("ip", "-n", ns("c1"), "-6", "route", "show", "dev", "hoheit0").CombinedOutput()
		if err != nil || !strings.Contains(string(out), workload) {
			return fmt.Errorf("%v: %s", err, out)
		}
		return nil
	})
	// The hosting node turned on forwarding (--enable-forwarding).
	if out, err := in("c2", "cat", "/proc/sys/net/ipv6/conf/all/forwarding"); err != nil || strings.TrimSpace(out) != "1" {
		t.Fatalf("IPv6 forwarding on db-host-1: %q %v", out, err)
	}

	netnsProtected(ctx, t, ns("ct"), ns("c1"), [2]string{workload, workload4}, "5432", "6379", "web -> customer-db (the workload)")
	waitFor(t, 30*time.Second, "db-host-1's alert for web -> customer-db:6379", func() error {
		out, err := in("cp", append([]string{bin, "segment", "alerts"}, api...)...)
		if err != nil {
			return fmt.Errorf("%v: %s", err, out)
		}
		for _, l := range strings.Split(out, "\n") {
			f := strings.Fields(l)
			if len(f) >= 7 && f[1] == "db-host-1" && f[2] == "web" && f[3] == "customer-db" && f[5] == "6379" && f[6] == "drop" {
				return nil
			}
		}
		return fmt.Errorf("not yet: %s", out)
	})
}
