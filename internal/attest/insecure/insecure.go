// Package insecure is the attestation variant for development without
// hardware: its evidence is the report data itself, signed by nothing. A
// server accepts it only when its configuration allows it, and every node
// that joined this way is marked insecure wherever it appears.
package insecure

import (
	"context"
	"crypto/subtle"
	"encoding/json"

	"github.com/hoheit/hoheit/internal/attest"
)

type evidence struct {
	ReportData []byte `json:"report_data"`
}

// Issuer issues insecure evidence.
type Issuer struct{}

// Variant returns attest.VariantInsecure.
func (Issuer) Variant() string { return attest.VariantInsecure }

// Issue returns the report data, unsigned.
func (Issuer) Issue(_ context.Context, reportData [64]byte) ([]byte, error) {
	return json.Marshal(evidence{ReportData: reportData[:]})
}

// Validator accepts insecure evidence that carries the expected report data.
type Validator struct{}

// Variant returns attest.VariantInsecure.
func (Validator) Variant() string { return attest.VariantInsecure }

// Validate checks only that the evidence carries reportData.
func (Validator) Validate(_ context.Context, ev []byte, reportData [64]byte) (*attest.Claims, error) {
	var e evidence
	if err := json.Unmarshal(ev, &e); err != nil {
		return nil, attest.Refuse(attest.ReasonMalformed, "insecure evidence is not JSON: %v", err)
	}
	if len(e.ReportData) != len(reportData) || subtle.ConstantTimeCompare(e.ReportData, reportData[:]) != 1 {
		return nil, attest.Refuse(attest.ReasonReportData, "evidence does not carry this join's nonce and keys")
	}
	return &attest.Claims{Variant: attest.VariantInsecure, Insecure: true}, nil
}
