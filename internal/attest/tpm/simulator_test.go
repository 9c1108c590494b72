package tpm_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"path/filepath"
	"strings"
	"testing"

	pb "github.com/google/go-tpm-tools/proto/attest"
	"github.com/google/go-tpm-tools/simulator"
	"github.com/google/go-tpm/legacy/tpm2"

	"github.com/hoheit/hoheit/internal/attest"
	"github.com/hoheit/hoheit/internal/attest/tpm"
	"github.com/hoheit/hoheit/internal/attest/tpm/tpmtest"
)

// simOpts describes the TPM a test gets from go-tpm-tools' simulator.
type simOpts struct {
	ekCA *tpmtest.EKCA // when set, the TPM gets an EK certificate signed by it
	// unlogged are extended into the PCRs but left out of the event log.
	unlogged []tpmtest.Event
}

// openSim returns an Issuer on a fresh simulated TPM that booted
// tpmtest.BootEvents. The simulator is one global instance: a second openSim
// waits until the first Issuer is closed, so tests using it do not run in
// parallel.
func openSim(t testing.TB, o simOpts) *tpm.Issuer {
	t.Helper()
	return tpmtest.SimulatorWithEK(t, o.ekCA, tpmtest.BootEvents(), o.unlogged)
}

func TestValidate(t *testing.T) {
	ca := tpmtest.NewEKCA(t, "EK root")
	otherCA := tpmtest.NewEKCA(t, "another EK root")
	rd := testReportData("join 1")

	type trust int
	const (
		registerAK trust = iota
		ekChain
		neither
	)
	cases := []struct {
		name       string
		sim        simOpts
		trust      trust
		roots      *tpmtest.EKCA // EKRoots of the validator
		validateRD [64]byte
		tamper     func(t *testing.T, ev []byte) []byte
		reason     string
		akTrust    string
	}{
		{name: "registered AK", trust: registerAK, akTrust: tpm.AKTrustRegistered},
		{name: "EK chain", sim: simOpts{ekCA: ca}, trust: ekChain, roots: ca, akTrust: tpm.AKTrustEKChain},
		{name: "registration wins over EK chain", sim: simOpts{ekCA: ca}, trust: registerAK, roots: ca, akTrust: tpm.AKTrustRegistered},
		{
			name:   "PCR extended outside the event log",
			sim:    simOpts{unlogged: []tpmtest.Event{{PCR: 4, Type: tpmtest.EventEFIAction, Data: []byte("hidden bootkit")}}},
			trust:  registerAK,
			reason: attest.ReasonEventLog,
		},
		{
			name:  "event log removed",
			trust: registerAK,
			tamper: func(t *testing.T, ev []byte) []byte {
				return editEvidence(t, ev, func(att *pb.Attestation, _ *[]byte) { att.EventLog = nil })
			},
			reason: attest.ReasonEventLog,
		},
		{name: "wrong report data", trust: registerAK, validateRD: testReportData("join 2"), reason: attest.ReasonReportData},
		{
			name:  "quote signature altered",
			trust: registerAK,
			tamper: func(t *testing.T, ev []byte) []byte {
				return editEvidence(t, ev, func(att *pb.Attestation, _ *[]byte) {
					q, _ := tpm.SHA256Quote(att.Quotes)
					q.RawSig[len(q.RawSig)-1] ^= 1
				})
			},
			reason: attest.ReasonSignature,
		},
		{
			name:  "PCR value altered",
			trust: registerAK,
			tamper: func(t *testing.T, ev []byte) []byte {
				return editEvidence(t, ev, func(att *pb.Attestation, _ *[]byte) {
					q, _ := tpm.SHA256Quote(att.Quotes)
					q.Pcrs.Pcrs[7][0] ^= 1
				})
			},
			reason: attest.ReasonSignature,
		},
		{
			name:  "AK attributes changed to unrestricted",
			trust: registerAK,
			tamper: func(t *testing.T, ev []byte) []byte {
				return editEvidence(t, ev, func(att *pb.Attestation, _ *[]byte) {
					pub, err := tpm2.DecodePublic(att.AkPub)
					if err != nil {
						t.Fatal(err)
					}
					pub.Attributes &^= tpm2.FlagRestricted
					if att.AkPub, err = pub.Encode(); err != nil {
						t.Fatal(err)
					}
				})
			},
			reason: attest.ReasonUntrustedKey,
		},
		{name: "AK not registered and no EK certificate", trust: neither, roots: ca, reason: attest.ReasonUntrustedKey},
		{name: "EK certificate from another CA", sim: simOpts{ekCA: otherCA}, trust: ekChain, roots: ca, reason: attest.ReasonUntrustedKey},
		{name: "EK certificate but no EK roots", sim: simOpts{ekCA: ca}, trust: ekChain, reason: attest.ReasonUntrustedKey},
		{
			name:  "EK certificate swapped for another TPM's",
			sim:   simOpts{ekCA: ca},
			trust: ekChain, roots: ca,
			tamper: func(t *testing.T, ev []byte) []byte {
				// A certificate for a key that is not this TPM's EK chains
				// fine; validation passes and only the wrap protects. See
				// TestUnwrapOnAnotherTPM. Here: garbage instead.
				return editEvidence(t, ev, func(_ *pb.Attestation, ekCert *[]byte) { *ekCert = []byte("not a certificate") })
			},
			reason: attest.ReasonUntrustedKey,
		},
		{name: "garbage", trust: registerAK, tamper: func(*testing.T, []byte) []byte { return []byte("\x0a\xff\xff\xff\xff\x0fgarbage") }, reason: attest.ReasonMalformed},
		{name: "empty", trust: registerAK, tamper: func(*testing.T, []byte) []byte { return nil }, reason: attest.ReasonMalformed},
		{
			name:   "unknown field appended",
			trust:  registerAK,
			tamper: func(_ *testing.T, ev []byte) []byte { return append(bytes.Clone(ev), 0xf8, 0x3f, 0x01) }, // field 1023, varint 1
			reason: attest.ReasonMalformed,
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			is := openSim(t, c.sim)
			ev, err := is.Issue(context.Background(), rd)
			if err != nil {
				t.Fatalf("Issue: %v", err)
			}
			cfg := tpm.ValidatorConfig{RegisteredAKs: registered()}
			if c.trust == registerAK {
				cfg.RegisteredAKs = registered([]byte("some other key"), akPKIX(t, is))
			}
			if c.roots != nil {
				cfg.EKRoots = c.roots.Pool()
			}
			v, err := tpm.NewValidator(cfg)
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
			claims, err := v.Validate(context.Background(), ev, vrd)
			wantReason(t, err, c.reason)
			if c.reason != "" {
				return
			}
			checkClaims(t, is, claims, c.akTrust)
		})
	}
}

func checkClaims(t *testing.T, is *tpm.Issuer, claims *attest.Claims, akTrust string) {
	t.Helper()
	if claims.Variant != attest.VariantTPM || claims.TPM == nil || claims.Insecure {
		t.Fatalf("claims = %+v", claims)
	}
	if claims.TPM.AKTrust != akTrust {
		t.Errorf("AKTrust = %q, want %q", claims.TPM.AKTrust, akTrust)
	}
	want := tpmtest.PCRs(tpmtest.BootEvents())
	if len(claims.TPM.PCRs) != len(want) {
		t.Errorf("claims have %d PCRs, want %d", len(claims.TPM.PCRs), len(want))
	}
	for i, w := range want {
		if !bytes.Equal(claims.TPM.PCRs[i], w) {
			t.Errorf("PCR %d = %x, want %x", i, claims.TPM.PCRs[i], w)
		}
	}
	var id []byte
	if akTrust == tpm.AKTrustEKChain {
		var err error
		if id, err = x509.MarshalPKIXPublicKey(is.EKCertificate().PublicKey); err != nil {
			t.Fatal(err)
		}
	} else {
		id = akPKIX(t, is)
	}
	sum := sha256.Sum256(id)
	if claims.HardwareID != hex.EncodeToString(sum[:]) {
		t.Errorf("HardwareID = %s, want SHA-256 of the %s key", claims.HardwareID, akTrust)
	}
}

func TestWrapUnwrap(t *testing.T) {
	ca := tpmtest.NewEKCA(t, "EK root")
	rd := testReportData("join")
	payload := []byte(`{"certificate":"...","sealed_keys":"..."}`)
	ctx := context.Background()

	cases := []struct {
		name    string
		ekCA    *tpmtest.EKCA
		reg     bool
		wrapped bool
	}{
		{name: "EK chain: wrapped for the TPM", ekCA: ca, wrapped: true},
		{name: "registered AK: plain", reg: true},
		{name: "registered AK with EK certificate: plain", ekCA: ca, reg: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			is := openSim(t, simOpts{ekCA: c.ekCA})
			cfg := tpm.ValidatorConfig{EKRoots: ca.Pool()}
			if c.reg {
				cfg.RegisteredAKs = registered(akPKIX(t, is))
			}
			v, err := tpm.NewValidator(cfg)
			if err != nil {
				t.Fatal(err)
			}
			ev, err := is.Issue(ctx, rd)
			if err != nil {
				t.Fatal(err)
			}
			claims, err := v.Validate(ctx, ev, rd)
			if err != nil {
				t.Fatalf("Validate: %v", err)
			}
			w, err := v.WrapResponse(claims, ev, payload)
			if err != nil {
				t.Fatalf("WrapResponse: %v", err)
			}
			if got := tpm.IsWrapped(w); got != c.wrapped {
				t.Fatalf("wrapped = %v, want %v", got, c.wrapped)
			}
			if c.wrapped && bytes.Contains(w, payload) {
				t.Fatal("wrapped response contains the payload in the clear")
			}
			got, err := is.UnwrapResponse(ctx, w)
			if err != nil {
				t.Fatalf("UnwrapResponse: %v", err)
			}
			if !bytes.Equal(got, payload) {
				t.Fatalf("unwrapped %q, want %q", got, payload)
			}
			if !c.wrapped {
				return
			}
			// Any changed byte of a wrapped response makes it fail: the
			// credential's HMAC or the GCM tag catches it.
			for _, at := range []int{len(tpm.WrapMagic) + 8, len(w) / 2, len(w) - 1} {
				bad := bytes.Clone(w)
				bad[at] ^= 1
				if _, err := is.UnwrapResponse(ctx, bad); err == nil {
					t.Errorf("unwrapped a response with byte %d changed", at)
				}
			}
			// The wrap is bound to the evidence the claims came from.
			other := *claims
			other.HardwareID = strings.Repeat("0", 64)
			if _, err := v.WrapResponse(&other, ev, payload); err == nil {
				t.Error("wrapped for evidence that does not match the claims")
			}
		})
	}
}

func TestWrapRefusesAmbiguousPlainPayload(t *testing.T) {
	v, err := tpm.NewValidator(tpm.ValidatorConfig{RegisteredAKs: registered()})
	if err != nil {
		t.Fatal(err)
	}
	claims := &attest.Claims{Variant: attest.VariantTPM, TPM: &attest.TPMClaims{AKTrust: tpm.AKTrustRegistered}}
	if _, err := v.WrapResponse(claims, nil, append(bytes.Clone(tpm.WrapMagic), 1, 2, 3)); err == nil {
		t.Fatal("a plain payload that looks wrapped was passed through")
	}
	for _, bad := range []*attest.Claims{nil, {Variant: attest.VariantSNP}, {Variant: attest.VariantTPM, TPM: &attest.TPMClaims{AKTrust: "guess"}}} {
		if _, err := v.WrapResponse(bad, nil, []byte("{}")); err == nil {
			t.Errorf("WrapResponse(%+v) did not fail", bad)
		}
	}
}

// TestUnwrapOnAnotherTPM: a response wrapped for one TPM's EK and AK does
// not open on another TPM, even one whose EK chains to the same root.
func TestUnwrapOnAnotherTPM(t *testing.T) {
	ca := tpmtest.NewEKCA(t, "EK root")
	rd := testReportData("join")
	ctx := context.Background()
	v, err := tpm.NewValidator(tpm.ValidatorConfig{EKRoots: ca.Pool()})
	if err != nil {
		t.Fatal(err)
	}

	first := openSim(t, simOpts{ekCA: ca})
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
	first.Close()

	second := openSim(t, simOpts{ekCA: ca})
	if _, err := second.UnwrapResponse(ctx, w); err == nil {
		t.Fatal("another TPM unwrapped the response")
	}
	noEK := func() *tpm.Issuer { second.Close(); return openSim(t, simOpts{}) }()
	if _, err := noEK.UnwrapResponse(ctx, w); err == nil {
		t.Fatal("a TPM without EK certificate unwrapped the response")
	}
}

func TestNewValidatorNeedsTrust(t *testing.T) {
	if _, err := tpm.NewValidator(tpm.ValidatorConfig{}); err == nil {
		t.Fatal("a validator that trusts nothing was created")
	}
}

func TestIssuerAKIsStable(t *testing.T) {
	// The AK is persisted: closing and reopening the same TPM gives the same
	// key, so a registration stays valid.
	sim, err := simulator.Get()
	if err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	log := tpmtest.WriteEventLog(t, nil)
	var keys [][]byte
	for range 2 {
		is, err := tpm.Open(context.Background(), tpm.IssuerConfig{RW: nopCloser{sim}, EventLogPath: log})
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, akPKIX(t, is))
		is.Close()
	}
	if !bytes.Equal(keys[0], keys[1]) {
		t.Fatal("AK changed between two opens of the same TPM")
	}

	is, err := tpm.Open(context.Background(), tpm.IssuerConfig{RW: nopCloser{sim}, EventLogPath: log})
	if err != nil {
		t.Fatal(err)
	}
	is.Close()
	if _, err := is.Issue(context.Background(), testReportData("late")); err == nil {
		t.Fatal("a closed issuer issued evidence")
	}
	if _, err := is.UnwrapResponse(context.Background(), append(bytes.Clone(tpm.WrapMagic), 1)); err == nil {
		t.Fatal("a closed issuer unwrapped a response")
	}
}

type nopCloser struct{ *simulator.Simulator }

func (nopCloser) Close() error { return nil }

func TestOpenErrors(t *testing.T) {
	ctx := context.Background()
	log := tpmtest.WriteEventLog(t, tpmtest.BootEvents())
	cases := []struct {
		name string
		cfg  func() tpm.IssuerConfig
		want string
	}{
		{"missing device", func() tpm.IssuerConfig {
			return tpm.IssuerConfig{Device: filepath.Join(t.TempDir(), "tpmrm0"), EventLogPath: log}
		}, "does not exist"},
		{"nothing listening", func() tpm.IssuerConfig {
			return tpm.IssuerConfig{Device: "tcp://127.0.0.1:1", EventLogPath: log}
		}, "connecting"},
		{"missing event log", func() tpm.IssuerConfig {
			sim, err := simulator.Get()
			if err != nil {
				t.Fatal(err)
			}
			return tpm.IssuerConfig{RW: sim, EventLogPath: filepath.Join(t.TempDir(), "none")}
		}, "event log"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			is, err := tpm.Open(ctx, c.cfg())
			if err == nil {
				is.Close()
				t.Fatal("Open succeeded")
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Open: %v, want it to mention %q", err, c.want)
			}
		})
	}
}
