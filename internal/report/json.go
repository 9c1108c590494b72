package report

import (
	"encoding/json"
	"fmt"
	"io"
)

// writeJSON writes the document as indented JSON. The schema is
// docs/report.schema.json; docs/formats.md explains every field.
func writeJSON(w io.Writer, d *document, _ Options) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(d); err != nil {
		return fmt.Errorf("encoding JSON: %w", err)
	}
	return nil
}
