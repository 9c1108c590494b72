package tpm

import (
	pb "github.com/google/go-tpm-tools/proto/attest"
	tpmpb "github.com/google/go-tpm-tools/proto/tpm"
)

// Exports for the tests in package tpm_test. Those tests take their TPMs
// from tpmtest, which imports this package, so they cannot be inside it.

var (
	IsWrapped      = isWrapped
	WrapMagic      = wrapMagic
	SHA256Quote    = sha256Quote
	AKOf           = akOf
	ReportDataFor  = testReportData
	FuzzReportData = fuzzReportData
)

// ReplayEventLog replays log against the SHA-256 PCR values pcrs.
func ReplayEventLog(log []byte, pcrs map[uint32][]byte) error {
	return replayEventLog(log, &tpmpb.PCRs{Hash: tpmpb.HashAlgo_SHA256, Pcrs: pcrs})
}

// EditEvidence decodes evidence, lets edit change its attestation and EK
// certificate, and encodes it again.
func EditEvidence(ev []byte, edit func(att *pb.Attestation, ekCert *[]byte)) ([]byte, error) {
	e, err := parseEvidence(ev)
	if err != nil {
		return nil, err
	}
	edit(e.att, &e.ekCert)
	return marshalEvidence(e.att, e.ekCert)
}
