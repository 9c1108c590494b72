package server

import (
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/hoheit/hoheit/internal/attest"
)

// Config is the server's configuration file (examples/server.yaml is the
// commented reference).
type Config struct {
	// Listen is the TCP address of the API, ":8443" by default.
	Listen string `yaml:"listen"`
	// TrustDomain names the SPIFFE trust domain of node certificates.
	TrustDomain string `yaml:"trust_domain"`
	// DataDir holds the SQLite database, the CA certificate and the
	// bootstrap admin token.
	DataDir string `yaml:"data_dir"`
	// Hosts are the DNS names and IP addresses the server's TLS
	// certificate (issued by the internal CA) is valid for.
	Hosts []string `yaml:"hosts"`

	Keys        KeysConfig        `yaml:"keys"`
	Attestation AttestationConfig `yaml:"attestation"`
	Collateral  CollateralConfig  `yaml:"collateral"`
	RefValues   RefValuesConfig   `yaml:"refvalues"`
	// CertValidity is the lifetime of node certificates (24h by default).
	CertValidity Duration       `yaml:"cert_validity"`
	Audit        AuditConfig    `yaml:"audit"`
	Database     DatabaseConfig `yaml:"database"`
	Mesh         MeshSettings   `yaml:"mesh"`
}

// MeshSettings configure the encrypted mesh between attested nodes.
type MeshSettings struct {
	// IPv6Prefix is the ULA prefix node addresses come from
	// (fd68:6f68:6569::/48 by default); IPv4Prefix optionally gives every
	// node an IPv4 address too.
	IPv6Prefix string `yaml:"ipv6_prefix"`
	IPv4Prefix string `yaml:"ipv4_prefix"`
	// PSKRotateEvery rotates every node pair's pre-shared key (1h).
	PSKRotateEvery Duration `yaml:"psk_rotate_every"`
	// AlertWebhook receives every segmentation alert as a JSON POST.
	AlertWebhook string `yaml:"alert_webhook"`
	// AlertRetention bounds the segmentation alerts the server keeps.
	AlertRetention AlertRetention `yaml:"alert_retention"`
}

// AlertRetention bounds the stored segmentation alerts; whichever limit
// is reached first removes the oldest.
type AlertRetention struct {
	// MaxAlerts keeps the newest alerts (10000 by default).
	MaxAlerts int `yaml:"max_alerts"`
	// MaxAge removes alerts received longer ago (720h, 30 days, by
	// default).
	MaxAge Duration `yaml:"max_age"`
}

// Options returns the mesh options of the settings (validated).
func (m MeshSettings) Options() MeshOptions {
	o := MeshOptions{RotateEvery: m.PSKRotateEvery.D(), AlertWebhook: m.AlertWebhook,
		AlertsKeep: m.AlertRetention.MaxAlerts, AlertsMaxAge: m.AlertRetention.MaxAge.D()}
	o.IPv6, _ = netip.ParsePrefix(m.IPv6Prefix)
	o.IPv4, _ = netip.ParsePrefix(m.IPv4Prefix)
	return o
}

// DatabaseConfig tunes the SQLite store.
type DatabaseConfig struct {
	// Synchronous is "normal" (default: a commit, and so its audit entry,
	// survives a crash or kill of the server; a power loss may lose the
	// last commits) or "full" (an fsync per commit: survives power loss,
	// costs join throughput).
	Synchronous string `yaml:"synchronous"`
}

// KeysConfig chooses the master key backend.
type KeysConfig struct {
	// Backend is "file" or "pkcs11".
	Backend string       `yaml:"backend"`
	File    FileKeys     `yaml:"file"`
	PKCS11  PKCS11Config `yaml:"pkcs11"`
}

// FileKeys is the passphrase-sealed master key file.
type FileKeys struct {
	Path string `yaml:"path"`
	// PassphraseFile holds the passphrase; PassphraseEnv names an
	// environment variable holding it instead.
	PassphraseFile string `yaml:"passphrase_file"`
	PassphraseEnv  string `yaml:"passphrase_env"`
}

// PKCS11Config points at an HSM token.
type PKCS11Config struct {
	Module     string `yaml:"module"`
	TokenLabel string `yaml:"token_label"`
	KeyLabel   string `yaml:"key_label"`
	PINFile    string `yaml:"pin_file"`
	PINEnv     string `yaml:"pin_env"`
}

// AttestationConfig says which variants are allowed and how they are trusted.
type AttestationConfig struct {
	// Allow lists the variants accepted; "insecure" only for development.
	Allow []string `yaml:"allow"`
	// NonceTTL is how long a nonce is valid (60s).
	NonceTTL Duration `yaml:"nonce_ttl"`
	// ReattestEvery is how often agents must re-attest (1h); a node that
	// misses it by more than ReattestGrace is quarantined.
	ReattestEvery Duration  `yaml:"reattest_every"`
	ReattestGrace Duration  `yaml:"reattest_grace"`
	TPM           TPMConfig `yaml:"tpm"`
	SNP           SNPConfig `yaml:"sev-snp"`
	TDX           TDXConfig `yaml:"tdx"`
}

// TPMConfig trusts TPM attestation keys.
type TPMConfig struct {
	// EKRoots is a PEM file or directory of PEM files with the roots of
	// TPM endorsement key certificates.
	EKRoots string `yaml:"ek_roots"`
	// RegisteredAKs is a directory of PEM public keys of attestation keys
	// registered in advance.
	RegisteredAKs string `yaml:"registered_aks"`
}

// SNPConfig tunes SEV-SNP verification.
type SNPConfig struct {
	CheckRevocations bool `yaml:"check_revocations"`
}

// TDXConfig tunes TDX verification.
type TDXConfig struct {
	CheckRevocations bool `yaml:"check_revocations"`
}

// CollateralConfig is the local cache of AMD and Intel collateral.
type CollateralConfig struct {
	Dir string `yaml:"dir"`
	// AllowURLs are URL prefixes hoheit may fetch from when the cache
	// misses; empty means never fetch (air-gapped).
	AllowURLs []string `yaml:"allow_urls"`
}

// RefValuesConfig points at the signed reference values.
type RefValuesConfig struct {
	Dir string `yaml:"dir"`
	// OwnerKeys are PEM public keys of the data owner; reference values
	// must be signed by one of them.
	OwnerKeys []string `yaml:"owner_keys"`
	// ReloadEvery is how often the directory is checked for changes.
	ReloadEvery Duration `yaml:"reload_every"`
}

// AuditConfig tunes the audit log.
type AuditConfig struct {
	// CheckpointEvery is how often the head is signed when it moved.
	CheckpointEvery Duration `yaml:"checkpoint_every"`
}

// Duration is a time.Duration written as "60s", "1h".
type Duration time.Duration

// UnmarshalYAML parses a Go duration string.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	var s string
	if err := n.Decode(&s); err != nil {
		return err
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("line %d: %q is not a duration (write e.g. 60s, 5m, 24h)", n.Line, s)
	}
	*d = Duration(v)
	return nil
}

// D returns the time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// LoadConfig reads and validates a configuration file. Relative paths in it
// are relative to the file's directory.
func LoadConfig(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading config: %w", err)
	}
	var c Config
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	c.resolve(filepath.Dir(path))
	c.setDefaults()
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &c, nil
}

func (c *Config) resolve(base string) {
	abs := func(p *string) {
		if *p != "" && !filepath.IsAbs(*p) {
			*p = filepath.Join(base, *p)
		}
	}
	abs(&c.DataDir)
	abs(&c.Keys.File.Path)
	abs(&c.Keys.File.PassphraseFile)
	abs(&c.Keys.PKCS11.PINFile)
	abs(&c.Attestation.TPM.EKRoots)
	abs(&c.Attestation.TPM.RegisteredAKs)
	abs(&c.Collateral.Dir)
	abs(&c.RefValues.Dir)
	for i := range c.RefValues.OwnerKeys {
		abs(&c.RefValues.OwnerKeys[i])
	}
}

func (c *Config) setDefaults() {
	if c.Listen == "" {
		c.Listen = ":8443"
	}
	if c.Attestation.NonceTTL == 0 {
		c.Attestation.NonceTTL = Duration(60 * time.Second)
	}
	if c.Attestation.ReattestEvery == 0 {
		c.Attestation.ReattestEvery = Duration(time.Hour)
	}
	if c.Attestation.ReattestGrace == 0 {
		c.Attestation.ReattestGrace = Duration(5 * time.Minute)
	}
	if c.CertValidity == 0 {
		c.CertValidity = Duration(24 * time.Hour)
	}
	if c.RefValues.ReloadEvery == 0 {
		c.RefValues.ReloadEvery = Duration(10 * time.Second)
	}
	if c.Audit.CheckpointEvery == 0 {
		c.Audit.CheckpointEvery = Duration(10 * time.Second)
	}
	if len(c.Hosts) == 0 {
		c.Hosts = []string{"localhost", "127.0.0.1", "::1"}
	}
}

var trustDomainRE = regexp.MustCompile(`^[a-z0-9]([a-z0-9.-]{0,253}[a-z0-9])?$`)

// Validate reports every problem of the configuration at once.
func (c *Config) Validate() error {
	var errs []error
	add := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	if !trustDomainRE.MatchString(c.TrustDomain) {
		add("trust_domain %q: want a DNS-like name such as hoheit.example.org", c.TrustDomain)
	}
	if c.DataDir == "" {
		add("data_dir: required (the SQLite database and CA certificate live there)")
	}
	switch c.Keys.Backend {
	case "file":
		if c.Keys.File.Path == "" {
			add("keys.file.path: required with backend file")
		}
		if (c.Keys.File.PassphraseFile == "") == (c.Keys.File.PassphraseEnv == "") {
			add("keys.file: set exactly one of passphrase_file and passphrase_env")
		}
	case "pkcs11":
		p := c.Keys.PKCS11
		if p.Module == "" || p.TokenLabel == "" {
			add("keys.pkcs11: module and token_label are required")
		}
		if (p.PINFile == "") == (p.PINEnv == "") {
			add("keys.pkcs11: set exactly one of pin_file and pin_env")
		}
	default:
		add("keys.backend %q: want file or pkcs11", c.Keys.Backend)
	}
	if v := c.Mesh.IPv6Prefix; v != "" {
		if p, err := netip.ParsePrefix(v); err != nil || !p.Addr().Is6() || p.Bits() > 112 {
			add("mesh.ipv6_prefix %q: want an IPv6 prefix of at most /112, e.g. fd68:6f68:6569::/48", v)
		}
	}
	if v := c.Mesh.IPv4Prefix; v != "" {
		if p, err := netip.ParsePrefix(v); err != nil || !p.Addr().Is4() || p.Bits() > 24 {
			add("mesh.ipv4_prefix %q: want an IPv4 prefix of at most /24, e.g. 100.80.0.0/16", v)
		}
	}
	if w := c.Mesh.AlertWebhook; w != "" && !strings.HasPrefix(w, "https://") && !strings.HasPrefix(w, "http://") {
		add("mesh.alert_webhook %q: want an http(s) URL", w)
	}
	if d := c.Mesh.PSKRotateEvery.D(); d != 0 && d < time.Minute {
		add("mesh.psk_rotate_every: at least 1m")
	}
	if n := c.Mesh.AlertRetention.MaxAlerts; n < 0 || n > 10_000_000 {
		add("mesh.alert_retention.max_alerts %d: want between 1 and 10000000 (0 or unset: %d)", n, DefaultAlertsKeep)
	}
	if d := c.Mesh.AlertRetention.MaxAge.D(); d < 0 || (d > 0 && d < time.Hour) {
		add("mesh.alert_retention.max_age %v: want at least 1h (unset: %v)", d, DefaultAlertsMaxAge)
	}
	switch strings.ToLower(c.Database.Synchronous) {
	case "", "normal", "full":
	default:
		add("database.synchronous %q: want normal or full", c.Database.Synchronous)
	}
	known := []string{attest.VariantTPM, attest.VariantSNP, attest.VariantTDX, attest.VariantInsecure}
	if len(c.Attestation.Allow) == 0 {
		add("attestation.allow: list at least one of %s", strings.Join(known, ", "))
	}
	for _, v := range c.Attestation.Allow {
		if !slices.Contains(known, v) {
			add("attestation.allow: unknown variant %q (known: %s)", v, strings.Join(known, ", "))
		}
	}
	if c.allows(attest.VariantTPM) && c.Attestation.TPM.EKRoots == "" && c.Attestation.TPM.RegisteredAKs == "" {
		add("attestation.tpm: set ek_roots or registered_aks, or no TPM can be trusted")
	}
	if c.allows(attest.VariantSNP) || c.allows(attest.VariantTDX) {
		if c.Collateral.Dir == "" {
			add("collateral.dir: required for sev-snp and tdx (fill it with 'hoheit collateral import')")
		}
	}
	if c.needsRefValues() {
		if c.RefValues.Dir == "" {
			add("refvalues.dir: required for hardware variants")
		}
		if len(c.RefValues.OwnerKeys) == 0 {
			add("refvalues.owner_keys: list the data owner's public keys that sign reference values")
		}
	}
	if c.Attestation.NonceTTL.D() <= 0 || c.Attestation.NonceTTL.D() > 10*time.Minute {
		add("attestation.nonce_ttl: want between 1s and 10m")
	}
	if c.CertValidity.D() < time.Minute || c.CertValidity.D() > 30*24*time.Hour {
		add("cert_validity: want between 1m and 720h")
	}
	for _, p := range []struct{ name, path string }{
		{"attestation.tpm.ek_roots", c.Attestation.TPM.EKRoots},
		{"attestation.tpm.registered_aks", c.Attestation.TPM.RegisteredAKs},
		{"refvalues.dir", c.RefValues.Dir},
	} {
		if p.path == "" {
			continue
		}
		if _, err := os.Stat(p.path); err != nil {
			add("%s: %v", p.name, err)
		}
	}
	for _, k := range c.RefValues.OwnerKeys {
		if _, err := os.Stat(k); err != nil {
			add("refvalues.owner_keys: %v", err)
		}
	}
	return errors.Join(errs...)
}

func (c *Config) allows(variant string) bool { return slices.Contains(c.Attestation.Allow, variant) }

func (c *Config) needsRefValues() bool {
	return c.allows(attest.VariantTPM) || c.allows(attest.VariantSNP) || c.allows(attest.VariantTDX)
}
