package report

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"encoding/xml"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// TestSARIFShape checks by hand what GitHub code scanning needs from a SARIF
// log (the integration tier also validates against the official schema).
func TestSARIFShape(t *testing.T) {
	d := newDocument(sampleResult(), testOptions)
	var log struct {
		Schema  string `json:"$schema"`
		Version string `json:"version"`
		Runs    []struct {
			Tool struct {
				Driver struct {
					Name, Version, InformationURI string
					Rules                         []struct {
						ID               string
						Name             string
						ShortDescription struct{ Text string }
						FullDescription  struct{ Text string }
						Help             struct{ Text, Markdown string }
						DefaultConfig    struct{ Level string } `json:"defaultConfiguration"`
						Properties       struct {
							Tags     []string
							Severity string `json:"security-severity"`
						}
					}
				}
			}
			Invocations []struct {
				ExecutionSuccessful        bool
				ToolExecutionNotifications []struct{ Level string }
			}
			Results []struct {
				RuleID    string
				RuleIndex int
				Kind      string
				Level     string
				Message   struct{ Text string }
				Locations []struct {
					PhysicalLocation *struct {
						ArtifactLocation struct{ URI string }
						Region           *struct{ StartLine int }
					}
				}
				PartialFingerprints map[string]string
				Suppressions        []struct{ Kind, Status, Justification string }
			}
		}
	}
	if err := json.Unmarshal(render(t, "sarif", sampleResult(), testOptions), &log); err != nil {
		t.Fatal(err)
	}
	if log.Version != "2.1.0" || log.Schema == "" || len(log.Runs) != 1 {
		t.Fatalf("version %q, $schema %q, %d runs; want 2.1.0, set, 1", log.Version, log.Schema, len(log.Runs))
	}
	run := log.Runs[0]
	drv := run.Tool.Driver
	if drv.Name != "hoheit" || drv.Version != "1.2.3-test" || !strings.HasPrefix(drv.InformationURI, "https://") {
		t.Errorf("driver %+v", drv)
	}
	if len(drv.Rules) != len(d.Rules) {
		t.Fatalf("%d rules, want %d", len(drv.Rules), len(d.Rules))
	}
	wantScore := map[string]float64{"critical": 9, "high": 7, "medium": 4, "low": 0.1}
	for i, r := range drv.Rules {
		if r.ID == "" || r.Name == "" || r.ShortDescription.Text == "" || r.FullDescription.Text == "" || r.Help.Text == "" {
			t.Errorf("rule %d lacks a required text: %+v", i, r)
		}
		score, err := strconv.ParseFloat(r.Properties.Severity, 64)
		min := wantScore[d.Rules[i].Severity]
		if err != nil || score < min || score > 10 || (min < 9 && score >= min+3) {
			t.Errorf("rule %s (%s) has security-severity %q", r.ID, d.Rules[i].Severity, r.Properties.Severity)
		}
		if r.DefaultConfig.Level == "" {
			t.Errorf("rule %s has no default level", r.ID)
		}
	}
	if !slicesContain(drv.Rules[1].Properties.Tags, "bsi-c5:CRY-03") {
		t.Errorf("rule %s tags %v lack its controls", drv.Rules[1].ID, drv.Rules[1].Properties.Tags)
	}

	// Errors are notifications, everything else a result.
	if got, want := len(run.Results), len(d.Findings)-d.Summary.Errors; got != want {
		t.Errorf("%d results, want %d", got, want)
	}
	inv := run.Invocations[0]
	if inv.ExecutionSuccessful || len(inv.ToolExecutionNotifications) != d.Summary.Errors+d.Summary.InputsFailed {
		t.Errorf("invocation %+v: want unsuccessful with %d notifications", inv, d.Summary.Errors+d.Summary.InputsFailed)
	}
	fps := map[string]bool{}
	suppressed := 0
	for _, r := range run.Results {
		if r.RuleIndex < 0 || r.RuleIndex >= len(drv.Rules) || drv.Rules[r.RuleIndex].ID != r.RuleID {
			t.Errorf("result for %s has ruleIndex %d", r.RuleID, r.RuleIndex)
		}
		if r.Message.Text == "" || len(r.Locations) == 0 {
			t.Errorf("result for %s lacks message or location", r.RuleID)
		}
		fp := r.PartialFingerprints[fingerprintKey]
		if fp == "" || fps[fp] {
			t.Errorf("result for %s: fingerprint %q missing or duplicate", r.RuleID, fp)
		}
		fps[fp] = true
		if pl := r.Locations[0].PhysicalLocation; pl != nil {
			if strings.HasPrefix(pl.ArtifactLocation.URI, "/") || strings.Contains(pl.ArtifactLocation.URI, "\\") {
				t.Errorf("uri %q is not a relative URI reference", pl.ArtifactLocation.URI)
			}
			if pl.Region != nil && pl.Region.StartLine < 1 {
				t.Errorf("startLine %d", pl.Region.StartLine)
			}
			if pl.ArtifactLocation.URI == "snapshots/otc.json" && pl.Region != nil {
				t.Error("a location without a line has a region")
			}
		}
		for _, s := range r.Suppressions {
			suppressed++
			if s.Kind != "external" || s.Justification == "" {
				t.Errorf("suppression %+v", s)
			}
		}
		if r.Kind == "open" && r.Level != "none" {
			t.Errorf("open result with level %s", r.Level)
		}
	}
	if suppressed != d.Summary.Suppressed {
		t.Errorf("%d suppressions, want %d", suppressed, d.Summary.Suppressed)
	}
}

func slicesContain(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

func TestSARIFURI(t *testing.T) {
	for in, want := range map[string]string{
		"main.tf":            "main.tf",
		"./infra/main.tf":    "infra/main.tf",
		"infra/a b.tf":       "infra/a%20b.tf",
		"/abs/plan.json":     "file:///abs/plan.json",
		"":                   "",
		"-":                  "",
		"infra/../x/main.tf": "x/main.tf",
	} {
		if got := sarifURI(in); got != want {
			t.Errorf("sarifURI(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestOCSFEvents checks each line is one Compliance Finding event with the
// attributes OCSF requires.
func TestOCSFEvents(t *testing.T) {
	d := newDocument(sampleResult(), testOptions)
	out := render(t, "ocsf", sampleResult(), testOptions)
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(nil, 1<<20)
	n := 0
	for sc.Scan() {
		var e map[string]any
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("line %d: %v", n+1, err)
		}
		f := d.Findings[n]
		n++
		for k, want := range map[string]float64{"class_uid": 2003, "category_uid": 2, "activity_id": 1, "type_uid": 200301} {
			if e[k] != want {
				t.Errorf("event %d: %s = %v, want %v", n, k, e[k], want)
			}
		}
		for _, k := range []string{"severity_id", "status_id", "time", "metadata", "finding_info", "compliance", "resources", "cloud"} {
			if _, ok := e[k]; !ok {
				t.Errorf("event %d lacks %s", n, k)
			}
		}
		md := e["metadata"].(map[string]any)
		if md["version"] == "" || md["product"].(map[string]any)["vendor_name"] == "" {
			t.Errorf("event %d metadata %v", n, md)
		}
		fi := e["finding_info"].(map[string]any)
		if fi["uid"] != f.Fingerprint || fi["title"] != f.Title {
			t.Errorf("event %d finding_info %v", n, fi)
		}
		comp := e["compliance"].(map[string]any)
		if stds, _ := comp["standards"].([]any); len(stds) == 0 {
			t.Errorf("event %d has no compliance standards", n)
		}
		wantStatus := map[string]float64{"fail": 3, "suppressed": 3, "unknown": 2, "error": 99}[f.Status]
		if comp["status_id"] != wantStatus {
			t.Errorf("event %d (%s): compliance.status_id %v, want %v", n, f.Status, comp["status_id"], wantStatus)
		}
		if f.Status == "suppressed" && e["status_id"] != 3.0 {
			t.Errorf("suppressed finding has status_id %v", e["status_id"])
		}
		if sev := map[string]float64{"low": 2, "medium": 3, "high": 4, "critical": 5}[f.Severity]; e["severity_id"] != sev {
			t.Errorf("event %d severity_id %v, want %v", n, e["severity_id"], sev)
		}
		if e["time"] != float64(fixedNow().UnixMilli()) {
			t.Errorf("time %v is not the scan time in ms", e["time"])
		}
		cloud := e["cloud"].(map[string]any)
		if cloud["provider"] == "" {
			t.Errorf("event %d cloud %v", n, cloud)
		}
	}
	if n != len(d.Findings) {
		t.Errorf("%d events, want %d", n, len(d.Findings))
	}
}

// TestCSV checks RFC 4180 round-tripping, the frameworks column and that
// formulas are defused.
func TestCSV(t *testing.T) {
	d := newDocument(sampleResult(), testOptions)
	out := render(t, "csv", sampleResult(), testOptions)
	if !bytes.Contains(out, []byte("\r\n")) {
		t.Error("rows do not end in CRLF")
	}
	rows, err := csv.NewReader(bytes.NewReader(out)).ReadAll()
	if err != nil {
		t.Fatalf("output is not valid CSV: %v", err)
	}
	if len(rows) != len(d.Findings)+1 {
		t.Fatalf("%d rows, want header + %d", len(rows), len(d.Findings))
	}
	col := map[string]int{}
	for i, h := range rows[0] {
		col[h] = i
	}
	for i, f := range d.Findings {
		row := rows[i+1]
		if row[col["rule_id"]] != f.RuleID || row[col["status"]] != f.Status {
			t.Errorf("row %d: %v", i+1, row)
		}
	}
	if got := rows[3][col["frameworks"]]; got != "bsi-c5:CRY-03;bsi-c5:CRY-04;gdpr:Art. 32(1)(a)" {
		t.Errorf("frameworks column %q", got)
	}
	for _, row := range rows[1:] {
		for _, cell := range row {
			if cell != "" && strings.ContainsRune("=+-@", rune(cell[0])) {
				t.Errorf("cell %q would run as a spreadsheet formula", cell)
			}
			if strings.ContainsRune(cell, 0x1b) {
				t.Errorf("cell %q holds an escape character", cell)
			}
		}
	}
}

// TestJUnit checks the XML parses and the counts add up.
func TestJUnit(t *testing.T) {
	d := newDocument(sampleResult(), testOptions)
	var suites junitSuites
	if err := xml.Unmarshal(render(t, "junit", sampleResult(), testOptions), &suites); err != nil {
		t.Fatalf("output is not XML: %v", err)
	}
	if len(suites.Suites) != len(d.Rules) {
		t.Errorf("%d suites, want one per rule (%d)", len(suites.Suites), len(d.Rules))
	}
	tests, failures, skipped := 0, 0, 0
	for _, s := range suites.Suites {
		f, k := 0, 0
		for _, c := range s.Cases {
			if c.Failure != nil {
				f++
			}
			if c.Skipped != nil {
				k++
			}
		}
		if s.Tests != len(s.Cases) || s.Failures != f || s.Skipped != k {
			t.Errorf("suite %s says tests=%d failures=%d skipped=%d, has %d, %d, %d", s.Name, s.Tests, s.Failures, s.Skipped, len(s.Cases), f, k)
		}
		tests += s.Tests
		failures += s.Failures
		skipped += s.Skipped
	}
	if suites.Tests != tests || suites.Failures != failures || suites.Skipped != skipped {
		t.Errorf("testsuites says %d/%d/%d, suites add up to %d/%d/%d", suites.Tests, suites.Failures, suites.Skipped, tests, failures, skipped)
	}
	s := d.Summary
	if failures != s.Failed+s.Errors || skipped != s.Suppressed+s.Unknown {
		t.Errorf("failures %d skipped %d; want %d and %d", failures, skipped, s.Failed+s.Errors, s.Suppressed+s.Unknown)
	}
}

// TestHTMLEscapes checks the hostile resource name cannot inject markup and
// the page references nothing outside itself.
func TestHTMLEscapes(t *testing.T) {
	out := string(render(t, "html", sampleResult(), testOptions))
	if strings.Contains(out, "<script>alert") {
		t.Error("a resource name was written unescaped")
	}
	if n := strings.Count(out, "<script"); n != 1 {
		t.Errorf("%d script elements, want 1", n)
	}
	for _, bad := range []string{" src=", "url(", "@import", "<link", "<img", "<iframe", "<object", "<embed"} {
		if strings.Contains(out, bad) {
			t.Errorf("the page contains %q: it must load nothing", bad)
		}
	}
	if !strings.Contains(out, "Content-Security-Policy") || !strings.Contains(out, "default-src 'none'") {
		t.Error("the page has no restrictive Content-Security-Policy")
	}
	if !strings.Contains(out, "Bürgerportal") {
		t.Error("non-ASCII text was mangled")
	}
}

// TestTableColor checks colour is on only when asked for and that resource
// names cannot send escape sequences to the terminal.
func TestTableColor(t *testing.T) {
	plain := render(t, "table", sampleResult(), testOptions)
	if bytes.ContainsRune(plain, 0x1b) {
		t.Error("the table has escape characters with Color off")
	}
	opts := testOptions
	opts.Color = true
	color := string(render(t, "table", sampleResult(), opts))
	if !strings.Contains(color, ansiRed) {
		t.Error("the table has no colour with Color on")
	}
	if strings.Contains(color, "\x1b[31m\"quoted\"") {
		t.Error("a resource name's escape sequence reached the terminal")
	}
}

func TestCompareNatural(t *testing.T) {
	in := []string{"CRY-10", "CRY-02", "Art. 32(1)(a)", "Art. 5(1)(f)", "CRY-1", "OPS-01"}
	want := []string{"Art. 5(1)(f)", "Art. 32(1)(a)", "CRY-1", "CRY-02", "CRY-10", "OPS-01"}
	got := append([]string{}, in...)
	slices.SortFunc(got, compareNatural)
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("got %v, want %v", got, want)
	}
}
