//go:build integration && linux

package nft

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/hoheit/hoheit/internal/segment"
)

// inNetns moves the test's goroutine onto a thread of its own in a fresh
// network namespace (the thread is discarded afterwards) and returns a
// function running a command in that namespace.
func inNetns(t *testing.T) func(args ...string) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatal("needs root for a network namespace and nftables (CI runs as root)")
	}
	runtime.LockOSThread() // never unlocked: the thread dies with the goroutine
	if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
		t.Fatalf("unshare: %v", err)
	}
	ns := fmt.Sprintf("/proc/%d/task/%d/ns/net", os.Getpid(), unix.Gettid())
	run := func(args ...string) string {
		t.Helper()
		out, err := exec.Command("nsenter", append([]string{"--net=" + ns}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("%s: %v: %s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	run("ip", "link", "set", "lo", "up")
	return run
}

// openTUN makes a TUN device named name and returns it: writing to it
// delivers a packet as if it came out of the mesh, reading returns what
// the node sends into the mesh.
func openTUN(t *testing.T, name string) *os.File {
	t.Helper()
	fd, err := unix.Open("/dev/net/tun", unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	var req [unix.IFNAMSIZ + 64]byte
	copy(req[:], name)
	binary.NativeEndian.PutUint16(req[unix.IFNAMSIZ:], unix.IFF_TUN|unix.IFF_NO_PI)
	if _, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), unix.TUNSETIFF, uintptr(unsafe.Pointer(&req[0]))); e != 0 {
		t.Fatalf("TUNSETIFF: %v", e)
	}
	if err := unix.SetNonblock(fd, true); err != nil {
		t.Fatal(err)
	}
	f := os.NewFile(uintptr(fd), name)
	t.Cleanup(func() { f.Close() })
	return f
}

// syn makes a TCP SYN with valid checksums.
func syn(src, dst netip.Addr, sport, dport uint16) []byte {
	return tcpPacket(src, dst, sport, dport, 1000, 0, segment.TCPSyn, nil)
}

// TCP flags beyond those segment names.
const (
	tcpPsh = 0x08
	tcpAck = 0x10
)

// tcpPacket makes a TCP segment with valid checksums.
func tcpPacket(src, dst netip.Addr, sport, dport uint16, seq, ack uint32, flags uint8, payload []byte) []byte {
	p := packet(src, dst, 6, dport)
	hl := 20
	if src.Is6() {
		hl = 40
	}
	p = append(p, payload...)
	if src.Is4() {
		binary.BigEndian.PutUint16(p[2:], uint16(len(p)))
	} else {
		binary.BigEndian.PutUint16(p[4:], uint16(len(p)-40))
	}
	tcp := p[hl:]
	binary.BigEndian.PutUint16(tcp[0:], sport)
	binary.BigEndian.PutUint32(tcp[4:], seq)
	binary.BigEndian.PutUint32(tcp[8:], ack)
	tcp[13] = flags
	binary.BigEndian.PutUint16(tcp[14:], 65000)
	var sum uint32
	add := func(b []byte) {
		for i := 0; i+1 < len(b); i += 2 {
			sum += uint32(binary.BigEndian.Uint16(b[i:]))
		}
		if len(b)%2 == 1 {
			sum += uint32(b[len(b)-1]) << 8
		}
	}
	add(src.AsSlice())
	add(dst.AsSlice())
	sum += 6 + uint32(len(tcp))
	add(tcp)
	for sum > 0xffff {
		sum = sum>>16 + sum&0xffff
	}
	binary.BigEndian.PutUint16(tcp[16:], ^uint16(sum))
	if src.Is4() {
		sum = 0
		add(p[:20])
		for sum > 0xffff {
			sum = sum>>16 + sum&0xffff
		}
		binary.BigEndian.PutUint16(p[10:], ^uint16(sum))
	}
	return p
}

// readTCP returns the first TCP segment the node sends into the mesh to
// port within d that match accepts, with its sequence and
// acknowledgement numbers and payload length.
func readTCP(t *testing.T, tun *os.File, port uint16, d time.Duration, match func(flags uint8, seq, ack uint32, n int) bool) (seq, ack uint32, n int, ok bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	// The TUN file is in the runtime's poller: a read waits until the
	// deadline.
	if err := tun.SetReadDeadline(deadline); err != nil {
		t.Fatal(err)
	}
	defer tun.SetReadDeadline(time.Time{})
	buf := make([]byte, 2000)
	for time.Now().Before(deadline) {
		m, err := tun.Read(buf)
		if err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) {
				break
			}
			t.Fatal(err)
		}
		pi, err := segment.ParsePacket(buf[:m])
		if err != nil || pi.Proto != 6 || pi.DstPort != port {
			continue
		}
		hl := 20
		if buf[0]>>4 == 6 {
			hl = 40
		}
		tcp := buf[hl:m]
		seq, ack = binary.BigEndian.Uint32(tcp[4:]), binary.BigEndian.Uint32(tcp[8:])
		n = len(tcp) - int(tcp[12]>>4)*4
		if match(pi.TCPFlags, seq, ack, n) {
			return seq, ack, n, true
		}
	}
	return 0, 0, 0, false
}

// answered reports whether the node answered a SYN from sport (SYN-ACK or
// RST) within d.
func answered(t *testing.T, tun *os.File, sport uint16, d time.Duration) (synAck bool, seen bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	buf := make([]byte, 2000)
	for time.Now().Before(deadline) {
		n, err := tun.Read(buf)
		if err != nil {
			time.Sleep(5 * time.Millisecond) // non-blocking TUN: nothing queued yet
			continue
		}
		pi, err := segment.ParsePacket(buf[:n])
		if err != nil || pi.Proto != 6 || pi.DstPort != sport {
			continue
		}
		return pi.TCPFlags&(segment.TCPSyn|0x10) == segment.TCPSyn|0x10, true
	}
	return false, false
}

func TestEnforcerInNamespace(t *testing.T) {
	run := inNetns(t)
	if _, err := exec.LookPath("nft"); err != nil {
		t.Fatal("needs the nft command (Debian nftables; scripts/test-deps.sh installs it)")
	}
	tun := openTUN(t, "hoheit0")
	run("ip", "addr", "add", "fd00::1/64", "dev", "hoheit0", "nodad")
	run("ip", "addr", "add", "100.64.0.1/16", "dev", "hoheit0")
	run("ip", "link", "set", "hoheit0", "up")

	local6, local4 := netip.MustParseAddr("fd00::1"), netip.MustParseAddr("100.64.0.1")
	web6, web4 := netip.MustParseAddr("fd00::9"), netip.MustParseAddr("100.64.0.9")
	rules := func(mode segment.Mode) *segment.NodeRuleSet {
		local := pfx("fd00::1", "100.64.0.1")
		return &segment.NodeRuleSet{Node: "db", DefaultMode: segment.Protect,
			Locals: []segment.Local{{Name: "node:db", Addresses: local, Identities: []string{"pricelist"}, Mode: mode}},
			Inbound: []segment.CompiledRule{{Rule: "web-to-pricelist", LocalIdentity: "pricelist", RemoteIdentity: "web",
				Local: local, Remote: pfx("fd00::9", "100.64.0.9"), Ports: []segment.PortRange{{Proto: segment.TCP, Lo: 8080, Hi: 8080}}}},
			Peers: []segment.Peer{{Node: "web-1", Addresses: pfx("fd00::9", "100.64.0.9")}},
		}
	}
	alerts := make(chan segment.Alert, 16)
	filter := segment.NewFilter(nil, segment.FilterConfig{Alerts: func(a segment.Alert) {
		select {
		case alerts <- a:
		default:
		}
	}})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	enf, err := Open(ctx, Config{Recorder: filter})
	if err != nil {
		t.Fatal(err)
	}
	defer enf.Close()
	rs := rules(segment.Protect)
	filter.SetRules(rs)
	if err := enf.SetRules(rs); err != nil {
		t.Fatal(err)
	}
	listing := run("nft", "list", "table", "inet", "hoheit")
	for _, want := range []string{"chain in.web-to-pricelist", "fd00::1 . fd00::9 . tcp . 8080 : jump in.web-to-pricelist",
		"ct direction reply jump reply_out", "ct original proto-dst vmap @allow_in6", `log prefix "hoheit in drop protect" group 26735`} {
		if !strings.Contains(listing, want) {
			t.Errorf("nft list table lacks %q:\n%s", want, listing)
		}
	}
	for _, port := range []int{8080, 5432} {
		for _, a := range []netip.Addr{local6, local4} {
			ln, err := net.Listen("tcp", netip.AddrPortFrom(a, uint16(port)).String())
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
		}
	}

	flow := func(dst netip.Addr, port uint16, v segment.Verdict) bool {
		recs, _ := filter.Flows().Drain()
		for _, r := range recs {
			if r.Port == port && r.Verdict == v {
				return true
			}
		}
		return false
	}
	var sport uint16 = 40000
	try := func(src, dst netip.Addr, port uint16) (bool, bool) {
		sport++
		if _, err := tun.Write(syn(src, dst, sport, port)); err != nil {
			t.Fatal(err)
		}
		return answered(t, tun, sport, 2*time.Second)
	}
	for _, fam := range []struct{ web, local netip.Addr }{{web6, local6}, {web4, local4}} {
		t.Run("protect/"+fam.local.String(), func(t *testing.T) {
			filter.Flows().Drain() // a flow alerts once per drain
			if ok, _ := try(fam.web, fam.local, 8080); !ok {
				t.Fatal("the allowed SYN to 8080 got no SYN-ACK back through the table")
			}
			if _, seen := try(fam.web, fam.local, 5432); seen {
				t.Fatal("a SYN to 5432 (no rule) was answered in protect mode")
			}
			select {
			case a := <-alerts:
				if a.Flow.Port != 5432 || a.Flow.Verdict != segment.Drop || a.Flow.Src != "web" {
					t.Errorf("alert = %+v, want web -> 5432 drop", a.Flow)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("no alert for the dropped SYN to 5432")
			}
		})
	}
	if st := enf.Stats(); st.Logged < 4 || st.Mismatched != 0 {
		t.Errorf("stats = %+v, want >= 4 logged (2 allowed, 2 dropped) and no mismatch", st)
	}

	rs = rules(segment.Learn)
	filter.SetRules(rs)
	if err := enf.SetRules(rs); err != nil {
		t.Fatal(err)
	}
	filter.Flows().Drain()
	if ok, _ := try(web6, local6, 5432); !ok {
		t.Fatal("learn mode: a SYN to 5432 was not answered")
	}
	deadline := time.Now().Add(5 * time.Second)
	for !flow(local6, 5432, segment.AllowUnlisted) {
		if time.Now().After(deadline) {
			t.Fatal("learn mode: no unlisted flow record for 5432")
		}
		time.Sleep(20 * time.Millisecond)
	}

	if err := enf.Close(); err != nil {
		t.Fatal(err)
	}
	if out := run("nft", "list", "tables"); strings.Contains(out, "hoheit") {
		t.Errorf("the table is still there after Close:\n%s", out)
	}
}

// tcpConn is a TCP connection from a remote node (played by the test
// through the TUN device) to a listener on the node.
type tcpConn struct {
	remote, local netip.Addr
	rport, lport  uint16
	seq, ack      uint32 // the remote's next sequence number; the node's
	srv           *net.TCPConn
}

// tap is a Recorder that keeps what it was handed, by the remote port of
// the connection, and passes it on to a filter.
type tap struct {
	f   *segment.Filter
	mu  sync.Mutex
	got map[uint16][]tapped
}

type tapped struct {
	pi  segment.PacketInfo
	dir segment.Direction
	v   segment.Verdict
}

func (tp *tap) Check(pi segment.PacketInfo, dir segment.Direction) segment.Verdict {
	v := tp.f.Check(pi, dir)
	port := pi.SrcPort
	if dir == segment.Outbound {
		port = pi.DstPort
	}
	tp.mu.Lock()
	tp.got[port] = append(tp.got[port], tapped{pi, dir, v})
	tp.mu.Unlock()
	return v
}

func (tp *tap) of(port uint16) []tapped {
	tp.mu.Lock()
	defer tp.mu.Unlock()
	return slices.Clone(tp.got[port])
}

// TestEnforcerChecksConnectionsAgain establishes connections, applies a
// rule set that no longer allows some of them and checks that their next
// packets, in either direction, are dropped in protect mode and pass in
// learn mode (logged once), while the connections still allowed go on.
func TestEnforcerChecksConnectionsAgain(t *testing.T) {
	run := inNetns(t)
	tun := openTUN(t, "hoheit0")
	run("ip", "addr", "add", "fd00::1/64", "dev", "hoheit0", "nodad")
	run("ip", "addr", "add", "100.64.0.1/16", "dev", "hoheit0")
	run("ip", "link", "set", "hoheit0", "up")
	// rules allows web to reach the node's ports.
	rules := func(mode segment.Mode, ports ...uint16) *segment.NodeRuleSet {
		local := pfx("fd00::1", "100.64.0.1")
		rs := &segment.NodeRuleSet{Node: "db", DefaultMode: segment.Protect,
			Locals: []segment.Local{{Name: "node:db", Addresses: local, Identities: []string{"pricelist"}, Mode: mode}},
			Peers:  []segment.Peer{{Node: "web-1", Addresses: pfx("fd00::9", "100.64.0.9")}},
		}
		for _, p := range ports {
			rs.Inbound = append(rs.Inbound, segment.CompiledRule{Rule: fmt.Sprintf("web-to-%d", p), LocalIdentity: "pricelist", RemoteIdentity: "web",
				Local: local, Remote: pfx("fd00::9", "100.64.0.9"), Ports: []segment.PortRange{{Proto: segment.TCP, Lo: p, Hi: p}}})
		}
		return rs
	}
	filter := segment.NewFilter(nil, segment.FilterConfig{})
	rec := &tap{f: filter, got: map[uint16][]tapped{}}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	enf, err := Open(ctx, Config{Recorder: rec})
	if err != nil {
		t.Fatal(err)
	}
	defer enf.Close()
	apply := func(rs *segment.NodeRuleSet) {
		t.Helper()
		filter.SetRules(rs)
		if err := enf.SetRules(rs); err != nil {
			t.Fatal(err)
		}
	}
	listeners := map[netip.AddrPort]*net.TCPListener{}
	for _, port := range []uint16{8080, 8081} {
		for _, a := range []string{"fd00::1", "100.64.0.1"} {
			ap := netip.AddrPortFrom(netip.MustParseAddr(a), port)
			ln, err := net.ListenTCP("tcp", net.TCPAddrFromAddrPort(ap))
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			listeners[ap] = ln
		}
	}

	const quiet = 500 * time.Millisecond // to show that nothing comes back
	var sport uint16 = 41000
	establish := func(remote, local netip.Addr, port uint16) *tcpConn {
		t.Helper()
		sport++
		c := &tcpConn{remote: remote, local: local, rport: sport, lport: port, seq: 1000}
		if _, err := tun.Write(tcpPacket(remote, local, c.rport, port, c.seq, 0, segment.TCPSyn, nil)); err != nil {
			t.Fatal(err)
		}
		isn, _, _, ok := readTCP(t, tun, c.rport, 2*time.Second, func(f uint8, _, ack uint32, _ int) bool {
			return f&(segment.TCPSyn|tcpAck) == segment.TCPSyn|tcpAck && ack == c.seq+1
		})
		if !ok {
			t.Fatalf("no SYN-ACK from %v:%d", local, port)
		}
		c.seq, c.ack = c.seq+1, isn+1
		if _, err := tun.Write(tcpPacket(remote, local, c.rport, port, c.seq, c.ack, tcpAck, nil)); err != nil {
			t.Fatal(err)
		}
		srv, err := listeners[netip.AddrPortFrom(local, port)].AcceptTCP()
		if err != nil {
			t.Fatal(err)
		}
		// Closed with a reset: no retransmissions into later checks.
		srv.SetLinger(0)
		t.Cleanup(func() { srv.Close() })
		if got := srv.RemoteAddr().(*net.TCPAddr).Port; got != int(c.rport) {
			t.Fatalf("accepted the connection from port %d, want %d", got, c.rport)
		}
		c.srv = srv
		return c
	}
	// fromRemote sends data to the node and reports whether it was
	// acknowledged (it passed inbound, the ACK outbound).
	fromRemote := func(c *tcpConn, d time.Duration) bool {
		t.Helper()
		data := []byte("ping")
		if _, err := tun.Write(tcpPacket(c.remote, c.local, c.rport, c.lport, c.seq, c.ack, tcpPsh|tcpAck, data)); err != nil {
			t.Fatal(err)
		}
		_, _, _, ok := readTCP(t, tun, c.rport, d, func(f uint8, _, ack uint32, _ int) bool {
			return f&tcpAck != 0 && ack == c.seq+uint32(len(data))
		})
		if ok {
			c.seq += uint32(len(data))
		}
		return ok
	}
	// fromLocal sends data from the node and reports whether it came
	// out (a reply of the connection, outbound); it is acknowledged.
	fromLocal := func(c *tcpConn, d time.Duration) bool {
		t.Helper()
		if _, err := c.srv.Write([]byte("pong")); err != nil {
			t.Fatal(err)
		}
		seq, _, n, ok := readTCP(t, tun, c.rport, d, func(_ uint8, seq, _ uint32, n int) bool { return n > 0 && seq == c.ack })
		if ok {
			c.ack = seq + uint32(n)
			if _, err := tun.Write(tcpPacket(c.remote, c.local, c.rport, c.lport, c.seq, c.ack, tcpAck, nil)); err != nil {
				t.Fatal(err)
			}
		}
		return ok
	}
	// logged waits until the recorder has been handed n packets of c.
	logged := func(c *tcpConn, n int) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for len(rec.of(c.rport)) < n {
			if time.Now().After(deadline) {
				t.Fatalf("the recorder got %d packets of the connection from port %d, want %d", len(rec.of(c.rport)), c.rport, n)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	// settle makes sure the recorder has seen everything logged so far:
	// the log is read in order, so once a new connection's first packet
	// arrives, all logged before it has.
	settle := func(web, local netip.Addr) {
		t.Helper()
		c := establish(web, local, 8081)
		logged(c, 1)
		c.srv.Close()
	}

	for _, mode := range []segment.Mode{segment.Protect, segment.Learn} {
		for _, fam := range []struct{ web, local string }{{"fd00::9", "fd00::1"}, {"100.64.0.9", "100.64.0.1"}} {
			// Not in subtests: their goroutines would leave the namespace.
			func() {
				name := mode.String() + "/" + fam.local
				errorf := func(format string, args ...any) {
					t.Helper()
					t.Errorf(name+": "+format, args...)
				}
				web, local := netip.MustParseAddr(fam.web), netip.MustParseAddr(fam.local)
				apply(rules(mode, 8080, 8081))
				// Four connections: two on 8080, whose rule goes away, two
				// on 8081, whose rule stays; of each pair, the node speaks
				// first on one (its reply is checked again), the remote on
				// the other.
				cutLocal, cutRemote := establish(web, local, 8080), establish(web, local, 8080)
				keptLocal, keptRemote := establish(web, local, 8081), establish(web, local, 8081)
				all := []*tcpConn{cutLocal, cutRemote, keptLocal, keptRemote}
				defer func() {
					for _, c := range all {
						c.srv.Close()
					}
				}()
				for _, c := range all {
					if !fromRemote(c, 2*time.Second) || !fromLocal(c, 2*time.Second) {
						t.Fatalf("%s: a connection to %d does not carry data under the rules that allow it", name, c.lport)
					}
					logged(c, 1)
				}
				settle(web, local)
				filter.Flows().Drain()
				apply(rules(mode, 8081))

				if !fromLocal(keptLocal, 2*time.Second) || !fromRemote(keptLocal, 2*time.Second) {
					errorf("a connection whose rule stayed stopped (the node spoke first)")
				}
				if !fromRemote(keptRemote, 2*time.Second) || !fromLocal(keptRemote, 2*time.Second) {
					errorf("a connection whose rule stayed stopped (the remote spoke first)")
				}
				want, wait := true, 2*time.Second // learn: the connections go on
				if mode == segment.Protect {
					want, wait = false, quiet
				}
				if got := fromLocal(cutLocal, wait); got != want {
					errorf("the node's data on a connection whose rule went away passed = %v, want %v", got, want)
				}
				if got := fromRemote(cutLocal, wait); got != want {
					errorf("the remote's data on a connection whose rule went away (after the node's) passed = %v, want %v", got, want)
				}
				if got := fromRemote(cutRemote, wait); got != want {
					errorf("the remote's data on a connection whose rule went away passed = %v, want %v", got, want)
				}
				if want && (!fromLocal(cutRemote, wait) || !fromRemote(cutLocal, wait) || !fromLocal(cutLocal, wait)) {
					errorf("a connection whose rule went away stopped later")
				}
				settle(web, local)

				// Each connection that lost its rule was handed to the
				// recorder as a connection to 8080 from the remote (a reply
				// reversed, not named by its own ports), with the kernel's
				// verdict; in learn mode once, a dropped one with each
				// dropped packet. The others were not logged again.
				v := segment.Drop
				if mode == segment.Learn {
					v = segment.AllowUnlisted
				}
				for _, c := range all {
					got := rec.of(c.rport)[1:]
					switch {
					case c.lport == 8081 && len(got) != 0:
						errorf("a connection whose rule stayed was logged again: %+v", got)
					case c.lport == 8080 && (len(got) == 0 || mode == segment.Learn && len(got) != 1):
						errorf("a connection whose rule went away was logged %d times after the change", len(got))
					}
					for _, g := range got {
						if g.dir != segment.Inbound || g.pi.Src != web || g.pi.SrcPort != c.rport || g.pi.Dst != local || g.pi.DstPort != 8080 || g.v != v {
							errorf("the recorder got %v %v:%d -> %v:%d (verdict %v), want inbound %v:%d -> %v:8080 (%v)",
								g.dir, g.pi.Src, g.pi.SrcPort, g.pi.Dst, g.pi.DstPort, g.v, web, c.rport, local, v)
						}
					}
				}
				recs, _ := filter.Flows().Drain()
				found := false
				for _, r := range recs {
					found = found || r.Port == 8080 && r.Verdict == v
				}
				if !found {
					errorf("no %v flow record for port 8080 after the rule went away; records: %+v", v, recs)
				}
			}()
		}
	}
}
