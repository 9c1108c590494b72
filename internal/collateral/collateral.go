// Package collateral is hoheit's offline store of attestation collateral:
// AMD VCEK/VLEK certificates and CRLs for SEV-SNP, Intel TDX TCB info, QE
// identity and CRLs for TDX. The attestation validators (internal/attest/snp,
// internal/attest/tdx) read it through the HTTPS getter interfaces that
// go-sev-guest and go-tdx-guest expect, so the libraries never reach AMD or
// Intel themselves: a URL is answered from the cache, and a miss fails with
// an error that names the URL and says to run `hoheit collateral import`.
// Only a URL whose prefix the configuration names explicitly (allowedURLs)
// is fetched over HTTPS, and the answer is stored in the cache.
//
// The cache directory holds two files per URL, named by the hex SHA-256 of
// the URL:
//
//	<key>.body   the response body, byte for byte
//	<key>.json   {"url": ..., "sha256": <hex of body>, "headers": {...},
//	              "kind": "certificate|crl|json|pem", "next_update": ...,
//	              "stored": ...}
//
// A bundle, written by Fetch on a connected machine and read by Import, is a
// directory with an index.json (see Index) and one file per URL.
//
// The server and the CLI (`hoheit collateral`) import this package.
package collateral

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"
)

// DefaultDir is the cache directory used when none is configured.
const DefaultDir = "/var/lib/hoheit/collateral"

// maxBody bounds one collateral response; real ones are a few KiB (CRLs
// may reach a few hundred KiB).
const maxBody = 16 << 20

// ErrMissing is wrapped by the error a Lookup returns for a URL that is not
// in the cache and may not be fetched.
var ErrMissing = errors.New("collateral not in the cache")

// Meta describes one cached URL.
type Meta struct {
	URL    string `json:"url"`
	SHA256 string `json:"sha256"`
	// Headers are the response headers the verifiers need (Intel's
	// *-Issuer-Chain headers), canonical keys.
	Headers map[string][]string `json:"headers,omitempty"`
	// Kind is what the body parsed as: certificate, crl, pem or json.
	Kind string `json:"kind"`
	// NextUpdate is when the content goes stale (a CRL's or TCB info's
	// next update, a certificate's expiry), zero when unknown.
	NextUpdate time.Time `json:"next_update,omitzero"`
	Stored     time.Time `json:"stored"`
	Size       int       `json:"size"`
}

// Cache is a collateral cache over a directory. It is safe for concurrent
// use.
type Cache struct {
	dir     string
	allowed []string
	client  *http.Client
	now     func() time.Time
	mu      sync.Mutex // serializes writes
}

// Open opens (and creates, mode 0700) the cache directory dir. allowedURLs
// are URL prefixes that may be fetched over HTTPS on a miss; nil keeps the
// cache strictly offline.
func Open(dir string, allowedURLs []string) (*Cache, error) {
	if dir == "" {
		dir = DefaultDir
	}
	for _, u := range allowedURLs {
		if !strings.HasPrefix(u, "https://") {
			return nil, fmt.Errorf("collateral: allowed URL %q must start with https://", u)
		}
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("collateral: creating cache directory: %w", err)
	}
	return &Cache{
		dir:     dir,
		allowed: append([]string(nil), allowedURLs...),
		client:  &http.Client{Timeout: 30 * time.Second},
		now:     time.Now,
	}, nil
}

// Dir returns the cache directory.
func (c *Cache) Dir() string { return c.dir }

func key(url string) string {
	h := sha256.Sum256([]byte(url))
	return hex.EncodeToString(h[:])
}

func (c *Cache) allowedURL(url string) bool {
	for _, p := range c.allowed {
		if strings.HasPrefix(url, p) {
			return true
		}
	}
	return false
}

// missing returns the error for a URL that is neither cached nor allowed.
func (c *Cache) missing(url string) error {
	return fmt.Errorf("%w: %s is not in the collateral cache %s; on a machine with internet access run "+
		"'hoheit collateral fetch --url %q --out DIR', carry DIR here and run 'hoheit collateral import DIR --cache %s'",
		ErrMissing, url, c.dir, url, c.dir)
}

// read returns a cached entry, verified against its recorded hash.
func (c *Cache) read(url string) (*Meta, []byte, error) {
	k := key(url)
	mb, err := os.ReadFile(filepath.Join(c.dir, k+".json"))
	if err != nil {
		return nil, nil, err
	}
	var m Meta
	if err := json.Unmarshal(mb, &m); err != nil {
		return nil, nil, fmt.Errorf("collateral: cache entry for %s is damaged: %v", url, err)
	}
	if m.URL != url {
		return nil, nil, fmt.Errorf("collateral: cache entry %s names %s, not %s", k, m.URL, url)
	}
	body, err := os.ReadFile(filepath.Join(c.dir, k+".body"))
	if err != nil {
		return nil, nil, fmt.Errorf("collateral: cache entry for %s has no body: %w", url, err)
	}
	sum := sha256.Sum256(body)
	if hex.EncodeToString(sum[:]) != m.SHA256 {
		return nil, nil, fmt.Errorf("collateral: cache entry for %s does not match its recorded hash; import it again", url)
	}
	return &m, body, nil
}

// Lookup answers url from the cache. On a miss, or when the cached content
// is past its next update, a URL under an allowed prefix is fetched over
// HTTPS and stored; any other miss returns an error wrapping ErrMissing.
func (c *Cache) Lookup(ctx context.Context, url string) (map[string][]string, []byte, error) {
	m, body, err := c.read(url)
	switch {
	case err == nil:
		stale := !m.NextUpdate.IsZero() && c.now().After(m.NextUpdate)
		if !stale || !c.allowedURL(url) {
			return m.Headers, body, nil
		}
		h, b, ferr := c.fetchAndStore(ctx, url)
		if ferr != nil {
			// Stale content is still better evidence than none; the
			// verifier checks freshness itself.
			return m.Headers, body, nil
		}
		return h, b, nil
	case errors.Is(err, os.ErrNotExist):
		if !c.allowedURL(url) {
			return nil, nil, c.missing(url)
		}
		return c.fetchAndStore(ctx, url)
	default:
		return nil, nil, err
	}
}

func (c *Cache) fetchAndStore(ctx context.Context, url string) (map[string][]string, []byte, error) {
	h, body, err := fetch(ctx, c.client, url)
	if err != nil {
		return nil, nil, err
	}
	m, err := describe(url, h, body)
	if err != nil {
		return nil, nil, err
	}
	m.Stored = c.now().UTC()
	if err := c.store([]entry{{meta: m, body: body}}); err != nil {
		return nil, nil, err
	}
	return m.Headers, body, nil
}

// Get implements go-sev-guest's verify/trust.HTTPSGetter.
func (c *Cache) Get(url string) ([]byte, error) {
	return c.GetContext(context.Background(), url)
}

// GetContext implements go-sev-guest's verify/trust.ContextHTTPSGetter.
func (c *Cache) GetContext(ctx context.Context, url string) ([]byte, error) {
	_, body, err := c.Lookup(ctx, url)
	return body, err
}

// TDX returns the cache as go-tdx-guest's verify/trust.HTTPSGetter, whose
// Get also returns the response headers (Intel sends the signing chain of
// TCB info and QE identity in headers).
func (c *Cache) TDX() *TDXGetter { return &TDXGetter{c: c} }

// TDXGetter adapts a Cache to go-tdx-guest's HTTPSGetter.
type TDXGetter struct{ c *Cache }

// Get implements go-tdx-guest's verify/trust.HTTPSGetter.
func (g *TDXGetter) Get(url string) (map[string][]string, []byte, error) {
	return g.c.Lookup(context.Background(), url)
}

// GetContext implements go-tdx-guest's verify/trust.ContextHTTPSGetter.
func (g *TDXGetter) GetContext(ctx context.Context, url string) (map[string][]string, []byte, error) {
	return g.c.Lookup(ctx, url)
}

// List returns the cached entries sorted by URL.
func (c *Cache) List() ([]Meta, error) {
	names, err := filepath.Glob(filepath.Join(c.dir, "*.json"))
	if err != nil {
		return nil, err
	}
	var out []Meta
	for _, n := range names {
		b, err := os.ReadFile(n)
		if err != nil {
			return nil, err
		}
		var m Meta
		if err := json.Unmarshal(b, &m); err != nil || m.URL == "" || key(m.URL)+".json" != filepath.Base(n) {
			return nil, fmt.Errorf("collateral: %s is not a cache entry", n)
		}
		out = append(out, m)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].URL < out[j].URL })
	return out, nil
}

type entry struct {
	meta *Meta
	body []byte
}

// store writes entries so that either all of them replace what was cached
// or, on error, none does: every file is written to a staging directory
// first and renamed into place; a failed rename rolls back the ones done.
func (c *Cache) store(entries []entry) (err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	stage, err := os.MkdirTemp(c.dir, ".import-")
	if err != nil {
		return fmt.Errorf("collateral: staging: %w", err)
	}
	defer os.RemoveAll(stage)
	type move struct{ from, to, backup string }
	var moves []move
	for _, e := range entries {
		k := key(e.meta.URL)
		mb, err := json.MarshalIndent(e.meta, "", "  ")
		if err != nil {
			return err
		}
		for _, f := range []struct {
			name string
			data []byte
		}{{k + ".body", e.body}, {k + ".json", mb}} {
			if err := writeFileSync(filepath.Join(stage, f.name), f.data); err != nil {
				return fmt.Errorf("collateral: staging %s: %w", e.meta.URL, err)
			}
			moves = append(moves, move{from: filepath.Join(stage, f.name), to: filepath.Join(c.dir, f.name), backup: filepath.Join(stage, f.name+".old")})
		}
	}
	// Bodies are moved before their metadata, so a reader never sees
	// metadata whose body is not yet there (it would fail the hash check
	// and report a damaged entry, not use wrong content).
	done := 0
	defer func() {
		if err == nil {
			return
		}
		for i := done - 1; i >= 0; i-- {
			m := moves[i]
			if _, serr := os.Stat(m.backup); serr == nil {
				_ = os.Rename(m.backup, m.to)
			} else {
				_ = os.Remove(m.to)
			}
		}
	}()
	for _, m := range moves {
		if err := os.Link(m.to, m.backup); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("collateral: keeping the old %s: %w", filepath.Base(m.to), err)
		}
		if err := os.Rename(m.from, m.to); err != nil {
			return fmt.Errorf("collateral: storing %s: %w", filepath.Base(m.to), err)
		}
		done++
	}
	return syncDir(c.dir)
}

func writeFileSync(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	_ = d.Sync() // not every filesystem supports it
	return nil
}

// fetch GETs an https URL and keeps the headers the verifiers need.
func fetch(ctx context.Context, client *http.Client, url string) (map[string][]string, []byte, error) {
	if !strings.HasPrefix(url, "https://") {
		return nil, nil, fmt.Errorf("collateral: refusing to fetch %s: only https URLs are fetched", url)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, nil, fmt.Errorf("collateral: %w", err)
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, nil, fmt.Errorf("collateral: fetching %s: %w", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, nil, fmt.Errorf("collateral: fetching %s: HTTP %s", url, resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
	if err != nil {
		return nil, nil, fmt.Errorf("collateral: reading %s: %w", url, err)
	}
	if len(body) > maxBody {
		return nil, nil, fmt.Errorf("collateral: %s is larger than %d bytes", url, maxBody)
	}
	return keptHeaders(resp.Header), body, nil
}

// keptHeaders keeps Intel's issuer-chain headers (TCB-Info-Issuer-Chain,
// SGX-PCK-CRL-Issuer-Chain, SGX-Enclave-Identity-Issuer-Chain), the only
// headers a verifier reads.
func keptHeaders(h http.Header) map[string][]string {
	var out map[string][]string
	for k, v := range h {
		ck := http.CanonicalHeaderKey(k)
		if strings.HasSuffix(ck, "-Issuer-Chain") {
			if out == nil {
				out = map[string][]string{}
			}
			out[ck] = append([]string(nil), v...)
		}
	}
	return out
}
