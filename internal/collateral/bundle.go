package collateral

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// IndexVersion is the version of the bundle's index.json this build writes
// and reads.
const IndexVersion = 1

// IndexFile is the name of a bundle's index.
const IndexFile = "index.json"

// Index is a bundle's index.json: which file answers which URL.
//
//	{"version": 1,
//	 "created": "2025-01-01T00:00:00Z",
//	 "entries": {
//	   "https://kdsintf.amd.com/vcek/v1/Milan/crl": {"file": "001.body", "sha256": "..."},
//	   "https://api.trustedservices.intel.com/tdx/certification/v4/qe/identity":
//	     {"file": "002.body", "sha256": "...", "headers": {"Sgx-Enclave-Identity-Issuer-Chain": ["..."]}}}}
type Index struct {
	Version int                   `json:"version"`
	Created time.Time             `json:"created,omitzero"`
	Entries map[string]IndexEntry `json:"entries"`
}

// IndexEntry is one URL of a bundle.
type IndexEntry struct {
	// File is the body's file name inside the bundle directory.
	File string `json:"file"`
	// SHA256 is the hex SHA-256 of the body; checked on import when set.
	SHA256  string              `json:"sha256,omitempty"`
	Headers map[string][]string `json:"headers,omitempty"`
}

// maxEntries bounds a bundle.
const maxEntries = 10_000

// Import copies the bundle in directory src into the cache and returns the
// number of URLs imported. Every body must parse as what collateral is (a
// certificate, a CRL, PEM certificates or CRLs, or JSON such as TDX TCB
// info) and every issuer-chain header as PEM certificates; if any does not,
// nothing is imported.
func (c *Cache) Import(ctx context.Context, src string) (n int, err error) {
	ib, err := os.ReadFile(filepath.Join(src, IndexFile))
	if err != nil {
		return 0, fmt.Errorf("collateral: %s is not a bundle (it needs an %s, as 'hoheit collateral fetch' writes): %w", src, IndexFile, err)
	}
	var idx Index
	if err := json.Unmarshal(ib, &idx); err != nil {
		return 0, fmt.Errorf("collateral: %s: %w", filepath.Join(src, IndexFile), err)
	}
	if idx.Version != IndexVersion {
		return 0, fmt.Errorf("collateral: %s has version %d, this hoheit reads version %d", filepath.Join(src, IndexFile), idx.Version, IndexVersion)
	}
	if len(idx.Entries) == 0 {
		return 0, fmt.Errorf("collateral: %s lists no entries", filepath.Join(src, IndexFile))
	}
	if len(idx.Entries) > maxEntries {
		return 0, fmt.Errorf("collateral: %s lists %d entries, more than %d", filepath.Join(src, IndexFile), len(idx.Entries), maxEntries)
	}
	urls := make([]string, 0, len(idx.Entries))
	for u := range idx.Entries {
		urls = append(urls, u)
	}
	sort.Strings(urls)
	now := c.now().UTC()
	entries := make([]entry, 0, len(urls))
	for _, u := range urls {
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		e := idx.Entries[u]
		if err := checkURL(u); err != nil {
			return 0, err
		}
		name := e.File
		if name == "" || name != filepath.Base(name) || strings.HasPrefix(name, ".") {
			return 0, fmt.Errorf("collateral: entry %s: file %q must be a plain file name inside the bundle", u, e.File)
		}
		body, err := readBounded(filepath.Join(src, name))
		if err != nil {
			return 0, fmt.Errorf("collateral: entry %s: %w", u, err)
		}
		if e.SHA256 != "" {
			sum := sha256.Sum256(body)
			if !strings.EqualFold(hex.EncodeToString(sum[:]), e.SHA256) {
				return 0, fmt.Errorf("collateral: entry %s: %s does not match the SHA-256 in the index", u, name)
			}
		}
		m, err := describe(u, e.Headers, body)
		if err != nil {
			return 0, err
		}
		m.Stored = now
		entries = append(entries, entry{meta: m, body: body})
	}
	if err := c.store(entries); err != nil {
		return 0, err
	}
	return len(entries), nil
}

func readBounded(path string) ([]byte, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", path)
	}
	if fi.Size() > maxBody {
		return nil, fmt.Errorf("%s is larger than %d bytes", path, maxBody)
	}
	return os.ReadFile(path)
}

func checkURL(u string) error {
	p, err := url.Parse(u)
	if err != nil || p.Scheme != "https" || p.Host == "" {
		return fmt.Errorf("collateral: %q is not an https URL", u)
	}
	return nil
}

// describe checks that body (and the issuer-chain headers) parse as
// collateral and returns its metadata.
func describe(u string, headers map[string][]string, body []byte) (*Meta, error) {
	kind, next, err := parseBody(body)
	if err != nil {
		return nil, fmt.Errorf("collateral: %s: %v", u, err)
	}
	var kept map[string][]string
	for k, vs := range headers {
		ck := http.CanonicalHeaderKey(k)
		if !strings.HasSuffix(ck, "-Issuer-Chain") {
			continue
		}
		for _, v := range vs {
			chain, err := url.QueryUnescape(v)
			if err != nil {
				return nil, fmt.Errorf("collateral: %s: header %s is not URL-encoded PEM: %v", u, k, err)
			}
			if _, err := parsePEMCerts([]byte(chain)); err != nil {
				return nil, fmt.Errorf("collateral: %s: header %s: %v", u, k, err)
			}
		}
		if kept == nil {
			kept = map[string][]string{}
		}
		kept[ck] = append([]string(nil), vs...)
	}
	sum := sha256.Sum256(body)
	return &Meta{URL: u, SHA256: hex.EncodeToString(sum[:]), Headers: kept, Kind: kind, NextUpdate: next, Size: len(body)}, nil
}

// parseBody recognizes a DER certificate, a DER CRL, PEM certificates or
// CRLs, or a JSON object, and returns when it goes stale where it says.
func parseBody(body []byte) (kind string, next time.Time, err error) {
	if len(body) == 0 {
		return "", time.Time{}, errors.New("empty body")
	}
	if cert, err := x509.ParseCertificate(body); err == nil {
		return "certificate", cert.NotAfter, nil
	}
	if crl, err := x509.ParseRevocationList(body); err == nil {
		return "crl", crl.NextUpdate, nil
	}
	trimmed := strings.TrimSpace(string(body))
	if strings.HasPrefix(trimmed, "-----BEGIN") {
		next, err := parsePEM(body)
		if err != nil {
			return "", time.Time{}, err
		}
		return "pem", next, nil
	}
	if strings.HasPrefix(trimmed, "{") {
		var doc map[string]json.RawMessage
		if err := json.Unmarshal(body, &doc); err != nil {
			return "", time.Time{}, fmt.Errorf("not valid JSON: %v", err)
		}
		// TDX TCB info and QE identity carry their own next update.
		for _, k := range []string{"tcbInfo", "enclaveIdentity"} {
			if raw, ok := doc[k]; ok {
				var inner struct {
					NextUpdate time.Time `json:"nextUpdate"`
				}
				if err := json.Unmarshal(raw, &inner); err != nil {
					return "", time.Time{}, fmt.Errorf("%s: %v", k, err)
				}
				return "json", inner.NextUpdate, nil
			}
		}
		return "json", time.Time{}, nil
	}
	return "", time.Time{}, errors.New("neither a certificate, a CRL, PEM nor JSON")
}

// parsePEM parses PEM certificates and CRLs and returns the earliest expiry.
func parsePEM(b []byte) (time.Time, error) {
	var next time.Time
	n := 0
	earliest := func(t time.Time) {
		if !t.IsZero() && (next.IsZero() || t.Before(next)) {
			next = t
		}
	}
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			break
		}
		switch blk.Type {
		case "CERTIFICATE":
			c, err := x509.ParseCertificate(blk.Bytes)
			if err != nil {
				return time.Time{}, fmt.Errorf("PEM certificate %d: %v", n+1, err)
			}
			earliest(c.NotAfter)
		case "X509 CRL":
			crl, err := x509.ParseRevocationList(blk.Bytes)
			if err != nil {
				return time.Time{}, fmt.Errorf("PEM CRL %d: %v", n+1, err)
			}
			earliest(crl.NextUpdate)
		default:
			return time.Time{}, fmt.Errorf("PEM block %q is neither a certificate nor a CRL", blk.Type)
		}
		n++
	}
	if n == 0 || strings.TrimSpace(string(b)) != "" {
		return time.Time{}, errors.New("malformed PEM")
	}
	return next, nil
}

func parsePEMCerts(b []byte) ([]*x509.Certificate, error) {
	var out []*x509.Certificate
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			break
		}
		if blk.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("PEM block %q is not a certificate", blk.Type)
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	if len(out) == 0 || strings.TrimSpace(string(b)) != "" {
		return nil, errors.New("malformed PEM certificate chain")
	}
	return out, nil
}

// Fetch downloads urls over HTTPS, on a machine with internet access, and
// writes a bundle to the directory out (created; it must not exist or be
// empty) for Import on the air-gapped machine. Every response is checked
// as Import checks it.
func Fetch(ctx context.Context, urls []string, out string) error {
	return fetchBundle(ctx, &http.Client{Timeout: 30 * time.Second}, urls, out)
}

func fetchBundle(ctx context.Context, client *http.Client, urls []string, out string) error {
	if len(urls) == 0 {
		return errors.New("collateral: no URL to fetch")
	}
	for _, u := range urls {
		if err := checkURL(u); err != nil {
			return err
		}
	}
	if ents, err := os.ReadDir(out); err == nil && len(ents) > 0 {
		return fmt.Errorf("collateral: %s is not empty; choose a new directory for the bundle", out)
	}
	idx := Index{Version: IndexVersion, Created: time.Now().UTC(), Entries: map[string]IndexEntry{}}
	type file struct {
		name string
		body []byte
	}
	var files []file
	for i, u := range urls {
		if _, dup := idx.Entries[u]; dup {
			continue
		}
		h, body, err := fetch(ctx, client, u)
		if err != nil {
			return err
		}
		m, err := describe(u, h, body)
		if err != nil {
			return err
		}
		name := fmt.Sprintf("%03d.body", i+1)
		idx.Entries[u] = IndexEntry{File: name, SHA256: m.SHA256, Headers: m.Headers}
		files = append(files, file{name, body})
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return fmt.Errorf("collateral: %w", err)
	}
	for _, f := range files {
		if err := os.WriteFile(filepath.Join(out, f.name), f.body, 0o644); err != nil {
			return fmt.Errorf("collateral: %w", err)
		}
	}
	ib, err := json.MarshalIndent(idx, "", "  ")
	if err != nil {
		return err
	}
	// The index last: a bundle without it is visibly incomplete.
	return os.WriteFile(filepath.Join(out, IndexFile), append(ib, '\n'), 0o644)
}

// WriteBundle writes a bundle from responses already in hand (URL → headers
// and body), for tests and for tools that collect collateral otherwise.
func WriteBundle(out string, responses map[string]Response) error {
	idx := Index{Version: IndexVersion, Created: time.Now().UTC(), Entries: map[string]IndexEntry{}}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	urls := make([]string, 0, len(responses))
	for u := range responses {
		urls = append(urls, u)
	}
	sort.Strings(urls)
	for i, u := range urls {
		r := responses[u]
		name := fmt.Sprintf("%03d.body", i+1)
		if err := os.WriteFile(filepath.Join(out, name), r.Body, 0o644); err != nil {
			return err
		}
		sum := sha256.Sum256(r.Body)
		idx.Entries[u] = IndexEntry{File: name, SHA256: hex.EncodeToString(sum[:]), Headers: r.Header}
	}
	ib, err := json.MarshalIndent(idx, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(out, IndexFile), append(ib, '\n'), 0o644)
}

// Response is one URL's headers and body.
type Response struct {
	Header map[string][]string
	Body   []byte
}
