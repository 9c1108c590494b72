package report

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"runtime"
	"sync/atomic"
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
// on its own line, batches on every core, written in order. Each finding is
// built when it is encoded (document.findingAt).
//
// Workers take the next batch as they finish one, into a ring of buffers
// the writer empties in order: with a round of batches at a time, the
// core that finished its batch first waited for the other.
func writeFindings(w *bufio.Writer, d *document) error {
	total := len(d.order)
	batches := (total + findingBatch - 1) / findingBatch
	workers := min(runtime.GOMAXPROCS(0), batches)
	ring := 2 * workers
	type slot struct {
		buf   []byte
		err   error
		ready chan struct{} // the batch in buf is encoded
		free  chan struct{} // the writer is done with buf
	}
	slots := make([]slot, ring)
	for k := range slots {
		// A batch's findings take about 1 MB: sized once, a buffer is not
		// grown (and copied) batch by batch.
		slots[k] = slot{buf: make([]byte, 0, findingBatch*1024), ready: make(chan struct{}, 1), free: make(chan struct{}, 1)}
		slots[k].free <- struct{}{}
	}
	var next atomic.Int64
	for range workers {
		go func() {
			app := newFindingAppender()
			for {
				b := int(next.Add(1)) - 1
				if b >= batches {
					return
				}
				s := &slots[b%ring]
				<-s.free
				lo := b * findingBatch
				s.buf, s.err = app.appendFindingsOf(s.buf[:0], d, lo, min(lo+findingBatch, total))
				s.ready <- struct{}{}
			}
		}()
	}
	var err error
	for b := range batches {
		s := &slots[b%ring]
		<-s.ready
		// After an error the batches are still taken in turn, so that no
		// worker waits for a buffer forever; nothing more is written.
		if err == nil {
			if err = s.err; err == nil {
				w.Write(s.buf)
			}
		}
		s.free <- struct{}{}
	}
	return err
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
