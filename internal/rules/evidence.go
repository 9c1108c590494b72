package rules

import (
	"bytes"
	"encoding/json"
	"sort"
)

// Evidence holds the values of the attributes a check reads, by dotted
// path, in path order. It is written as a JSON object, as a map of the same
// entries would be; a slice because a scan makes one for each of hundreds
// of thousands of findings, and the report writes them in order.
type Evidence []EvidenceItem

// EvidenceItem is one attribute's value.
type EvidenceItem struct {
	Path  string
	Value any
}

// Get returns the value recorded for path.
func (e Evidence) Get(path string) (any, bool) {
	for _, it := range e {
		if it.Path == path {
			return it.Value, true
		}
	}
	return nil, false
}

// Map returns the entries as a map.
func (e Evidence) Map() map[string]any {
	m := make(map[string]any, len(e))
	for _, it := range e {
		m[it.Path] = it.Value
	}
	return m
}

// EvidenceOf builds evidence from a map, in path order.
func EvidenceOf(m map[string]any) Evidence {
	if m == nil {
		return nil
	}
	e := make(Evidence, 0, len(m))
	for k, v := range m {
		e = append(e, EvidenceItem{Path: k, Value: v})
	}
	sort.Slice(e, func(i, j int) bool { return e[i].Path < e[j].Path })
	return e
}

// MarshalJSON writes the evidence as one JSON object, keys in path order.
// HTML characters are left alone: the encoder that calls it escapes them
// or not, as it would in a map's keys and values.
func (e Evidence) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	b.WriteByte('{')
	for i, it := range e {
		if i > 0 {
			b.WriteByte(',')
		}
		if err := enc.Encode(it.Path); err != nil {
			return nil, err
		}
		b.Truncate(b.Len() - 1) // Encode's newline
		b.WriteByte(':')
		if err := enc.Encode(it.Value); err != nil {
			return nil, err
		}
		b.Truncate(b.Len() - 1)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}
