package mesh

import (
	"bytes"
	"context"
	"crypto/ecdh"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// testNode is one netstack node of an in-process mesh.
type testNode struct {
	dev  *NetstackDevice
	v6   netip.Addr
	v4   netip.Addr
	port uint16
}

func (n *testNode) addrs() []netip.Prefix {
	return []netip.Prefix{netip.PrefixFrom(n.v6, 64), netip.PrefixFrom(n.v4, 16)}
}

func (n *testNode) allowed() []netip.Prefix {
	return []netip.Prefix{netip.PrefixFrom(n.v6, 128), netip.PrefixFrom(n.v4, 32)}
}

func (n *testNode) endpoint() netip.AddrPort {
	return netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), n.port)
}

func newKey(t testing.TB) []byte {
	t.Helper()
	k, err := ecdh.X25519().GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k.Bytes()
}

func randomKey(t testing.TB) Key {
	var k Key
	rand.Read(k[:])
	return k
}

func newTestNode(t testing.TB, i int, opts Options) *testNode {
	t.Helper()
	n := &testNode{
		v6: netip.AddrFrom16([16]byte{0xfd, 0x68, 0x6f, 0x68, 15: byte(i)}),
		v4: netip.AddrFrom4([4]byte{10, 68, 0, byte(i)}),
	}
	opts.PrivateKey = newKey(t)
	opts.Addresses = n.addrs()
	d, err := OpenNetstack(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	n.dev, n.port = d, d.ListenPort()
	return n
}

// pskTable gives every unordered pair its own random pre-shared key, as the
// server would.
type pskTable map[[2]Key]Key

func (p pskTable) get(t testing.TB, a, b Key) Key {
	if bytes.Compare(a[:], b[:]) > 0 {
		a, b = b, a
	}
	k, ok := p[[2]Key{a, b}]
	if !ok {
		k = randomKey(t)
		p[[2]Key{a, b}] = k
	}
	return k
}

// meshConfig is node i's view of a full mesh.
func meshConfig(t testing.TB, nodes []*testNode, i int, psks pskTable) Config {
	cfg := Config{Addresses: nodes[i].addrs()}
	for j, o := range nodes {
		if j == i {
			continue
		}
		cfg.Peers = append(cfg.Peers, Peer{
			PublicKey:    o.dev.PublicKey(),
			AllowedIPs:   o.allowed(),
			Endpoints:    []netip.AddrPort{o.endpoint()},
			PresharedKey: psks.get(t, nodes[i].dev.PublicKey(), o.dev.PublicKey()),
		})
	}
	return cfg
}

func newMesh(t testing.TB, n int) ([]*testNode, pskTable) {
	t.Helper()
	nodes := make([]*testNode, n)
	for i := range nodes {
		nodes[i] = newTestNode(t, i+1, Options{})
	}
	psks := pskTable{}
	for i, nd := range nodes {
		if err := nd.dev.Apply(context.Background(), meshConfig(t, nodes, i, psks)); err != nil {
			t.Fatal(err)
		}
	}
	return nodes, psks
}

// echoServer accepts TCP connections on n's stack and echoes them.
func echoServer(t testing.TB, n *testNode, addr netip.Addr, port uint16) {
	t.Helper()
	l, err := n.dev.Net().ListenTCPAddrPort(netip.AddrPortFrom(addr, port))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
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

func dial(t testing.TB, from *testNode, to netip.AddrPort, timeout time.Duration) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return from.dev.Net().DialContextTCPAddrPort(ctx, to)
}

func roundTrip(c net.Conn, msg []byte, timeout time.Duration) error {
	c.SetDeadline(time.Now().Add(timeout))
	if _, err := c.Write(msg); err != nil {
		return err
	}
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(c, got); err != nil {
		return err
	}
	if !bytes.Equal(got, msg) {
		return fmt.Errorf("echo mismatch")
	}
	return nil
}

func TestMeshTCPAndPing(t *testing.T) {
	nodes, _ := newMesh(t, 3)
	for _, n := range nodes {
		echoServer(t, n, n.v6, 7000)
		echoServer(t, n, n.v4, 7000)
	}
	for i, a := range nodes {
		for j, b := range nodes {
			if i == j {
				continue
			}
			for _, dst := range []netip.Addr{b.v6, b.v4} {
				t.Run(fmt.Sprintf("%d->%v", i+1, dst), func(t *testing.T) {
					c, err := dial(t, a, netip.AddrPortFrom(dst, 7000), 5*time.Second)
					if err != nil {
						t.Fatalf("dial: %v", err)
					}
					defer c.Close()
					if err := roundTrip(c, []byte("hello over the mesh"), 5*time.Second); err != nil {
						t.Fatal(err)
					}
					src := a.v6
					if dst.Is4() {
						src = a.v4
					}
					// A fresh ping socket per attempt: under load a reply can
					// be lost, and a socket's echo identifier may then be stale.
					var perr error
					for attempt := 0; attempt < 3; attempt++ {
						pc, err := a.dev.Net().DialPingAddr(src, dst)
						if err != nil {
							t.Fatal(err)
						}
						perr = ping(pc, dst)
						pc.Close()
						if perr == nil {
							break
						}
					}
					if perr != nil {
						t.Fatalf("ping %v: %v", dst, perr)
					}
				})
			}
		}
	}
	st, err := nodes[0].dev.Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(st) != 2 || st[0].LastHandshake.IsZero() || st[0].RxBytes == 0 {
		t.Fatalf("status after traffic: %+v", st)
	}
}

// ping sends one ICMP echo request and waits for its reply.
func ping(pc net.Conn, dst netip.Addr) error {
	typ := byte(8) // echo request, IPv4
	if dst.Is6() {
		typ = 128
	}
	req := []byte{typ, 0, 0, 0, 0x12, 0x34, 0, 1, 'h', 'o', 'h', 'e', 'i', 't'}
	if dst.Is4() {
		var s uint32
		for i := 0; i < len(req); i += 2 {
			s += uint32(req[i])<<8 | uint32(req[i+1])
		}
		for s > 0xffff {
			s = s>>16 + s&0xffff
		}
		req[2], req[3] = byte(^s>>8), byte(^s)
	}
	// ICMP is unreliable and the machine may be loaded: send up to three
	// echo requests, as ping does, before giving up.
	buf := make([]byte, 1500)
	var n int
	var err error
	for attempt := 0; attempt < 3; attempt++ {
		pc.SetDeadline(time.Now().Add(2 * time.Second))
		if _, err = pc.Write(req); err != nil {
			return err
		}
		if n, err = pc.Read(buf); err == nil {
			break
		}
	}
	if err != nil {
		return err
	}
	if n < 8 || (buf[0] != 0 && buf[0] != 129) || !bytes.Equal(buf[8:n], req[8:]) {
		return fmt.Errorf("unexpected reply % x", buf[:n])
	}
	return nil
}

func TestRemovePeerCutsTrafficAtOnce(t *testing.T) {
	nodes, psks := newMesh(t, 3)
	a, b := nodes[0], nodes[1]
	l, err := b.dev.Net().ListenUDPAddrPort(netip.AddrPortFrom(b.v6, 9000))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	uc, err := a.dev.Net().DialUDPAddrPort(netip.AddrPortFrom(a.v6, 0), netip.AddrPortFrom(b.v6, 9000))
	if err != nil {
		t.Fatal(err)
	}
	defer uc.Close()

	var removed atomic.Bool
	stop := make(chan struct{})
	defer close(stop)
	go func() { // a sends a datagram every 2ms, flagged once b has removed a
		for {
			select {
			case <-stop:
				return
			default:
			}
			flag := byte('0')
			if removed.Load() {
				flag = '1'
			}
			uc.Write([]byte{flag})
			time.Sleep(2 * time.Millisecond)
		}
	}()
	buf := make([]byte, 16)
	l.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := l.Read(buf); err != nil {
		t.Fatalf("no datagram before removal: %v", err)
	}

	// b drops a from its peers (the revocation case).
	cfg := meshConfig(t, nodes, 1, psks)
	cfg.Peers = cfg.Peers[1:] // peers of b are a, c in order
	if cfg.Peers[0].PublicKey != nodes[2].dev.PublicKey() {
		t.Fatal("test setup: unexpected peer order")
	}
	start := time.Now()
	if err := b.dev.Apply(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	removed.Store(true)
	applied := time.Since(start)

	// For 1s, nothing sent after the removal may arrive.
	deadline := time.Now().Add(time.Second)
	for time.Now().Before(deadline) {
		l.SetReadDeadline(deadline)
		n, err := l.Read(buf)
		if err != nil {
			break
		}
		if n == 1 && buf[0] == '1' {
			t.Fatal("a datagram sent after the removal reached b")
		}
	}
	if applied > time.Second {
		t.Fatalf("removal took %v", applied)
	}
	// b cannot reach a either, and c still can.
	if c, err := dial(t, b, netip.AddrPortFrom(a.v6, 7000), 500*time.Millisecond); err == nil {
		c.Close()
		t.Fatal("b still reaches a after removing it")
	}
	echoServer(t, nodes[2], nodes[2].v6, 7000)
	c, err := dial(t, b, netip.AddrPortFrom(nodes[2].v6, 7000), 5*time.Second)
	if err != nil {
		t.Fatalf("b -> c after removing a: %v", err)
	}
	c.Close()
	st, _ := b.dev.Status(context.Background())
	if len(st) != 1 || st[0].PublicKey != nodes[2].dev.PublicKey() {
		t.Fatalf("b's peers after removal: %+v", st)
	}
}

func TestMismatchedPSKNoTraffic(t *testing.T) {
	nodes, psks := newMesh(t, 2)
	// Give b a different key for the pair than a has.
	cfg := meshConfig(t, nodes, 1, psks)
	cfg.Peers[0].PresharedKey = randomKey(t)
	if err := nodes[1].dev.Apply(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	echoServer(t, nodes[1], nodes[1].v6, 7000)
	if c, err := dial(t, nodes[0], netip.AddrPortFrom(nodes[1].v6, 7000), 1500*time.Millisecond); err == nil {
		c.Close()
		t.Fatal("connected although the pre-shared keys differ")
	}
}

// stream keeps an echo round trip going over c and counts them; it reports
// the first failure on errc.
func stream(c net.Conn, count *atomic.Int64, stop <-chan struct{}, errc chan<- error) {
	msg := make([]byte, 512)
	for i := 0; ; i++ {
		select {
		case <-stop:
			errc <- nil
			return
		default:
		}
		msg[0], msg[1] = byte(i), byte(i>>8)
		if err := roundTrip(c, msg, 4*time.Second); err != nil {
			errc <- fmt.Errorf("round trip %d: %w", i, err)
			return
		}
		count.Add(1)
		time.Sleep(5 * time.Millisecond)
	}
}

func waitFor(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func progress(t testing.TB, count *atomic.Int64, errc chan error, what string) {
	t.Helper()
	n := count.Load()
	deadline := time.Now().Add(5 * time.Second)
	for count.Load() < n+10 {
		select {
		case err := <-errc:
			t.Fatalf("%s: stream broke: %v", what, err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: stream stalled", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func lastHandshake(t testing.TB, d Device, peer Key) time.Time {
	st, err := d.Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range st {
		if p.PublicKey == peer {
			return p.LastHandshake
		}
	}
	return time.Time{}
}

func TestRotatePSKKeepsConnection(t *testing.T) {
	nodes, _ := newMesh(t, 2)
	a, b := nodes[0], nodes[1]
	echoServer(t, b, b.v6, 7000)
	c, err := dial(t, a, netip.AddrPortFrom(b.v6, 7000), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var count atomic.Int64
	stop, errc := make(chan struct{}), make(chan error, 1)
	go stream(c, &count, stop, errc)
	progress(t, &count, errc, "before rotation")

	psk := randomKey(t)
	// The server delivers the new key to both sides, one after the other.
	if err := a.dev.RotatePSK(context.Background(), b.dev.PublicKey(), psk); err != nil {
		t.Fatal(err)
	}
	progress(t, &count, errc, "one side rotated")
	rotated := time.Now()
	if err := b.dev.RotatePSK(context.Background(), a.dev.PublicKey(), psk); err != nil {
		t.Fatal(err)
	}
	// A handshake with the new key completes (wireguard-go allows one
	// initiation per 5s, so this takes up to about 6s) ...
	waitFor(t, 10*time.Second, "a handshake after the rotation", func() bool {
		return lastHandshake(t, a.dev, b.dev.PublicKey()).After(rotated) &&
			lastHandshake(t, b.dev, a.dev.PublicKey()).After(rotated)
	})
	// ... and the stream never broke.
	progress(t, &count, errc, "after the new handshake")
	close(stop)
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	// The new key is the one WireGuard holds on both sides (that a wrong key
	// stops traffic is TestMismatchedPSKNoTraffic).
	if devicePSK(t, a.dev, b.dev.PublicKey()) != psk || devicePSK(t, b.dev, a.dev.PublicKey()) != psk {
		t.Fatal("the rotated key is not the device's pre-shared key")
	}
	if err := a.dev.RotatePSK(context.Background(), randomKey(t), psk); err == nil {
		t.Fatal("rotating the key of an unknown peer succeeded")
	}
	if err := a.dev.RotatePSK(context.Background(), b.dev.PublicKey(), Key{}); err == nil {
		t.Fatal("an all-zero pre-shared key was accepted")
	}
}

// devicePSK reads a peer's pre-shared key out of wireguard-go.
func devicePSK(t testing.TB, d *NetstackDevice, peer Key) Key {
	t.Helper()
	dump, err := d.dev.IpcGet()
	if err != nil {
		t.Fatal(err)
	}
	var cur string
	for _, line := range strings.Split(dump, "\n") {
		k, v, _ := strings.Cut(line, "=")
		switch k {
		case "public_key":
			cur = v
		case "preshared_key":
			if cur == hexKey(peer) {
				var psk Key
				b, _ := hex.DecodeString(v)
				copy(psk[:], b)
				return psk
			}
		}
	}
	t.Fatalf("peer %s not on the device", peer)
	return Key{}
}
