package report

import (
	"bufio"
	"embed"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"slices"
	"strings"
)

// The HTML report is one file: the template pulls the stylesheet and the
// script in inline, and its Content-Security-Policy forbids loading
// anything else, so it opens the same on an air-gapped auditor's laptop.
//
//go:embed assets/report.html.tmpl assets/report.css assets/report.js
var htmlAssets embed.FS

var htmlTemplate = template.Must(template.New("report.html.tmpl").Funcs(template.FuncMap{
	"upper": strings.ToUpper,
}).ParseFS(htmlAssets, "assets/report.html.tmpl"))

type htmlView struct {
	Doc        *document
	Generated  string
	Verdict    string
	Tally      string
	Bad        bool
	Severities []htmlCard
	Frameworks []htmlFramework
	Findings   []htmlFinding
	Providers  []string
	Statuses   []string
	CSS        template.CSS
	JS         template.JS
}

type htmlCard struct {
	Name  string
	Count int
}

type htmlFramework struct {
	Key      string
	Title    string
	Controls []htmlControl
	Failed   int
	Clean    int
}

// ControlCount says how many controls the table lists.
func (f htmlFramework) ControlCount() string { return plural(len(f.Controls), "control") }

type htmlControl struct {
	ID         string
	Rules      []string
	Failed     int
	Suppressed int
	Open       int // error or unknown: not evaluated
	Search     string
}

type htmlFinding struct {
	// F is the finding. A named field, not an embedded one: templates
	// resolve promoted fields by a slow reflective search.
	F        *finding
	Index    int
	Where    string
	FWKeys   string
	Search   string
	Evidence string
	Chips    []htmlChip
	Desc     string
}

type htmlChip struct {
	Framework string
	Control   string
}

// writeHTML writes the self-contained HTML report.
func writeHTML(w io.Writer, d *document, _ Options) error {
	css, err := htmlAssets.ReadFile("assets/report.css")
	if err != nil {
		return fmt.Errorf("reading embedded stylesheet: %w", err)
	}
	js, err := htmlAssets.ReadFile("assets/report.js")
	if err != nil {
		return fmt.Errorf("reading embedded script: %w", err)
	}
	v := htmlView{
		Doc:       d,
		Generated: d.now.Format("2006-01-02 15:04 MST"),
		Statuses:  []string{"fail", "error", "unknown", "suppressed"},
		CSS:       template.CSS(css), // our own file, embedded at build time
		JS:        template.JS(js),   // our own file, embedded at build time
	}
	s := d.Summary
	switch {
	case s.Failed > 0:
		v.Bad = true
		v.Verdict = fmt.Sprintf("%d failed checks need action", s.Failed)
		if s.Failed == 1 {
			v.Verdict = "1 failed check needs action"
		}
	case s.Errors > 0 || s.InputsFailed > 0:
		v.Bad = true
		v.Verdict = "No failed checks, but not everything could be evaluated"
	default:
		v.Verdict = "No failed checks"
	}
	passed := fmt.Sprintf("%d passed", s.Passed)
	if s.Checks > 0 {
		passed += fmt.Sprintf(" (%.1f%%)", 100*float64(s.Passed)/float64(s.Checks))
	}
	v.Tally = strings.Join([]string{
		plural(s.Checks, "check"), passed, fmt.Sprintf("%d failed", s.Failed),
		fmt.Sprintf("%d suppressed", s.Suppressed), plural(s.Errors, "error"),
		fmt.Sprintf("%d unknown until apply", s.Unknown),
	}, " · ")
	for _, sev := range severityNames {
		v.Severities = append(v.Severities, htmlCard{Name: sev, Count: s.FailedBySeverity[sev]})
	}
	v.Frameworks = htmlFrameworks(d)

	providers := map[string]bool{}
	for i := range d.Findings {
		f := &d.Findings[i]
		providers[f.Resource.Provider] = true
		hf := htmlFinding{F: f, Index: i + 1, Where: f.where()}
		if f.Location.File == "" && f.Location.Path == "" {
			// The provider is shown beside it already.
			hf.Where = joinNonEmpty([]string{f.Resource.Account, f.Resource.Region}, " · ")
		}
		fw := effectiveFrameworks(f.Frameworks, f.Pack, f.RuleID)
		names := make([]string, 0, len(fw))
		for k := range fw {
			names = append(names, k)
		}
		slices.SortFunc(names, compareFrameworks)
		hf.FWKeys = strings.Join(names, " ")
		var search []string
		for _, n := range names {
			for _, c := range fw[n] {
				hf.Chips = append(hf.Chips, htmlChip{Framework: n, Control: c})
				search = append(search, n+":"+c)
			}
		}
		if len(f.Evidence) > 0 {
			ev, err := json.MarshalIndent(f.Evidence, "", "  ")
			if err != nil {
				return fmt.Errorf("encoding evidence of %s on %s: %w", f.RuleID, f.key(), err)
			}
			hf.Evidence = string(ev)
		}
		if f.rule != nil {
			hf.Desc = f.rule.Description
		}
		search = append(search, f.RuleID, f.Title, f.Message, f.Resource.Address, f.Resource.ID, f.Resource.Name,
			f.Resource.Type, f.Resource.NativeType, f.Resource.Provider, f.Resource.Account, f.Resource.Region,
			f.Location.File, f.Status, f.Severity)
		if f.Exception != nil {
			search = append(search, f.Exception.Justification, f.Exception.Owner)
		}
		hf.Search = strings.ToLower(strings.Join(search, " "))
		v.Findings = append(v.Findings, hf)
	}
	for p := range providers {
		if p != "" {
			v.Providers = append(v.Providers, p)
		}
	}
	slices.Sort(v.Providers)

	bw := bufio.NewWriter(w)
	if err := htmlTemplate.Execute(bw, v); err != nil {
		return fmt.Errorf("rendering HTML: %w", err)
	}
	return bw.Flush()
}

// effectiveFrameworks is what the HTML report and OCSF group a rule under:
// its framework mapping plus its pack, with the rule id as the control, when
// the pack is not one of those frameworks. So the baseline (and any custom
// pack) gets its own control table even though its rules also map to BSI C5
// and GDPR controls, and a rule mapped to nothing is still listed.
func effectiveFrameworks(fw map[string][]string, pack, ruleID string) map[string][]string {
	if pack == "" && len(fw) == 0 {
		pack = "baseline"
	}
	if _, ok := fw[pack]; ok || pack == "" {
		return fw
	}
	out := make(map[string][]string, len(fw)+1)
	for k, v := range fw {
		out[k] = v
	}
	out[pack] = []string{ruleID}
	return out
}

// htmlFrameworks builds, per framework, the table of its controls with the
// number of findings of the rules mapped to each.
func htmlFrameworks(d *document) []htmlFramework {
	type key struct{ fw, control string }
	controls := map[key]*htmlControl{}
	byFW := map[string][]*htmlControl{}
	for i := range d.Rules {
		r := &d.Rules[i]
		for fw, ids := range effectiveFrameworks(r.Frameworks, r.Pack, r.ID) {
			for _, id := range ids {
				k := key{fw, id}
				c, ok := controls[k]
				if !ok {
					c = &htmlControl{ID: id, Search: strings.ToLower(fw + ":" + id)}
					controls[k] = c
					byFW[fw] = append(byFW[fw], c)
				}
				if !slices.Contains(c.Rules, r.ID) {
					c.Rules = append(c.Rules, r.ID)
				}
			}
		}
	}
	for i := range d.Findings {
		f := &d.Findings[i]
		for fw, ids := range effectiveFrameworks(f.Frameworks, f.Pack, f.RuleID) {
			for _, id := range ids {
				c, ok := controls[key{fw, id}]
				if !ok {
					continue
				}
				switch f.Status {
				case "fail":
					c.Failed++
				case "suppressed":
					c.Suppressed++
				default:
					c.Open++
				}
			}
		}
	}
	names := make([]string, 0, len(byFW))
	for fw := range byFW {
		names = append(names, fw)
	}
	slices.SortFunc(names, compareFrameworks)
	out := make([]htmlFramework, 0, len(names))
	for _, fw := range names {
		h := htmlFramework{Key: fw, Title: frameworkTitle(fw)}
		cs := byFW[fw]
		slices.SortFunc(cs, func(a, b *htmlControl) int { return compareNatural(a.ID, b.ID) })
		for _, c := range cs {
			slices.Sort(c.Rules)
			h.Controls = append(h.Controls, *c)
			if c.Failed > 0 {
				h.Failed++
			} else if c.Open == 0 {
				h.Clean++
			}
		}
		out = append(out, h)
	}
	return out
}
