//go:build integration && linux

package mesh

import (
	"bufio"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.zx2c4.com/wireguard/wgctrl"
)

// TestKernelInNamespaces runs the kernel datapath for real on a machine
// without the WireGuard module: upstream wireguard-go (built from this
// module's dependency) serves a WireGuard interface in each of two network
// namespaces, and a helper process per namespace opens the kernel datapath
// on it through wgctrl's UAPI client, exactly as it would configure a
// kernel interface. The parent drives both helpers step by step and checks:
// TCP over IPv6 and IPv4 mesh addresses, Status, pre-shared key rotation
// with a forced re-handshake, removal cutting traffic, and that Close leaves
// the pre-made interface in place without keys, peers or hoheit's
// addresses. Needs root; fails without it.
func TestKernelInNamespaces(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("needs root for network namespaces and TUN devices (CI runs as root)")
	}
	wgGo := buildWireGuardGo(t)
	id := os.Getpid() % 100000
	nsA, nsB := fmt.Sprintf("hkern-a-%d", id), fmt.Sprintf("hkern-b-%d", id)
	// Distinct names: the UAPI sockets in /var/run/wireguard are shared by
	// all namespaces.
	ifA, ifB := fmt.Sprintf("hka%d", id), fmt.Sprintf("hkb%d", id)
	ip := func(args ...string) {
		t.Helper()
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
		}
	}
	for _, ns := range []string{nsA, nsB} {
		ip("netns", "add", ns)
		t.Cleanup(func() { exec.Command("ip", "netns", "del", ns).Run() })
		ip("-n", ns, "link", "set", "lo", "up")
	}
	ip("link", "add", "va", "netns", nsA, "type", "veth", "peer", "name", "vb", "netns", nsB)
	ip("-n", nsA, "addr", "add", "10.99.0.1/24", "dev", "va")
	ip("-n", nsB, "addr", "add", "10.99.0.2/24", "dev", "vb")
	ip("-n", nsA, "link", "set", "va", "up")
	ip("-n", nsB, "link", "set", "vb", "up")

	wgAlive := startWireGuardGo(t, wgGo, nsA, ifA)
	startWireGuardGo(t, wgGo, nsB, ifB)
	// An operator's address on the pre-made interface: hoheit must not add
	// it twice, and must leave it on Close.
	ip("-n", nsA, "addr", "add", "10.98.0.1/24", "dev", ifA)

	keyA, keyB := newKey(t), newKey(t)
	pubA, _ := PublicKey(keyA)
	pubB, _ := PublicKey(keyB)
	// Node b routes a workload network, 10.97.2.0/24; node a must route it
	// into its interface.
	ip("-n", nsB, "addr", "add", "10.97.2.1/32", "dev", "lo")
	a := startKernelHelper(t, nsA, keyA, pubB, "fd99::1/64,10.98.0.1/24", "fd99::2/128,10.98.0.2/32,10.97.2.0/24", "10.99.0.2:51820")
	b := startKernelHelper(t, nsB, keyB, pubA, "fd99::2/64,10.98.0.2/24", "fd99::1/128,10.98.0.1/32", "10.99.0.1:51820")

	t.Run("refusals", func(t *testing.T) {
		if got := a.try("open va"); !strings.Contains(got, "is not a WireGuard interface") {
			t.Errorf("open on a veth: %s", got)
		}
		if got := a.try("open " + ifB); !strings.Contains(got, "no interface "+ifB+" in this network namespace") {
			t.Errorf("open on another namespace's interface: %s", got)
		}
		if kernelHasWireGuard() {
			// With the module, a missing interface is created and deleted on Close.
			a.do("open hkn" + strconv.Itoa(id))
			if out, err := exec.Command("ip", "-n", nsA, "link", "show", "hkn"+strconv.Itoa(id)).CombinedOutput(); err != nil {
				t.Errorf("created interface missing: %v: %s", err, out)
			}
			a.do("close")
			if exec.Command("ip", "-n", nsA, "link", "show", "hkn"+strconv.Itoa(id)).Run() == nil {
				t.Error("Close left the interface it created")
			}
		} else if got := a.try("open hkn" + strconv.Itoa(id)); !strings.HasPrefix(got, "unavailable ") {
			t.Errorf("open without module or interface: %s, want ErrUnavailable", got)
		}
	})
	if t.Failed() {
		t.FailNow()
	}

	a.do("open " + ifA)
	b.do("open " + ifB)
	psk1, psk2 := randomKey(t), randomKey(t)
	a.do("apply " + hex.EncodeToString(psk1[:]))
	b.do("apply " + hex.EncodeToString(psk1[:]))
	a.do("listen")
	b.do("listen 10.97.2.1")
	targets := []string{"[fd99::1]:7000", "10.98.0.1:7000"}
	for _, addr := range targets {
		b.do("dial " + addr)
		b.do("echo " + addr + " 50")
	}
	workloadRoute := func() string {
		t.Helper()
		out, err := exec.Command("ip", "-n", nsA, "route", "show", "exact", "10.97.2.0/24").CombinedOutput()
		if err != nil {
			t.Fatalf("ip route show: %v: %s", err, out)
		}
		return strings.TrimSpace(string(out))
	}
	if r := workloadRoute(); !strings.Contains(r, "dev "+ifA) {
		t.Fatalf("the peer's workload prefix is not routed into %s: %q", ifA, r)
	}
	a.do("dial 10.97.2.1:7000")
	a.do("echo 10.97.2.1:7000 10")

	peerStatus := func(n *kernelHelper, want Key) PeerStatus {
		t.Helper()
		var st []PeerStatus
		if err := json.Unmarshal([]byte(n.do("status")), &st); err != nil {
			t.Fatal(err)
		}
		if len(st) != 1 || st[0].PublicKey != want {
			t.Fatalf("status: want one peer %s, got %+v", want, st)
		}
		return st[0]
	}
	sa, sb := peerStatus(a, pubB), peerStatus(b, pubA)
	for _, c := range []struct {
		node string
		st   PeerStatus
		ep   string
	}{{"a", sa, "10.99.0.2:51820"}, {"b", sb, "10.99.0.1:51820"}} {
		if c.st.LastHandshake.IsZero() || c.st.RxBytes == 0 || c.st.TxBytes == 0 || c.st.Endpoint.String() != c.ep {
			t.Fatalf("node %s status: %+v, want a handshake, bytes both ways, endpoint %s", c.node, c.st, c.ep)
		}
		t.Logf("node %s: handshake %v, rx %d tx %d, endpoint %v", c.node, c.st.LastHandshake.Format(time.TimeOnly), c.st.RxBytes, c.st.TxBytes, c.st.Endpoint)
	}

	// Rotation. wgctrl only sets the key: the session in use continues and
	// no handshake starts (WireGuard's own rekey would come after two
	// minutes), so the test forces one by taking the peer off node b and
	// putting it back. Node b's old session is then gone: traffic can only
	// flow over a new handshake, which needs the same key on both sides.
	a.do("rotate " + hex.EncodeToString(psk2[:]))
	b.do("rotate " + hex.EncodeToString(psk2[:]))
	for _, addr := range targets {
		b.do("echo " + addr + " 10")
	}
	if h := peerStatus(b, pubA).LastHandshake; !h.Equal(sb.LastHandshake) {
		t.Logf("a handshake happened on its own after the rotation: %v", h)
	} else {
		t.Log("after RotatePSK the session continued and no handshake started, as documented")
	}
	forced := time.Now()
	b.do("apply-none")
	b.do("apply " + hex.EncodeToString(psk2[:]))
	for _, addr := range targets {
		b.do("echo " + addr + " 20") // the same TCP connections as before
	}
	if h := peerStatus(b, pubA).LastHandshake; !h.After(sb.LastHandshake) || h.Before(forced) {
		t.Fatalf("no new handshake after the forced one: last %v, forced at %v", h, forced)
	}
	t.Logf("new handshake with the rotated key %v after forcing it", peerStatus(b, pubA).LastHandshake.Sub(forced).Round(time.Millisecond))

	// Removal is revocation: nothing passes once Apply returned.
	a.do("apply-none")
	for _, addr := range targets {
		b.do("noecho " + addr)
		b.do("nodial " + addr)
	}
	if st := a.do("status"); st != "null" && st != "[]" {
		t.Fatalf("node a still lists peers: %s", st)
	}
	if r := workloadRoute(); r != "" {
		t.Errorf("route to the removed peer's workload stays: %q", r)
	}
	a.do("apply " + hex.EncodeToString(psk2[:])) // the route again, for Close to remove
	if r := workloadRoute(); r == "" {
		t.Error("no route to the workload after the peer came back")
	}

	a.do("close")
	b.do("close")
	out, err := exec.Command("ip", "-n", nsA, "addr", "show", "dev", ifA).CombinedOutput()
	if err != nil {
		t.Fatalf("the pre-made interface is gone after Close: %v: %s", err, out)
	}
	if !strings.Contains(string(out), "10.98.0.1/24") || strings.Contains(string(out), "fd99::1") {
		t.Errorf("after Close: want the operator's 10.98.0.1/24 kept and hoheit's fd99::1 removed:\n%s", out)
	}
	if r := workloadRoute(); r != "" {
		t.Errorf("after Close the workload route stays: %q", r)
	}
	if !wgAlive() {
		t.Fatal("wireguard-go exited")
	}
	c, err := wgctrl.New()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	dev, err := c.Device(ifA)
	if err != nil {
		t.Fatalf("reading %s after Close: %v", ifA, err)
	}
	if len(dev.Peers) != 0 || dev.PrivateKey != [32]byte{} {
		t.Errorf("after Close %s still has %d peers or the node's private key", ifA, len(dev.Peers))
	}
}

// buildWireGuardGo builds upstream wireguard-go from this module's
// dependency, so the version is go.mod's.
func buildWireGuardGo(t *testing.T) string {
	t.Helper()
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("building wireguard-go needs the go tool in PATH: %v", err)
	}
	bin := filepath.Join(t.TempDir(), "wireguard-go")
	if out, err := exec.Command(goTool, "build", "-o", bin, "golang.zx2c4.com/wireguard").CombinedOutput(); err != nil {
		t.Fatalf("go build golang.zx2c4.com/wireguard: %v: %s", err, out)
	}
	return bin
}

// startWireGuardGo runs wireguard-go in the foreground on interface name in
// namespace ns, waits for its interface and UAPI socket, and returns a
// function that reports whether it still runs.
func startWireGuardGo(t *testing.T, bin, ns, name string) (alive func() bool) {
	t.Helper()
	sock := filepath.Join("/var/run/wireguard", name+".sock")
	cmd := exec.Command("ip", "netns", "exec", ns, bin, "-f", name)
	cmd.Env = append(os.Environ(), "LOG_LEVEL=error")
	out := &strings.Builder{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
		os.Remove(sock)
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, serr := os.Stat(sock)
		lerr := exec.Command("ip", "-n", ns, "link", "show", name).Run()
		if serr == nil && lerr == nil {
			return func() bool {
				select {
				case <-exited:
					return false
				default:
					return true
				}
			}
		}
		select {
		case <-exited:
			t.Fatalf("wireguard-go %s exited: %s", name, out)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("wireguard-go %s: no socket or interface after 10s (%v, %v)", name, serr, lerr)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func oneLine(err error) string { return strings.ReplaceAll(err.Error(), "\n", " | ") }

// kernelHelper is one TestKernelHelper process the parent talks to: one
// command per line on its stdin, one reply line ("> ok ...", "> error ...",
// "> unavailable ...") on its stdout.
type kernelHelper struct {
	t       *testing.T
	ns      string
	in      io.WriteCloser
	replies chan string
}

func startKernelHelper(t *testing.T, ns string, key []byte, peer Key, addrs, peerIPs, endpoint string) *kernelHelper {
	t.Helper()
	cmd := exec.Command("ip", "netns", "exec", ns, os.Args[0], "-test.run=^TestKernelHelper$")
	cmd.Env = append(os.Environ(),
		"HOHEIT_KERNEL_HELPER=1",
		"HOHEIT_KERNEL_KEY="+hex.EncodeToString(key),
		"HOHEIT_KERNEL_PEER="+hex.EncodeToString(peer[:]),
		"HOHEIT_KERNEL_ADDRS="+addrs,
		"HOHEIT_KERNEL_PEER_IPS="+peerIPs,
		"HOHEIT_KERNEL_ENDPOINT="+endpoint)
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	h := &kernelHelper{t: t, ns: ns, in: in, replies: make(chan string, 1)}
	go func() {
		sc := bufio.NewScanner(out)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			if r, ok := strings.CutPrefix(sc.Text(), "> "); ok {
				h.replies <- r
			} else if line := sc.Text(); line != "PASS" {
				t.Logf("%s: %s", ns, line)
			}
		}
		close(h.replies)
	}()
	t.Cleanup(func() {
		in.Close() // the helper closes its device and exits
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	})
	return h
}

// try sends one command and returns the reply without its "ok " prefix, or
// the whole reply if it is not ok.
func (h *kernelHelper) try(cmd string) string {
	h.t.Helper()
	if _, err := fmt.Fprintln(h.in, cmd); err != nil {
		h.t.Fatalf("%s: %s: %v", h.ns, cmd, err)
	}
	select {
	case r, ok := <-h.replies:
		if !ok {
			h.t.Fatalf("%s: %s: the helper exited", h.ns, cmd)
		}
		if s, ok := strings.CutPrefix(r, "ok"); ok {
			return strings.TrimPrefix(s, " ")
		}
		return r
	case <-time.After(30 * time.Second):
		h.t.Fatalf("%s: %s: no reply within 30s", h.ns, cmd)
	}
	return ""
}

// do is try for commands that must succeed.
func (h *kernelHelper) do(cmd string) string {
	h.t.Helper()
	if _, err := fmt.Fprintln(h.in, cmd); err != nil {
		h.t.Fatalf("%s: %s: %v", h.ns, cmd, err)
	}
	select {
	case r, ok := <-h.replies:
		if !ok {
			h.t.Fatalf("%s: %s: the helper exited", h.ns, cmd)
		}
		s, ok := strings.CutPrefix(r, "ok")
		if !ok {
			h.t.Fatalf("%s: %s: %s", h.ns, cmd, r)
		}
		return strings.TrimPrefix(s, " ")
	case <-time.After(30 * time.Second):
		h.t.Fatalf("%s: %s: no reply within 30s", h.ns, cmd)
	}
	return ""
}

// TestKernelHelper is one node of TestKernelInNamespaces, run in a
// namespace; it does nothing unless HOHEIT_KERNEL_HELPER is set. It reads
// commands from stdin until EOF, then closes its device.
func TestKernelHelper(t *testing.T) {
	if os.Getenv("HOHEIT_KERNEL_HELPER") == "" {
		return
	}
	key, _ := hex.DecodeString(os.Getenv("HOHEIT_KERNEL_KEY"))
	var peer Key
	pb, _ := hex.DecodeString(os.Getenv("HOHEIT_KERNEL_PEER"))
	copy(peer[:], pb)
	prefixes := func(env string) []netip.Prefix {
		var ps []netip.Prefix
		for _, s := range strings.Split(os.Getenv(env), ",") {
			ps = append(ps, netip.MustParsePrefix(s))
		}
		return ps
	}
	addrs, peerIPs := prefixes("HOHEIT_KERNEL_ADDRS"), prefixes("HOHEIT_KERNEL_PEER_IPS")
	ep := netip.MustParseAddrPort(os.Getenv("HOHEIT_KERNEL_ENDPOINT"))
	ctx := context.Background()

	var dev Device
	conns := map[string]net.Conn{}
	var listeners []net.Listener
	defer func() {
		for _, l := range listeners {
			l.Close()
		}
		for _, c := range conns {
			c.Close()
		}
		if dev != nil {
			dev.Close()
		}
	}()
	run := func(cmd string, args []string) (string, error) {
		arg := func(i int) string {
			if i < len(args) {
				return args[i]
			}
			return ""
		}
		if cmd != "open" && dev == nil {
			return "", errors.New("no device open")
		}
		switch cmd {
		case "open":
			d, err := Open(ctx, Options{Datapath: Kernel, PrivateKey: key, Addresses: addrs, ListenPort: 51820, InterfaceName: arg(0)})
			if err != nil {
				return "", err
			}
			if d.Datapath() != Kernel || d.ListenPort() != 51820 {
				d.Close()
				return "", fmt.Errorf("datapath %s port %d", d.Datapath(), d.ListenPort())
			}
			dev = d
			return "", nil
		case "close":
			err := dev.Close()
			dev = nil
			return "", err
		case "apply", "apply-none":
			cfg := Config{Addresses: addrs}
			if cmd == "apply" {
				var psk Key
				hex.Decode(psk[:], []byte(arg(0)))
				cfg.Peers = []Peer{{PublicKey: peer, AllowedIPs: peerIPs, Endpoints: []netip.AddrPort{ep}, PresharedKey: psk}}
			}
			return "", dev.Apply(ctx, cfg)
		case "rotate":
			var psk Key
			hex.Decode(psk[:], []byte(arg(0)))
			return "", dev.RotatePSK(ctx, peer, psk)
		case "status":
			st, err := dev.Status(ctx)
			if err != nil {
				return "", err
			}
			b, err := json.Marshal(st)
			return string(b), err
		case "listen":
			listen := []string{}
			for _, a := range addrs {
				listen = append(listen, a.Addr().String())
			}
			for _, a := range append(listen, args...) {
				l, err := net.Listen("tcp", net.JoinHostPort(a, "7000"))
				if err != nil {
					return "", err
				}
				listeners = append(listeners, l)
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
			return "", nil
		case "dial":
			deadline := time.Now().Add(10 * time.Second)
			for {
				c, err := net.DialTimeout("tcp", arg(0), time.Second)
				if err == nil {
					conns[arg(0)] = c
					return "", nil
				}
				if time.Now().After(deadline) {
					return "", err
				}
			}
		case "nodial":
			if c, err := net.DialTimeout("tcp", arg(0), 2*time.Second); err == nil {
				c.Close()
				return "", fmt.Errorf("connected to %s", arg(0))
			}
			return "", nil
		case "echo", "noecho":
			c := conns[arg(0)]
			if c == nil {
				return "", fmt.Errorf("no connection to %s", arg(0))
			}
			if cmd == "noecho" {
				if err := roundTrip(c, []byte("after removal"), 2*time.Second); err == nil {
					return "", errors.New("a message passed after the peer was removed")
				}
				c.Close()
				delete(conns, arg(0))
				return "", nil
			}
			n, _ := strconv.Atoi(arg(1))
			for i := range n {
				if err := roundTrip(c, fmt.Appendf(nil, "message %d over the kernel datapath", i), 10*time.Second); err != nil {
					return "", fmt.Errorf("message %d: %w", i, err)
				}
			}
			return "", nil
		}
		return "", fmt.Errorf("unknown command %q", cmd)
	}
	sc := bufio.NewScanner(os.Stdin)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 0 {
			continue
		}
		out, err := run(f[0], f[1:])
		switch {
		case errors.Is(err, ErrUnavailable):
			fmt.Println("> unavailable", oneLine(err))
		case err != nil:
			fmt.Println("> error", oneLine(err))
		default:
			fmt.Println("> ok", out)
		}
	}
}
