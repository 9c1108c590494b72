// Package tpm is the TPM 2.0 attestation variant. The agent's Issuer quotes
// the PCRs with an attestation key (AK) resident in the TPM, over the first
// 32 bytes of the join's report data, and adds the TCG event log and the
// TPM's EK certificate. The server's Validator checks the quote's signature
// and nonce, replays the event log against the quoted PCRs, and trusts the AK
// either because an admin registered it in advance or because the TPM's EK
// certificate chains to a configured root; in the second case the server
// wraps its join response so that only the TPM holding that EK can open it
// (credential activation), which binds the AK to the EK.
//
// The agent imports Open and the Issuer; the server imports NewValidator and
// the Validator; refvalues reads the claims. Both sides use
// github.com/google/go-tpm-tools (quotes, keys, verification) and
// github.com/google/go-eventlog (event log replay).
package tpm

import (
	"errors"
	"fmt"

	pb "github.com/google/go-tpm-tools/proto/attest"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/hoheit/hoheit/internal/attest"
)

// MaxEvidenceSize bounds the evidence a Validator parses. A quote per PCR
// bank, the AK, an EK certificate and a firmware event log (typically 20 to
// 100 KiB, larger on machines with many boot entries) fit well below it.
const MaxEvidenceSize = 4 << 20

// AK trust modes, as they appear in attest.TPMClaims.AKTrust.
const (
	AKTrustRegistered = "registered"
	AKTrustEKChain    = "ek-chain"
)

// ekCertField is the protobuf field number under which the evidence carries
// the TPM's EK certificate (DER). go-tpm-tools' Attestation message has no
// field for it; an unknown field keeps the evidence a valid serialized
// Attestation for any other reader, which simply ignores it.
const ekCertField protowire.Number = 4096

// evidence is the parsed form of the bytes the Issuer produces.
type evidence struct {
	att    *pb.Attestation
	ekCert []byte // DER; nil when the TPM has none
}

// marshalEvidence serializes an Attestation and appends the EK certificate
// field when there is one.
func marshalEvidence(att *pb.Attestation, ekCert []byte) ([]byte, error) {
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(att)
	if err != nil {
		return nil, fmt.Errorf("encoding TPM attestation: %w", err)
	}
	if len(ekCert) > 0 {
		b = protowire.AppendTag(b, ekCertField, protowire.BytesType)
		b = protowire.AppendBytes(b, ekCert)
	}
	return b, nil
}

// parseEvidence decodes untrusted evidence. It checks only the encoding:
// size, protobuf syntax, no unknown fields but the EK certificate (at most
// once), and the presence of the parts every evidence has. Every failure is a
// refusal with attest.ReasonMalformed.
func parseEvidence(b []byte) (*evidence, error) {
	if len(b) == 0 {
		return nil, attest.Refuse(attest.ReasonMalformed, "TPM evidence is empty")
	}
	if len(b) > MaxEvidenceSize {
		return nil, attest.Refuse(attest.ReasonMalformed, "TPM evidence is %d bytes, more than the limit of %d", len(b), MaxEvidenceSize)
	}
	att := &pb.Attestation{}
	if err := (proto.UnmarshalOptions{DiscardUnknown: false}).Unmarshal(b, att); err != nil {
		return nil, attest.Refuse(attest.ReasonMalformed, "TPM evidence is not a go-tpm-tools Attestation: %v", err)
	}
	ev := &evidence{att: att}
	unknown := att.ProtoReflect().GetUnknown()
	for len(unknown) > 0 {
		num, typ, n := protowire.ConsumeTag(unknown)
		if n < 0 {
			return nil, attest.Refuse(attest.ReasonMalformed, "TPM evidence has a broken field: %v", protowire.ParseError(n))
		}
		if num != ekCertField || typ != protowire.BytesType {
			return nil, attest.Refuse(attest.ReasonMalformed, "TPM evidence has an unknown field %d", num)
		}
		if ev.ekCert != nil {
			return nil, attest.Refuse(attest.ReasonMalformed, "TPM evidence carries more than one EK certificate")
		}
		v, m := protowire.ConsumeBytes(unknown[n:])
		if m < 0 {
			return nil, attest.Refuse(attest.ReasonMalformed, "TPM evidence has a broken EK certificate field: %v", protowire.ParseError(m))
		}
		if len(v) == 0 {
			return nil, attest.Refuse(attest.ReasonMalformed, "TPM evidence carries an empty EK certificate")
		}
		ev.ekCert = v
		unknown = unknown[n+m:]
	}
	att.ProtoReflect().SetUnknown(nil)
	// The fields below are for other platforms or other trust models; hoheit
	// never sets them, so evidence that does was not made by its Issuer.
	switch {
	case len(att.GetAkPub()) == 0:
		return nil, attest.Refuse(attest.ReasonMalformed, "TPM evidence has no attestation key")
	case len(att.GetQuotes()) == 0:
		return nil, attest.Refuse(attest.ReasonMalformed, "TPM evidence has no quote")
	case len(att.GetAkCert()) > 0 || len(att.GetIntermediateCerts()) > 0:
		return nil, attest.Refuse(attest.ReasonMalformed, "TPM evidence carries an AK certificate; hoheit trusts AKs by registration or EK certificate only")
	case att.GetTeeAttestation() != nil:
		return nil, attest.Refuse(attest.ReasonMalformed, "TPM evidence carries a TEE attestation; use the sev-snp or tdx variant for those")
	case len(att.GetCanonicalEventLog()) > 0:
		return nil, attest.Refuse(attest.ReasonMalformed, "TPM evidence carries a canonical event log, which this variant does not verify")
	}
	return ev, nil
}

// errNoEK is returned by UnwrapResponse when a response is wrapped but the
// TPM has no EK certificate, so the server cannot have wrapped it for it.
var errNoEK = errors.New("this TPM has no EK certificate, but the response is wrapped for one")
