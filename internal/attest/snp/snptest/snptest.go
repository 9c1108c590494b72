// Package snptest is a fake AMD SEV-SNP platform for tests of other
// packages: go-sev-guest's fake signer (test keys and a test-only
// ARK/ASK/VCEK chain) behind its fake quote provider. Test code only:
// nothing but _test.go files may import it.
package snptest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/google/go-sev-guest/abi"
	labi "github.com/google/go-sev-guest/client/linuxabi"
	"github.com/google/go-sev-guest/kds"
	spb "github.com/google/go-sev-guest/proto/sevsnp"
	sevtest "github.com/google/go-sev-guest/testing"
	"github.com/google/go-sev-guest/verify/trust"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/hoheit/hoheit/internal/attest"
	"github.com/hoheit/hoheit/internal/attest/snp"
)

const milanFMS = 0x00a00f10

// Platform is a fake secure processor with a fixed TCB and chip id.
type Platform struct {
	signer *sevtest.AmdSigner
	chipID [abi.ChipIDSize]byte
	TCB    kds.TCBParts
}

// Guest is what a guest's report says about it.
type Guest struct {
	Policy      abi.SnpPolicy
	Measurement []byte
	HostData    []byte
	VMPL        uint32
}

// NewPlatform makes a platform whose VCEK certifies tcb.
func NewPlatform(tcb kds.TCBParts) (*Platform, error) {
	p := &Platform{TCB: tcb}
	rand.Read(p.chipID[:])
	now := time.Now().Add(-time.Hour)
	b := &sevtest.AmdSignerBuilder{
		Keys:             sevtest.DefaultAmdKeys(),
		ProductName:      "Milan-B0",
		CSPID:            "go-sev-guest",
		ArkCreationTime:  now,
		AskCreationTime:  now,
		AsvkCreationTime: now,
		VcekCreationTime: now,
		VlekCreationTime: now,
		VcekCustom:       sevtest.CertOverride{Extensions: sevtest.CustomExtensions(tcb, p.chipID[:], "", "Milan-B0")},
	}
	s, err := b.TestOnlyCertChain()
	if err != nil {
		return nil, err
	}
	p.signer = s
	return p, nil
}

// Roots are the platform's test AMD roots, for snp.ValidatorConfig.Roots.
func (p *Platform) Roots() map[string][]*trust.AMDRootCerts {
	return map[string][]*trust.AMDRootCerts{"Milan": {{
		ProductLine:  "Milan",
		ProductCerts: &trust.ProductCerts{Ark: p.signer.Ark, Ask: p.signer.Ask, Asvk: p.signer.Asvk},
	}}}
}

// Issuer returns an attest.Issuer for a guest g on the platform: each Issue
// builds a report of g carrying the report data, signed by the VCEK.
func (p *Platform) Issuer(g Guest) attest.Issuer { return &issuer{p: p, g: g} }

type issuer struct {
	p *Platform
	g Guest
}

func (*issuer) Variant() string { return attest.VariantSNP }

func (i *issuer) Issue(ctx context.Context, reportData [64]byte) ([]byte, error) {
	raw := sevtest.CreateRawReport(&sevtest.TestReportOptions{ReportData: reportData[:], FMS: milanFMS, Version: 3})
	r, err := abi.ReportToProto(raw[:abi.ReportSize])
	if err != nil {
		return nil, err
	}
	tcb, err := kds.ComposeTCBParts(i.p.TCB)
	if err != nil {
		return nil, err
	}
	r.Policy = abi.SnpPolicyToBytes(i.g.Policy)
	r.Measurement = i.g.Measurement
	r.HostData = i.g.HostData
	r.Vmpl = i.g.VMPL
	r.ChipId = i.p.chipID[:]
	r.ReportedTcb, r.CurrentTcb, r.CommittedTcb, r.LaunchTcb = uint64(tcb), uint64(tcb), uint64(tcb), uint64(tcb)
	rb, err := abi.ReportToAbiBytes(r)
	if err != nil {
		return nil, err
	}
	certs, err := i.p.signer.CertTableBytes()
	if err != nil {
		return nil, err
	}
	var resp labi.SnpReportRespABI
	copy(resp.Data[:], rb)
	dev := &sevtest.Device{
		ReportDataRsp: map[string]any{hex.EncodeToString(reportData[:]): &sevtest.GetReportResponse{Resp: resp}},
		Certs:         certs,
		Signer:        i.p.signer,
		SevProduct:    &spb.SevProduct{Name: spb.SevProduct_SEV_PRODUCT_MILAN, MachineStepping: wrapperspb.UInt32(0)},
	}
	ev, err := snp.NewIssuer(&sevtest.QuoteProvider{Device: dev}).Issue(ctx, reportData)
	if err != nil {
		return nil, fmt.Errorf("fake SEV-SNP issuer: %w", err)
	}
	return ev, nil
}
