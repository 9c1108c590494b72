//go:build integration

package tpm_test

import (
	"bytes"
	"context"
	"testing"

	pb "github.com/google/go-tpm-tools/proto/attest"

	"github.com/hoheit/hoheit/internal/attest"
	"github.com/hoheit/hoheit/internal/attest/tpm"
	"github.com/hoheit/hoheit/internal/attest/tpm/tpmtest"
)

func TestSwtpm(t *testing.T) {
	ca := tpmtest.NewSwtpmCA(t)
	otherCA := tpmtest.NewSwtpmCA(t)
	// The validator always trusts ca (whose root and intermediate exist once
	// a swtpm was set up with it); otherCA's TPMs must fail.
	trusted := tpmtest.StartSwtpm(t, ca)
	rd := testReportData("swtpm join")
	payload := []byte(`{"certificate":"...","sealed_keys":"..."}`)

	cases := []struct {
		name       string
		ca         *tpmtest.SwtpmCA
		unlogged   []tpmtest.Event
		register   bool
		validateRD [64]byte
		tamper     func(t *testing.T, ev []byte) []byte
		reason     string
		akTrust    string
	}{
		{name: "registered AK", ca: ca, register: true, akTrust: tpm.AKTrustRegistered},
		{name: "EK chain to swtpm local CA", ca: ca, akTrust: tpm.AKTrustEKChain},
		{name: "PCR extended outside the event log", ca: ca, unlogged: []tpmtest.Event{{PCR: 0, Type: tpmtest.EventPostCode, Data: []byte("unlogged")}}, reason: attest.ReasonEventLog},
		{name: "wrong report data", ca: ca, validateRD: testReportData("other join"), reason: attest.ReasonReportData},
		{
			name: "quote signature altered", ca: ca, register: true,
			tamper: func(t *testing.T, ev []byte) []byte {
				return editEvidence(t, ev, func(att *pb.Attestation, _ *[]byte) {
					q, _ := tpm.SHA256Quote(att.Quotes)
					q.RawSig[len(q.RawSig)/2] ^= 0x80
				})
			},
			reason: attest.ReasonSignature,
		},
		{name: "EK certificate from another CA", ca: otherCA, reason: attest.ReasonUntrustedKey},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := tpmtest.StartSwtpm(t, c.ca)
			is := s.Open(t, s.Boot(t, tpmtest.BootEvents(), c.unlogged))
			if is.EKCertificate() == nil {
				t.Fatal("swtpm_setup's EK certificate was not found in NV")
			}
			ctx := context.Background()
			ev, err := is.Issue(ctx, rd)
			if err != nil {
				t.Fatalf("Issue: %v", err)
			}
			cfg := tpm.ValidatorConfig{EKRoots: trusted.EKRoots, EKIntermediates: trusted.EKIntermediates}
			if c.register {
				cfg.RegisteredAKs = registered(akPKIX(t, is))
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
			if tpm.IsWrapped(w) != (c.akTrust == tpm.AKTrustEKChain) {
				t.Fatalf("wrapped = %v for AK trust %s", tpm.IsWrapped(w), c.akTrust)
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
	ca := tpmtest.NewSwtpmCA(t)
	rd := testReportData("swtpm join")
	ctx := context.Background()
	events := tpmtest.BootEvents()

	a, b := tpmtest.StartSwtpm(t, ca), tpmtest.StartSwtpm(t, ca)
	first, second := a.Open(t, a.Boot(t, events, nil)), b.Open(t, b.Boot(t, events, nil))

	v, err := tpm.NewValidator(tpm.ValidatorConfig{EKRoots: a.EKRoots, EKIntermediates: a.EKIntermediates})
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
	rootOnly, err := tpm.NewValidator(tpm.ValidatorConfig{EKRoots: a.EKRoots})
	if err != nil {
		t.Fatal(err)
	}
	_, err = rootOnly.Validate(ctx, ev, rd)
	wantReason(t, err, attest.ReasonUntrustedKey)
}
