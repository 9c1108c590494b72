//go:build integration

package mesh

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestTUNRoutesPeerPrefixes runs a TUN device in a network namespace of its
// own (the test binary again, as TestTUNRoutesHelper) and checks that
// Apply routes the peers' allowed IPs outside the mesh prefix into the
// device, removes the routes it added when they go, leaves routes it did
// not add alone, and refuses a prefix holding a peer's endpoint. Needs
// root; fails without it.
func TestTUNRoutesPeerPrefixes(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("needs root for network namespaces and TUN devices (CI runs as root)")
	}
	ns := fmt.Sprintf("hroute-%d", os.Getpid())
	if out, err := exec.Command("ip", "netns", "add", ns).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add: %v: %s", err, out)
	}
	t.Cleanup(func() { exec.Command("ip", "netns", "del", ns).Run() })
	cmd := exec.Command("ip", "netns", "exec", ns, os.Args[0], "-test.run=^TestTUNRoutesHelper$", "-test.v")
	cmd.Env = append(os.Environ(), "HOHEIT_MESH_ROUTES=1")
	out, err := cmd.CombinedOutput()
	t.Logf("in %s:\n%s", ns, out)
	if err != nil {
		t.Fatalf("helper: %v", err)
	}
	if !strings.Contains(string(out), "ROUTES OK") {
		t.Fatal("the helper did not run")
	}
}

// TestTUNRoutesHelper is TestTUNRoutesPeerPrefixes inside the namespace;
// it does nothing unless HOHEIT_MESH_ROUTES is set.
func TestTUNRoutesHelper(t *testing.T) {
	if os.Getenv("HOHEIT_MESH_ROUTES") == "" {
		return
	}
	ctx := context.Background()
	sh := func(args ...string) string {
		t.Helper()
		out, err := exec.Command("ip", args...).CombinedOutput()
		if err != nil {
			t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	const ifname = "hroute0"
	// Routes of the operator: one elsewhere, one into the mesh device
	// (added below, once the device exists), for prefixes a peer claims.
	sh("link", "add", "bridge0", "type", "bridge")
	sh("link", "set", "bridge0", "up")
	sh("route", "add", "10.201.0.0/24", "dev", "bridge0")

	addrs := []netip.Prefix{netip.MustParsePrefix("fd99::1/64"), netip.MustParsePrefix("100.96.0.1/16")}
	d, err := Open(ctx, Options{Datapath: TUN, PrivateKey: newKey(t), Addresses: addrs, InterfaceName: ifname})
	if err != nil {
		t.Fatal(err)
	}
	closed := false
	defer func() {
		if !closed {
			d.Close()
		}
	}()
	sh("route", "add", "10.202.0.0/24", "dev", ifname)

	pubA, _ := PublicKey(newKey(t))
	pubB, _ := PublicKey(newKey(t))
	pfx := func(ss ...string) []netip.Prefix {
		var out []netip.Prefix
		for _, s := range ss {
			out = append(out, netip.MustParsePrefix(s))
		}
		return out
	}
	apply := func(a, b []netip.Prefix) {
		t.Helper()
		err := d.Apply(ctx, Config{Addresses: addrs, Peers: []Peer{
			{PublicKey: pubA, PresharedKey: randomKey(t), AllowedIPs: a, Endpoints: []netip.AddrPort{netip.MustParseAddrPort("192.0.2.1:51820")}},
			{PublicKey: pubB, PresharedKey: randomKey(t), AllowedIPs: b, Endpoints: []netip.AddrPort{netip.MustParseAddrPort("192.0.2.2:51820")}},
		}})
		if err != nil {
			t.Fatal(err)
		}
	}
	// routes lists the destinations routed into dev, both families.
	routes := func(dev string) map[string]bool {
		t.Helper()
		m := map[string]bool{}
		for _, fam := range []string{"-4", "-6"} {
			for _, line := range strings.Split(sh(fam, "-o", "route", "show", "dev", dev), "\n") {
				if f := strings.Fields(line); len(f) > 0 {
					m[f[0]] = true
				}
			}
		}
		return m
	}
	expect := func(dev string, want map[string]bool) {
		t.Helper()
		got := routes(dev)
		for dst, in := range want {
			if got[dst] != in {
				t.Errorf("route %s dev %s: present %v, want %v (routes: %v)", dst, dev, got[dst], in, got)
			}
		}
	}

	u := d.(*userspace)
	ours := func(synced bool, routes string) {
		t.Helper()
		u.applyMu.Lock()
		defer u.applyMu.Unlock()
		if u.routesSynced != synced || fmt.Sprint(u.routes) != routes {
			t.Errorf("hoheit's routes %v (synced %v), want %s (synced %v)", u.routes, u.routesSynced, routes, synced)
		}
	}

	apply(pfx("fd99::2/128", "100.96.0.2/32", "10.200.1.10/32", "fd00:c8:1::/64", "10.201.0.0/24", "10.202.0.0/24"),
		pfx("fd99::3/128", "192.0.2.0/24"))
	expect(ifname, map[string]bool{
		"10.200.1.10": true, "fd00:c8:1::/64": true, // peers' workloads
		"10.202.0.0/24": true,                       // the operator's, used as it is
		"fd99::2":       false, "100.96.0.2": false, // inside the mesh prefixes
		"192.0.2.0/24": false, "10.201.0.0/24": false, // holds an endpoint; routed elsewhere
	})
	expect("bridge0", map[string]bool{"10.201.0.0/24": true})
	ours(false, "[10.200.1.10/32 fd00:c8:1::/64]") // 10.201.0.0/24 is taken: retried next time

	// Peer a's workloads change; the operator's routes stay.
	apply(pfx("fd99::2/128", "10.200.2.0/24", "fd00:c8:1::/64"), pfx("fd99::3/128"))
	expect(ifname, map[string]bool{"10.200.1.10": false, "10.200.2.0/24": true, "fd00:c8:1::/64": true, "10.202.0.0/24": true})
	expect("bridge0", map[string]bool{"10.201.0.0/24": true})
	ours(true, "[10.200.2.0/24 fd00:c8:1::/64]")

	// A route of hoheit's that someone else removed is no error when
	// hoheit removes it too.
	sh("route", "del", "fd00:c8:1::/64", "dev", ifname)
	apply(pfx("fd99::2/128", "10.200.2.0/24"), pfx("fd99::3/128", "10.200.3.0/24"))
	expect(ifname, map[string]bool{"10.200.2.0/24": true, "10.200.3.0/24": true, "fd00:c8:1::/64": false})
	ours(true, "[10.200.2.0/24 10.200.3.0/24]")

	// Close removes hoheit's routes before the device goes.
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	closed = true
	if len(u.routes) != 0 {
		t.Errorf("routes left after Close: %v", u.routes)
	}
	expect("bridge0", map[string]bool{"10.201.0.0/24": true})
	fmt.Println("ROUTES OK")
}
