package tpm

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-tpm-tools/simulator"
	"github.com/google/go-tpm/legacy/tpm2"

	"github.com/hoheit/hoheit/internal/attest"
)

// simOpts describes the TPM a test gets from go-tpm-tools' simulator.
type simOpts struct {
	ekCA *testCA // when set, the TPM gets an EK certificate signed by it
	// unlogged are extended into the PCRs but left out of the event log.
	unlogged []logEvent
}

// openSim returns an Issuer on a fresh simulated TPM that booted bootEvents.
// The simulator is one global instance: a second openSim waits until the
// first Issuer is closed, so tests using it do not run in parallel.
func openSim(t testing.TB, o simOpts) *Issuer {
	t.Helper()
	sim, err := simulator.Get()
	if err != nil {
		t.Fatalf("starting TPM simulator: %v", err)
	}
	events := bootEvents()
	extendEvents(t, sim, events)
	extendEvents(t, sim, o.unlogged)
	if o.ekCA != nil {
		provisionEKCert(t, sim, o.ekCA)
	}
	is, err := Open(context.Background(), IssuerConfig{RW: sim, EventLogPath: writeLog(t, events)})
	if err != nil {
		sim.Close()
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { is.Close() })
	return is
}

func TestValidate(t *testing.T) {
	ca := newTestCA(t, "EK root")
	otherCA := newTestCA(t, "another EK root")
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
		roots      *testCA // EKRoots of the validator
		validateRD [64]byte
		tamper     func(t *testing.T, ev []byte) []byte
		reason     string
		akTrust    string
	}{
		{name: "registered AK", trust: registerAK, akTrust: AKTrustRegistered},
		{name: "EK chain", sim: simOpts{ekCA: ca}, trust: ekChain, roots: ca, akTrust: AKTrustEKChain},
		{name: "registration wins over EK chain", sim: simOpts{ekCA: ca}, trust: registerAK, roots: ca, akTrust: AKTrustRegistered},
		{
			name:   "PCR extended outside the event log",
			sim:    simOpts{unlogged: []logEvent{{4, evEFIAction, []byte("hidden bootkit")}}},
			trust:  registerAK,
			reason: attest.ReasonEventLog,
		},
		{
			name:  "event log removed",
			trust: registerAK,
			tamper: func(t *testing.T, ev []byte) []byte {
				return editEvidence(t, ev, func(e *evidence) { e.att.EventLog = nil })
			},
			reason: attest.ReasonEventLog,
		},
		{name: "wrong report data", trust: registerAK, validateRD: testReportData("join 2"), reason: attest.ReasonReportData},
		{
			name:  "quote signature altered",
			trust: registerAK,
			tamper: func(t *testing.T, ev []byte) []byte {
				return editEvidence(t, ev, func(e *evidence) {
					q, _ := sha256Quote(e.att.Quotes)
					q.RawSig[len(q.RawSig)-1] ^= 1
				})
			},
			reason: attest.ReasonSignature,
		},
		{
			name:  "PCR value altered",
			trust: registerAK,
			tamper: func(t *testing.T, ev []byte) []byte {
				return editEvidence(t, ev, func(e *evidence) {
					q, _ := sha256Quote(e.att.Quotes)
					q.Pcrs.Pcrs[7][0] ^= 1
				})
			},
			reason: attest.ReasonSignature,
		},
		{
			name:  "AK attributes changed to unrestricted",
			trust: registerAK,
			tamper: func(t *testing.T, ev []byte) []byte {
				return editEvidence(t, ev, func(e *evidence) {
					pub, err := tpm2.DecodePublic(e.att.AkPub)
					if err != nil {
						t.Fatal(err)
					}
					pub.Attributes &^= tpm2.FlagRestricted
					if e.att.AkPub, err = pub.Encode(); err != nil {
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
				return editEvidence(t, ev, func(e *evidence) { e.ekCert = []byte("not a certificate") })
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
			cfg := ValidatorConfig{RegisteredAKs: registered()}
			if c.trust == registerAK {
				cfg.RegisteredAKs = registered([]byte("some other key"), akPKIX(t, is))
			}
			if c.roots != nil {
				cfg.EKRoots = c.roots.pool()
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
			claims, err := v.Validate(context.Background(), ev, vrd)
			wantReason(t, err, c.reason)
			if c.reason != "" {
				return
			}
			checkClaims(t, is, claims, c.akTrust)
		})
	}
}

func checkClaims(t *testing.T, is *Issuer, claims *attest.Claims, akTrust string) {
	t.Helper()
	if claims.Variant != attest.VariantTPM || claims.TPM == nil || claims.Insecure {
		t.Fatalf("claims = %+v", claims)
	}
	if claims.TPM.AKTrust != akTrust {
		t.Errorf("AKTrust = %q, want %q", claims.TPM.AKTrust, akTrust)
	}
	want := expectedPCRs(bootEvents())
	if len(claims.TPM.PCRs) != len(want) {
		t.Errorf("claims have %d PCRs, want %d", len(claims.TPM.PCRs), len(want))
	}
	for i, w := range want {
		if !bytes.Equal(claims.TPM.PCRs[i], w) {
			t.Errorf("PCR %d = %x, want %x", i, claims.TPM.PCRs[i], w)
		}
	}
	var id []byte
	if akTrust == AKTrustEKChain {
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

// editEvidence parses evidence, lets edit change it, and encodes it again.
func editEvidence(t *testing.T, ev []byte, edit func(*evidence)) []byte {
	t.Helper()
	e, err := parseEvidence(ev)
	if err != nil {
		t.Fatal(err)
	}
	edit(e)
	b, err := marshalEvidence(e.att, e.ekCert)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestWrapUnwrap(t *testing.T) {
	ca := newTestCA(t, "EK root")
	rd := testReportData("join")
	payload := []byte(`{"certificate":"...","sealed_keys":"..."}`)
	ctx := context.Background()

	cases := []struct {
		name    string
		ekCA    *testCA
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
			cfg := ValidatorConfig{EKRoots: ca.pool()}
			if c.reg {
				cfg.RegisteredAKs = registered(akPKIX(t, is))
			}
			v, err := NewValidator(cfg)
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
			if got := isWrapped(w); got != c.wrapped {
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
			for _, at := range []int{len(wrapMagic) + 8, len(w) / 2, len(w) - 1} {
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
	v, err := NewValidator(ValidatorConfig{RegisteredAKs: registered()})
	if err != nil {
		t.Fatal(err)
	}
	claims := &attest.Claims{Variant: attest.VariantTPM, TPM: &attest.TPMClaims{AKTrust: AKTrustRegistered}}
	if _, err := v.WrapResponse(claims, nil, append(bytes.Clone(wrapMagic), 1, 2, 3)); err == nil {
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
	ca := newTestCA(t, "EK root")
	rd := testReportData("join")
	ctx := context.Background()
	v, err := NewValidator(ValidatorConfig{EKRoots: ca.pool()})
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
	noEK := func() *Issuer { second.Close(); return openSim(t, simOpts{}) }()
	if _, err := noEK.UnwrapResponse(ctx, w); err == nil {
		t.Fatal("a TPM without EK certificate unwrapped the response")
	}
}

func TestNewValidatorNeedsTrust(t *testing.T) {
	if _, err := NewValidator(ValidatorConfig{}); err == nil {
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
	log := writeLog(t, nil)
	var keys [][]byte
	for range 2 {
		is, err := Open(context.Background(), IssuerConfig{RW: nopCloser{sim}, EventLogPath: log})
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, akPKIX(t, is))
		is.Close()
	}
	if !bytes.Equal(keys[0], keys[1]) {
		t.Fatal("AK changed between two opens of the same TPM")
	}

	is, err := Open(context.Background(), IssuerConfig{RW: nopCloser{sim}, EventLogPath: log})
	if err != nil {
		t.Fatal(err)
	}
	is.Close()
	if _, err := is.Issue(context.Background(), testReportData("late")); err == nil {
		t.Fatal("a closed issuer issued evidence")
	}
	if _, err := is.UnwrapResponse(context.Background(), append(bytes.Clone(wrapMagic), 1)); err == nil {
		t.Fatal("a closed issuer unwrapped a response")
	}
}

type nopCloser struct{ *simulator.Simulator }

func (nopCloser) Close() error { return nil }

func TestOpenErrors(t *testing.T) {
	ctx := context.Background()
	log := writeLog(t, bootEvents())
	cases := []struct {
		name string
		cfg  func() IssuerConfig
		want string
	}{
		{"missing device", func() IssuerConfig {
			return IssuerConfig{Device: filepath.Join(t.TempDir(), "tpmrm0"), EventLogPath: log}
		}, "does not exist"},
		{"nothing listening", func() IssuerConfig {
			return IssuerConfig{Device: "tcp://127.0.0.1:1", EventLogPath: log}
		}, "connecting"},
		{"missing event log", func() IssuerConfig {
			sim, err := simulator.Get()
			if err != nil {
				t.Fatal(err)
			}
			return IssuerConfig{RW: sim, EventLogPath: filepath.Join(t.TempDir(), "none")}
		}, "event log"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			is, err := Open(ctx, c.cfg())
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
