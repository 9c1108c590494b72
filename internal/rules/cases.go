package rules

import (
	"fmt"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/hoheit/hoheit/internal/inventory"
)

// CaseFile holds a rule's golden test cases: resources and the verdict the
// rule must give on each.
//
//	rule: C5-CRY-03-STORAGE-CMK
//	cases:
//	  - name: aws bucket with a KMS customer key
//	    want: pass              # pass | fail | skip | unknown | error
//	    resource:
//	      type: object_storage.bucket
//	      provider: aws
//	      region: eu-central-1
//	      attributes: {encryption: {at_rest: {key_manager: customer}}}
type CaseFile struct {
	Rule  string `yaml:"rule"`
	Cases []Case `yaml:"cases"`
	File  string `yaml:"-"`
}

// Case is one resource and the expected verdict.
type Case struct {
	Name     string       `yaml:"name"`
	Want     string       `yaml:"want"`
	Resource CaseResource `yaml:"resource"`
	Line     int          `yaml:"-"`
}

// CaseResource is a resource written by hand in a test case. Attributes the
// case leaves out get their zero values; the jurisdiction is looked up from
// provider and region unless given.
type CaseResource struct {
	Type         string                  `yaml:"type"`
	Provider     string                  `yaml:"provider"`
	Account      string                  `yaml:"account"`
	Region       string                  `yaml:"region"`
	Jurisdiction *inventory.Jurisdiction `yaml:"jurisdiction"`
	NativeType   string                  `yaml:"native_type"`
	ID           string                  `yaml:"id"`
	Name         string                  `yaml:"name"`
	Tags         map[string]string       `yaml:"tags"`
	Attributes   map[string]any          `yaml:"attributes"`
	Unknown      []string                `yaml:"unknown"`
	Native       map[string]any          `yaml:"native"`
}

// Verdicts a case may want.
var Verdicts = []string{"pass", "fail", "skip", "unknown", "error"}

// CaseResult is the outcome of one case.
type CaseResult struct {
	File, Rule, Case string
	Line             int
	Want, Got        string
	// Problem is set when the case itself is broken (bad resource, no such
	// rule).
	Problem string
}

// OK reports whether the rule gave the verdict the case wants.
func (c CaseResult) OK() bool { return c.Problem == "" && c.Want == c.Got }

// ParseCases reads a case file.
func ParseCases(file string, data []byte) (*CaseFile, error) {
	var n yaml.Node
	if err := yaml.Unmarshal(data, &n); err != nil {
		return nil, fmt.Errorf("%s: %s", file, yamlMessage(err))
	}
	if len(n.Content) == 0 {
		return nil, fmt.Errorf("%s: empty case file", file)
	}
	cf := &CaseFile{File: file}
	if err := decodeStrict(n.Content[0], cf); err != nil {
		return nil, fmt.Errorf("%s: %s", file, yamlMessage(err))
	}
	// Record each case's line for messages.
	for i, kv := 0, n.Content[0].Content; i+1 < len(kv); i += 2 {
		if kv[i].Value == "cases" {
			for j, c := range kv[i+1].Content {
				if j < len(cf.Cases) {
					cf.Cases[j].Line = c.Line
				}
			}
		}
	}
	if cf.Rule == "" {
		return nil, fmt.Errorf("%s: case file names no rule", file)
	}
	return cf, nil
}

// RunCases evaluates the case file's rule on each of its resources.
func (s *Set) RunCases(cf *CaseFile) []CaseResult {
	var progs []*program
	for _, ps := range s.byType {
		for _, p := range ps {
			if p.rule.ID == cf.Rule {
				progs = append(progs, p)
			}
		}
	}
	var out []CaseResult
	if len(progs) == 0 {
		return []CaseResult{{File: cf.File, Rule: cf.Rule, Problem: "no such rule loaded"}}
	}
	for _, c := range cf.Cases {
		cr := CaseResult{File: cf.File, Rule: cf.Rule, Case: c.Name, Line: c.Line, Want: c.Want}
		if !slices.Contains(Verdicts, c.Want) {
			cr.Problem = fmt.Sprintf("want is %q, use one of %s", c.Want, strings.Join(Verdicts, ", "))
			out = append(out, cr)
			continue
		}
		r, err := c.Resource.build()
		if err != nil {
			cr.Problem = err.Error()
			out = append(out, cr)
			continue
		}
		cr.Got = "skip"
		for _, p := range progs {
			if p.typ != r.Type {
				continue
			}
			f, counted := p.evaluate(r, &resourceActivation{res: r})
			switch {
			case !counted:
				cr.Got = "skip"
			case f == nil:
				cr.Got = "pass"
			default:
				cr.Got = string(f.Status)
				if f.Status == Error && c.Want != "error" {
					cr.Got = "error: " + f.Message
				}
			}
		}
		out = append(out, cr)
	}
	return out
}

func (c CaseResource) build() (*inventory.Resource, error) {
	s, ok := inventory.Schemas[c.Type]
	if !ok {
		return nil, fmt.Errorf("resource type %q is not a normalized type", c.Type)
	}
	attrs := c.Attributes
	if attrs == nil {
		attrs = map[string]any{}
	}
	if err := s.Conform(attrs); err != nil {
		return nil, err
	}
	r := &inventory.Resource{
		Provider: c.Provider, Account: c.Account, Region: c.Region, Type: c.Type,
		NativeType: c.NativeType, ID: c.ID, Name: c.Name, Tags: c.Tags, Attrs: attrs,
		Unknown: c.Unknown, Native: c.Native,
	}
	if r.ID == "" {
		r.ID = "case"
	}
	for _, u := range c.Unknown {
		if _, ok := s.Lookup(u); !ok {
			return nil, fmt.Errorf("unknown: %s has no attribute %q", c.Type, u)
		}
	}
	if c.Jurisdiction != nil {
		r.Jurisdiction = *c.Jurisdiction
		r.Jurisdiction.Known = true
	}
	e := &inventory.Estate{Resources: []*inventory.Resource{r}}
	e.Finalize()
	return r, nil
}
