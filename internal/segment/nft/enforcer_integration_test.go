//go:build integration && linux

package nft

import (
	"context"
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"strings"
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
	p := packet(src, dst, 6, dport)
	hl := 20
	if src.Is6() {
		hl = 40
	}
	tcp := p[hl:]
	binary.BigEndian.PutUint16(tcp[0:], sport)
	binary.BigEndian.PutUint32(tcp[4:], 1000)
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
		"ct state established,related accept", `log prefix "hoheit in drop protect" group 26735`} {
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
