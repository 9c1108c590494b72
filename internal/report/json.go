package report

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"runtime"
	"sync"
)

// writeJSON writes the document as JSON. The schema is
// docs/report.schema.json; docs/formats.md explains every field.
//
// The findings array can hold hundreds of thousands of entries, so it is
// streamed: the rest of the document is indented as usual, and each finding
// is written compact on a line of its own. Batches of findings are encoded
// on every core and written in order, so the output is the same whatever
// the number of cores.
func writeJSON(w io.Writer, d *document, _ Options) error {
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
	if err := writeFindings(bw, d); err != nil {
		return err
	}
	if len(d.order) > 0 {
		bw.WriteString("\n  ")
	}
	bw.WriteByte(']')
	bw.Write(hb.Bytes()[i+len(slot):])
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("writing JSON: %w", err)
	}
	return nil
}

// findingBatch is how many findings one goroutine encodes at a time.
const findingBatch = 2048

// writeFindings encodes the findings as the members of a JSON array, each
// on its own line, batches in parallel, written in order. Each finding is
// built when it is encoded (document.findingAt).
func writeFindings(w *bufio.Writer, d *document) error {
	total := len(d.order)
	workers := runtime.GOMAXPROCS(0)
	bufs := make([][]byte, workers)
	for k := range bufs {
		// A batch's findings take about 1 MB: sized once, a buffer is not
		// grown (and copied) batch by batch.
		bufs[k] = make([]byte, 0, findingBatch*1024)
	}
	apps := make([]*findingAppender, workers)
	for k := range apps {
		apps[k] = newFindingAppender()
	}
	errs := make([]error, workers)
	for start := 0; start < total; start += workers * findingBatch {
		var wg sync.WaitGroup
		for k := 0; k < workers; k++ {
			lo := start + k*findingBatch
			if lo >= total {
				break
			}
			hi := min(lo+findingBatch, total)
			wg.Add(1)
			go func() {
				defer wg.Done()
				bufs[k], errs[k] = apps[k].appendFindingsOf(bufs[k][:0], d, lo, hi)
			}()
		}
		wg.Wait()
		for k := range bufs {
			if errs[k] != nil {
				return errs[k]
			}
			w.Write(bufs[k])
			bufs[k] = bufs[k][:0]
		}
	}
	return nil
}

// appendFindingsOf appends the document's findings lo to hi, building
// each into the appender's scratch.
func (a *findingAppender) appendFindingsOf(b []byte, d *document, lo, hi int) ([]byte, error) {
	for i := lo; i < hi; i++ {
		if (i-lo)%touchAhead == 0 {
			touchSink.Add(int64(d.touch(i, min(i+touchAhead, hi))))
		}
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, "\n    "...)
		d.findingAt(i, &a.finding, false)
		var err error
		if b, err = a.appendFinding(b, &a.finding); err != nil {
			return b, fmt.Errorf("encoding JSON finding %d: %w", i, err)
		}
	}
	return b, nil
}
