package rules

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/hoheit/hoheit/internal/inventory"
)

// Exception accepts a rule's failure on matching resources until it expires.
type Exception struct {
	// Rule is a rule id, or a glob over rule ids (C5-CRY-*).
	Rule          string   `yaml:"rule" json:"rule"`
	Resources     Selector `yaml:"resources" json:"resources"`
	Justification string   `yaml:"justification" json:"justification"`
	Owner         string   `yaml:"owner" json:"owner"`
	Expires       Date     `yaml:"expires" json:"expires"`
	File          string   `yaml:"-" json:"file,omitempty"`
	Line          int      `yaml:"-" json:"line,omitempty"`
}

// Selector picks resources: every field that is set must match.
type Selector struct {
	// ID is a glob over the resource's id or address, where * matches any
	// run of characters (slashes and dots included) and ? one character.
	ID       string            `yaml:"id,omitempty" json:"id,omitempty"`
	Provider string            `yaml:"provider,omitempty" json:"provider,omitempty"`
	Account  string            `yaml:"account,omitempty" json:"account,omitempty"`
	Tags     map[string]string `yaml:"tags,omitempty" json:"tags,omitempty"`
}

// Date is a calendar day, written 2026-12-31. An exception expires at the
// end of that day, UTC.
type Date struct{ time.Time }

// UnmarshalYAML reads a YYYY-MM-DD date.
func (d *Date) UnmarshalYAML(n *yaml.Node) error {
	t, err := time.Parse(time.DateOnly, n.Value)
	if err != nil {
		return fmt.Errorf("line %d: expires must be a date like 2027-03-31, got %q", n.Line, n.Value)
	}
	d.Time = t
	return nil
}

// MarshalText writes the date as YYYY-MM-DD.
func (d Date) MarshalText() ([]byte, error) { return []byte(d.Format(time.DateOnly)), nil }

// Expired reports whether the exception no longer applies at now.
func (x *Exception) Expired(now time.Time) bool {
	return !now.Before(x.Expires.AddDate(0, 0, 1))
}

// Matches reports whether the exception covers rule r on resource res.
func (x *Exception) Matches(r *Rule, res *inventory.Resource) bool {
	if !glob(x.Rule, r.ID) {
		return false
	}
	s := x.Resources
	if s.ID != "" && !glob(s.ID, res.ID) && !glob(s.ID, res.Address) {
		return false
	}
	if s.Provider != "" && s.Provider != res.Provider {
		return false
	}
	if s.Account != "" && !glob(s.Account, res.Account) {
		return false
	}
	for k, v := range s.Tags {
		if got, ok := res.Tags[k]; !ok || !glob(v, got) {
			return false
		}
	}
	return true
}

// LoadExceptions reads an exceptions file:
//
//	exceptions:
//	  - rule: C5-CRY-03-STORAGE-CMK
//	    resources: {id: "aws_s3_bucket.public_site*", tags: {team: web}}
//	    justification: Public website assets, reviewed by the ISB.
//	    owner: isb@example.de
//	    expires: 2027-03-31
func LoadExceptions(path string) ([]*Exception, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading exceptions: %w", err)
	}
	return ParseExceptions(path, data)
}

// ParseExceptions parses the content of an exceptions file.
func ParseExceptions(path string, data []byte) ([]*Exception, error) {
	var doc struct {
		Exceptions []yaml.Node `yaml:"exceptions"`
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("%s: %s", path, yamlMessage(err))
	}
	var out []*Exception
	var errs []error
	for _, n := range doc.Exceptions {
		x := &Exception{File: path, Line: n.Line}
		if err := decodeStrict(&n, x); err != nil {
			errs = append(errs, fmt.Errorf("%s:%d: %s", path, n.Line, yamlMessage(err)))
			continue
		}
		var missing []string
		for name, empty := range map[string]bool{
			"rule": x.Rule == "", "justification": strings.TrimSpace(x.Justification) == "",
			"owner": x.Owner == "", "expires": x.Expires.IsZero(),
		} {
			if empty {
				missing = append(missing, name)
			}
		}
		if len(missing) > 0 {
			errs = append(errs, fmt.Errorf("%s:%d: exception is missing %s: every exception needs a rule, a justification, an owner and an expiry date", path, n.Line, strings.Join(sortedStrings(missing), ", ")))
			continue
		}
		out = append(out, x)
	}
	return out, errors.Join(errs...)
}

func splitExpired(xs []*Exception, now time.Time) (active, expired []*Exception) {
	for _, x := range xs {
		if x.Expired(now) {
			expired = append(expired, x)
		} else {
			active = append(active, x)
		}
	}
	return active, expired
}

func matchException(xs []*Exception, r *Rule, res *inventory.Resource) *Exception {
	for _, x := range xs {
		if x.Matches(r, res) {
			return x
		}
	}
	return nil
}

// glob matches s against a pattern where * is any run of characters and ?
// one character.
func glob(pattern, s string) bool {
	px, sx := 0, 0
	star, match := -1, 0
	for sx < len(s) {
		switch {
		case px < len(pattern) && (pattern[px] == '?' || pattern[px] == s[sx]):
			px++
			sx++
		case px < len(pattern) && pattern[px] == '*':
			star, match = px, sx
			px++
		case star >= 0:
			px = star + 1
			match++
			sx = match
		default:
			return false
		}
	}
	for px < len(pattern) && pattern[px] == '*' {
		px++
	}
	return px == len(pattern)
}
