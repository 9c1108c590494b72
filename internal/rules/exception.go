package rules

import "time"

// Exception accepts a rule's failure on matching resources until it expires.
type Exception struct {
	Rule          string    `yaml:"rule" json:"rule"`
	Resources     Selector  `yaml:"resources" json:"resources"`
	Justification string    `yaml:"justification" json:"justification"`
	Owner         string    `yaml:"owner" json:"owner"`
	Expires       Date      `yaml:"expires" json:"expires"`
	File          string    `yaml:"-" json:"file,omitempty"`
	Line          int       `yaml:"-" json:"line,omitempty"`
	now           time.Time `yaml:"-"`
}

// Selector picks resources: every field set must match.
type Selector struct {
	// ID is a glob over the resource id or address (path.Match syntax, with
	// ** matching across separators).
	ID       string            `yaml:"id,omitempty" json:"id,omitempty"`
	Provider string            `yaml:"provider,omitempty" json:"provider,omitempty"`
	Account  string            `yaml:"account,omitempty" json:"account,omitempty"`
	Tags     map[string]string `yaml:"tags,omitempty" json:"tags,omitempty"`
}

// Date is a calendar day, written 2026-12-31.
type Date struct{ time.Time }
