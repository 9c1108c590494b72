package report

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
)

// writeJSON writes the document as JSON. The schema is
// docs/report.schema.json; docs/formats.md explains every field.
//
// The findings array can hold hundreds of thousands of entries, so it is
// streamed: the rest of the document is indented as usual, each finding is
// written compact on a line of its own, and nothing holds the whole report
// in memory.
func writeJSON(w io.Writer, d *document, _ Options) error {
	findings := d.Findings
	head := *d
	head.Findings = nil
	var hb bytes.Buffer
	enc := json.NewEncoder(&hb)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(&head); err != nil {
		return fmt.Errorf("encoding JSON: %w", err)
	}
	const slot = `"findings": null`
	i := bytes.Index(hb.Bytes(), []byte(slot))
	if i < 0 {
		return fmt.Errorf("encoding JSON: no findings field in the document")
	}
	bw := bufio.NewWriterSize(w, 1<<20)
	bw.Write(hb.Bytes()[:i])
	bw.WriteString(`"findings": [`)
	var fb bytes.Buffer
	fenc := json.NewEncoder(&fb)
	fenc.SetEscapeHTML(false)
	for n := range findings {
		fb.Reset()
		if err := fenc.Encode(&findings[n]); err != nil {
			return fmt.Errorf("encoding JSON finding %d: %w", n, err)
		}
		if n > 0 {
			bw.WriteByte(',')
		}
		bw.WriteString("\n    ")
		bw.Write(bytes.TrimSuffix(fb.Bytes(), []byte("\n")))
	}
	if len(findings) > 0 {
		bw.WriteString("\n  ")
	}
	bw.WriteByte(']')
	bw.Write(hb.Bytes()[i+len(slot):])
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("writing JSON: %w", err)
	}
	return nil
}
