//go:build integration

package tpm

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hoheit/hoheit/internal/attest"
)

// swtpmCA is a swtpm local CA directory: swtpm_localca creates its root and
// intermediate ("issuer") on first use.
type swtpmCA struct {
	dir string
}

func newSwtpmCA(t *testing.T) *swtpmCA {
	t.Helper()
	return &swtpmCA{dir: t.TempDir()}
}

func (ca *swtpmCA) pool(t *testing.T, file string) *x509.CertPool {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(ca.dir, file))
	if err != nil {
		t.Fatalf("reading swtpm local CA certificate: %v", err)
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		t.Fatalf("%s is not PEM", file)
	}
	cert, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	p := x509.NewCertPool()
	p.AddCert(cert)
	return p
}

func (ca *swtpmCA) roots(t *testing.T) *x509.CertPool {
	return ca.pool(t, "swtpm-localca-rootca-cert.pem")
}

func (ca *swtpmCA) intermediates(t *testing.T) *x509.CertPool {
	return ca.pool(t, "issuercert.pem")
}

// swtpm is a running swtpm with an EK certificate from its local CA.
type swtpm struct {
	addr string // tcp://127.0.0.1:PORT
}

// startSwtpm manufactures a TPM state with swtpm_setup (EK, EK certificate
// and platform certificate signed by ca), starts swtpm on free loopback
// ports, and kills it when the test ends.
func startSwtpm(t *testing.T, ca *swtpmCA) *swtpm {
	t.Helper()
	for _, tool := range []string{"swtpm", "swtpm_setup", "swtpm_localca"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is not installed (Debian packages swtpm and swtpm-tools; scripts/test-deps.sh installs them): %v", tool, err)
		}
	}
	dir := t.TempDir()
	state := filepath.Join(dir, "state")
	if err := os.Mkdir(state, 0o700); err != nil {
		t.Fatal(err)
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
			t.Fatal(err)
		}
	}
	setup := exec.Command("swtpm_setup", "--tpm2", "--tpm-state", state,
		"--create-ek-cert", "--create-platform-cert", "--config", filepath.Join(dir, "swtpm_setup.conf"))
	if out, err := setup.CombinedOutput(); err != nil {
		t.Fatalf("swtpm_setup: %v\n%s", err, out)
	}

	port, ctrl := freePort(t), freePort(t)
	cmd := exec.Command("swtpm", "socket", "--tpm2",
		"--tpmstate", "dir="+state,
		"--server", fmt.Sprintf("type=tcp,port=%d,bindaddr=127.0.0.1", port),
		"--ctrl", fmt.Sprintf("type=tcp,port=%d,bindaddr=127.0.0.1", ctrl),
		"--flags", "startup-clear,not-need-init")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting swtpm: %v", err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("swtpm did not listen on %s: %v\n%s", addr, err, stderr.String())
		}
		time.Sleep(20 * time.Millisecond) // polling a port, bounded by the deadline
	}
	return &swtpm{addr: "tcp://" + addr}
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// boot extends events (and unlogged ones) into the swtpm, as firmware would,
// over its own connection.
func (s *swtpm) boot(t *testing.T, events, unlogged []logEvent) {
	t.Helper()
	rw, err := dialTCP(context.Background(), strings.TrimPrefix(s.addr, "tcp://"))
	if err != nil {
		t.Fatal(err)
	}
	defer rw.Close()
	extendEvents(t, rw, events)
	extendEvents(t, rw, unlogged)
}

func (s *swtpm) open(t *testing.T, logPath string) *Issuer {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	is, err := Open(ctx, IssuerConfig{Device: s.addr, EventLogPath: logPath})
	if err != nil {
		t.Fatalf("Open(%s): %v", s.addr, err)
	}
	t.Cleanup(func() { is.Close() })
	return is
}

func TestSwtpm(t *testing.T) {
	ca := newSwtpmCA(t)
	otherCA := newSwtpmCA(t)
	rd := testReportData("swtpm join")
	payload := []byte(`{"certificate":"...","sealed_keys":"..."}`)

	cases := []struct {
		name       string
		ca         *swtpmCA
		unlogged   []logEvent
		register   bool
		validateRD [64]byte
		tamper     func(t *testing.T, ev []byte) []byte
		reason     string
		akTrust    string
	}{
		{name: "registered AK", ca: ca, register: true, akTrust: AKTrustRegistered},
		{name: "EK chain to swtpm local CA", ca: ca, akTrust: AKTrustEKChain},
		{name: "PCR extended outside the event log", ca: ca, unlogged: []logEvent{{0, evPostCode, []byte("unlogged")}}, reason: attest.ReasonEventLog},
		{name: "wrong report data", ca: ca, validateRD: testReportData("other join"), reason: attest.ReasonReportData},
		{
			name: "quote signature altered", ca: ca, register: true,
			tamper: func(t *testing.T, ev []byte) []byte {
				return editEvidence(t, ev, func(e *evidence) {
					q, _ := sha256Quote(e.att.Quotes)
					q.RawSig[len(q.RawSig)/2] ^= 0x80
				})
			},
			reason: attest.ReasonSignature,
		},
		{name: "EK certificate from another CA", ca: otherCA, reason: attest.ReasonUntrustedKey},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := startSwtpm(t, c.ca)
			events := bootEvents()
			s.boot(t, events, c.unlogged)
			is := s.open(t, writeLog(t, events))
			if is.EKCertificate() == nil {
				t.Fatal("swtpm_setup's EK certificate was not found in NV")
			}
			ctx := context.Background()
			ev, err := is.Issue(ctx, rd)
			if err != nil {
				t.Fatalf("Issue: %v", err)
			}
			// The CA of the validator is always ca; otherCA's TPMs must fail.
			cfg := ValidatorConfig{EKRoots: ca.roots(t), EKIntermediates: ca.intermediates(t)}
			if c.register {
				cfg.RegisteredAKs = registered(akPKIX(t, is))
			}
			v, err := NewValidator(cfg)
			if err != nil {
				t.Fatal(err)
			}
			if c.tamper != nil {
				ev = c.tamper(t, ev)
			}
			vrd := rd
			if c.validateRD != ([64]byte{}) {
				vrd = c.validateRD
			}
			claims, err := v.Validate(ctx, ev, vrd)
			wantReason(t, err, c.reason)
			if c.reason != "" {
				return
			}
			checkClaims(t, is, claims, c.akTrust)

			w, err := v.WrapResponse(claims, ev, payload)
			if err != nil {
				t.Fatalf("WrapResponse: %v", err)
			}
			if isWrapped(w) != (c.akTrust == AKTrustEKChain) {
				t.Fatalf("wrapped = %v for AK trust %s", isWrapped(w), c.akTrust)
			}
			got, err := is.UnwrapResponse(ctx, w)
			if err != nil {
				t.Fatalf("UnwrapResponse: %v", err)
			}
			if !bytes.Equal(got, payload) {
				t.Fatalf("unwrapped %q, want %q", got, payload)
			}
		})
	}
}

// TestSwtpmUnwrapOnAnotherTPM: two swtpms with EK certificates from the same
// local CA; a response wrapped for the first does not open on the second.
func TestSwtpmUnwrapOnAnotherTPM(t *testing.T) {
	ca := newSwtpmCA(t)
	rd := testReportData("swtpm join")
	ctx := context.Background()
	events := bootEvents()
	log := writeLog(t, events)

	a, b := startSwtpm(t, ca), startSwtpm(t, ca)
	a.boot(t, events, nil)
	b.boot(t, events, nil)
	first, second := a.open(t, log), b.open(t, log)

	v, err := NewValidator(ValidatorConfig{EKRoots: ca.roots(t), EKIntermediates: ca.intermediates(t)})
	if err != nil {
		t.Fatal(err)
	}
	ev, err := first.Issue(ctx, rd)
	if err != nil {
		t.Fatal(err)
	}
	claims, err := v.Validate(ctx, ev, rd)
	if err != nil {
		t.Fatal(err)
	}
	w, err := v.WrapResponse(claims, ev, []byte(`{"disk_key":"..."}`))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := second.UnwrapResponse(ctx, w); err == nil {
		t.Fatal("another swtpm unwrapped the response")
	}
	if _, err := first.UnwrapResponse(ctx, w); err != nil {
		t.Fatalf("the TPM it was wrapped for could not unwrap it: %v", err)
	}

	// The EK root alone is not enough when the intermediate is unknown.
	rootOnly, err := NewValidator(ValidatorConfig{EKRoots: ca.roots(t)})
	if err != nil {
		t.Fatal(err)
	}
	_, err = rootOnly.Validate(ctx, ev, rd)
	wantReason(t, err, attest.ReasonUntrustedKey)
}
