package cli

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	tdxtest "github.com/google/go-tdx-guest/testing"
	"github.com/google/go-tdx-guest/testing/testdata"

	"github.com/hoheit/hoheit/internal/collateral"
)

func runCollateral(t *testing.T, now time.Time, args ...string) run {
	t.Helper()
	var out, errb bytes.Buffer
	d := Deps{Stdout: &out, Stderr: &errb, Now: func() time.Time { return now }}
	code := Execute(context.Background(), d, append([]string{"collateral"}, args...))
	return run{code: code, stdout: out.String(), stderr: errb.String()}
}

func TestCollateralImportList(t *testing.T) {
	const tcb = "https://api.trustedservices.intel.com/tdx/certification/v4/tcb?fmspc=50806f000000"
	const root = "https://certificates.trustedservices.intel.com/IntelSGXRootCA.der"
	bundle := filepath.Join(t.TempDir(), "bundle")
	if err := collateral.WriteBundle(bundle, map[string]collateral.Response{
		tcb:  {Header: tdxtest.TcbInfoHeader, Body: testdata.TcbInfoBody},
		root: {Body: testdata.RootCrlBody},
	}); err != nil {
		t.Fatal(err)
	}
	cache := filepath.Join(t.TempDir(), "cache")
	now := time.Date(2023, 7, 1, 0, 0, 0, 0, time.UTC)

	r := runCollateral(t, now, "list", "--cache", cache)
	if r.code != 0 || !strings.Contains(r.stdout, "is empty") {
		t.Fatalf("list on an empty cache: %+v", r)
	}
	r = runCollateral(t, now, "import", bundle, "--cache", cache)
	if r.code != 0 || !strings.Contains(r.stdout, "imported 2 collateral entries") {
		t.Fatalf("import: %+v", r)
	}
	r = runCollateral(t, now, "list", "--cache", cache)
	if r.code != 0 || !strings.Contains(r.stdout, tcb) || !strings.Contains(r.stdout, "2023-07-18") || strings.Contains(r.stdout, "stale") {
		t.Fatalf("list: %+v", r)
	}
	r = runCollateral(t, now.AddDate(0, 1, 0), "list", "--cache", cache)
	if !strings.Contains(r.stdout, "2023-07-18 (stale)") {
		t.Errorf("a month later the TCB info is not marked stale:\n%s", r.stdout)
	}
}

func TestCollateralUsage(t *testing.T) {
	cache := t.TempDir()
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"import", t.TempDir(), "--cache", cache}, "index.json"},
		{[]string{"import", "--cache", cache}, "accepts 1 arg"},
		{[]string{"fetch", "--out", t.TempDir()}, "--url"},
		{[]string{"fetch", "--url", "https://example.test/x"}, "--out"},
		{[]string{"fetch", "--url", "http://example.test/x", "--out", t.TempDir()}, "https"},
	}
	for _, tc := range cases {
		r := runCollateral(t, time.Now(), tc.args...)
		if r.code != ExitUsage && r.code != 1 {
			t.Errorf("%v: exit %d", tc.args, r.code)
		}
		if r.code == 0 || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want it to mention %q", tc.args, r.code, r.stderr, tc.want)
		}
	}
	r := runCollateral(t, time.Now(), "--help")
	if r.code != 0 || !strings.Contains(r.stdout, "hoheit collateral import") {
		t.Errorf("help: %+v", r)
	}
}
