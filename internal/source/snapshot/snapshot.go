package snapshot

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hoheit/hoheit/internal/inventory"
	"github.com/hoheit/hoheit/internal/source/position"
)

// Version is the major version of the snapshot format this package writes
// and reads. Additions that older readers may ignore keep the version;
// anything else raises it.
const Version = 1

// Meta describes how and when a snapshot was collected.
type Meta struct {
	// CollectedAt is when the collector finished reading.
	CollectedAt time.Time `json:"collected_at"`
	// Collector says what wrote the snapshot.
	Collector Collector `json:"collector"`
}

// Collector identifies the program and scope that produced a snapshot.
type Collector struct {
	// Name is the collector, e.g. "aws" or "kubernetes".
	Name string `json:"name"`
	// Version is the version of hoheit that ran it.
	Version string `json:"version,omitempty"`
	// Accounts are the accounts, subscriptions, projects or clusters read.
	Accounts []string `json:"accounts,omitempty"`
	// Regions are the regions read; empty means all the collector could see.
	Regions []string `json:"regions,omitempty"`
}

// header is the part of the file before the resources, in writing order.
type header struct {
	Version     int       `json:"hoheit_snapshot"`
	CollectedAt time.Time `json:"collected_at"`
	Collector   Collector `json:"collector"`
}

// Write writes e as a snapshot: the header, then one resource per line so
// large snapshots stream and diff well, then the unsupported types. The
// estate's inputs are not written; they describe a scan, not the estate.
func Write(w io.Writer, e *inventory.Estate, meta Meta) error {
	bw := bufio.NewWriter(w)
	h, err := json.Marshal(header{Version: Version, CollectedAt: meta.CollectedAt.UTC(), Collector: meta.Collector})
	if err != nil {
		return fmt.Errorf("writing the snapshot header: %w", err)
	}
	bw.Write(h[:len(h)-1]) // reopen the object to append the resources
	bw.WriteString(",\n\"resources\": [")
	// One encoder for all resources: no HTML escaping (a snapshot is never
	// embedded in a page), and its trailing newline separates resources.
	var rb bytes.Buffer
	enc := json.NewEncoder(&rb)
	enc.SetEscapeHTML(false)
	for i, r := range e.Resources {
		rb.Reset()
		if err := enc.Encode(r); err != nil {
			return fmt.Errorf("writing resource %s to the snapshot: %w", r.Address, err)
		}
		if i > 0 {
			bw.WriteByte(',')
		}
		bw.WriteString("\n")
		bw.Write(bytes.TrimSuffix(rb.Bytes(), []byte("\n")))
	}
	bw.WriteString("\n],\n\"unsupported\": ")
	u := e.Unsupported
	if u == nil {
		u = []inventory.Unsupported{}
	}
	b, err := json.Marshal(u)
	if err != nil {
		return fmt.Errorf("writing the unsupported types to the snapshot: %w", err)
	}
	bw.Write(b)
	bw.WriteString("}\n")
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("writing the snapshot: %w", err)
	}
	return nil
}

// Parse reads a snapshot from data, read from file.
func Parse(file string, data []byte) (*inventory.Estate, error) {
	e, _, err := Decode(file, data)
	return e, err
}

// Decode reads a snapshot and its metadata. Every resource is checked
// against the schema of its type, and its attribute values are converted to
// the kinds the schema declares (JSON has only one kind of number; rules
// need int). A resource's location becomes its line in the snapshot.
func Decode(file string, data []byte) (*inventory.Estate, Meta, error) {
	p := &parser{file: file, data: data, lines: position.NewLines(data)}
	raw, err := p.scan()
	if err != nil {
		return nil, Meta{}, err
	}
	if err := p.checkVersion(raw.version); err != nil {
		return nil, Meta{}, err
	}
	e := &inventory.Estate{Resources: make([]*inventory.Resource, 0, len(raw.resources))}
	for i, rr := range raw.resources {
		r, err := p.resource(i, rr)
		if err != nil {
			return nil, Meta{}, err
		}
		e.Resources = append(e.Resources, r)
	}
	for _, u := range raw.unsupported {
		if u.Count < 1 {
			continue
		}
		e.Unsupported = append(e.Unsupported, u)
	}
	return e, raw.meta, nil
}

type parser struct {
	file  string
	data  []byte
	lines *position.Lines
}

type rawResource struct {
	json json.RawMessage
	line int
}

type rawSnapshot struct {
	version     json.Number
	meta        Meta
	resources   []rawResource
	unsupported []inventory.Unsupported
}

func (p *parser) errorf(line int, format string, args ...any) error {
	if line > 0 {
		return fmt.Errorf("%s:%d: %s", p.file, line, fmt.Sprintf(format, args...))
	}
	return fmt.Errorf("%s: %s", p.file, fmt.Sprintf(format, args...))
}

// scan walks the top-level object, keeping each resource's raw JSON and
// line. The version is checked after the walk, so a tool that reorders keys
// does not break the file.
func (p *parser) scan() (*rawSnapshot, error) {
	dec := json.NewDecoder(bytes.NewReader(p.data))
	dec.UseNumber()
	out := &rawSnapshot{}
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil, p.syntax(dec, err, "a snapshot is a JSON object")
	}
	seen := map[string]bool{}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil, p.syntax(dec, err, "")
		}
		key, _ := t.(string)
		if seen[key] {
			return nil, p.errorf(p.lines.At(int(dec.InputOffset())), "field %q appears twice; a snapshot has each top-level field once", key)
		}
		seen[key] = true
		switch key {
		case "hoheit_snapshot":
			err = dec.Decode(&out.version)
		case "collected_at":
			err = dec.Decode(&out.meta.CollectedAt)
		case "collector":
			err = dec.Decode(&out.meta.Collector)
		case "unsupported":
			err = dec.Decode(&out.unsupported)
		case "resources":
			err = p.scanResources(dec, out)
		default:
			var skip json.RawMessage // a field from a later minor revision
			err = dec.Decode(&skip)
		}
		if err != nil {
			return nil, p.syntax(dec, err, "in field "+strconv.Quote(key))
		}
	}
	if _, err := dec.Token(); err != nil {
		return nil, p.syntax(dec, err, "")
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, p.errorf(p.lines.At(int(dec.InputOffset())), "unexpected data after the snapshot object; a file holds one snapshot")
	}
	if !seen["hoheit_snapshot"] {
		return nil, p.errorf(1, "not a hoheit snapshot: the hoheit_snapshot version field is missing")
	}
	return out, nil
}

func (p *parser) scanResources(dec *json.Decoder, out *rawSnapshot) error {
	if t, err := dec.Token(); err != nil || t != json.Delim('[') {
		if err == nil {
			err = fmt.Errorf("resources must be a list")
		}
		return err
	}
	for dec.More() {
		off := int(dec.InputOffset())
		for off < len(p.data) && strings.IndexByte(", \t\r\n", p.data[off]) >= 0 {
			off++
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return err
		}
		out.resources = append(out.resources, rawResource{json: raw, line: p.lines.At(off)})
	}
	_, err := dec.Token()
	return err
}

// syntax turns a decoding error into one with file and line.
func (p *parser) syntax(dec *json.Decoder, err error, context string) error {
	line := p.lines.At(int(dec.InputOffset()))
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case err == nil:
		return p.errorf(line, "malformed snapshot: %s", context)
	case errors.As(err, &syn):
		line = position.NewLines(p.data).At(int(syn.Offset))
	case errors.As(err, &typ):
		line = position.NewLines(p.data).At(int(typ.Offset))
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return p.errorf(line, "malformed snapshot: the file ends too early; is it truncated?")
	}
	if context != "" {
		return p.errorf(line, "malformed snapshot %s: %v", context, err)
	}
	return p.errorf(line, "malformed snapshot: %v", err)
}

func (p *parser) checkVersion(v json.Number) error {
	f, err := strconv.ParseFloat(string(v), 64)
	if err != nil || f != math.Trunc(f) || f < 1 {
		return p.errorf(1, "hoheit_snapshot is %q; it must be the format's major version, a whole number such as %d", v, Version)
	}
	if f != Version {
		return p.errorf(1, "this is a version %s snapshot, but this hoheit reads version %d only; use a hoheit release that reads version %s, or collect the snapshot again with this one", v, Version, v)
	}
	return nil
}

// resource decodes and checks one resource.
func (p *parser) resource(i int, rr rawResource) (*inventory.Resource, error) {
	dec := json.NewDecoder(bytes.NewReader(rr.json))
	dec.UseNumber()
	var r inventory.Resource
	if err := dec.Decode(&r); err != nil {
		return nil, p.errorf(rr.line, "resources[%d] is not a resource: %v", i, err)
	}
	name := r.Address
	if name == "" {
		name = r.ID
	}
	what := fmt.Sprintf("resources[%d] (%s)", i, name)
	if r.ID == "" {
		return nil, p.errorf(rr.line, "%s has no id; every resource needs one", what)
	}
	if !slices.Contains(inventory.Providers, r.Provider) {
		return nil, p.errorf(rr.line, "%s has provider %q, which this hoheit does not know; upgrade hoheit or remove the resource", what, r.Provider)
	}
	s, ok := inventory.Schemas[r.Type]
	if !ok {
		return nil, p.errorf(rr.line, "%s has type %q, which this hoheit does not know; upgrade hoheit or remove the resource (docs/model.md lists the known types)", what, r.Type)
	}
	attrs, err := convertObject(r.Attrs, s.Fields, "")
	if err != nil {
		return nil, p.errorf(rr.line, "%s: %v", what, err)
	}
	r.Attrs = attrs
	if r.Native != nil {
		r.Native, _ = convertDyn(r.Native).(map[string]any)
	}
	r.Source = inventory.Location{File: p.file, Line: rr.line, Path: fmt.Sprintf("$.resources[%d]", i)}
	return &r, nil
}

// convertObject converts the members of an object by their fields. Members
// the schema does not declare (from a later minor revision) are kept as
// plain values; null members are dropped, so Finalize gives them zero values.
func convertObject(m map[string]any, fields []*inventory.Field, prefix string) (map[string]any, error) {
	out := make(map[string]any, len(m))
	for k, v := range m {
		if v == nil {
			continue
		}
		f := findField(fields, k)
		if f == nil {
			out[k] = convertDyn(v)
			continue
		}
		c, err := convertField(v, f, prefix+k)
		if err != nil {
			return nil, err
		}
		out[k] = c
	}
	return out, nil
}

func convertField(v any, f *inventory.Field, path string) (any, error) {
	bad := func() error {
		return fmt.Errorf("attribute %s must be %s, not %s", path, f.Kind, jsonKind(v))
	}
	switch f.Kind {
	case inventory.Bool:
		if _, ok := v.(bool); !ok {
			return nil, bad()
		}
		return v, nil
	case inventory.String:
		s, ok := v.(string)
		if !ok {
			return nil, bad()
		}
		if len(f.Enum) > 0 && s != "" && !slices.Contains(f.Enum, s) {
			return nil, fmt.Errorf("attribute %s is %q; it must be one of %s", path, s, strings.Join(f.Enum, ", "))
		}
		return s, nil
	case inventory.Int:
		n, ok := v.(json.Number)
		if !ok {
			return nil, bad()
		}
		if i, err := strconv.ParseInt(string(n), 10, 64); err == nil {
			return i, nil
		}
		// 3.0 or 3e2 are whole numbers a writer may produce.
		fl, err := strconv.ParseFloat(string(n), 64)
		if err != nil || fl != math.Trunc(fl) || math.Abs(fl) > 1<<63-1024 {
			return nil, fmt.Errorf("attribute %s must be a whole number, not %s", path, n)
		}
		return int64(fl), nil
	case inventory.StringList:
		l, ok := v.([]any)
		if !ok {
			return nil, bad()
		}
		out := make([]any, len(l))
		for i, e := range l {
			s, ok := e.(string)
			if !ok {
				return nil, fmt.Errorf("attribute %s[%d] must be string, not %s", path, i, jsonKind(e))
			}
			out[i] = s
		}
		return out, nil
	case inventory.StringMap:
		m, ok := v.(map[string]any)
		if !ok {
			return nil, bad()
		}
		out := make(map[string]any, len(m))
		for k, e := range m {
			s, ok := e.(string)
			if !ok {
				return nil, fmt.Errorf("attribute %s[%q] must be string, not %s", path, k, jsonKind(e))
			}
			out[k] = s
		}
		return out, nil
	case inventory.Object:
		m, ok := v.(map[string]any)
		if !ok {
			return nil, bad()
		}
		return convertObject(m, f.Fields, path+".")
	case inventory.ObjectList:
		l, ok := v.([]any)
		if !ok {
			return nil, bad()
		}
		out := make([]any, len(l))
		for i, e := range l {
			m, ok := e.(map[string]any)
			if !ok {
				return nil, fmt.Errorf("attribute %s[%d] must be object, not %s", path, i, jsonKind(e))
			}
			c, err := convertObject(m, f.Fields, fmt.Sprintf("%s[%d].", path, i))
			if err != nil {
				return nil, err
			}
			out[i] = c
		}
		return out, nil
	}
	return convertDyn(v), nil
}

// convertDyn turns json.Number into int64 when it is written as an integer
// that fits, float64 otherwise, throughout a value of unknown shape.
func convertDyn(v any) any {
	switch x := v.(type) {
	case json.Number:
		if i, err := strconv.ParseInt(string(x), 10, 64); err == nil {
			return i
		}
		f, _ := strconv.ParseFloat(string(x), 64)
		return f
	case []any:
		for i, e := range x {
			x[i] = convertDyn(e)
		}
	case map[string]any:
		for k, e := range x {
			x[k] = convertDyn(e)
		}
	}
	return v
}

func jsonKind(v any) string {
	switch v.(type) {
	case bool:
		return "bool"
	case string:
		return "string"
	case json.Number:
		return "number"
	case []any:
		return "list"
	case map[string]any:
		return "object"
	case nil:
		return "null"
	}
	return fmt.Sprintf("%T", v)
}

func findField(fs []*inventory.Field, name string) *inventory.Field {
	for _, f := range fs {
		if f.Name == name {
			return f
		}
	}
	return nil
}
