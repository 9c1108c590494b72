package tpm_test

import (
	"testing"

	"github.com/hoheit/hoheit/internal/attest/tpm"
	"github.com/hoheit/hoheit/internal/attest/tpm/tpmtest"
)

// TestBuildEventLogReplays: the logs tpmtest builds replay, with
// go-eventlog, to the PCRs tpmtest computes without it.
func TestBuildEventLogReplays(t *testing.T) {
	events := tpmtest.BootEvents()
	pcrs := tpmtest.PCRs(events)
	log := tpmtest.BuildEventLog(events)
	if err := tpm.ReplayEventLog(log, pcrs); err != nil {
		t.Fatalf("replay of a consistent log: %v", err)
	}
	pcrs[4] = make([]byte, 32)
	if err := tpm.ReplayEventLog(log, pcrs); err == nil {
		t.Fatal("replay accepted a PCR 4 that the log does not produce")
	}
}
