package tpmtest_test

import (
	"bytes"
	"context"
	"fmt"
	"runtime"
	"strings"
	"testing"

	"github.com/hoheit/hoheit/internal/attest"
	"github.com/hoheit/hoheit/internal/attest/tpm"
	"github.com/hoheit/hoheit/internal/attest/tpm/tpmtest"
)

// TestSimulator: a simulated TPM's evidence validates with its AK
// registered, and its claims carry the PCRs that PCRs computes.
func TestSimulator(t *testing.T) {
	events := append(tpmtest.BootEvents(), tpmtest.Event{PCR: 9, Type: tpmtest.EventEFIAction, Data: []byte("kernel")})
	is := tpmtest.Simulator(t, events, nil)
	claims := validate(t, is, tpm.ValidatorConfig{})
	for i, want := range tpmtest.PCRs(events) {
		if !bytes.Equal(claims.TPM.PCRs[i], want) {
			t.Errorf("PCR %d = %x, want %x", i, claims.TPM.PCRs[i], want)
		}
	}
}

func TestSimulatorWithEK(t *testing.T) {
	ca := tpmtest.NewEKCA(t, "EK root")
	is := tpmtest.SimulatorWithEK(t, ca, tpmtest.BootEvents(), nil)
	if is.EKCertificate() == nil {
		t.Fatal("no EK certificate")
	}
	claims := validate(t, is, tpm.ValidatorConfig{EKRoots: ca.Pool()})
	if claims.TPM.AKTrust != tpm.AKTrustEKChain {
		t.Fatalf("AK trust %q, want %q", claims.TPM.AKTrust, tpm.AKTrustEKChain)
	}
}

// validate issues evidence on is and validates it with cfg, registering
// is's AK when cfg trusts no EK root.
func validate(t *testing.T, is *tpm.Issuer, cfg tpm.ValidatorConfig) *attest.Claims {
	t.Helper()
	if cfg.EKRoots == nil {
		ak, err := is.AKPublic()
		if err != nil {
			t.Fatal(err)
		}
		cfg.RegisteredAKs = func() [][]byte { return [][]byte{ak} }
	}
	v, err := tpm.NewValidator(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var rd [64]byte
	copy(rd[:], "tpmtest")
	ev, err := is.Issue(context.Background(), rd)
	if err != nil {
		t.Fatal(err)
	}
	claims, err := v.Validate(context.Background(), ev, rd)
	if err != nil {
		t.Fatalf("Validate: %v", err)
	}
	return claims
}

// fatalTB records a Fatal instead of failing the test.
type fatalTB struct {
	testing.TB
	msg string
}

func (f *fatalTB) Helper() {}

func (f *fatalTB) Fatal(args ...any) {
	f.msg = fmt.Sprint(args...)
	runtime.Goexit()
}

func (f *fatalTB) Fatalf(format string, args ...any) {
	f.msg = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

// TestStartSwtpmFailsWithoutSwtpm: a machine without swtpm fails the test
// rather than skipping it.
func TestStartSwtpmFailsWithoutSwtpm(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	tb := &fatalTB{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		tpmtest.StartSwtpm(tb, tpmtest.NewSwtpmCA(tb))
	}()
	<-done
	if !strings.Contains(tb.msg, "swtpm is not installed") {
		t.Fatalf("StartSwtpm without swtpm: Fatal(%q), want it to say swtpm is not installed", tb.msg)
	}
}
