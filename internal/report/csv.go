package report

import (
	"encoding/csv"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
)

// csvHeader names the columns of the csv format, one row per finding.
var csvHeader = []string{
	"severity", "status", "rule_id", "title",
	"provider", "account", "region", "resource_type", "native_type",
	"resource_address", "resource_id", "resource_name",
	"file", "line", "frameworks", "message", "remediation",
	"exception_justification", "exception_owner", "exception_expires",
	"fingerprint",
}

// writeCSV writes a header and one RFC 4180 row per finding.
func writeCSV(w io.Writer, d *document, _ Options) error {
	cw := csv.NewWriter(w)
	cw.UseCRLF = true // RFC 4180 line breaks; spreadsheets accept both.
	if err := cw.Write(csvHeader); err != nil {
		return fmt.Errorf("writing CSV header: %w", err)
	}
	for i := range d.Findings {
		f := &d.Findings[i]
		line := ""
		if f.Location.Line > 0 {
			line = strconv.Itoa(f.Location.Line)
		}
		file := f.Location.File
		if file == "" {
			file = f.Location.Path
		} else if f.Location.Line == 0 && f.Location.Path != "" {
			file += "#" + f.Location.Path
		}
		var x exception
		if f.Exception != nil {
			x = *f.Exception
		}
		row := []string{
			f.Severity, f.Status, f.RuleID, f.Title,
			f.Resource.Provider, f.Resource.Account, f.Resource.Region, f.Resource.Type, f.Resource.NativeType,
			f.Resource.Address, f.Resource.ID, f.Resource.Name,
			file, line, csvFrameworks(f.Frameworks), f.Message, f.Remediation.Guidance,
			x.Justification, x.Owner, x.Expires,
			f.Fingerprint,
		}
		for j := range row {
			row[j] = csvCell(row[j])
		}
		if err := cw.Write(row); err != nil {
			return fmt.Errorf("writing CSV row: %w", err)
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("writing CSV: %w", err)
	}
	return nil
}

// csvFrameworks renders frameworks as "bsi-c5:CRY-03;gdpr:Art. 32(1)(a)":
// one framework:control pair per control, frameworks in report order.
func csvFrameworks(fw map[string][]string) string {
	names := make([]string, 0, len(fw))
	for k := range fw {
		names = append(names, k)
	}
	slices.SortFunc(names, compareFrameworks)
	var parts []string
	for _, n := range names {
		for _, c := range fw[n] {
			parts = append(parts, n+":"+c)
		}
	}
	return strings.Join(parts, ";")
}

// csvCell defuses spreadsheet formulas: a cell a spreadsheet would evaluate
// (starting with = + - @, tab or carriage return) gets a leading apostrophe,
// so a crafted resource name or tag cannot run as a formula when an auditor
// opens the file (OWASP "CSV injection"). It also drops control
// characters other than line break and tab.
func csvCell(s string) string {
	if s == "" {
		return s
	}
	s = strings.Map(func(r rune) rune {
		if r < 0x20 && r != '\n' && r != '\t' || r == 0x7f {
			return -1 // terminal escapes and other controls
		}
		return r
	}, s)
	switch s[0] {
	case '=', '+', '-', '@', '\t', '\r':
		return "'" + s
	}
	return s
}
