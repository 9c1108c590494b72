//go:build integration

package mesh

import (
	"bufio"
	"context"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestTUNInNamespaces runs two nodes on the TUN datapath, each as its own
// process in its own network namespace, joined by a veth pair: TCP over the
// mesh works, and node a's packet filter drops inbound TCP to port 7001.
// Needs root; fails without it.
func TestTUNInNamespaces(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("needs root for network namespaces and TUN devices (CI runs as root)")
	}
	nsA, nsB := fmt.Sprintf("hmesh-a-%d", os.Getpid()), fmt.Sprintf("hmesh-b-%d", os.Getpid())
	run := func(args ...string) {
		t.Helper()
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
		}
	}
	run("netns", "add", nsA)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", nsA).Run() })
	run("netns", "add", nsB)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", nsB).Run() })
	run("link", "add", "va", "netns", nsA, "type", "veth", "peer", "name", "vb", "netns", nsB)
	for _, c := range [][]string{
		{"-n", nsA, "addr", "add", "10.99.0.1/24", "dev", "va"},
		{"-n", nsB, "addr", "add", "10.99.0.2/24", "dev", "vb"},
		{"-n", nsA, "link", "set", "va", "up"}, {"-n", nsB, "link", "set", "vb", "up"},
		{"-n", nsA, "link", "set", "lo", "up"}, {"-n", nsB, "link", "set", "lo", "up"},
	} {
		run(c...)
	}

	keyA, keyB := newKey(t), newKey(t)
	pubA, _ := PublicKey(keyA)
	pubB, _ := PublicKey(keyB)
	psk := randomKey(t)
	env := func(node string, key []byte, peer Key, addr, peerIP, endpoint string) []string {
		return append(os.Environ(),
			"HOHEIT_MESH_NODE="+node,
			"HOHEIT_MESH_KEY="+hex.EncodeToString(key),
			"HOHEIT_MESH_PEER="+hex.EncodeToString(peer[:]),
			"HOHEIT_MESH_PSK="+hex.EncodeToString(psk[:]),
			"HOHEIT_MESH_ADDR="+addr,
			"HOHEIT_MESH_PEER_IP="+peerIP,
			"HOHEIT_MESH_ENDPOINT="+endpoint)
	}
	helper := func(ns string) *exec.Cmd {
		return exec.Command("ip", "netns", "exec", ns, os.Args[0], "-test.run=^TestTUNNodeHelper$", "-test.v")
	}

	a := helper(nsA)
	a.Env = env("a", keyA, pubB, "fd99::1/64", "fd99::2/128", "10.99.0.2:51820")
	a.Stderr = os.Stderr
	aIn, _ := a.StdinPipe()
	aOut, _ := a.StdoutPipe()
	if err := a.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { aIn.Close(); a.Process.Kill(); a.Wait() })
	ready := make(chan error, 1)
	go func() {
		sc := bufio.NewScanner(aOut)
		for sc.Scan() {
			t.Logf("node a: %s", sc.Text())
			if sc.Text() == "READY" {
				ready <- nil
			}
		}
		ready <- fmt.Errorf("node a exited before it was ready")
	}()
	select {
	case err := <-ready:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("node a not ready after 20s")
	}

	b := helper(nsB)
	b.Env = env("b", keyB, pubA, "fd99::2/64", "fd99::1/128", "10.99.0.1:51820")
	out, err := b.CombinedOutput()
	t.Logf("node b:\n%s", out)
	if err != nil {
		t.Fatalf("node b: %v", err)
	}
}

// dropInbound drops inbound TCP to one port.
type dropInbound uint16

func (p dropInbound) Allow(pkt []byte, inbound bool) bool {
	proto, port, ok := transportDst(pkt)
	return !(inbound && ok && proto == 6 && port == uint16(p))
}

// TestTUNNodeHelper is one node of TestTUNInNamespaces, run in a namespace.
// It does nothing unless HOHEIT_MESH_NODE is set.
func TestTUNNodeHelper(t *testing.T) {
	node := os.Getenv("HOHEIT_MESH_NODE")
	if node == "" {
		return
	}
	key, _ := hex.DecodeString(os.Getenv("HOHEIT_MESH_KEY"))
	var peer, psk Key
	pb, _ := hex.DecodeString(os.Getenv("HOHEIT_MESH_PEER"))
	sb, _ := hex.DecodeString(os.Getenv("HOHEIT_MESH_PSK"))
	copy(peer[:], pb)
	copy(psk[:], sb)
	addr := netip.MustParsePrefix(os.Getenv("HOHEIT_MESH_ADDR"))
	peerIP := netip.MustParsePrefix(os.Getenv("HOHEIT_MESH_PEER_IP"))
	ep := netip.MustParseAddrPort(os.Getenv("HOHEIT_MESH_ENDPOINT"))
	ctx := context.Background()

	var filter PacketFilter
	if node == "a" {
		filter = dropInbound(7001)
	}
	d, err := Open(ctx, Options{Datapath: TUN, PrivateKey: key, Addresses: []netip.Prefix{addr}, ListenPort: 51820, Filter: filter})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if d.Datapath() != TUN {
		t.Fatalf("datapath %s", d.Datapath())
	}
	cfg := Config{Addresses: []netip.Prefix{addr}, Peers: []Peer{{
		PublicKey: peer, AllowedIPs: []netip.Prefix{peerIP}, Endpoints: []netip.AddrPort{ep}, PresharedKey: psk,
	}}}
	if err := d.Apply(ctx, cfg); err != nil {
		t.Fatal(err)
	}

	if node == "a" {
		for _, port := range []string{"7000", "7001"} {
			l, err := net.Listen("tcp", net.JoinHostPort(addr.Addr().String(), port))
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			go func() {
				for {
					c, err := l.Accept()
					if err != nil {
						return
					}
					go func() { io.Copy(c, c); c.Close() }()
				}
			}()
		}
		fmt.Println("READY")
		io.Copy(io.Discard, os.Stdin) // until the parent closes stdin
		return
	}

	target := net.JoinHostPort(peerIP.Addr().String(), "7000")
	var c net.Conn
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err = net.DialTimeout("tcp", target, time.Second)
		if err == nil || time.Now().After(deadline) {
			break
		}
	}
	if err != nil {
		t.Fatalf("dial %s over the mesh: %v", target, err)
	}
	defer c.Close()
	for i := 0; i < 100; i++ {
		if err := roundTrip(c, []byte(fmt.Sprintf("message %d over TUN", i)), 5*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	blocked := net.JoinHostPort(peerIP.Addr().String(), "7001")
	if c2, err := net.DialTimeout("tcp", blocked, time.Second); err == nil {
		c2.Close()
		t.Fatalf("%s passed node a's filter", blocked)
	}
	st, err := d.Status(ctx)
	if err != nil || len(st) != 1 || st[0].LastHandshake.IsZero() {
		t.Fatalf("status %+v %v", st, err)
	}
	t.Logf("peer %s at %v: rx %d tx %d", st[0].PublicKey, st[0].Endpoint, st[0].RxBytes, st[0].TxBytes)
}
