//go:build integration

package server

import (
	"context"
	"io"
	"net/netip"
	"os"
	"testing"
	"time"

	"github.com/hoheit/hoheit/internal/mesh"
)

// TestMeshPSKRotation: pre-shared keys rotate every few seconds while a TCP
// connection between two nodes keeps carrying data, without a stall: each
// rotation is one handshake, started by one side of the pair (when both
// started one, the crossing handshakes could cost a side its session keys,
// and the stream stalled for ~13 s until the next handshake).
// HOHEIT_MESH_DEBUG=DIR writes each node's log, WireGuard's included.
func TestMeshPSKRotation(t *testing.T) {
	h := newHarness(t, harnessOpts{allowInsecure: true, mesh: MeshOptions{RotateEvery: 6 * time.Second}})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	policy, err := os.ReadFile("../../examples/segment/shop.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if st, res := h.putPolicy(policy); st != 200 || !res.Applied {
		t.Fatalf("apply: %d %+v", st, res)
	}
	web := h.startMeshNode(ctx, "web-1", map[string]string{"app": "web", "env": "prod"})
	price := h.startMeshNode(ctx, "pricelist-1", map[string]string{"app": "pricelist", "env": "prod"})
	ns := func(n *meshNode) *mesh.NetstackDevice { return n.a.MeshDevice().(*mesh.NetstackDevice) }
	ln, err := ns(price).Net().ListenTCPAddrPort(netip.AddrPortFrom(price.addr, 8080))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { io.Copy(c, c); c.Close() }()
		}
	}()
	var conn interface {
		io.ReadWriteCloser
		SetDeadline(time.Time) error
	}
	deadline := time.Now().Add(15 * time.Second)
	for conn == nil {
		dctx, c := context.WithTimeout(ctx, 2*time.Second)
		cn, err := ns(web).Net().DialContextTCPAddrPort(dctx, netip.AddrPortFrom(price.addr, 8080))
		c()
		if err == nil {
			conn = cn
		} else if time.Now().After(deadline) {
			t.Fatalf("dial: %v", err)
		}
	}
	defer conn.Close()
	first := web.a.MeshETag()
	changes := 0
	end := time.Now().Add(20 * time.Second)
	buf := make([]byte, 5)
	var worst time.Duration
	for time.Now().Before(end) {
		sent := time.Now()
		conn.SetDeadline(time.Now().Add(45 * time.Second))
		if _, err := conn.Write([]byte("hello")); err != nil {
			t.Fatalf("write across a rotation: %v", err)
		}
		if _, err := io.ReadFull(conn, buf); err != nil {
			t.Fatalf("read across a rotation: %v", err)
		}
		worst = max(worst, time.Since(sent))
		if tag := web.a.MeshETag(); tag != first {
			first = tag
			changes++
		}
		time.Sleep(50 * time.Millisecond)
	}
	// A lost packet costs TCP one retransmission (200 ms at first, more on
	// a loaded machine); a stall of seconds means a lost session.
	if worst > 3*time.Second {
		t.Fatalf("an echo took %v across a key rotation; want no stall", worst.Round(time.Millisecond))
	}
	if changes < 2 {
		t.Fatalf("%d key rotations in 20 s, want at least 2", changes)
	}
	t.Logf("%d rotations, the connection kept working; slowest echo %v", changes, worst.Round(time.Millisecond))
}
