package mesh

import (
	"context"
	"encoding/binary"
	"io"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	"golang.zx2c4.com/wireguard/tun"
)

// portFilter drops TCP packets to one destination port in one direction.
type portFilter struct {
	port    uint16
	inbound bool
	seen    atomic.Int64
	dropped atomic.Int64
}

func (f *portFilter) Allow(pkt []byte, inbound bool) bool {
	f.seen.Add(1)
	proto, dport, ok := transportDst(pkt)
	if ok && proto == 6 && dport == f.port && inbound == f.inbound {
		f.dropped.Add(1)
		return false
	}
	return true
}

// transportDst returns the IP protocol and destination port of a packet
// without IPv6 extension headers.
func transportDst(pkt []byte) (proto byte, port uint16, ok bool) {
	if len(pkt) < 1 {
		return 0, 0, false
	}
	var off int
	switch pkt[0] >> 4 {
	case 4:
		if len(pkt) < 20 {
			return 0, 0, false
		}
		off, proto = int(pkt[0]&0x0f)*4, pkt[9]
	case 6:
		if len(pkt) < 40 {
			return 0, 0, false
		}
		off, proto = 40, pkt[6]
	default:
		return 0, 0, false
	}
	if len(pkt) < off+4 {
		return proto, 0, false
	}
	return proto, binary.BigEndian.Uint16(pkt[off+2:]), true
}

func TestFilterBothDirections(t *testing.T) {
	outA := &portFilter{port: 7001, inbound: false}
	inB := &portFilter{port: 7002, inbound: true}
	a := newTestNode(t, 1, Options{Filter: outA})
	b := newTestNode(t, 2, Options{Filter: inB})
	nodes := []*testNode{a, b}
	psks := pskTable{}
	for i, n := range nodes {
		if err := n.dev.Apply(context.Background(), meshConfig(t, nodes, i, psks)); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range []uint16{7000, 7001, 7002} {
		echoServer(t, b, b.v6, p)
		echoServer(t, b, b.v4, p)
	}
	for _, dst := range []netip.Addr{b.v6, b.v4} {
		c, err := dial(t, a, netip.AddrPortFrom(dst, 7000), 5*time.Second)
		if err != nil {
			t.Fatalf("allowed flow to %v:7000: %v", dst, err)
		}
		if err := roundTrip(c, []byte("allowed"), 5*time.Second); err != nil {
			t.Fatal(err)
		}
		c.Close()
		for _, port := range []uint16{7001, 7002} {
			if c, err := dial(t, a, netip.AddrPortFrom(dst, port), 700*time.Millisecond); err == nil {
				c.Close()
				t.Fatalf("flow to %v:%d passed the filter", dst, port)
			}
		}
	}
	if outA.dropped.Load() == 0 || inB.dropped.Load() == 0 {
		t.Fatalf("dropped: a outbound %d, b inbound %d", outA.dropped.Load(), inB.dropped.Load())
	}
	if outA.seen.Load() == 0 || inB.seen.Load() == 0 {
		t.Fatal("filter not called")
	}
}

type allowAll struct{}

func (allowAll) Allow([]byte, bool) bool { return true }

// BenchmarkTCPThroughput sends TCP through two netstack nodes over
// 127.0.0.1 UDP, without a filter and with a filter that allows everything
// (the hook's own cost). MB/s is the figure.
func BenchmarkTCPThroughput(b *testing.B) {
	for _, bc := range []struct {
		name   string
		filter PacketFilter
	}{{"nofilter", nil}, {"noopfilter", allowAll{}}} {
		b.Run(bc.name, func(b *testing.B) {
			x := newTestNode(b, 1, Options{Filter: bc.filter})
			y := newTestNode(b, 2, Options{Filter: bc.filter})
			nodes := []*testNode{x, y}
			psks := pskTable{}
			for i, n := range nodes {
				if err := n.dev.Apply(context.Background(), meshConfig(b, nodes, i, psks)); err != nil {
					b.Fatal(err)
				}
			}
			l, err := y.dev.Net().ListenTCPAddrPort(netip.AddrPortFrom(y.v6, 7000))
			if err != nil {
				b.Fatal(err)
			}
			defer l.Close()
			done := make(chan int64, 1)
			go func() {
				c, err := l.Accept()
				if err != nil {
					done <- -1
					return
				}
				n, _ := io.Copy(io.Discard, c)
				done <- n
			}()
			c, err := dial(b, x, netip.AddrPortFrom(y.v6, 7000), 5*time.Second)
			if err != nil {
				b.Fatal(err)
			}
			chunk := make([]byte, 64<<10)
			b.SetBytes(int64(len(chunk)))
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := c.Write(chunk); err != nil {
					b.Fatal(err)
				}
			}
			c.Close()
			if n := <-done; n != int64(b.N)*int64(len(chunk)) {
				b.Fatalf("received %d of %d bytes", n, b.N*len(chunk))
			}
		})
	}
}

// batchTUN is a tun.Device that returns full batches of packets at once and
// swallows writes, to time the filter hook without a network stack.
type batchTUN struct {
	tun.Device // nil: only Read and Write are called
	size       int
}

func (d batchTUN) Read(bufs [][]byte, sizes []int, offset int) (int, error) {
	for i := range bufs {
		sizes[i] = d.size
	}
	return len(bufs), nil
}

func (d batchTUN) Write(bufs [][]byte, offset int) (int, error) { return len(bufs), nil }

// BenchmarkFilterHook is the per-packet cost of the hook itself on batches
// of 128 packets of 1420 bytes, read (outbound) and written (inbound).
func BenchmarkFilterHook(b *testing.B) {
	const batch, size = 128, 1420
	bufs := make([][]byte, batch)
	for i := range bufs {
		bufs[i] = make([]byte, 16+size)
		bufs[i][16] = 0x60
	}
	sizes := make([]int, batch)
	for _, bc := range []struct {
		name string
		dev  tun.Device
	}{
		{"nofilter", batchTUN{size: size}},
		{"noopfilter", newFilteredTUN(batchTUN{size: size}, allowAll{})},
		{"portfilter", newFilteredTUN(batchTUN{size: size}, &portFilter{port: 1})},
	} {
		b.Run(bc.name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				bc.dev.Read(bufs, sizes, 16)
				bc.dev.Write(bufs, 16)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/(2*batch), "ns/packet")
		})
	}
}
