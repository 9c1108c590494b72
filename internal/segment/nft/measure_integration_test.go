//go:build integration && linux

package nft

import (
	"bufio"
	"context"
	"crypto/ecdh"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hoheit/hoheit/internal/mesh"
	"github.com/hoheit/hoheit/internal/segment"
)

// thousandRules is a 1,000-rule set for the node at local: 999 rules for
// other remotes and ports, then the one admitting peer to tcp/5201
// (iperf3), inbound and outbound.
func thousandRules(local, peer netip.Addr) *segment.NodeRuleSet {
	lp := []netip.Prefix{netip.PrefixFrom(local, 128)}
	rs := &segment.NodeRuleSet{Node: "n", DefaultMode: segment.Protect,
		Locals: []segment.Local{{Name: "node:n", Addresses: lp, Identities: []string{"app"}, Mode: segment.Protect}}}
	for i := range 999 {
		b := local.As16()
		b[12], b[13], b[14], b[15] = 0x0a, byte(i>>8), byte(i), 0x01
		r := segment.CompiledRule{Rule: fmt.Sprintf("r%d", i), LocalIdentity: "app", RemoteIdentity: "x", Local: lp,
			Remote: []netip.Prefix{netip.PrefixFrom(netip.AddrFrom16(b), 128)},
			Ports:  []segment.PortRange{{Proto: segment.TCP, Lo: uint16(1000 + i), Hi: uint16(1000 + i)}}}
		rs.Inbound = append(rs.Inbound, r)
		rs.Outbound = append(rs.Outbound, r)
	}
	last := segment.CompiledRule{Rule: "iperf", LocalIdentity: "app", RemoteIdentity: "peer", Local: lp,
		Remote: []netip.Prefix{netip.PrefixFrom(peer, 128)}, Ports: []segment.PortRange{{Proto: segment.TCP, Lo: 5201, Hi: 5201}}}
	rs.Inbound = append(rs.Inbound, last)
	rs.Outbound = append(rs.Outbound, last)
	return rs
}

type measureNode struct {
	Key, Peer, PSK []byte
	Addr, PeerAddr string
	Endpoint       string
	Enforce        string // none, userspace, nftables
}

type hook struct{ f *segment.Filter }

func (h hook) Allow(p []byte, inbound bool) bool {
	d := segment.Outbound
	if inbound {
		d = segment.Inbound
	}
	return h.f.CheckPacket(p, d).Pass()
}

// TestMain runs the test binary as one mesh node of
// BenchmarkEnforcementThroughput when HOHEIT_NFT_MEASURE_NODE holds its
// JSON configuration (the benchmark starts it in a namespace), else the
// tests.
func TestMain(m *testing.M) {
	if js := os.Getenv("HOHEIT_NFT_MEASURE_NODE"); js != "" {
		if err := measureNodeMain(js); err != nil {
			fmt.Fprintln(os.Stderr, "measure node:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// measureNodeMain brings up one mesh node with the enforcement asked for
// and runs until interrupted.
func measureNodeMain(js string) error {
	var n measureNode
	if err := json.Unmarshal([]byte(js), &n); err != nil {
		return err
	}
	ctx := context.Background()
	local, peer := netip.MustParseAddr(n.Addr), netip.MustParseAddr(n.PeerAddr)
	rs := thousandRules(local, peer)
	var filter mesh.PacketFilter
	switch n.Enforce {
	case "userspace":
		filter = hook{segment.NewFilter(rs, segment.FilterConfig{})}
	case "nftables":
		enf, err := Open(ctx, Config{Recorder: segment.NewFilter(rs, segment.FilterConfig{})})
		if err != nil {
			return err
		}
		defer enf.Close()
		t0 := time.Now()
		if err := enf.SetRules(rs); err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "nftables: 1,000-rule set applied in %v\n", time.Since(t0).Round(time.Millisecond))
	}
	dev, err := mesh.Open(ctx, mesh.Options{Datapath: mesh.TUN, PrivateKey: n.Key, ListenPort: 51820,
		Addresses: []netip.Prefix{netip.PrefixFrom(local, 64)}, Filter: filter})
	if err != nil {
		return err
	}
	defer dev.Close()
	var pk, psk mesh.Key
	copy(pk[:], n.Peer)
	copy(psk[:], n.PSK)
	if err := dev.Apply(ctx, mesh.Config{Addresses: []netip.Prefix{netip.PrefixFrom(local, 64)}, Peers: []mesh.Peer{{
		PublicKey: pk, PresharedKey: psk, AllowedIPs: []netip.Prefix{netip.PrefixFrom(peer, 128)},
		Endpoints: []netip.AddrPort{netip.MustParseAddrPort(n.Endpoint)}, PersistentKeepalive: time.Second}}}); err != nil {
		return err
	}
	fmt.Println("ready")
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt)
	<-sig
	return nil
}

// BenchmarkEnforcementThroughput compares iperf3 over a two-node tun mesh
// with no enforcement, the userspace filter and nftables, each with the
// same 1,000-rule set: one iteration is a round of the three, and the
// medians are reported in Mbit/s (root, iperf3; about 20 s a round; the
// figures are in docs/segmentation.md):
//
//	go test -tags integration -run '^$' -bench EnforcementThroughput -benchtime 5x ./internal/segment/nft/
func BenchmarkEnforcementThroughput(t *testing.B) {
	if _, err := exec.LookPath("iperf3"); err != nil {
		t.Fatal("needs iperf3 (apt-get install iperf3)")
	}
	ip := func(args ...string) {
		t.Helper()
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
		}
	}
	nsA, nsB := fmt.Sprintf("hmeas-a-%d", os.Getpid()), fmt.Sprintf("hmeas-b-%d", os.Getpid())
	for _, n := range []string{nsA, nsB} {
		ip("netns", "add", n)
		name := n
		t.Cleanup(func() { exec.Command("ip", "netns", "del", name).Run() })
		ip("-n", n, "link", "set", "lo", "up")
	}
	ip("link", "add", "va", "netns", nsA, "type", "veth", "peer", "name", "vb", "netns", nsB)
	ip("-n", nsA, "addr", "add", "10.98.0.1/24", "dev", "va")
	ip("-n", nsB, "addr", "add", "10.98.0.2/24", "dev", "vb")
	ip("-n", nsA, "link", "set", "va", "up")
	ip("-n", nsB, "link", "set", "vb", "up")

	key := func() *ecdh.PrivateKey {
		k, err := ecdh.X25519().GenerateKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	ka, kb := key(), key()
	psk := make([]byte, 32)
	rand.Read(psk)
	node := func(ns string, n measureNode) func() {
		js, _ := json.Marshal(n)
		cmd := exec.Command("ip", "netns", "exec", ns, os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), "HOHEIT_NFT_MEASURE_NODE="+string(js))
		cmd.Stderr = os.Stderr
		out, _ := cmd.StdoutPipe()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(out)
		for sc.Scan() && !strings.Contains(sc.Text(), "ready") {
		}
		return func() { cmd.Process.Signal(os.Interrupt); cmd.Wait() }
	}
	results := map[string][]string{}
	modes := []string{"none", "userspace", "nftables"}
	round := 0
	for t.Loop() {
		round++
		for _, mode := range modes {
			stopA := node(nsA, measureNode{Key: ka.Bytes(), Peer: kb.PublicKey().Bytes(), PSK: psk, Addr: "fd98::1", PeerAddr: "fd98::2", Endpoint: "10.98.0.2:51820", Enforce: mode})
			stopB := node(nsB, measureNode{Key: kb.Bytes(), Peer: ka.PublicKey().Bytes(), PSK: psk, Addr: "fd98::2", PeerAddr: "fd98::1", Endpoint: "10.98.0.1:51820", Enforce: mode})
			srv := exec.Command("ip", "netns", "exec", nsB, "iperf3", "-s", "-B", "fd98::2")
			if err := srv.Start(); err != nil {
				t.Fatal(err)
			}
			// Wait for the path (handshake, tables) with short runs, then measure.
			var out []byte
			var err error
			var res struct {
				Error string `json:"error"`
				End   struct {
					SumReceived struct {
						BitsPerSecond float64 `json:"bits_per_second"`
					} `json:"sum_received"`
				} `json:"end"`
			}
			client := func(secs string) {
				out, err = exec.Command("ip", "netns", "exec", nsA, "iperf3", "-c", "fd98::2", "-t", secs, "-O", "1", "-J", "--connect-timeout", "1000").Output()
				res.Error, res.End.SumReceived.BitsPerSecond = "", 0
				json.Unmarshal(out, &res)
			}
			deadline := time.Now().Add(20 * time.Second)
			for client("1"); err != nil || res.Error != "" || res.End.SumReceived.BitsPerSecond == 0; client("1") {
				if time.Now().After(deadline) {
					t.Fatalf("%s: the mesh does not carry iperf3: %v %s", mode, err, out)
				}
				time.Sleep(200 * time.Millisecond)
			}
			client("5")
			srv.Process.Kill()
			srv.Wait()
			stopA()
			stopB()
			if err != nil || res.Error != "" {
				t.Fatalf("%s: iperf3: %v: %s", mode, err, out)
			}
			v := fmt.Sprintf("%.0f", res.End.SumReceived.BitsPerSecond/1e6)
			results[mode] = append(results[mode], v)
			t.Logf("round %d %-9s %s Mbit/s", round, mode, v)
		}
	}
	for _, m := range modes {
		t.Logf("%-9s Mbit/s: %s", m, strings.Join(results[m], " "))
		vs := results[m]
		slices.SortFunc(vs, func(a, b string) int { x, _ := strconv.Atoi(a); y, _ := strconv.Atoi(b); return x - y })
		med, _ := strconv.Atoi(vs[len(vs)/2])
		t.ReportMetric(float64(med), "Mbit/s-"+m)
	}
}
