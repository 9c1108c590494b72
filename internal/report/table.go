package report

import (
	"bufio"
	"fmt"
	"io"
	"slices"
	"strings"
	"unicode/utf8"
)

// ANSI styles of the table format.
const (
	ansiReset   = "\x1b[0m"
	ansiBold    = "\x1b[1m"
	ansiDim     = "\x1b[2m"
	ansiRed     = "\x1b[31m"
	ansiGreen   = "\x1b[32m"
	ansiYellow  = "\x1b[33m"
	ansiBlue    = "\x1b[34m"
	ansiMagenta = "\x1b[35m"
	ansiCyan    = "\x1b[36m"
	ansiOnRed   = "\x1b[1;97;41m"
)

var severityStyle = map[string]string{
	"critical": ansiOnRed,
	"high":     ansiBold + ansiRed,
	"medium":   ansiYellow,
	"low":      ansiBlue,
}

var statusStyle = map[string]string{
	"fail":       ansiRed,
	"suppressed": ansiDim,
	"error":      ansiMagenta,
	"unknown":    ansiCyan,
}

// painter applies ANSI styles when colour is on and is a no-op otherwise.
type painter bool

func (p painter) paint(style, s string) string {
	if !p || style == "" || s == "" {
		return s
	}
	return style + s + ansiReset
}

// writeTable writes findings grouped by severity, then rule, for a terminal,
// followed by a summary.
func writeTable(w io.Writer, d *document, opts Options) error {
	bw := bufio.NewWriter(w)
	p := painter(opts.Color)
	t := &tableWriter{w: bw, p: p, showUnsupported: opts.ShowUnsupported}

	t.line("%s %s  %s  %s", p.paint(ansiBold, ToolName), d.Tool.Version,
		p.paint(ansiDim, "scan "+d.now.Format("2006-01-02 15:04 MST")),
		p.paint(ansiDim, plural(d.Summary.Resources, "resource")+" from "+plural(d.Summary.Inputs, "input")))
	t.line("")

	statusWidth := len("SUPPRESSED")
	keyWidth := 0
	for i := range d.Findings {
		keyWidth = max(keyWidth, utf8.RuneCountInString(d.Findings[i].key()))
	}
	keyWidth = min(keyWidth, 48)

	if len(d.Findings) == 0 {
		t.line("%s", p.paint(ansiGreen, "No findings."))
		t.line("")
	}
	for i := 0; i < len(d.Findings); {
		sev := d.Findings[i].Severity
		j := i
		for j < len(d.Findings) && d.Findings[j].Severity == sev {
			j++
		}
		t.line("%s", p.paint(severityStyle[sev], " "+strings.ToUpper(sev)+" "))
		for k := i; k < j; {
			f := &d.Findings[k]
			m := k
			for m < j && d.Findings[m].RuleID == f.RuleID {
				m++
			}
			head := "  " + p.paint(ansiBold, oneLine(f.RuleID)) + "  " + oneLine(f.Title)
			if fw := frameworkText(f.Frameworks, " · ", " "); fw != "" {
				head += "  " + p.paint(ansiDim, "["+oneLine(fw)+"]")
			}
			t.line("%s", head)
			for n := k; n < m; n++ {
				t.finding(&d.Findings[n], statusWidth, keyWidth)
			}
			k = m
		}
		t.line("")
		i = j
	}

	t.summary(d)
	if t.err != nil {
		return t.err
	}
	return bw.Flush()
}

type tableWriter struct {
	w               *bufio.Writer
	p               painter
	err             error
	showUnsupported bool
}

func (t *tableWriter) line(format string, args ...any) {
	if t.err != nil {
		return
	}
	_, t.err = t.w.WriteString(strings.TrimRight(fmt.Sprintf(format, args...), " ") + "\n")
}

func (t *tableWriter) finding(f *finding, statusWidth, keyWidth int) {
	p := t.p
	status := strings.ToUpper(f.Status)
	key := oneLine(f.key())
	row := "    " + p.paint(statusStyle[f.Status], pad(status, statusWidth)) + "  " + pad(key, keyWidth)
	if where := f.where(); where != "" {
		row += "  " + p.paint(ansiDim, oneLine(where))
	}
	t.line("%s", strings.TrimRight(row, " "))
	indent := strings.Repeat(" ", 4+statusWidth+2)
	if f.detail != "" {
		t.line("%s%s", indent, oneLine(f.detail))
	}
	if x := f.Exception; x != nil {
		t.line("%s%s", indent, p.paint(ansiDim, "exception: "+oneLine(x.Justification+exceptionMeta(x))))
	}
}

func exceptionMeta(x *exception) string {
	var parts []string
	if x.Owner != "" {
		parts = append(parts, "owner "+x.Owner)
	}
	if x.Expires != "" {
		parts = append(parts, "expires "+x.Expires)
	}
	if len(parts) == 0 {
		return ""
	}
	return " (" + strings.Join(parts, ", ") + ")"
}

func (t *tableWriter) summary(d *document) {
	p := t.p
	s := d.Summary
	t.line("%s", p.paint(ansiBold, "Summary"))
	var bySev []string
	for _, sev := range severityNames {
		n := s.FailedBySeverity[sev]
		text := fmt.Sprintf("%s %d", sev, n)
		if n > 0 {
			text = p.paint(severityStyle[sev], text)
		}
		bySev = append(bySev, text)
	}
	failed := fmt.Sprintf("%d", s.Failed)
	if s.Failed > 0 {
		failed = p.paint(ansiRed, failed)
	}
	t.line("  checks %d · passed %d · failed %s (%s)", s.Checks, s.Passed, failed, strings.Join(bySev, ", "))
	t.line("  suppressed %d · errors %d · unknown before apply %d · expired exceptions %d",
		s.Suppressed, s.Errors, s.Unknown, s.ExpiredExceptions)
	t.line("  inputs %d, failed %d, skipped %d · unsupported types %d (%s)",
		s.Inputs, s.InputsFailed, s.InputsSkipped, s.UnsupportedTypes, plural(s.UnsupportedResources, "resource"))
	if fws := htmlFrameworks(d); len(fws) > 0 {
		t.line("")
		t.line("%s", p.paint(ansiBold, "By framework"))
		for _, fw := range fws {
			failing := fmt.Sprintf("%d", fw.Failed)
			if fw.Failed > 0 {
				failing = p.paint(ansiRed, failing)
			}
			t.line("  %-22s %s of %s with failures", oneLine(fw.Title), failing, plural(len(fw.Controls), "control"))
		}
	}

	if s.InputsFailed > 0 {
		t.line("")
		t.line("%s", p.paint(ansiBold, "Inputs that failed"))
		for _, in := range d.Inputs {
			if in.Error != "" {
				t.line("  %s  %s", oneLine(in.Path), p.paint(ansiRed, oneLine(in.Error)))
			}
		}
	}
	if len(d.ExpiredExceptions) > 0 {
		t.line("")
		t.line("%s", p.paint(ansiBold, "Expired exceptions (they no longer suppress anything)"))
		for _, x := range d.ExpiredExceptions {
			where := oneLine(inventoryLocation(x.File, x.Line))
			if where != "" {
				where = "  " + p.paint(ansiDim, where)
			}
			t.line("  %s  expired %s  %s%s", oneLine(x.Rule), x.Expires, oneLine(x.Justification), where)
		}
	}
	switch {
	case len(d.Unsupported) > 0 && t.showUnsupported:
		t.line("")
		t.line("%s", p.paint(ansiBold, "Unsupported types (not checked)"))
		for _, u := range d.Unsupported {
			t.line("  %-10s %-40s %d", oneLine(u.Provider), oneLine(u.NativeType), u.Count)
		}
	case len(d.Unsupported) > 0:
		t.line("")
		t.line("%s", p.paint(ansiDim, fmt.Sprintf("%s of %s not modelled yet and not checked: --show-unsupported lists them",
			plural(d.Summary.UnsupportedResources, "resource"), plural(d.Summary.UnsupportedTypes, "type"))))
	}
}

func inventoryLocation(file string, line int) string {
	if file == "" {
		return ""
	}
	if line > 0 {
		return fmt.Sprintf("%s:%d", file, line)
	}
	return file
}

// frameworkText renders frameworks as "bsi-c5 CRY-03, CRY-04 · gdpr Art. 32"
// with framework names sorted.
func frameworkText(fw map[string][]string, sep, nameSep string) string {
	names := make([]string, 0, len(fw))
	for k := range fw {
		names = append(names, k)
	}
	slices.SortFunc(names, compareFrameworks)
	parts := make([]string, 0, len(names))
	for _, n := range names {
		parts = append(parts, n+nameSep+strings.Join(fw[n], ", "))
	}
	return strings.Join(parts, sep)
}

func pad(s string, width int) string {
	n := utf8.RuneCountInString(s)
	if n >= width {
		return s
	}
	return s + strings.Repeat(" ", width-n)
}

func plural(n int, word string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, word)
	}
	return fmt.Sprintf("%d %ss", n, word)
}

// oneLine folds line breaks so a value cannot break the table's layout, and
// drops control characters, so a resource name cannot send escape sequences
// to the terminal.
func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r == '\n' || r == '\r' || r == '\t':
			return ' '
		case r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0):
			return -1
		}
		return r
	}, s)
}
