package report

import (
	"bufio"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"strings"
)

type junitSuites struct {
	XMLName   xml.Name     `xml:"testsuites"`
	Name      string       `xml:"name,attr"`
	Tests     int          `xml:"tests,attr"`
	Failures  int          `xml:"failures,attr"`
	Errors    int          `xml:"errors,attr"`
	Skipped   int          `xml:"skipped,attr"`
	Time      string       `xml:"time,attr"`
	Timestamp string       `xml:"timestamp,attr"`
	Suites    []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name       string          `xml:"name,attr"`
	ID         int             `xml:"id,attr"`
	Package    string          `xml:"package,attr,omitempty"`
	Tests      int             `xml:"tests,attr"`
	Failures   int             `xml:"failures,attr"`
	Errors     int             `xml:"errors,attr"`
	Skipped    int             `xml:"skipped,attr"`
	Time       string          `xml:"time,attr"`
	Timestamp  string          `xml:"timestamp,attr"`
	Properties []junitProperty `xml:"properties>property,omitempty"`
	Cases      []junitCase     `xml:"testcase"`
}

type junitProperty struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	File      string        `xml:"file,attr,omitempty"`
	Line      int           `xml:"line,attr,omitempty"`
	Time      string        `xml:"time,attr"`
	Failure   *junitOutcome `xml:"failure,omitempty"`
	Skipped   *junitOutcome `xml:"skipped,omitempty"`
}

type junitOutcome struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr,omitempty"`
	Text    string `xml:",cdata"`
}

// writeJUnit writes a test suite per rule and a test case per finding: a
// failure for fail and error, skipped for suppressed and unknown. A rule
// without findings gets one passing case, so CI shows what was checked.
// Errors are failures too (type "error"): an unevaluated check must not
// pass silently.
func writeJUnit(w io.Writer, d *document, _ Options) error {
	ts := d.now.Format("2006-01-02T15:04:05")
	out := junitSuites{Name: ToolName, Time: "0", Timestamp: ts}
	cases := make([][]junitCase, len(d.Rules)+1)
	for i := range d.Findings {
		f := &d.Findings[i]
		idx := f.ruleIndex
		if idx < 0 {
			idx = len(d.Rules) // a finding without a rule: last suite
		}
		cases[idx] = append(cases[idx], newJUnitCase(f))
	}
	for i := range d.Rules {
		r := &d.Rules[i]
		s := junitSuite{
			Name:      r.ID + ": " + r.Title,
			ID:        i,
			Package:   r.Pack,
			Time:      "0",
			Timestamp: ts,
			Properties: []junitProperty{
				{Name: "rule_id", Value: r.ID},
				{Name: "severity", Value: r.Severity},
			},
		}
		if fw := csvFrameworks(r.Frameworks); fw != "" {
			s.Properties = append(s.Properties, junitProperty{Name: "frameworks", Value: fw})
		}
		s.Cases = cases[i]
		if len(s.Cases) == 0 {
			s.Cases = []junitCase{{Name: "no findings", Classname: r.ID, Time: "0"}}
		}
		out.add(s)
	}
	if rest := cases[len(d.Rules)]; len(rest) > 0 {
		out.add(junitSuite{Name: "findings without a rule", ID: len(d.Rules), Time: "0", Timestamp: ts, Cases: rest})
	}

	bw := bufio.NewWriter(w)
	bw.WriteString(xml.Header)
	enc := xml.NewEncoder(bw)
	enc.Indent("", "  ")
	if err := enc.Encode(out); err != nil {
		return fmt.Errorf("encoding JUnit XML: %w", err)
	}
	bw.WriteString("\n")
	return bw.Flush()
}

// add counts the suite's cases and appends it.
func (out *junitSuites) add(s junitSuite) {
	for _, c := range s.Cases {
		s.Tests++
		switch {
		case c.Failure != nil:
			s.Failures++
		case c.Skipped != nil:
			s.Skipped++
		}
	}
	out.Tests += s.Tests
	out.Failures += s.Failures
	out.Skipped += s.Skipped
	out.Suites = append(out.Suites, s)
}

func newJUnitCase(f *finding) junitCase {
	c := junitCase{
		Name:      f.key(),
		Classname: f.RuleID,
		File:      f.Location.File,
		Line:      f.Location.Line,
		Time:      "0",
	}
	var b strings.Builder
	fmt.Fprintf(&b, "rule: %s (%s)\n", f.RuleID, f.Severity)
	fmt.Fprintf(&b, "resource: %s (%s, %s)\n", f.key(), f.Resource.Type, f.Resource.NativeType)
	if where := f.where(); where != "" {
		fmt.Fprintf(&b, "location: %s\n", where)
	}
	if fw := csvFrameworks(f.Frameworks); fw != "" {
		fmt.Fprintf(&b, "frameworks: %s\n", fw)
	}
	if len(f.Evidence) > 0 {
		if ev, err := json.Marshal(f.Evidence); err == nil {
			fmt.Fprintf(&b, "evidence: %s\n", ev)
		}
	}
	if f.Remediation.Guidance != "" {
		fmt.Fprintf(&b, "remediation: %s\n", f.Remediation.Guidance)
	}
	text := xmlText(b.String())
	switch f.Status {
	case "fail":
		c.Failure = &junitOutcome{Message: f.Title, Type: f.Severity, Text: text}
	case "error":
		c.Failure = &junitOutcome{Message: f.Message, Type: "error", Text: text}
	case "suppressed":
		msg := "suppressed by exception"
		if x := f.Exception; x != nil {
			msg += ": " + x.Justification + exceptionMeta(x)
		}
		c.Skipped = &junitOutcome{Message: msg, Text: text}
	case "unknown":
		c.Skipped = &junitOutcome{Message: f.Message, Text: text}
	default:
		c.Failure = &junitOutcome{Message: f.Status + ": " + f.Message, Type: f.Status, Text: text}
	}
	return c
}

// xmlText drops the characters XML 1.0 forbids (most C0 controls), which
// encoding/xml leaves in CDATA sections and CI parsers reject.
func xmlText(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r == '\t' || r == '\n' || r == '\r':
			return r
		case r < 0x20, r == 0xFFFE, r == 0xFFFF:
			return -1
		}
		return r
	}, s)
}
