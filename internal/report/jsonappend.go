package report

import (
	"bytes"
	"encoding/json"
	"math"
	"reflect"
	"slices"
	"strconv"
	"unicode/utf8"

	"github.com/hoheit/hoheit/internal/rules"
)

// findingAppender writes a finding as compact JSON, byte for byte what
// encoding/json writes for it (with SetEscapeHTML(false)), without
// reflection: a large scan reports hundreds of thousands of findings and
// reflection was most of the report's time. The schema is fixed
// (docs/report.schema.json); TestAppendFindingMatchesEncodingJSON checks
// the equivalence, including the fallbacks below.
//
// Values it has no fast path for (an exception, evidence of other types,
// strings that need escaping) go through encoding/json.
type findingAppender struct {
	// frameworks caches the encoded framework map of each rule: findings
	// share their rule's map.
	frameworks map[uintptr][]byte
	scratch    bytes.Buffer
	enc        *json.Encoder
	// finding is where a streaming writer builds the finding it appends.
	finding finding
}

func newFindingAppender() *findingAppender {
	a := &findingAppender{frameworks: map[uintptr][]byte{}}
	a.enc = json.NewEncoder(&a.scratch)
	a.enc.SetEscapeHTML(false)
	return a
}

// marshal appends v as encoding/json writes it.
func (a *findingAppender) marshal(b []byte, v any) ([]byte, error) {
	a.scratch.Reset()
	if err := a.enc.Encode(v); err != nil {
		return b, err
	}
	return append(b, bytes.TrimSuffix(a.scratch.Bytes(), []byte("\n"))...), nil
}

func (a *findingAppender) appendFinding(b []byte, f *finding) ([]byte, error) {
	b = append(b, `{"fingerprint":`...)
	if f.streamed {
		b = append(appendFingerprint(append(b, '"'), f.RuleID, f.Resource), '"')
	} else {
		b = a.str(b, f.Fingerprint)
	}
	b = append(b, `,"rule_id":`...)
	b = a.str(b, f.RuleID)
	b = append(b, `,"title":`...)
	b = a.str(b, f.Title)
	b = append(b, `,"severity":`...)
	b = a.str(b, f.Severity)
	b = append(b, `,"status":`...)
	b = a.str(b, f.Status)
	b = append(b, `,"message":`...)
	if f.streamed && f.Message == "" {
		// Built in place (newFindingNoMessage): written as is when it
		// needs no escaping, as nearly every one does.
		start := len(b)
		b = append(b, '"')
		b = appendDefaultMessage(b, f)
		if !plainBytes(b[start+1:]) {
			msg := string(b[start+1:])
			b = a.str(b[:start], msg)
		} else {
			b = append(b, '"')
		}
	} else {
		b = a.str(b, f.Message)
	}

	r := &f.Resource
	b = append(b, `,"resource":{`...)
	if r.Address != "" {
		b = append(b, `"address":`...)
		b = a.str(b, r.Address)
		b = append(b, ',')
	}
	b = append(b, `"id":`...)
	b = a.str(b, r.ID)
	if r.Name != "" {
		b = append(b, `,"name":`...)
		b = a.str(b, r.Name)
	}
	b = append(b, `,"type":`...)
	b = a.str(b, r.Type)
	b = append(b, `,"native_type":`...)
	b = a.str(b, r.NativeType)
	b = append(b, `,"provider":`...)
	b = a.str(b, r.Provider)
	if r.Account != "" {
		b = append(b, `,"account":`...)
		b = a.str(b, r.Account)
	}
	if r.Region != "" {
		b = append(b, `,"region":`...)
		b = a.str(b, r.Region)
	}
	if r.Country != "" {
		b = append(b, `,"country":`...)
		b = a.str(b, r.Country)
	}
	b = append(b, `},"frameworks":`...)
	b = a.frameworkMap(b, f.Frameworks)

	b = append(b, `,"location":{`...)
	sep := false
	if f.Location.File != "" {
		b = append(b, `"file":`...)
		b = a.str(b, f.Location.File)
		sep = true
	}
	if f.Location.Line != 0 {
		if sep {
			b = append(b, ',')
		}
		b = append(b, `"line":`...)
		b = strconv.AppendInt(b, int64(f.Location.Line), 10)
		sep = true
	}
	if f.Location.Path != "" {
		if sep {
			b = append(b, ',')
		}
		b = append(b, `"path":`...)
		b = a.str(b, f.Location.Path)
	}
	b = append(b, `},"evidence":`...)
	var err error
	if b, err = a.value(b, f.Evidence); err != nil {
		return b, err
	}
	if f.Exception != nil {
		b = append(b, `,"exception":`...)
		if b, err = a.marshal(b, f.Exception); err != nil {
			return b, err
		}
	}
	if f.Pack != "" {
		b = append(b, `,"pack":`...)
		b = a.str(b, f.Pack)
	}
	return append(b, '}'), nil
}

// frameworkMap appends a rule's framework map, encoded once per map.
func (a *findingAppender) frameworkMap(b []byte, m map[string][]string) []byte {
	if m == nil {
		return append(b, "null"...)
	}
	p := reflect.ValueOf(m).Pointer()
	if enc, ok := a.frameworks[p]; ok {
		return append(b, enc...)
	}
	start := len(b)
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	b = append(b, '{')
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = a.str(b, k)
		b = append(b, ':')
		ids := m[k]
		if ids == nil {
			b = append(b, "null"...)
			continue
		}
		b = append(b, '[')
		for j, id := range ids {
			if j > 0 {
				b = append(b, ',')
			}
			b = a.str(b, id)
		}
		b = append(b, ']')
	}
	b = append(b, '}')
	a.frameworks[p] = slices.Clone(b[start:])
	return b
}

// value appends an evidence value: the types the engine produces have a
// fast path, anything else goes through encoding/json.
func (a *findingAppender) value(b []byte, v any) ([]byte, error) {
	switch x := v.(type) {
	case nil:
		return append(b, "null"...), nil
	case bool:
		return strconv.AppendBool(b, x), nil
	case string:
		return a.str(b, x), nil
	case int:
		return strconv.AppendInt(b, int64(x), 10), nil
	case int64:
		return strconv.AppendInt(b, x, 10), nil
	case float64:
		// encoding/json's format: 'f' between 1e-6 and 1e21, else 'e'.
		if abs := math.Abs(x); x == 0 || abs >= 1e-6 && abs < 1e21 && !math.IsInf(x, 0) {
			return strconv.AppendFloat(b, x, 'f', -1, 64), nil
		}
	case rules.Evidence:
		b = append(b, '{')
		for i, it := range x {
			if i > 0 {
				b = append(b, ',')
			}
			b = a.str(b, it.Path)
			b = append(b, ':')
			var err error
			if b, err = a.value(b, it.Value); err != nil {
				return b, err
			}
		}
		return append(b, '}'), nil
	case map[string]any:
		if x == nil {
			return append(b, "null"...), nil
		}
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		b = append(b, '{')
		for i, k := range keys {
			if i > 0 {
				b = append(b, ',')
			}
			b = a.str(b, k)
			b = append(b, ':')
			var err error
			if b, err = a.value(b, x[k]); err != nil {
				return b, err
			}
		}
		return append(b, '}'), nil
	case map[string]string:
		if x == nil {
			return append(b, "null"...), nil
		}
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		b = append(b, '{')
		for i, k := range keys {
			if i > 0 {
				b = append(b, ',')
			}
			b = a.str(b, k)
			b = append(b, ':')
			b = a.str(b, x[k])
		}
		return append(b, '}'), nil
	case []string:
		if x == nil {
			return append(b, "null"...), nil
		}
		b = append(b, '[')
		for i, e := range x {
			if i > 0 {
				b = append(b, ',')
			}
			b = a.str(b, e)
		}
		return append(b, ']'), nil
	case []any:
		if x == nil {
			return append(b, "null"...), nil
		}
		b = append(b, '[')
		for i, e := range x {
			if i > 0 {
				b = append(b, ',')
			}
			var err error
			if b, err = a.value(b, e); err != nil {
				return b, err
			}
		}
		return append(b, ']'), nil
	}
	return a.marshal(b, v)
}

// plainJSON marks the bytes a JSON string holds as they are: printable
// ASCII other than '"' and '\\'.
var plainJSON = func() (t [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// str appends s as a JSON string. Plain ASCII, nearly every string of a
// report, is copied; anything else is escaped by encoding/json.
// plainBytes reports whether s needs no escaping in a JSON string.
func plainBytes(s []byte) bool {
	for _, c := range s {
		if !plainJSON[c] {
			return false
		}
	}
	return true
}

func (a *findingAppender) str(b []byte, s string) []byte {
	i := 0
	// Eight bytes at a time: a byte is not plain if it is below 0x20, a
	// quote or a backslash (a zero byte after subtracting or xoring), or
	// has its high bit set.
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	for ; i+8 <= len(s); i += 8 {
		x := uint64(s[i]) | uint64(s[i+1])<<8 | uint64(s[i+2])<<16 | uint64(s[i+3])<<24 |
			uint64(s[i+4])<<32 | uint64(s[i+5])<<40 | uint64(s[i+6])<<48 | uint64(s[i+7])<<56
		q, bs := x^(ones*'"'), x^(ones*'\\')
		if ((x-ones*0x20)&^x|(q-ones)&^q|(bs-ones)&^bs|x)&highs != 0 {
			break
		}
	}
	for ; i < len(s); i++ {
		if !plainJSON[s[i]] {
			out, err := a.marshal(b, s)
			if err != nil {
				// encoding/json never fails on a string.
				panic(err)
			}
			return out
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}
