// Package report writes the result of a scan in the formats people and
// machines read: a terminal table, a JSON document with a stable schema,
// SARIF for code scanning, OCSF compliance findings for security data lakes,
// a self-contained HTML report for auditors, CSV and JUnit XML for CI.
//
// It imports rules and inventory; cli and server use it. Every writer works
// from the same sorted view of the result (see document.go), so all formats
// list the same findings in the same order.
package report

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/hoheit/hoheit/internal/rules"
)

// Formats lists the format names Write accepts, in the order help texts show
// them.
var Formats = []string{"table", "json", "sarif", "ocsf", "html", "csv", "junit"}

// Options changes how a report is written. The zero value is usable.
type Options struct {
	// Color turns on ANSI colours in the table format. The caller decides,
	// usually from whether the output is a terminal.
	Color bool
	// ToolVersion is hoheit's version, written into every format that has a
	// place for it. Empty means "dev".
	ToolVersion string
	// ShowUnsupported lists the native types hoheit does not model in the
	// table; otherwise it gives only their count. Other formats always
	// carry the list.
	ShowUnsupported bool
	// Now gives the scan time written into the report. Nil means time.Now;
	// tests set it for deterministic output.
	Now func() time.Time
}

// ToolName is the name every format reports as the producing tool.
const ToolName = "hoheit"

// InformationURI is where SARIF and HTML readers learn about the tool.
const InformationURI = "https://github.com/hoheit/hoheit"

type writer func(w io.Writer, d *document, opts Options) error

func writerFor(format string) (writer, bool) {
	switch format {
	case "table":
		return writeTable, true
	case "json":
		return writeJSON, true
	case "sarif":
		return writeSARIF, true
	case "ocsf":
		return writeOCSF, true
	case "html":
		return writeHTML, true
	case "csv":
		return writeCSV, true
	case "junit":
		return writeJUnit, true
	}
	return nil, false
}

// streams lists the formats whose writers build each finding as they write
// it (document.findingAt) rather than reading document.Findings.
var streams = map[string]bool{"json": true}

// Write renders res in format to w. It returns an error naming the valid
// formats when format is not one of Formats.
func Write(ctx context.Context, w io.Writer, format string, res *rules.Result, opts Options) error {
	name := strings.ToLower(strings.TrimSpace(format))
	wr, ok := writerFor(name)
	if !ok {
		return fmt.Errorf("unknown report format %q: use one of %s", format, strings.Join(Formats, ", "))
	}
	if res == nil {
		return errors.New("writing report: no scan result")
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("writing %s report: %w", name, err)
	}
	d := planDocument(res, opts)
	if !streams[name] {
		d.materialize()
	}
	if err := wr(w, d, opts); err != nil {
		return fmt.Errorf("writing %s report: %w", name, err)
	}
	return nil
}
