package server

import (
	"bytes"
	"context"
	"net/http"
	"testing"

	"github.com/hoheit/hoheit/internal/api"
	"github.com/hoheit/hoheit/internal/attest"
	"github.com/hoheit/hoheit/internal/attest/tpm/tpmtest"
)

// TestTPMJoin joins with go-tpm-tools' simulator: once with an attestation
// key registered in advance, once trusted through its EK certificate, where
// only the TPM can open the response.
func TestTPMJoin(t *testing.T) {
	extra := []tpmtest.Event{{PCR: 9, Type: tpmtest.EventEFIAction, Data: []byte("an unexpected boot loader")}}
	tests := []struct {
		name     string
		ek       bool
		register bool
		logged   []tpmtest.Event
		unlogged []tpmtest.Event
		reason   string
	}{
		{name: "registered AK", register: true},
		{name: "AK through the EK certificate, response wrapped", ek: true},
		{name: "a PCR that differs", register: true, logged: extra, reason: attest.ReasonMeasurement},
		{name: "a PCR extended outside the event log", register: true, unlogged: []tpmtest.Event{{PCR: 4, Type: tpmtest.EventEFIAction, Data: []byte("hidden")}}, reason: attest.ReasonEventLog},
		{name: "AK neither registered nor EK-certified", reason: attest.ReasonUntrustedKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, harnessOpts{})
			var ca *tpmtest.EKCA
			if tt.ek {
				ca = h.ekca
			}
			iss := tpmtest.SimulatorWithEK(t, ca, append(tpmtest.BootEvents(), tt.logged...), tt.unlogged)
			if tt.register {
				ak, err := iss.AKPublic()
				if err != nil {
					t.Fatal(err)
				}
				h.aks.add(ak)
			}
			ctx := context.Background()
			r := h.newJoin("tpm-1", "tpm-node", iss)
			var wr api.WrappedResponse
			st, e := h.post(api.PathJoin, r.JoinRequest, &wr, nil)
			if tt.reason != "" {
				if st != http.StatusForbidden || e.Reason != tt.reason {
					t.Fatalf("status %d %+v, want refusal %s", st, e, tt.reason)
				}
				return
			}
			if st != 200 {
				t.Fatalf("join: %d %+v", st, e)
			}
			if tt.ek && bytes.HasPrefix(wr.Response, []byte("{")) {
				t.Fatal("an EK-trusted join answered in the clear")
			}
			// The agent, with the same TPM, unwraps and opens its keys.
			a := h.agent("tpm-2", "tpm-node", iss)
			if err := a.Join(ctx); err != nil {
				t.Fatalf("agent join: %v", err)
			}
			if _, ok := a.Key(api.PurposeDisk); !ok {
				t.Fatal("no disk key")
			}
			if n := h.node("tpm-2"); n.HardwareID == "" || n.Variant != attest.VariantTPM {
				t.Errorf("node %+v", n)
			}
		})
	}
}

// TestTPMWrappedResponseNeedsTheTPM: a response wrapped for one TPM cannot
// be opened by another, so an attestation key copied next to a foreign EK
// certificate gets nothing.
func TestTPMWrappedResponseNeedsTheTPM(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	iss := tpmtest.SimulatorWithEK(t, h.ekca, tpmtest.BootEvents(), nil)
	r := h.newJoin("tpm-w", "tpm-node", iss)
	var wr api.WrappedResponse
	if st, e := h.post(api.PathJoin, r.JoinRequest, &wr, nil); st != 200 {
		t.Fatalf("join: %d %+v", st, e)
	}
	iss.Close()
	other := tpmtest.SimulatorWithEK(t, tpmtest.NewEKCA(t, "another manufacturer"), tpmtest.BootEvents(), nil)
	if _, err := other.UnwrapResponse(context.Background(), wr.Response); err == nil {
		t.Fatal("another TPM opened the wrapped response")
	}
}
