package plan

import (
	"slices"
	"strconv"
	"unicode/utf8"
)

// unknownValue marks an attribute whose value Terraform knows only after
// apply (id, arn, ...). It is left out of values and true in after_unknown.
type unknownValue struct{}

// unknown is the one unknownValue.
var unknown = unknownValue{}

// secret wraps a sensitive value (a password): it is written in values and
// true in sensitive_values.
type secret struct{ v any }

// mode says which of the three views of an attribute tree is written.
type mode int

const (
	// modeValues writes the known values: unknown object members are left
	// out, unknown list elements become null, secrets are unwrapped.
	modeValues mode = iota
	// modeUnknown writes after_unknown: true where unknown, objects keep
	// only their non-false members, lists keep one entry per element.
	modeUnknown
	// modeSensitive writes sensitive_values the same way, true where secret.
	modeSensitive
)

// appendValue appends v, one of nil, bool, int, int64, float64, string,
// map[string]any, []any, unknownValue or secret, in the given mode. Object
// keys are sorted, as Terraform sorts them.
func appendValue(b []byte, v any, m mode) []byte {
	if m != modeValues {
		return appendMarks(b, v, m)
	}
	switch x := v.(type) {
	case nil, unknownValue:
		return append(b, "null"...)
	case bool:
		return strconv.AppendBool(b, x)
	case int:
		return strconv.AppendInt(b, int64(x), 10)
	case int64:
		return strconv.AppendInt(b, x, 10)
	case float64:
		return strconv.AppendFloat(b, x, 'g', -1, 64)
	case string:
		return appendString(b, x)
	case secret:
		return appendValue(b, x.v, m)
	case []string:
		b = append(b, '[')
		for i, s := range x {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, s)
		}
		return append(b, ']')
	case []any:
		b = append(b, '[')
		for i, e := range x {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendValue(b, e, m)
		}
		return append(b, ']')
	case map[string]any:
		b = append(b, '{')
		first := true
		for _, k := range sortedKeys(x) {
			e := x[k]
			if _, ok := e.(unknownValue); ok {
				continue
			}
			if !first {
				b = append(b, ',')
			}
			first = false
			b = appendString(b, k)
			b = append(b, ':')
			b = appendValue(b, e, m)
		}
		return append(b, '}')
	case map[string]string:
		b = append(b, '{')
		for i, k := range sortedKeys(x) {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, k)
			b = append(b, ':')
			b = appendString(b, x[k])
		}
		return append(b, '}')
	}
	panic("plan: unsupported value type")
}

// appendMarks writes the after_unknown or sensitive_values view of v, the
// way Terraform's unknownAsBool and SensitiveAsBool do.
func appendMarks(b []byte, v any, m mode) []byte {
	switch x := v.(type) {
	case unknownValue:
		return strconv.AppendBool(b, m == modeUnknown)
	case secret:
		if m == modeSensitive {
			return append(b, "true"...)
		}
		return appendMarks(b, x.v, m)
	case []string:
		b = append(b, '[')
		for i := range x {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, "false"...)
		}
		return append(b, ']')
	case []any:
		b = append(b, '[')
		for i, e := range x {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendMarks(b, e, m)
		}
		return append(b, ']')
	case map[string]string:
		return append(b, "{}"...)
	case map[string]any:
		b = append(b, '{')
		first := true
		for _, k := range sortedKeys(x) {
			e := x[k]
			if !marked(e, m) {
				continue
			}
			if !first {
				b = append(b, ',')
			}
			first = false
			b = appendString(b, k)
			b = append(b, ':')
			b = appendMarks(b, e, m)
		}
		return append(b, '}')
	}
	return append(b, "false"...)
}

// marked reports whether v's mark view is anything but false: a collection
// (Terraform keeps those, even when empty) or a marked scalar.
func marked(v any, m mode) bool {
	switch x := v.(type) {
	case unknownValue:
		return m == modeUnknown
	case secret:
		return m == modeSensitive || marked(x.v, m)
	case []any, []string, map[string]any, map[string]string:
		return true
	}
	return false
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

const hex = "0123456789abcdef"

// appendString appends s as a JSON string, escaped as Go's encoding/json
// (and so Terraform) escapes it, HTML characters included.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		_, size := utf8.DecodeRuneInString(s[i:])
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
