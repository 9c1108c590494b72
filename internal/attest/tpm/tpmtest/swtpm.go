package tpmtest

import (
	"context"
	"crypto/x509"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-tpm/legacy/tpm2"

	"github.com/hoheit/hoheit/internal/attest/tpm"
)

// SwtpmCA is a swtpm local CA: a directory in which swtpm_localca creates a
// root and an intermediate ("issuer") on first use, and with which it then
// signs the EK certificates of every swtpm started with it.
type SwtpmCA struct {
	dir string
}

// NewSwtpmCA returns a new, still empty, local CA. Several swtpms started
// with the same CA have EK certificates that chain to the same root.
func NewSwtpmCA(tb testing.TB) *SwtpmCA {
	tb.Helper()
	return &SwtpmCA{dir: tb.TempDir()}
}

// Swtpm is a running swtpm process whose TPM was manufactured by
// swtpm_setup with an RSA EK and an EK certificate from a SwtpmCA.
type Swtpm struct {
	// Device is the TPM's address for tpm.IssuerConfig.Device:
	// "tcp://127.0.0.1:PORT".
	Device string
	// EKRoots and EKIntermediates are the CA's root and intermediate, for
	// tpm.ValidatorConfig.
	EKRoots, EKIntermediates *x509.CertPool
	// RootsPEM and IntermediatesPEM are files holding the root and the
	// intermediate in PEM. Both are in EKRootsDir, which holds nothing else
	// and so serves as a server's attestation.tpm.ek_roots.
	RootsPEM, IntermediatesPEM string
	EKRootsDir                 string
}

// StartSwtpm manufactures a TPM state with swtpm_setup (EK, EK certificate
// and platform certificate signed by ca, SHA-256 PCR bank), starts swtpm on
// a free loopback port and waits until it answers TPM commands. The
// process is killed when the test ends. The test fails when swtpm,
// swtpm_setup or swtpm_localca is not installed.
func StartSwtpm(tb testing.TB, ca *SwtpmCA) *Swtpm {
	tb.Helper()
	for _, tool := range []string{"swtpm", "swtpm_setup", "swtpm_localca"} {
		if _, err := exec.LookPath(tool); err != nil {
			tb.Fatalf("%s is not installed (Debian packages swtpm and swtpm-tools; scripts/test-deps.sh installs them): %v", tool, err)
		}
	}
	dir := tb.TempDir()
	state := filepath.Join(dir, "state")
	if err := os.Mkdir(state, 0o700); err != nil {
		tb.Fatal(err)
	}
	localcaTool, _ := exec.LookPath("swtpm_localca")
	files := map[string]string{
		"swtpm-localca.conf":    fmt.Sprintf("statedir = %[1]s\nsigningkey = %[1]s/signkey.pem\nissuercert = %[1]s/issuercert.pem\ncertserial = %[1]s/certserial\n", ca.dir),
		"swtpm-localca.options": "--platform-manufacturer hoheit\n--platform-version 2.1\n--platform-model test\n",
		"swtpm_setup.conf": fmt.Sprintf("create_certs_tool = %s\ncreate_certs_tool_config = %s\ncreate_certs_tool_options = %s\nactive_pcr_banks = sha256\n",
			localcaTool, filepath.Join(dir, "swtpm-localca.conf"), filepath.Join(dir, "swtpm-localca.options")),
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			tb.Fatal(err)
		}
	}
	setup := exec.Command("swtpm_setup", "--tpm2", "--tpm-state", state,
		"--create-ek-cert", "--create-platform-cert", "--config", filepath.Join(dir, "swtpm_setup.conf"))
	if out, err := setup.CombinedOutput(); err != nil {
		tb.Fatalf("swtpm_setup: %v\n%s", err, out)
	}

	s := &Swtpm{EKRootsDir: filepath.Join(dir, "ek-roots")}
	if err := os.Mkdir(s.EKRootsDir, 0o700); err != nil {
		tb.Fatal(err)
	}
	s.RootsPEM, s.EKRoots = copyCerts(tb, filepath.Join(ca.dir, "swtpm-localca-rootca-cert.pem"), filepath.Join(s.EKRootsDir, "root.pem"))
	s.IntermediatesPEM, s.EKIntermediates = copyCerts(tb, filepath.Join(ca.dir, "issuercert.pem"), filepath.Join(s.EKRootsDir, "intermediate.pem"))
	s.Device = "tcp://" + runSwtpm(tb, state)
	return s
}

// copyCerts copies the PEM certificates of the swtpm local CA file from to
// the file to, and returns to and a pool of the certificates.
func copyCerts(tb testing.TB, from, to string) (string, *x509.CertPool) {
	tb.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		tb.Fatalf("reading swtpm local CA certificate: %v", err)
	}
	p := x509.NewCertPool()
	if !p.AppendCertsFromPEM(b) {
		tb.Fatalf("%s holds no PEM certificate", from)
	}
	if err := os.WriteFile(to, b, 0o600); err != nil {
		tb.Fatal(err)
	}
	return to, p
}

// errExited says swtpm ended before it answered, typically because another
// process took its port between freePort and swtpm's bind.
var errExited = errors.New("swtpm exited")

// runSwtpm starts swtpm on the TPM state and returns its address once it
// answers. It tries a few ports, as a port found free may be taken before
// swtpm binds it.
func runSwtpm(tb testing.TB, state string) string {
	tb.Helper()
	for attempt := 1; ; attempt++ {
		addr := fmt.Sprintf("127.0.0.1:%d", freePort(tb))
		cmd := exec.Command("swtpm", "socket", "--tpm2",
			"--tpmstate", "dir="+state,
			"--server", "type=tcp,bindaddr=127.0.0.1,port="+strings.TrimPrefix(addr, "127.0.0.1:"),
			"--flags", "startup-clear,not-need-init")
		var stderr strings.Builder // read only after the process ended
		cmd.Stderr = &stderr
		killWithParent(cmd)
		if err := cmd.Start(); err != nil {
			tb.Fatalf("starting swtpm: %v", err)
		}
		exited := make(chan struct{})
		go func() {
			cmd.Wait()
			close(exited)
		}()
		stop := func() {
			cmd.Process.Kill()
			<-exited
		}
		err := waitReady(addr, exited, time.Now().Add(10*time.Second))
		if err == nil {
			tb.Cleanup(stop)
			return addr
		}
		stop()
		if errors.Is(err, errExited) && attempt < 3 {
			continue
		}
		tb.Fatalf("swtpm on %s: %v\n%s", addr, err, stderr.String())
	}
}

// waitReady polls addr until a TPM there answers a command, swtpm exits,
// or the deadline passes.
func waitReady(addr string, exited <-chan struct{}, deadline time.Time) error {
	for {
		select {
		case <-exited:
			return errExited
		default:
		}
		err := probe(addr, deadline)
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("did not answer: %w", err)
		}
		time.Sleep(20 * time.Millisecond) // polling a port, bounded by the deadline
	}
}

func probe(addr string, deadline time.Time) error {
	rw, err := dialTPM(addr, deadline)
	if err != nil {
		return err
	}
	defer rw.Close()
	_, err = tpm2.GetManufacturer(rw)
	return err
}

func freePort(tb testing.TB) int {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// Boot extends events and then unlogged into the TPM's PCRs, as firmware
// would, and returns the path of an event log that records only events.
// Call it once, before Open.
func (s *Swtpm) Boot(tb testing.TB, events, unlogged []Event) (eventLogPath string) {
	tb.Helper()
	rw, err := dialTPM(strings.TrimPrefix(s.Device, "tcp://"), time.Now().Add(30*time.Second))
	if err != nil {
		tb.Fatalf("connecting to swtpm: %v", err)
	}
	defer rw.Close()
	if err := Extend(rw, events); err != nil {
		tb.Fatal(err)
	}
	if err := Extend(rw, unlogged); err != nil {
		tb.Fatal(err)
	}
	return WriteEventLog(tb, events)
}

// Open opens an Issuer on the swtpm, as the agent does, with the event log
// at logPath. The Issuer is closed when the test ends, before the swtpm is
// killed.
func (s *Swtpm) Open(tb testing.TB, logPath string) *tpm.Issuer {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	is, err := tpm.Open(ctx, tpm.IssuerConfig{Device: s.Device, EventLogPath: logPath})
	if err != nil {
		tb.Fatalf("tpm.Open(%s): %v", s.Device, err)
	}
	tb.Cleanup(func() { is.Close() })
	return is
}

// tpmConn speaks raw TPM 2.0 commands over a TCP connection to swtpm.
// go-tpm reads a response with a single Read, which a stream socket may
// split, so Read returns exactly one whole response, framed by the size in
// its header. (The tpm package has the same framing, unexported, for
// tcp:// devices.)
type tpmConn struct {
	net.Conn
}

func dialTPM(addr string, deadline time.Time) (*tpmConn, error) {
	c, err := net.DialTimeout("tcp", addr, time.Until(deadline))
	if err != nil {
		return nil, err
	}
	c.SetDeadline(deadline)
	return &tpmConn{c}, nil
}

func (c *tpmConn) Read(p []byte) (int, error) {
	var hdr [10]byte // tag (2), size (4), response code (4)
	if _, err := io.ReadFull(c.Conn, hdr[:]); err != nil {
		return 0, fmt.Errorf("reading TPM response header: %w", err)
	}
	size := int(binary.BigEndian.Uint32(hdr[2:6]))
	if size < len(hdr) || size > len(p) {
		return 0, fmt.Errorf("TPM response claims %d bytes", size)
	}
	copy(p, hdr[:])
	if _, err := io.ReadFull(c.Conn, p[len(hdr):size]); err != nil {
		return 0, fmt.Errorf("reading TPM response: %w", err)
	}
	return size, nil
}
