package server

import (
	"testing"

	"github.com/hoheit/hoheit/internal/attest"
	"github.com/hoheit/hoheit/internal/attest/tpm"
)

// registerTPM registers the TPM validator with attestation keys the test
// registers in advance.
func registerTPM(t *testing.T, reg *attest.Registry, aks *akList) {
	t.Helper()
	v, err := tpm.NewValidator(tpm.ValidatorConfig{RegisteredAKs: aks.list})
	if err != nil {
		t.Fatal(err)
	}
	reg.Register(v)
}

// writeTPMRefValues is filled per test from a measured node.
func (h *harness) writeTPMRefValues() {}
