package rules

import (
	"fmt"
	"strings"
)

// Severity orders how much a failed rule matters.
type Severity int

// The severities, lowest first.
const (
	Low Severity = iota + 1
	Medium
	High
	Critical
)

// Severities lists the severity names, lowest first.
var Severities = []string{"low", "medium", "high", "critical"}

func (s Severity) String() string {
	if s < Low || s > Critical {
		return "unknown"
	}
	return Severities[s-1]
}

// ParseSeverity reads a severity name; "none" gives 0, which nothing reaches.
func ParseSeverity(name string) (Severity, error) {
	for i, n := range Severities {
		if strings.EqualFold(n, name) {
			return Severity(i + 1), nil
		}
	}
	if strings.EqualFold(name, "none") {
		return Critical + 1, nil
	}
	return 0, fmt.Errorf("unknown severity %q: use one of %s", name, strings.Join(Severities, ", "))
}

// MarshalText writes the severity's name.
func (s Severity) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText reads a severity name.
func (s *Severity) UnmarshalText(b []byte) error {
	v, err := ParseSeverity(string(b))
	if err != nil {
		return err
	}
	*s = v
	return nil
}

// Rule is one check, as written in a rule file.
type Rule struct {
	ID          string   `yaml:"id" json:"id"`
	Title       string   `yaml:"title" json:"title"`
	Description string   `yaml:"description" json:"description,omitempty"`
	Severity    Severity `yaml:"severity" json:"severity"`
	// Types are the normalized types the rule applies to.
	Types []string `yaml:"types" json:"types"`
	// Precondition, a CEL bool expression, limits the rule to the resources
	// for which it is true.
	Precondition string `yaml:"precondition,omitempty" json:"precondition,omitempty"`
	// Check is a CEL bool expression over `resource`: true means compliant.
	Check string `yaml:"check" json:"check"`
	// Frameworks maps a framework (bsi-c5, gdpr, ...) to its control ids.
	Frameworks  map[string][]string `yaml:"frameworks,omitempty" json:"frameworks,omitempty"`
	Remediation Remediation         `yaml:"remediation,omitempty" json:"remediation,omitempty"`

	// Pack is the pack the rule came from; File and Line where it is written.
	Pack string `yaml:"-" json:"pack,omitempty"`
	File string `yaml:"-" json:"file,omitempty"`
	Line int    `yaml:"-" json:"line,omitempty"`
}

// Remediation tells how to fix a failed rule.
type Remediation struct {
	Guidance string `yaml:"guidance,omitempty" json:"guidance,omitempty"`
	// Action names an automated remediation action, for `hoheit remediate`.
	Action string `yaml:"action,omitempty" json:"action,omitempty"`
}

// Status is the outcome of a rule on one resource that is worth reporting.
type Status string

// The reported statuses. A passing check produces no finding.
const (
	// Fail: the check returned false.
	Fail Status = "fail"
	// Suppressed: it failed, but an exception covers it.
	Suppressed Status = "suppressed"
	// Error: the check could not be evaluated on this resource.
	Error Status = "error"
	// Unknown: the check depends on values known only after apply.
	Unknown Status = "unknown"
)
