package snp

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"encoding/hex"
	"math/big"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-sev-guest/abi"
	labi "github.com/google/go-sev-guest/client/linuxabi"
	"github.com/google/go-sev-guest/kds"
	spb "github.com/google/go-sev-guest/proto/sevsnp"
	sevtest "github.com/google/go-sev-guest/testing"
	"github.com/google/go-sev-guest/verify/trust"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/hoheit/hoheit/internal/attest"
	"github.com/hoheit/hoheit/internal/collateral"
)

const milanFMS = 0x00a00f10

var goodTCB = kds.TCBParts{BlSpl: 3, TeeSpl: 0, SnpSpl: 20, UcodeSpl: 209}

// platform is a fake AMD secure processor: go-sev-guest's fake signer
// (test keys, test-only ARK/ASK/VCEK chain) behind its fake quote provider.
type platform struct {
	signer *sevtest.AmdSigner
	chipID [abi.ChipIDSize]byte
	tcb    kds.TCBParts
}

func newPlatform(t *testing.T, tcb kds.TCBParts) *platform {
	t.Helper()
	p := &platform{tcb: tcb}
	if _, err := rand.Read(p.chipID[:]); err != nil {
		t.Fatal(err)
	}
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
		// The VCEK certifies the platform's TCB and chip id, as AMD's do.
		VcekCustom: sevtest.CertOverride{Extensions: sevtest.CustomExtensions(tcb, p.chipID[:], "", "Milan-B0")},
	}
	s, err := b.TestOnlyCertChain()
	if err != nil {
		t.Fatal(err)
	}
	p.signer = s
	return p
}

func (p *platform) roots() map[string][]*trust.AMDRootCerts {
	return map[string][]*trust.AMDRootCerts{"Milan": {{
		ProductLine:  "Milan",
		ProductCerts: &trust.ProductCerts{Ark: p.signer.Ark, Ask: p.signer.Ask, Asvk: p.signer.Asvk},
	}}}
}

type guest struct {
	policy      abi.SnpPolicy
	measurement []byte
	hostData    []byte
	vmpl        uint32
}

// issuer returns an Issuer whose fake device answers reportData with a
// report of g, signed by the platform's VCEK.
func (p *platform) issuer(t *testing.T, reportData [64]byte, g guest) *Issuer {
	t.Helper()
	raw := sevtest.CreateRawReport(&sevtest.TestReportOptions{ReportData: reportData[:], FMS: milanFMS, Version: 3})
	r, err := abi.ReportToProto(raw[:abi.ReportSize])
	if err != nil {
		t.Fatal(err)
	}
	tcb, err := kds.ComposeTCBParts(p.tcb)
	if err != nil {
		t.Fatal(err)
	}
	r.Policy = abi.SnpPolicyToBytes(g.policy)
	r.Measurement = g.measurement
	r.HostData = g.hostData
	r.Vmpl = g.vmpl
	r.ChipId = p.chipID[:]
	r.ReportedTcb, r.CurrentTcb, r.CommittedTcb, r.LaunchTcb = uint64(tcb), uint64(tcb), uint64(tcb), uint64(tcb)
	rb, err := abi.ReportToAbiBytes(r)
	if err != nil {
		t.Fatal(err)
	}
	certs, err := p.signer.CertTableBytes()
	if err != nil {
		t.Fatal(err)
	}
	var resp labi.SnpReportRespABI
	copy(resp.Data[:], rb)
	dev := &sevtest.Device{
		ReportDataRsp: map[string]any{hex.EncodeToString(reportData[:]): &sevtest.GetReportResponse{Resp: resp}},
		Certs:         certs,
		Signer:        p.signer,
		SevProduct:    &spb.SevProduct{Name: spb.SevProduct_SEV_PRODUCT_MILAN, MachineStepping: wrapperspb.UInt32(0)},
	}
	return NewIssuer(&sevtest.QuoteProvider{Device: dev})
}

// freshBinding is a join's binding with a fresh random nonce and keys.
func freshBinding(t *testing.T) attest.Binding {
	t.Helper()
	b := attest.Binding{Nonce: make([]byte, attest.NonceSize), HPKEPublicKey: make([]byte, 1216), CertPublicKey: make([]byte, 91), WireGuardPublicKey: make([]byte, 32)}
	for _, p := range [][]byte{b.Nonce, b.HPKEPublicKey, b.CertPublicKey, b.WireGuardPublicKey} {
		if _, err := rand.Read(p); err != nil {
			t.Fatal(err)
		}
	}
	return b
}

func goodGuest() guest {
	m := make([]byte, abi.MeasurementSize)
	h := make([]byte, abi.HostDataSize)
	rand.Read(m)
	rand.Read(h)
	return guest{policy: abi.SnpPolicy{SMT: true}, measurement: m, hostData: h}
}

func issue(t *testing.T, p *platform, rd [64]byte, g guest) []byte {
	t.Helper()
	ev, err := p.issuer(t, rd, g).Issue(context.Background(), rd)
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

func mustValidator(t *testing.T, cfg ValidatorConfig) *Validator {
	t.Helper()
	v, err := NewValidator(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func wantRefusal(t *testing.T, err error, reason string, detail ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("validated; want refusal %s", reason)
	}
	if got := attest.ReasonOf(err); got != reason {
		t.Fatalf("refusal %s (%v), want %s", got, err, reason)
	}
	for _, d := range detail {
		if !strings.Contains(err.Error(), d) {
			t.Errorf("refusal %q does not mention %q", err, d)
		}
	}
}

func TestValidateFakeSigner(t *testing.T) {
	ctx := context.Background()
	p := newPlatform(t, goodTCB)
	v := mustValidator(t, ValidatorConfig{Roots: p.roots()})

	t.Run("valid", func(t *testing.T) {
		rd := freshBinding(t).ReportData()
		g := goodGuest()
		g.vmpl = 0
		claims, err := v.Validate(ctx, issue(t, p, rd, g), rd)
		if err != nil {
			t.Fatal(err)
		}
		c := claims.SNP
		if claims.Variant != attest.VariantSNP || c == nil {
			t.Fatalf("claims = %+v", claims)
		}
		tcb, _ := kds.ComposeTCBParts(goodTCB)
		if string(c.Measurement) != string(g.measurement) || string(c.HostData) != string(g.hostData) ||
			c.Debug || c.VMPL != 0 || c.ReportedTCB != uint64(tcb) || c.Signer != "vcek" ||
			string(c.ChipID) != string(p.chipID[:]) || claims.HardwareID != hex.EncodeToString(p.chipID[:]) {
			t.Errorf("claims = %+v", c)
		}
		if pol, _ := abi.ParseSnpPolicy(c.Policy); !pol.SMT || pol.Debug {
			t.Errorf("policy %#x does not round-trip", c.Policy)
		}
	})

	t.Run("report data of another join", func(t *testing.T) {
		rd := freshBinding(t).ReportData()
		other := freshBinding(t).ReportData()
		_, err := v.Validate(ctx, issue(t, p, rd, goodGuest()), other)
		wantRefusal(t, err, attest.ReasonReportData)
	})

	t.Run("altered signature", func(t *testing.T) {
		rd := freshBinding(t).ReportData()
		att, err := DecodeEvidence(issue(t, p, rd, goodGuest()))
		if err != nil {
			t.Fatal(err)
		}
		att.Report.Signature[0] ^= 1
		ev, err := EncodeEvidence(att)
		if err != nil {
			t.Fatal(err)
		}
		_, err = v.Validate(ctx, ev, rd)
		wantRefusal(t, err, attest.ReasonSignature)
	})

	t.Run("altered report field", func(t *testing.T) {
		rd := freshBinding(t).ReportData()
		att, err := DecodeEvidence(issue(t, p, rd, goodGuest()))
		if err != nil {
			t.Fatal(err)
		}
		att.Report.Measurement[0] ^= 1
		ev, _ := EncodeEvidence(att)
		_, err = v.Validate(ctx, ev, rd)
		wantRefusal(t, err, attest.ReasonSignature)
	})

	t.Run("chain to AMD's real roots", func(t *testing.T) {
		rd := freshBinding(t).ReportData()
		real := mustValidator(t, ValidatorConfig{})
		_, err := real.Validate(ctx, issue(t, p, rd, goodGuest()), rd)
		wantRefusal(t, err, attest.ReasonChain)
	})

	t.Run("chain to another fake root", func(t *testing.T) {
		rd := freshBinding(t).ReportData()
		// Same keys, but the ASK claims to be the ARK: the VCEK does not chain.
		bad := map[string][]*trust.AMDRootCerts{"Milan": {{ProductLine: "Milan", ProductCerts: &trust.ProductCerts{Ark: p.signer.Ark, Ask: p.signer.Ark}}}}
		_, err := mustValidator(t, ValidatorConfig{Roots: bad}).Validate(ctx, issue(t, p, rd, goodGuest()), rd)
		wantRefusal(t, err, attest.ReasonChain)
	})

	t.Run("debug policy is a claim", func(t *testing.T) {
		rd := freshBinding(t).ReportData()
		g := goodGuest()
		g.policy.Debug = true
		g.vmpl = 2
		claims, err := v.Validate(ctx, issue(t, p, rd, g), rd)
		if err != nil {
			t.Fatal(err)
		}
		if !claims.SNP.Debug || claims.SNP.VMPL != 2 {
			t.Errorf("debug = %v, vmpl = %d; want true, 2", claims.SNP.Debug, claims.SNP.VMPL)
		}
	})

	t.Run("malformed", func(t *testing.T) {
		for _, ev := range [][]byte{nil, []byte("{}"), []byte(EvidenceMagic), append([]byte(EvidenceMagic), 0xff, 0xff)} {
			_, err := v.Validate(ctx, ev, [64]byte{})
			wantRefusal(t, err, attest.ReasonMalformed)
		}
	})
}

func TestLowTCBIsAClaim(t *testing.T) {
	low := kds.TCBParts{BlSpl: 1, SnpSpl: 2, UcodeSpl: 50}
	p := newPlatform(t, low)
	rd := freshBinding(t).ReportData()
	claims, err := mustValidator(t, ValidatorConfig{Roots: p.roots()}).Validate(context.Background(), issue(t, p, rd, goodGuest()), rd)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := kds.ComposeTCBParts(low)
	if claims.SNP.ReportedTCB != uint64(want) {
		t.Errorf("reported TCB %#x, want %#x", claims.SNP.ReportedTCB, uint64(want))
	}
}

// TestVCEKFromCollateralCache: a host that does not hand out the VCEK makes
// the validator look in the cache; a miss names the URL and the import
// command, and after the import the same evidence verifies.
func TestVCEKFromCollateralCache(t *testing.T) {
	ctx := context.Background()
	p := newPlatform(t, goodTCB)
	rd := freshBinding(t).ReportData()
	att, err := DecodeEvidence(issue(t, p, rd, goodGuest()))
	if err != nil {
		t.Fatal(err)
	}
	att.CertificateChain.VcekCert = nil
	ev, err := EncodeEvidence(att)
	if err != nil {
		t.Fatal(err)
	}
	cache, err := collateral.Open(filepath.Join(t.TempDir(), "cache"), nil)
	if err != nil {
		t.Fatal(err)
	}
	v := mustValidator(t, ValidatorConfig{Roots: p.roots(), Getter: cache})
	tcb, _ := kds.ComposeTCBParts(goodTCB)
	url := kds.VCEKCertURL("Milan", p.chipID[:], tcb)
	_, err = v.Validate(ctx, ev, rd)
	wantRefusal(t, err, attest.ReasonCollateral, url, "hoheit collateral import")

	bundle := filepath.Join(t.TempDir(), "bundle")
	if err := collateral.WriteBundle(bundle, map[string]collateral.Response{url: {Body: p.signer.Vcek.Raw}}); err != nil {
		t.Fatal(err)
	}
	if _, err := cache.Import(ctx, bundle); err != nil {
		t.Fatal(err)
	}
	if _, err := v.Validate(ctx, ev, rd); err != nil {
		t.Fatalf("after import: %v", err)
	}
	// Without any cache the refusal still says what is missing.
	_, err = mustValidator(t, ValidatorConfig{Roots: p.roots()}).Validate(ctx, ev, rd)
	wantRefusal(t, err, attest.ReasonCollateral, url)
}

func TestRevocation(t *testing.T) {
	ctx := context.Background()
	p := newPlatform(t, goodTCB)
	crlURL := p.signer.Ask.CRLDistributionPoints[0]
	crl := func(revoked ...*big.Int) []byte {
		tmpl := &x509.RevocationList{Number: big.NewInt(1), ThisUpdate: time.Now().Add(-time.Hour), NextUpdate: time.Now().Add(24 * time.Hour)}
		for _, sn := range revoked {
			tmpl.RevokedCertificateEntries = append(tmpl.RevokedCertificateEntries, x509.RevocationListEntry{SerialNumber: sn, RevocationTime: time.Now().Add(-time.Minute)})
		}
		b, err := x509.CreateRevocationList(rand.Reader, tmpl, p.signer.Ark, p.signer.Keys.Ark)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	cases := []struct {
		name   string
		crl    []byte
		reason string
	}{
		{"no CRL in the cache", nil, attest.ReasonCollateral},
		{"CRL revokes nothing", crl(), ""},
		{"CRL revokes the ASK", crl(p.signer.Ask.SerialNumber), attest.ReasonChain},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cache, err := collateral.Open(t.TempDir(), nil)
			if err != nil {
				t.Fatal(err)
			}
			if tc.crl != nil {
				bundle := filepath.Join(t.TempDir(), "b")
				if err := collateral.WriteBundle(bundle, map[string]collateral.Response{crlURL: {Body: tc.crl}}); err != nil {
					t.Fatal(err)
				}
				if _, err := cache.Import(ctx, bundle); err != nil {
					t.Fatal(err)
				}
			}
			// Fresh roots per case: go-sev-guest keeps the CRL on the root.
			v := mustValidator(t, ValidatorConfig{Roots: p.roots(), Getter: cache, CheckRevocations: true})
			rd := freshBinding(t).ReportData()
			_, err = v.Validate(ctx, issue(t, p, rd, goodGuest()), rd)
			if tc.reason == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			wantRefusal(t, err, tc.reason)
		})
	}
}

func TestAMDRootsIncludeVLEK(t *testing.T) {
	roots, err := amdRoots()
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range []string{"Milan", "Genoa", "Turin"} {
		rs := roots[line]
		if len(rs) != 1 || rs[0].ProductCerts.Ask == nil || rs[0].ProductCerts.Ark == nil || rs[0].ProductCerts.Asvk == nil {
			t.Errorf("%s roots incomplete", line)
		}
	}
}
