package tdx

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	tdxtest "github.com/google/go-tdx-guest/testing"
	"github.com/google/go-tdx-guest/testing/testdata"

	"github.com/hoheit/hoheit/internal/attest"
	"github.com/hoheit/hoheit/internal/collateral"
)

var update = flag.Bool("update", false, "rewrite golden files and the fuzz seed corpus")

// sampleTime is when go-tdx-guest's sample quote and collateral were valid.
var sampleTime = time.Date(2023, time.July, 1, 1, 0, 0, 0, time.UTC)

const (
	tcbURL     = "https://api.trustedservices.intel.com/tdx/certification/v4/tcb?fmspc=50806f000000"
	qeURL      = "https://api.trustedservices.intel.com/tdx/certification/v4/qe/identity"
	pckCRLURL  = "https://api.trustedservices.intel.com/sgx/certification/v4/pckcrl?ca=platform&encoding=der"
	rootCRLURL = "https://certificates.trustedservices.intel.com/IntelSGXRootCA.der"
)

// sampleCache builds a collateral cache the way an operator would: a
// bundle (here from go-tdx-guest's sample Intel PCS responses, real Intel
// data, not the network) imported with Import.
func sampleCache(t *testing.T) *collateral.Cache {
	t.Helper()
	bundle := filepath.Join(t.TempDir(), "bundle")
	err := collateral.WriteBundle(bundle, map[string]collateral.Response{
		tcbURL:     {Header: tdxtest.TcbInfoHeader, Body: testdata.TcbInfoBody},
		qeURL:      {Header: tdxtest.QeIdentityHeader, Body: testdata.QeIdentityBody},
		pckCRLURL:  {Header: tdxtest.PckCrlHeader, Body: testdata.PckCrlBody},
		rootCRLURL: {Body: testdata.RootCrlBody},
	})
	if err != nil {
		t.Fatal(err)
	}
	c, err := collateral.Open(filepath.Join(t.TempDir(), "cache"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Import(context.Background(), bundle); err != nil {
		t.Fatal(err)
	}
	return c
}

func sampleReportData(t *testing.T) [64]byte {
	t.Helper()
	q, err := DecodeEvidence(testdata.RawQuote)
	if err != nil {
		t.Fatal(err)
	}
	var rd [64]byte
	copy(rd[:], q.GetTdQuoteBody().GetReportData())
	return rd
}

func validator(t *testing.T, cfg ValidatorConfig) *Validator {
	t.Helper()
	v, err := NewValidator(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func pinned() time.Time { return sampleTime }

func wantRefusal(t *testing.T, err error, reason string, detail ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("validated; want refusal %s", reason)
	}
	var r *attest.Refusal
	if !errors.As(err, &r) || r.Reason != reason {
		t.Fatalf("error %v, want refusal %s", err, reason)
	}
	for _, d := range detail {
		if !strings.Contains(err.Error(), d) {
			t.Errorf("refusal %q does not mention %q", err, d)
		}
	}
}

// TestSampleQuote verifies go-tdx-guest's real sample quote (an Intel
// production quote from a Sapphire Rapids machine) and checks the claims
// against a golden file.
func TestSampleQuote(t *testing.T) {
	ctx := context.Background()
	rd := sampleReportData(t)
	v := validator(t, ValidatorConfig{Now: pinned})
	claims, err := v.Validate(ctx, testdata.RawQuote, rd)
	if err != nil {
		t.Fatal(err)
	}
	got, err := json.MarshalIndent(claims, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "sample_claims.json")
	if *update {
		if err := os.WriteFile(golden, append(got, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if string(want) != string(got)+"\n" {
		t.Errorf("claims differ from %s (-update rewrites it):\n%s", golden, got)
	}
	if len(claims.TDX.RTMRs) != 4 || len(claims.TDX.MRTD) != 48 || claims.TDX.Debug {
		t.Errorf("claims = %+v", claims.TDX)
	}
}

func TestSampleQuoteWithCollateral(t *testing.T) {
	ctx := context.Background()
	rd := sampleReportData(t)
	cache := sampleCache(t)

	// Every signature, the PCK chain, Intel's CRLs and the signed TCB info
	// and QE identity from the cache verify; the sample's TCB info then
	// has no level for this platform's TCB (go-tdx-guest's own test says
	// so), which is a TCB refusal, not a collateral one.
	v := validator(t, ValidatorConfig{Getter: cache, GetCollateral: true, CheckRevocations: true, Now: pinned})
	_, err := v.Validate(ctx, testdata.RawQuote, rd)
	wantRefusal(t, err, attest.ReasonTCB, "no matching TCB level")

	t.Run("collateral missing", func(t *testing.T) {
		empty, err := collateral.Open(t.TempDir(), nil)
		if err != nil {
			t.Fatal(err)
		}
		v := validator(t, ValidatorConfig{Getter: empty, GetCollateral: true, Now: pinned})
		_, err = v.Validate(ctx, testdata.RawQuote, rd)
		wantRefusal(t, err, attest.ReasonCollateral, tcbURL, "hoheit collateral import")
	})

	t.Run("no cache configured", func(t *testing.T) {
		v := validator(t, ValidatorConfig{GetCollateral: true, Now: pinned})
		_, err := v.Validate(ctx, testdata.RawQuote, rd)
		wantRefusal(t, err, attest.ReasonCollateral, tcbURL)
	})

	t.Run("stale collateral", func(t *testing.T) {
		// A month after the sample's TCB info was due for renewal.
		late := func() time.Time { return sampleTime.Add(40 * 24 * time.Hour) }
		v := validator(t, ValidatorConfig{Getter: cache, GetCollateral: true, Now: late})
		_, err := v.Validate(ctx, testdata.RawQuote, rd)
		wantRefusal(t, err, attest.ReasonCollateral, "expired")
	})
}

func TestSampleQuoteRefusals(t *testing.T) {
	ctx := context.Background()
	rd := sampleReportData(t)
	v := validator(t, ValidatorConfig{Now: pinned})
	flip := func(off int) []byte {
		q := append([]byte(nil), testdata.RawQuote...)
		q[off] ^= 0x01
		return q
	}
	const (
		headerSize   = 48
		bodySize     = 584
		signatureOff = headerSize + bodySize + 4 // after the signed data's length
		mrtdOff      = headerSize + 136
	)
	other := rd
	other[0] ^= 0xff
	cases := []struct {
		name   string
		quote  []byte
		rd     [64]byte
		reason string
	}{
		{"report data of another join", testdata.RawQuote, other, attest.ReasonReportData},
		{"flipped signature byte", flip(signatureOff), rd, attest.ReasonSignature},
		{"flipped MRTD byte", flip(mrtdOff), rd, attest.ReasonSignature},
		{"truncated", testdata.RawQuote[:len(testdata.RawQuote)/2], rd, attest.ReasonMalformed},
		{"empty", nil, rd, attest.ReasonMalformed},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := v.Validate(ctx, tc.quote, tc.rd)
			wantRefusal(t, err, tc.reason)
		})
	}
	t.Run("after the PCK chain expired", func(t *testing.T) {
		v := validator(t, ValidatorConfig{Now: func() time.Time { return time.Date(2053, 7, 1, 0, 0, 0, 0, time.UTC) }})
		_, err := v.Validate(ctx, testdata.RawQuote, rd)
		wantRefusal(t, err, attest.ReasonChain)
	})
	t.Run("another root", func(t *testing.T) {
		other := validator(t, ValidatorConfig{Now: pinned, Roots: emptyPool()})
		_, err := other.Validate(ctx, testdata.RawQuote, rd)
		wantRefusal(t, err, attest.ReasonChain)
	})
}

func TestNewValidatorRevocationNeedsCollateral(t *testing.T) {
	if _, err := NewValidator(ValidatorConfig{CheckRevocations: true}); err == nil {
		t.Fatal("CheckRevocations without GetCollateral accepted")
	}
}

type fakeQuoteProvider struct{ quote []byte }

func (fakeQuoteProvider) IsSupported() error { return nil }
func (f fakeQuoteProvider) GetRawQuote([64]byte) ([]uint8, error) {
	return f.quote, nil
}

func TestIssuerChecksQuote(t *testing.T) {
	ctx := context.Background()
	ev, err := NewIssuer(fakeQuoteProvider{testdata.RawQuote}).Issue(ctx, [64]byte{})
	if err != nil || string(ev) != string(testdata.RawQuote) {
		t.Fatalf("Issue = %d bytes, %v", len(ev), err)
	}
	if _, err := NewIssuer(fakeQuoteProvider{[]byte("nope")}).Issue(ctx, [64]byte{}); err == nil {
		t.Fatal("a garbage quote was issued")
	}
}

// TestSeedCorpus writes (with -update) the sample quote as a seed for
// FuzzDecodeEvidence.
func TestSeedCorpus(t *testing.T) {
	if !*update {
		t.Skip("run with -update to rewrite the seed")
	}
	dir := filepath.Join("testdata", "fuzz", "FuzzDecodeEvidence")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	body := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", testdata.RawQuote)
	if err := os.WriteFile(filepath.Join(dir, "sample-quote"), []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}

// FuzzDecodeEvidence feeds arbitrary bytes to the quote decoder and the
// validator: neither may panic, and every failure is a refusal.
func FuzzDecodeEvidence(f *testing.F) {
	f.Add([]byte{4, 0, 2, 0})
	v, err := NewValidator(ValidatorConfig{Now: pinned})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, ev []byte) {
		if _, err := DecodeEvidence(ev); err != nil {
			return
		}
		_, err := v.Validate(context.Background(), ev, [64]byte{})
		var r *attest.Refusal
		if err == nil || !errors.As(err, &r) {
			t.Fatalf("Validate = %v, want a refusal", err)
		}
	})
}

func emptyPool() *x509.CertPool { return x509.NewCertPool() }
