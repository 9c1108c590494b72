package report

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"unicode"
)

// SARIF 2.1.0 as GitHub code scanning reads it:
// https://docs.github.com/en/code-security/code-scanning/integrating-with-code-scanning/sarif-support-for-code-scanning
const (
	sarifSchema  = "https://json.schemastore.org/sarif-2.1.0.json"
	sarifVersion = "2.1.0"
	// fingerprintKey names hoheit's entry in partialFingerprints; the
	// version suffix changes if the fingerprint's recipe ever does.
	fingerprintKey = "hoheitFinding/v1"
)

// securitySeverity maps a severity to the CVSS-like score GitHub uses to
// rank security alerts: over 9.0 is critical, 7.0 to 8.9 high, 4.0 to 6.9
// medium, 0.1 to 3.9 low.
var securitySeverity = map[string]string{
	"critical": "9.5",
	"high":     "8.0",
	"medium":   "5.5",
	"low":      "3.0",
}

// sarifLevel maps a severity to a SARIF result level.
var sarifLevel = map[string]string{
	"critical": "error",
	"high":     "error",
	"medium":   "warning",
	"low":      "note",
}

type sarifLog struct {
	Schema  string     `json:"$schema"`
	Version string     `json:"version"`
	Runs    []sarifRun `json:"runs"`
}

type sarifRun struct {
	Tool        sarifTool         `json:"tool"`
	Invocations []sarifInvocation `json:"invocations"`
	Results     []sarifResult     `json:"results"`
}

type sarifTool struct {
	Driver sarifToolComp `json:"driver"`
}

type sarifToolComp struct {
	Name           string      `json:"name"`
	Version        string      `json:"version,omitempty"`
	InformationURI string      `json:"informationUri,omitempty"`
	Rules          []sarifRule `json:"rules"`
}

type sarifText struct {
	Text     string `json:"text"`
	Markdown string `json:"markdown,omitempty"`
}

type sarifRule struct {
	ID                   string          `json:"id"`
	Name                 string          `json:"name,omitempty"`
	ShortDescription     sarifText       `json:"shortDescription"`
	FullDescription      sarifText       `json:"fullDescription"`
	Help                 sarifText       `json:"help"`
	HelpURI              string          `json:"helpUri,omitempty"`
	DefaultConfiguration sarifRuleConfig `json:"defaultConfiguration"`
	Properties           sarifRuleProps  `json:"properties"`
}

type sarifRuleConfig struct {
	Level string `json:"level"`
}

type sarifRuleProps struct {
	Tags             []string            `json:"tags"`
	SecuritySeverity string              `json:"security-severity"`
	Precision        string              `json:"precision"`
	ProblemSeverity  string              `json:"problem.severity"`
	Frameworks       map[string][]string `json:"frameworks,omitempty"`
	Pack             string              `json:"pack,omitempty"`
}

type sarifInvocation struct {
	ExecutionSuccessful        bool                `json:"executionSuccessful"`
	ToolExecutionNotifications []sarifNotification `json:"toolExecutionNotifications,omitempty"`
}

type sarifNotification struct {
	Level          string             `json:"level"`
	Message        sarifText          `json:"message"`
	Locations      []sarifLocation    `json:"locations,omitempty"`
	AssociatedRule *sarifDescriptorRf `json:"associatedRule,omitempty"`
	Properties     map[string]any     `json:"properties,omitempty"`
}

type sarifDescriptorRf struct {
	ID    string `json:"id"`
	Index int    `json:"index"`
}

type sarifResult struct {
	RuleID              string             `json:"ruleId"`
	RuleIndex           int                `json:"ruleIndex"`
	Kind                string             `json:"kind"`
	Level               string             `json:"level"`
	Message             sarifText          `json:"message"`
	Locations           []sarifLocation    `json:"locations"`
	PartialFingerprints map[string]string  `json:"partialFingerprints"`
	Suppressions        []sarifSuppression `json:"suppressions,omitempty"`
	Properties          map[string]any     `json:"properties,omitempty"`
}

type sarifLocation struct {
	PhysicalLocation *sarifPhysical `json:"physicalLocation,omitempty"`
	LogicalLocations []sarifLogical `json:"logicalLocations,omitempty"`
	Properties       *sarifLocProps `json:"properties,omitempty"`
}

type sarifLocProps struct {
	Path string `json:"path,omitempty"`
}

type sarifPhysical struct {
	ArtifactLocation sarifArtifact `json:"artifactLocation"`
	Region           *sarifRegion  `json:"region,omitempty"`
}

type sarifArtifact struct {
	URI string `json:"uri"`
}

type sarifRegion struct {
	StartLine int `json:"startLine"`
}

type sarifLogical struct {
	Name               string `json:"name,omitempty"`
	FullyQualifiedName string `json:"fullyQualifiedName,omitempty"`
	Kind               string `json:"kind,omitempty"`
}

type sarifSuppression struct {
	Kind          string            `json:"kind"`
	Status        string            `json:"status"`
	Justification string            `json:"justification,omitempty"`
	Location      *sarifLocation    `json:"location,omitempty"`
	Properties    map[string]string `json:"properties,omitempty"`
}

// writeSARIF writes one SARIF run: every rule in tool.driver.rules, a result
// for each failed, suppressed or unknown finding, and evaluation errors and
// unreadable inputs as tool execution notifications.
func writeSARIF(w io.Writer, d *document, _ Options) error {
	run := sarifRun{
		Tool: sarifTool{Driver: sarifToolComp{
			Name:           ToolName,
			Version:        d.Tool.Version,
			InformationURI: InformationURI,
			Rules:          make([]sarifRule, 0, len(d.Rules)),
		}},
		Results: []sarifResult{},
	}
	for i := range d.Rules {
		run.Tool.Driver.Rules = append(run.Tool.Driver.Rules, newSARIFRule(&d.Rules[i]))
	}

	inv := sarifInvocation{ExecutionSuccessful: d.Summary.InputsFailed == 0}
	for _, in := range d.Inputs {
		if in.Error == "" {
			continue
		}
		n := sarifNotification{
			Level:   "error",
			Message: sarifText{Text: "reading " + in.Path + ": " + in.Error},
		}
		if uri := sarifURI(in.Path); uri != "" {
			n.Locations = []sarifLocation{{PhysicalLocation: &sarifPhysical{ArtifactLocation: sarifArtifact{URI: uri}}}}
		}
		inv.ToolExecutionNotifications = append(inv.ToolExecutionNotifications, n)
	}

	for i := range d.Findings {
		f := &d.Findings[i]
		if f.Status == "error" {
			text := f.Message
			if f.detail != "" {
				text = fmt.Sprintf("%s could not be evaluated on %s: %s", f.RuleID, f.key(), f.detail)
			}
			n := sarifNotification{
				Level:     "error",
				Message:   sarifText{Text: text},
				Locations: []sarifLocation{sarifLocationOf(f)},
			}
			if f.ruleIndex >= 0 {
				n.AssociatedRule = &sarifDescriptorRf{ID: f.RuleID, Index: f.ruleIndex}
			}
			inv.ToolExecutionNotifications = append(inv.ToolExecutionNotifications, n)
			continue
		}
		run.Results = append(run.Results, newSARIFResult(f))
	}
	run.Invocations = []sarifInvocation{inv}

	log := sarifLog{Schema: sarifSchema, Version: sarifVersion, Runs: []sarifRun{run}}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(log); err != nil {
		return fmt.Errorf("encoding SARIF: %w", err)
	}
	return nil
}

func newSARIFRule(r *ruleInfo) sarifRule {
	tags := []string{"security", "compliance"}
	if r.Pack != "" {
		if _, ok := r.Frameworks[r.Pack]; !ok {
			tags = append(tags, r.Pack)
		}
	}
	names := make([]string, 0, len(r.Frameworks))
	for fw := range r.Frameworks {
		names = append(names, fw)
	}
	slices.SortFunc(names, compareFrameworks)
	for _, fw := range names {
		tags = append(tags, fw)
		for _, c := range r.Frameworks[fw] {
			tags = append(tags, fw+":"+c)
		}
	}
	full := r.Description
	if full == "" {
		full = r.Title
	}
	help := r.Remediation.Guidance
	if help == "" {
		help = full
	}
	var md strings.Builder
	md.WriteString("**" + markdownEscape(r.Title) + "**\n\n")
	if r.Description != "" {
		md.WriteString(markdownEscape(r.Description) + "\n\n")
	}
	if r.Remediation.Guidance != "" {
		md.WriteString("**Remediation:** " + markdownEscape(r.Remediation.Guidance) + "\n\n")
	}
	if r.Remediation.Action != "" {
		md.WriteString("Automated remediation: `hoheit remediate` action `" + strings.ReplaceAll(r.Remediation.Action, "`", "") + "`.\n\n")
	}
	if len(names) > 0 {
		md.WriteString("| Framework | Controls |\n| --- | --- |\n")
		for _, fw := range names {
			md.WriteString("| " + markdownEscape(frameworkTitle(fw)) + " | " + markdownEscape(strings.Join(r.Frameworks[fw], ", ")) + " |\n")
		}
	}
	level := sarifLevel[r.Severity]
	if level == "" {
		level = "warning"
	}
	return sarifRule{
		ID:                   r.ID,
		Name:                 pascalCase(r.Title),
		ShortDescription:     sarifText{Text: r.Title},
		FullDescription:      sarifText{Text: full},
		Help:                 sarifText{Text: help, Markdown: strings.TrimSpace(md.String())},
		DefaultConfiguration: sarifRuleConfig{Level: level},
		Properties: sarifRuleProps{
			Tags:             tags,
			SecuritySeverity: cmp.Or(securitySeverity[r.Severity], "5.5"),
			Precision:        "very-high",
			ProblemSeverity:  problemSeverity(level),
			Frameworks:       r.Frameworks,
			Pack:             r.Pack,
		},
	}
}

// problemSeverity is the CodeQL-style severity GitHub shows for alerts
// without a security-severity; hoheit sets both.
func problemSeverity(level string) string {
	switch level {
	case "error":
		return "error"
	case "note":
		return "recommendation"
	}
	return "warning"
}

func newSARIFResult(f *finding) sarifResult {
	text := f.Message
	if f.detail != "" {
		text = f.key() + ": " + f.detail
	}
	r := sarifResult{
		RuleID:              f.RuleID,
		RuleIndex:           f.ruleIndex,
		Kind:                "fail",
		Level:               cmp.Or(sarifLevel[f.Severity], "warning"),
		Message:             sarifText{Text: text},
		Locations:           []sarifLocation{sarifLocationOf(f)},
		PartialFingerprints: map[string]string{fingerprintKey: f.Fingerprint},
		Properties: map[string]any{
			"severity":   f.Severity,
			"status":     f.Status,
			"resource":   f.Resource,
			"frameworks": f.Frameworks,
		},
	}
	if len(f.Evidence) > 0 {
		r.Properties["evidence"] = f.Evidence
	}
	if f.Status == "unknown" {
		// The verdict depends on values known only after apply: SARIF's
		// "open" kind, which carries no level.
		r.Kind = "open"
		r.Level = "none"
	}
	if x := f.Exception; x != nil {
		s := sarifSuppression{Kind: "external", Status: "accepted", Justification: x.Justification}
		props := map[string]string{}
		if x.Owner != "" {
			props["owner"] = x.Owner
		}
		if x.Expires != "" {
			props["expires"] = x.Expires
		}
		if len(props) > 0 {
			s.Properties = props
		}
		if uri := sarifURI(x.File); uri != "" {
			s.Location = &sarifLocation{PhysicalLocation: &sarifPhysical{ArtifactLocation: sarifArtifact{URI: uri}, Region: sarifRegionOf(x.Line)}}
		}
		r.Suppressions = []sarifSuppression{s}
	} else if f.Status == "suppressed" {
		r.Suppressions = []sarifSuppression{{Kind: "external", Status: "accepted"}}
	}
	return r
}

// sarifLocationOf points at the file and line the resource was read from,
// when there is one, and always names the resource as a logical location, so
// findings of live scans (no file) still say where they are.
func sarifLocationOf(f *finding) sarifLocation {
	var loc sarifLocation
	if uri := sarifURI(f.Location.File); uri != "" {
		loc.PhysicalLocation = &sarifPhysical{ArtifactLocation: sarifArtifact{URI: uri}, Region: sarifRegionOf(f.Location.Line)}
	}
	if f.Location.Path != "" {
		loc.Properties = &sarifLocProps{Path: f.Location.Path}
	}
	fq := joinNonEmpty([]string{f.Resource.Provider, f.Resource.Account, f.Resource.Region, f.key()}, "/")
	name := f.Resource.Name
	if name == "" {
		name = f.key()
	}
	if name != "" || fq != "" {
		loc.LogicalLocations = []sarifLogical{{Name: name, FullyQualifiedName: fq, Kind: "resource"}}
	}
	return loc
}

func sarifRegionOf(line int) *sarifRegion {
	if line < 1 {
		return nil
	}
	return &sarifRegion{StartLine: line}
}

// sarifURI turns a file path into the relative URI reference GitHub resolves
// against the repository root; absolute paths become file URIs.
func sarifURI(p string) string {
	if p == "" || p == "-" {
		return ""
	}
	slash := filepath.ToSlash(p)
	if filepath.IsAbs(p) || path.IsAbs(slash) {
		return (&url.URL{Scheme: "file", Path: slash}).String()
	}
	slash = path.Clean(slash)
	u := &url.URL{Path: slash}
	return u.EscapedPath()
}

// pascalCase turns a rule title into the identifier-like name SARIF expects
// in reportingDescriptor.name.
func pascalCase(s string) string {
	var b strings.Builder
	up := true
	for _, r := range s {
		if !unicode.IsLetter(r) && !unicode.IsDigit(r) {
			up = true
			continue
		}
		if up {
			r = unicode.ToUpper(r)
			up = false
		}
		b.WriteRune(r)
	}
	return b.String()
}

func markdownEscape(s string) string {
	r := strings.NewReplacer(`\`, `\\`, "*", `\*`, "_", `\_`, "`", "\\`", "|", `\|`, "<", "&lt;", ">", "&gt;", "[", `\[`, "]", `\]`)
	return r.Replace(s)
}
