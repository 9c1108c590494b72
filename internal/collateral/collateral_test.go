package collateral

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	tdxtest "github.com/google/go-tdx-guest/testing"
	"github.com/google/go-tdx-guest/testing/testdata"
)

const (
	qeURL      = "https://api.trustedservices.intel.com/tdx/certification/v4/qe/identity"
	tcbURL     = "https://api.trustedservices.intel.com/tdx/certification/v4/tcb?fmspc=50806f000000"
	pckCRLURL  = "https://api.trustedservices.intel.com/sgx/certification/v4/pckcrl?ca=platform&encoding=der"
	rootCRLURL = "https://certificates.trustedservices.intel.com/IntelSGXRootCA.der"
)

// intelSample is go-tdx-guest's sample Intel PCS collateral, real data.
func intelSample() map[string]Response {
	return map[string]Response{
		qeURL:      {Header: tdxtest.QeIdentityHeader, Body: testdata.QeIdentityBody},
		tcbURL:     {Header: tdxtest.TcbInfoHeader, Body: testdata.TcbInfoBody},
		pckCRLURL:  {Header: tdxtest.PckCrlHeader, Body: testdata.PckCrlBody},
		rootCRLURL: {Body: testdata.RootCrlBody},
	}
}

func TestImportThenLookup(t *testing.T) {
	ctx := context.Background()
	bundle := filepath.Join(t.TempDir(), "bundle")
	if err := WriteBundle(bundle, intelSample()); err != nil {
		t.Fatal(err)
	}
	c, err := Open(filepath.Join(t.TempDir(), "cache"), nil)
	if err != nil {
		t.Fatal(err)
	}
	n, err := c.Import(ctx, bundle)
	if err != nil {
		t.Fatal(err)
	}
	if n != 4 {
		t.Fatalf("imported %d, want 4", n)
	}
	h, body, err := c.TDX().GetContext(ctx, tcbURL)
	if err != nil {
		t.Fatal(err)
	}
	if string(body) != string(testdata.TcbInfoBody) {
		t.Error("TCB info body differs from the imported one")
	}
	if len(h["Tcb-Info-Issuer-Chain"]) != 1 {
		t.Errorf("issuer chain header not kept: %v", h)
	}
	got, err := c.Get(rootCRLURL)
	if err != nil || string(got) != string(testdata.RootCrlBody) {
		t.Errorf("Get(root CRL) = %d bytes, %v", len(got), err)
	}
	list, err := c.List()
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]string{}
	for _, m := range list {
		kinds[m.URL] = m.Kind
	}
	want := map[string]string{qeURL: "json", tcbURL: "json", pckCRLURL: "crl", rootCRLURL: "crl"}
	for u, k := range want {
		if kinds[u] != k {
			t.Errorf("kind of %s = %q, want %q", u, kinds[u], k)
		}
	}
	for _, m := range list {
		if m.URL == tcbURL && m.NextUpdate.IsZero() {
			t.Error("TCB info next update not read")
		}
	}
}

func TestMissNamesURLAndImport(t *testing.T) {
	c, err := Open(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Get(tcbURL)
	if !errors.Is(err, ErrMissing) {
		t.Fatalf("err = %v, want ErrMissing", err)
	}
	for _, want := range []string{tcbURL, "hoheit collateral import", "hoheit collateral fetch"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}

func TestImportIsAllOrNothing(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		name   string
		break_ func(t *testing.T, dir string)
		want   string
	}{
		{"garbage body", func(t *testing.T, dir string) {
			writeEntry(t, dir, "https://example.test/garbage", []byte("not collateral"), "")
		}, "neither"},
		{"hash mismatch", func(t *testing.T, dir string) {
			idx := readIndex(t, dir)
			e := idx.Entries[qeURL]
			e.SHA256 = strings.Repeat("0", 64)
			idx.Entries[qeURL] = e
			writeIndex(t, dir, idx)
		}, "SHA-256"},
		{"path escape", func(t *testing.T, dir string) {
			idx := readIndex(t, dir)
			e := idx.Entries[qeURL]
			e.File = "../../etc/passwd"
			idx.Entries[qeURL] = e
			writeIndex(t, dir, idx)
		}, "plain file name"},
		{"plain http", func(t *testing.T, dir string) {
			writeEntry(t, dir, "http://example.test/crl", testdata.RootCrlBody, "")
		}, "not an https URL"},
		{"bad issuer chain", func(t *testing.T, dir string) {
			idx := readIndex(t, dir)
			e := idx.Entries[tcbURL]
			e.Headers = map[string][]string{"Tcb-Info-Issuer-Chain": {"-----BEGIN%20CERTIFICATE-----%0Anope%0A-----END%20CERTIFICATE-----"}}
			idx.Entries[tcbURL] = e
			writeIndex(t, dir, idx)
		}, "Tcb-Info-Issuer-Chain"},
		{"wrong version", func(t *testing.T, dir string) {
			idx := readIndex(t, dir)
			idx.Version = 2
			writeIndex(t, dir, idx)
		}, "version"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			bundle := filepath.Join(t.TempDir(), "bundle")
			if err := WriteBundle(bundle, intelSample()); err != nil {
				t.Fatal(err)
			}
			tc.break_(t, bundle)
			c, err := Open(filepath.Join(t.TempDir(), "cache"), nil)
			if err != nil {
				t.Fatal(err)
			}
			n, err := c.Import(ctx, bundle)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Import = %d, %v; want an error containing %q", n, err, tc.want)
			}
			list, err := c.List()
			if err != nil {
				t.Fatal(err)
			}
			if len(list) != 0 {
				t.Errorf("%d entries imported from a bad bundle, want none", len(list))
			}
			ents, _ := os.ReadDir(c.Dir())
			if len(ents) != 0 {
				t.Errorf("cache directory not clean after a failed import: %d files", len(ents))
			}
		})
	}
}

func TestReimportReplaces(t *testing.T) {
	ctx := context.Background()
	c, err := Open(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	b1 := filepath.Join(t.TempDir(), "b1")
	if err := WriteBundle(b1, map[string]Response{rootCRLURL: {Body: testdata.RootCrlBody}}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Import(ctx, b1); err != nil {
		t.Fatal(err)
	}
	b2 := filepath.Join(t.TempDir(), "b2")
	if err := WriteBundle(b2, map[string]Response{rootCRLURL: {Body: testdata.PckCrlBody}}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Import(ctx, b2); err != nil {
		t.Fatal(err)
	}
	got, err := c.Get(rootCRLURL)
	if err != nil || string(got) != string(testdata.PckCrlBody) {
		t.Fatalf("after re-import: %d bytes, %v", len(got), err)
	}
}

func TestTamperedEntryRefused(t *testing.T) {
	ctx := context.Background()
	c, err := Open(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	b := filepath.Join(t.TempDir(), "b")
	if err := WriteBundle(b, map[string]Response{rootCRLURL: {Body: testdata.RootCrlBody}}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Import(ctx, b); err != nil {
		t.Fatal(err)
	}
	body := filepath.Join(c.Dir(), key(rootCRLURL)+".body")
	if err := os.WriteFile(body, testdata.PckCrlBody, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Get(rootCRLURL); err == nil || !strings.Contains(err.Error(), "hash") {
		t.Fatalf("Get on a tampered entry = %v, want a hash error", err)
	}
}

func TestAllowedURLFetchedAndStored(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		switch r.URL.Path {
		case "/tcb":
			w.Header().Set("TCB-Info-Issuer-Chain", tdxtest.TcbInfoHeader["Tcb-Info-Issuer-Chain"][0])
			w.Header().Set("X-Other", "dropped")
			w.Write(testdata.TcbInfoBody)
		case "/junk":
			w.Write([]byte("junk"))
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	c, err := Open(t.TempDir(), []string{srv.URL + "/tcb"})
	if err != nil {
		t.Fatal(err)
	}
	c.client = srv.Client()
	ctx := context.Background()
	h, body, err := c.Lookup(ctx, srv.URL+"/tcb")
	if err != nil {
		t.Fatal(err)
	}
	if string(body) != string(testdata.TcbInfoBody) || len(h["Tcb-Info-Issuer-Chain"]) != 1 || h["X-Other"] != nil {
		t.Fatalf("fetched: %d bytes, headers %v", len(body), h)
	}
	// Now cached: no second request (the sample is stale, so make the
	// clock agree with it).
	c.now = func() time.Time { return time.Date(2023, 7, 1, 0, 0, 0, 0, time.UTC) }
	if _, _, err := c.Lookup(ctx, srv.URL+"/tcb"); err != nil {
		t.Fatal(err)
	}
	if hits.Load() != 1 {
		t.Errorf("%d requests, want 1 (the second answered from the cache)", hits.Load())
	}
	// A URL outside the allowed prefixes is never fetched.
	if _, _, err := c.Lookup(ctx, srv.URL+"/junk"); !errors.Is(err, ErrMissing) {
		t.Errorf("not-allowed URL: %v, want ErrMissing", err)
	}
	if hits.Load() != 1 {
		t.Errorf("a not-allowed URL reached the network")
	}
}

func TestFetchWritesImportableBundle(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/qe":
			w.Header().Set("SGX-Enclave-Identity-Issuer-Chain", tdxtest.QeIdentityHeader["Sgx-Enclave-Identity-Issuer-Chain"][0])
			w.Write(testdata.QeIdentityBody)
		case "/root.der":
			w.Write(testdata.RootCrlBody)
		case "/junk":
			w.Write([]byte("<html>"))
		}
	}))
	defer srv.Close()
	ctx := context.Background()
	out := filepath.Join(t.TempDir(), "bundle")
	if err := fetchBundle(ctx, srv.Client(), []string{srv.URL + "/qe", srv.URL + "/root.der"}, out); err != nil {
		t.Fatal(err)
	}
	c, err := Open(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := c.Import(ctx, out); err != nil || n != 2 {
		t.Fatalf("Import = %d, %v", n, err)
	}
	h, _, err := c.TDX().Get(srv.URL + "/qe")
	if err != nil || len(h["Sgx-Enclave-Identity-Issuer-Chain"]) != 1 {
		t.Fatalf("qe identity: headers %v, %v", h, err)
	}
	// A response that is not collateral fails the fetch, and no index is written.
	bad := filepath.Join(t.TempDir(), "bad")
	if err := fetchBundle(ctx, srv.Client(), []string{srv.URL + "/junk"}, bad); err == nil {
		t.Fatal("fetching junk succeeded")
	}
	if _, err := os.Stat(filepath.Join(bad, IndexFile)); err == nil {
		t.Error("index written for a failed fetch")
	}
	if err := Fetch(ctx, []string{"http://example.test/x"}, bad); err == nil {
		t.Error("plain http fetch accepted")
	}
}

func writeEntry(t *testing.T, dir, u string, body []byte, sha string) {
	t.Helper()
	idx := readIndex(t, dir)
	name := "extra.body"
	if err := os.WriteFile(filepath.Join(dir, name), body, 0o644); err != nil {
		t.Fatal(err)
	}
	idx.Entries[u] = IndexEntry{File: name, SHA256: sha}
	writeIndex(t, dir, idx)
}

func readIndex(t *testing.T, dir string) Index {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, IndexFile))
	if err != nil {
		t.Fatal(err)
	}
	var idx Index
	if err := json.Unmarshal(b, &idx); err != nil {
		t.Fatal(err)
	}
	return idx
}

func writeIndex(t *testing.T, dir string, idx Index) {
	t.Helper()
	b, err := json.Marshal(idx)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, IndexFile), b, 0o644); err != nil {
		t.Fatal(err)
	}
}
