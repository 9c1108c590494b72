package mesh

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"
)

// udpRelay forwards UDP between one client and a target, and can be blocked
// to simulate a failed path (both directions dropped).
type udpRelay struct {
	front   *net.UDPConn
	back    *net.UDPConn
	client  atomic.Pointer[net.UDPAddr]
	blocked atomic.Bool
}

func newUDPRelay(t testing.TB, target netip.AddrPort) *udpRelay {
	t.Helper()
	front, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	back, err := net.DialUDP("udp4", nil, net.UDPAddrFromAddrPort(target))
	if err != nil {
		t.Fatal(err)
	}
	r := &udpRelay{front: front, back: back}
	t.Cleanup(func() { front.Close(); back.Close() })
	go func() {
		buf := make([]byte, 65536)
		for {
			n, from, err := front.ReadFromUDP(buf)
			if err != nil {
				return
			}
			if r.blocked.Load() {
				continue
			}
			r.client.Store(from)
			back.Write(buf[:n])
		}
	}()
	go func() {
		buf := make([]byte, 65536)
		for {
			n, err := back.Read(buf)
			if err != nil {
				if isClosed(err) {
					return
				}
				continue // ICMP port unreachable and the like
			}
			c := r.client.Load()
			if r.blocked.Load() || c == nil {
				continue
			}
			front.WriteToUDP(buf[:n], c)
		}
	}()
	return r
}

func isClosed(err error) bool { return errors.Is(err, net.ErrClosed) }

func (r *udpRelay) addr() netip.AddrPort { return r.front.LocalAddr().(*net.UDPAddr).AddrPort() }

func activePath(t testing.TB, d Device, peer Key) (int, []PathStatus) {
	st, err := d.Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range st {
		if p.PublicKey != peer {
			continue
		}
		for i, ps := range p.Paths {
			if ps.Active {
				return i, p.Paths
			}
		}
		return -1, p.Paths
	}
	return -1, nil
}

func TestEndpointFailover(t *testing.T) {
	fast := PathParams{Interval: 100 * time.Millisecond, DownAfter: 400 * time.Millisecond, UpAfter: 3}
	a := newTestNode(t, 1, Options{Paths: fast})
	b := newTestNode(t, 2, Options{Paths: fast})
	r1, r2 := newUDPRelay(t, b.endpoint()), newUDPRelay(t, b.endpoint())
	psk := randomKey(t)
	ctx := context.Background()
	// a reaches b over two paths, r1 preferred; b learns a's address from
	// a's packets (WireGuard roaming), as for a node behind NAT.
	if err := a.dev.Apply(ctx, Config{Addresses: a.addrs(), Peers: []Peer{{
		PublicKey: b.dev.PublicKey(), AllowedIPs: b.allowed(), PresharedKey: psk,
		Endpoints: []netip.AddrPort{r1.addr(), r2.addr()},
	}}}); err != nil {
		t.Fatal(err)
	}
	if err := b.dev.Apply(ctx, Config{Addresses: b.addrs(), Peers: []Peer{{
		PublicKey: a.dev.PublicKey(), AllowedIPs: a.allowed(), PresharedKey: psk,
	}}}); err != nil {
		t.Fatal(err)
	}
	echoServer(t, b, b.v6, 7000)
	c, err := dial(t, a, netip.AddrPortFrom(b.v6, 7000), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var count atomic.Int64
	stop, errc := make(chan struct{}), make(chan error, 1)
	go stream(c, &count, stop, errc)
	bk := b.dev.PublicKey()
	waitFor(t, 5*time.Second, "both paths measured, r1 active", func() bool {
		i, paths := activePath(t, a.dev, bk)
		return i == 0 && len(paths) == 2 && paths[0].RTT > 0 && paths[1].RTT > 0
	})
	progress(t, &count, errc, "both paths up")

	r1.blocked.Store(true)
	cut := time.Now()
	waitFor(t, 3*time.Second, "failover to r2", func() bool { i, _ := activePath(t, a.dev, bk); return i == 1 })
	t.Logf("failover after %v", time.Since(cut).Round(time.Millisecond))
	progress(t, &count, errc, "on r2")

	r1.blocked.Store(false)
	healed := time.Now()
	waitFor(t, 3*time.Second, "back to r1", func() bool { i, _ := activePath(t, a.dev, bk); return i == 0 })
	t.Logf("back on r1 after %v", time.Since(healed).Round(time.Millisecond))
	progress(t, &count, errc, "back on r1")

	r2.blocked.Store(true) // r1 alone carries the stream now
	progress(t, &count, errc, "r2 blocked")
	close(stop)
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	if st, _ := a.dev.Status(ctx); st[0].Endpoint != r1.addr() {
		t.Fatalf("wireguard endpoint %v, want r1 %v", st[0].Endpoint, r1.addr())
	}
}
