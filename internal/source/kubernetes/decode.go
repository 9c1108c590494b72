package kubernetes

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"

	yaml "go.yaml.in/yaml/v3"

	"github.com/hoheit/hoheit/internal/source/position"
)

// decoder turns YAML or JSON bytes into plain Go values: map[string]any,
// []any, string, bool, int64, float64 and nil.
type decoder struct {
	file     string
	maxDepth int
	// lineOffset is added to every line the YAML parser reports, for a
	// part of the file parsed on its own.
	lineOffset int
	// budget is how many more values may be produced. YAML aliases can
	// make a small file expand exponentially ("billion laughs"); without
	// aliases a file never yields more values than it has bytes.
	budget int
}

// errDepth is the message for a document nested deeper than allowed.
func (d *decoder) depthError(line int) error {
	return d.errorf(line, "nested deeper than %d levels; this is not a plausible Kubernetes object (raise the limit with --max-depth if it is genuine)", d.maxDepth)
}

func (d *decoder) errorf(line int, format string, args ...any) error {
	if line > 0 {
		return fmt.Errorf("%s:%d: %s", d.file, line+d.lineOffset, fmt.Sprintf(format, args...))
	}
	return fmt.Errorf("%s: %s", d.file, fmt.Sprintf(format, args...))
}

// emitFunc receives one top-level document, the line it starts on and, when
// it has an "items" list, the line each item starts on.
type emitFunc func(v any, line int, itemLines []int) error

// decode calls emit for every top-level document of data, in order.
// Empty documents are skipped.
func (d *decoder) decode(data []byte, emit emitFunc) error {
	d.budget = 2*len(data) + 1024 // for JSON; YAML chunks get their own
	data = bytes.TrimPrefix(data, []byte("\ufeff"))
	if t := bytes.TrimLeft(data, " \t\r\n"); len(t) > 0 && t[0] == '{' {
		return d.decodeJSON(data, emit)
	}
	return d.decodeYAML(data, emit)
}

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): `)

// yamlError rewrites the parser's "yaml: line N: msg" as "file:N: msg".
func (d *decoder) yamlError(err error) error {
	msg := err.Error()
	if strings.Contains(msg, "exceeded max depth") {
		return d.depthError(0)
	}
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		return d.errorf(line, "malformed YAML: %s", msg[len(m[0]):])
	}
	return d.errorf(0, "malformed YAML: %s", strings.TrimPrefix(msg, "yaml: "))
}

// decodeYAML parses the documents of a YAML stream. The YAML parser is slow
// (about 10 MB/s), so a stream is cut at its "---" lines and the parts are
// parsed in parallel; documents are still emitted in order, and the first
// error in file order is the one reported.
func (d *decoder) decodeYAML(data []byte, emit emitFunc) error {
	parts := splitDocuments(data)
	results := make([]chunkResult, len(parts))
	var wg sync.WaitGroup
	next := make(chan int)
	for range min(runtime.GOMAXPROCS(0), len(parts)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				cd := &decoder{file: d.file, maxDepth: d.maxDepth, lineOffset: parts[i].line - 1, budget: 2*len(parts[i].data) + 1024}
				results[i] = cd.parseChunk(parts[i].data)
			}
		}()
	}
	for i := range parts {
		next <- i
	}
	close(next)
	wg.Wait()
	for i, r := range results {
		for _, doc := range r.docs {
			if err := emit(doc.v, doc.line, doc.itemLines); err != nil {
				return err
			}
		}
		if r.err != nil {
			return r.err
		}
		results[i] = chunkResult{} // let the collector have it
	}
	return nil
}

// chunk is a part of a YAML stream that starts at a document boundary.
type chunk struct {
	data []byte
	line int // of its first line in the file
}

type chunkResult struct {
	docs []parsedDoc
	err  error
}

type parsedDoc struct {
	v         any
	line      int
	itemLines []int
}

// splitDocuments cuts a YAML stream before every "---" that starts a line,
// which always marks a document start: content inside a document is never
// written there. A stream with directives (%YAML, %TAG), which belong to
// the document after them, is not cut.
func splitDocuments(data []byte) []chunk {
	if bytes.HasPrefix(data, []byte("%")) || bytes.Contains(data, []byte("\n%")) || hasOddBreaks(data) {
		return []chunk{{data: data, line: 1}}
	}
	var out []chunk
	start, startLine, line := 0, 1, 1
	for off := 0; off < len(data); {
		end := bytes.IndexByte(data[off:], '\n')
		if end < 0 {
			end = len(data)
		} else {
			end += off
		}
		l := data[off:end]
		if off > start && bytes.HasPrefix(l, []byte("---")) && (len(l) == 3 || l[3] == ' ' || l[3] == '\t' || l[3] == '\r') {
			out = append(out, chunk{data: data[start:off], line: startLine})
			start, startLine = off, line
		}
		off = end + 1
		line++
	}
	return append(out, chunk{data: data[start:], line: startLine})
}

// hasOddBreaks reports line breaks other than \n and \r\n: a lone \r, or
// the Unicode NEL, LS and PS, which the YAML parser counts as line breaks.
// Cutting such a stream would put the parser's line numbers off.
func hasOddBreaks(data []byte) bool {
	for i := bytes.IndexByte(data, '\r'); i >= 0; {
		if i+1 >= len(data) || data[i+1] != '\n' {
			return true
		}
		j := bytes.IndexByte(data[i+1:], '\r')
		if j < 0 {
			break
		}
		i += 1 + j
	}
	return bytes.Contains(data, []byte("\u0085")) || bytes.Contains(data, []byte("\u2028")) || bytes.Contains(data, []byte("\u2029"))
}

// parseChunk decodes every document of one chunk, stopping at the first
// error.
func (d *decoder) parseChunk(data []byte) chunkResult {
	var r chunkResult
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var doc yaml.Node
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			return r
		}
		if err != nil {
			r.err = d.yamlError(err)
			return r
		}
		if len(doc.Content) == 0 {
			continue
		}
		root := doc.Content[0]
		v, err := d.yamlValue(root, 1)
		if err != nil {
			r.err = err
			return r
		}
		if v == nil {
			continue // an empty document, as Helm renders for a disabled template
		}
		lines := yamlItemLines(root)
		for i := range lines {
			lines[i] += d.lineOffset
		}
		r.docs = append(r.docs, parsedDoc{v: v, line: root.Line + d.lineOffset, itemLines: lines})
	}
}

// yamlItemLines returns the line of each element of the mapping's "items"
// sequence, following an alias if the sequence is one.
func yamlItemLines(n *yaml.Node) []int {
	if n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value != "items" {
			continue
		}
		seq := n.Content[i+1]
		if seq.Kind == yaml.AliasNode && seq.Alias != nil {
			seq = seq.Alias
		}
		if seq.Kind != yaml.SequenceNode {
			return nil
		}
		lines := make([]int, len(seq.Content))
		for j, c := range seq.Content {
			lines[j] = c.Line
		}
		return lines
	}
	return nil
}

func (d *decoder) yamlValue(n *yaml.Node, depth int) (any, error) {
	if depth > d.maxDepth {
		return nil, d.depthError(n.Line)
	}
	d.budget--
	if d.budget < 0 {
		return nil, d.errorf(n.Line, "YAML aliases expand to far more values than the file holds; refusing to expand them (a \"billion laughs\" document?)")
	}
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) == 0 {
			return nil, nil
		}
		return d.yamlValue(n.Content[0], depth)
	case yaml.AliasNode:
		if n.Alias == nil {
			return nil, d.errorf(n.Line, "alias *%s has no anchor", n.Value)
		}
		// Counting the alias as a level makes a self-referencing anchor end
		// at the depth limit instead of looping.
		return d.yamlValue(n.Alias, depth+1)
	case yaml.ScalarNode:
		return scalar(n), nil
	case yaml.SequenceNode:
		out := make([]any, 0, len(n.Content))
		for _, c := range n.Content {
			v, err := d.yamlValue(c, depth+1)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		return out, nil
	case yaml.MappingNode:
		return d.yamlMapping(n, depth)
	}
	return nil, d.errorf(n.Line, "unexpected YAML node")
}

func (d *decoder) yamlMapping(n *yaml.Node, depth int) (map[string]any, error) {
	out := make(map[string]any, len(n.Content)/2)
	var merges []map[string]any
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			return nil, d.errorf(k.Line, "mapping keys must be plain strings")
		}
		if k.ShortTag() == "!!merge" {
			ms, err := d.mergeSources(v, depth)
			if err != nil {
				return nil, err
			}
			merges = append(merges, ms...)
			continue
		}
		if _, dup := out[k.Value]; dup {
			return nil, d.errorf(k.Line, "key %q is set twice in the same mapping; remove one", k.Value)
		}
		val, err := d.yamlValue(v, depth+1)
		if err != nil {
			return nil, err
		}
		out[k.Value] = val
	}
	// Keys set explicitly win over merged ones; earlier merges win over later.
	for _, m := range merges {
		for k, v := range m {
			if _, ok := out[k]; !ok {
				out[k] = v
			}
		}
	}
	return out, nil
}

// mergeSources resolves the value of a "<<" merge key: a mapping, an alias
// of one, or a sequence of them.
func (d *decoder) mergeSources(v *yaml.Node, depth int) ([]map[string]any, error) {
	val, err := d.yamlValue(v, depth+1)
	if err != nil {
		return nil, err
	}
	switch x := val.(type) {
	case map[string]any:
		return []map[string]any{x}, nil
	case []any:
		out := make([]map[string]any, 0, len(x))
		for _, e := range x {
			m, ok := e.(map[string]any)
			if !ok {
				return nil, d.errorf(v.Line, "a merge key (<<) takes mappings only")
			}
			out = append(out, m)
		}
		return out, nil
	}
	return nil, d.errorf(v.Line, "a merge key (<<) takes mappings only")
}

// scalar resolves a YAML scalar to a Go value by its resolved tag. Values the
// tag promises but that do not parse (an int beyond int64) stay strings, as
// do timestamps and custom tags.
func scalar(n *yaml.Node) any {
	const explicit = yaml.TaggedStyle | yaml.SingleQuotedStyle | yaml.DoubleQuotedStyle | yaml.LiteralStyle | yaml.FoldedStyle
	if n.Style&explicit == 0 && n.ShortTag() == "!!str" {
		// kubectl reads manifests with YAML 1.1 rules (sigs.k8s.io/yaml),
		// where a plain yes, on or y is a boolean: "privileged: yes" runs a
		// privileged container, so it must read as true here too.
		if b, ok := yaml11Bools[n.Value]; ok {
			return b
		}
	}
	switch n.ShortTag() {
	case "!!null":
		return nil
	case "!!bool":
		switch strings.ToLower(n.Value) {
		case "true":
			return true
		case "false":
			return false
		}
		if b, ok := yaml11Bools[n.Value]; ok { // explicitly tagged !!bool yes
			return b
		}
	case "!!int":
		if i, err := strconv.ParseInt(n.Value, 0, 64); err == nil {
			return i
		}
		if f, err := strconv.ParseFloat(n.Value, 64); err == nil {
			return f
		}
	case "!!float":
		switch strings.ToLower(strings.TrimPrefix(n.Value, "+")) {
		case ".inf":
			return math.Inf(1)
		case "-.inf":
			return math.Inf(-1)
		case ".nan":
			return math.NaN()
		}
		if f, err := strconv.ParseFloat(strings.ReplaceAll(n.Value, "_", ""), 64); err == nil {
			return f
		}
	}
	return n.Value
}

// yaml11Bools are the plain scalars YAML 1.1 reads as booleans and YAML 1.2
// does not.
var yaml11Bools = map[string]bool{
	"y": true, "Y": true, "yes": true, "Yes": true, "YES": true, "on": true, "On": true, "ON": true,
	"n": false, "N": false, "no": false, "No": false, "NO": false, "off": false, "Off": false, "OFF": false,
}

// decodeJSON reads a stream of JSON values. It is used instead of the YAML
// parser for JSON input because that parser rejects valid JSON escapes such
// as \/ and is several times slower on the large output of kubectl -o json.
func (d *decoder) decodeJSON(data []byte, emit emitFunc) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	lines := position.NewLines(data)
	for {
		start := skipSpace(data, int(dec.InputOffset()))
		var valid validJSON
		err := dec.Decode(&valid)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return d.jsonError(err, data, lines)
		}
		line := lines.At(start)
		v, itemLines, err := d.jsonTop(data[start:int(dec.InputOffset())], line)
		if err != nil {
			return err
		}
		if v == nil {
			continue
		}
		if err := emit(v, line, itemLines); err != nil {
			return err
		}
	}
}

// validJSON takes any JSON value without keeping it: decoding into it only
// checks the syntax.
type validJSON struct{}

func (*validJSON) UnmarshalJSON([]byte) error { return nil }

// jsonTop decodes one top-level value, known to be valid JSON, that starts
// on line. The elements of an object's "items" array — the objects of a List,
// which can number in the tens of thousands — are decoded in parallel, and
// the line of each is returned.
func (d *decoder) jsonTop(raw []byte, line int) (any, []int, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if raw[0] != '{' {
		var v any
		if err := dec.Decode(&v); err != nil {
			return nil, nil, d.errorf(line, "malformed JSON: %v", err)
		}
		v, err := d.jsonValue(v, 1, line)
		return v, nil, err
	}
	if _, err := dec.Token(); err != nil {
		return nil, nil, d.errorf(line, "malformed JSON: %v", err)
	}
	obj := map[string]any{}
	var items [][2]int // byte ranges in raw
	hasItems := false
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil, nil, d.errorf(line, "malformed JSON: %v", err)
		}
		key, _ := t.(string)
		if key == "items" && peek(raw, int(dec.InputOffset())) == '[' {
			if _, err := dec.Token(); err != nil {
				return nil, nil, d.errorf(line, "malformed JSON: %v", err)
			}
			items, hasItems = items[:0], true
			for dec.More() {
				start := skipSpace(raw, int(dec.InputOffset()))
				for start < len(raw) && raw[start] == ',' {
					start = skipSpace(raw, start+1)
				}
				var valid validJSON
				if err := dec.Decode(&valid); err != nil {
					return nil, nil, d.errorf(line, "malformed JSON: %v", err)
				}
				items = append(items, [2]int{start, int(dec.InputOffset())})
			}
			if _, err := dec.Token(); err != nil {
				return nil, nil, d.errorf(line, "malformed JSON: %v", err)
			}
			obj["items"] = nil // keeps the key's place if a later one replaces it
			continue
		}
		var v any
		if err := dec.Decode(&v); err != nil {
			return nil, nil, d.errorf(line, "malformed JSON: %v", err)
		}
		if v, err = d.jsonValue(v, 2, line); err != nil {
			return nil, nil, err
		}
		if key == "items" {
			hasItems = false // a later "items" wins, as in encoding/json
		}
		obj[key] = v
	}
	if !hasItems {
		return obj, nil, nil
	}
	sub := position.NewLines(raw)
	itemLines := make([]int, len(items))
	for i, r := range items {
		itemLines[i] = line - 1 + sub.At(r[0])
	}
	values := make([]any, len(items))
	errs := make([]error, len(items))
	var wg sync.WaitGroup
	workers := min(runtime.GOMAXPROCS(0), len(items))
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < len(items); i += workers {
				id := json.NewDecoder(bytes.NewReader(raw[items[i][0]:items[i][1]]))
				id.UseNumber()
				var v any
				if err := id.Decode(&v); err != nil {
					errs[i] = d.errorf(itemLines[i], "malformed JSON: %v", err)
					continue
				}
				values[i], errs[i] = d.jsonValue(v, 3, itemLines[i])
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, nil, err
		}
	}
	obj["items"] = values
	return obj, itemLines, nil
}

// peek returns the first byte of the value after a key that ends at off,
// skipping the colon and white space.
func peek(raw []byte, off int) byte {
	off = skipSpace(raw, off)
	if off < len(raw) && raw[off] == ':' {
		off = skipSpace(raw, off+1)
	}
	if off < len(raw) {
		return raw[off]
	}
	return 0
}

func (d *decoder) jsonError(err error, data []byte, lines *position.Lines) error {
	var syn *json.SyntaxError
	if errors.As(err, &syn) {
		off := int(syn.Offset)
		if off > len(data) {
			off = len(data)
		}
		line := position.NewLines(data).At(off)
		if strings.Contains(syn.Error(), "exceeded max depth") {
			return d.depthError(line)
		}
		return d.errorf(line, "malformed JSON: %v", syn)
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return d.errorf(lines.At(len(data)), "malformed JSON: the file ends in the middle of a value; is it truncated?")
	}
	return d.errorf(0, "malformed JSON: %v", err)
}

// jsonValue converts json.Number to int64 (or float64 when it has a fraction
// or does not fit) and enforces the depth limit.
func (d *decoder) jsonValue(v any, depth, line int) (any, error) {
	if depth > d.maxDepth {
		return nil, d.depthError(line)
	}
	switch x := v.(type) {
	case json.Number:
		if i, err := strconv.ParseInt(string(x), 10, 64); err == nil {
			return i, nil
		}
		f, _ := strconv.ParseFloat(string(x), 64)
		return f, nil
	case []any:
		for i, e := range x {
			c, err := d.jsonValue(e, depth+1, line)
			if err != nil {
				return nil, err
			}
			x[i] = c
		}
	case map[string]any:
		for k, e := range x {
			c, err := d.jsonValue(e, depth+1, line)
			if err != nil {
				return nil, err
			}
			x[k] = c
		}
	}
	return v, nil
}

func skipSpace(data []byte, i int) int {
	for i < len(data) {
		switch data[i] {
		case ' ', '\t', '\r', '\n':
			i++
		default:
			return i
		}
	}
	return i
}
