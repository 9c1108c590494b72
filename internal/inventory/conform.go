package inventory

import (
	"fmt"
	"math"
	"sort"
)

// Conform converts attribute values decoded from YAML or JSON into the kinds
// the schema declares (whole numbers to int64, string lists to []any of
// string, ...) in place, and reports the first value of the wrong kind or
// an attribute the type does not have, by its dotted path.
func (s *Schema) Conform(m map[string]any) error {
	return conform(m, s.Fields, "", s.Type)
}

func conform(m map[string]any, fs []*Field, prefix, typ string) error {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		f := find(fs, k)
		path := prefix + k
		if f == nil {
			return fmt.Errorf("%s has no attribute %q (see docs/model.md)", typ, path)
		}
		v, err := conformValue(m[k], f, path, typ)
		if err != nil {
			return err
		}
		m[k] = v
	}
	return nil
}

func conformValue(v any, f *Field, path, typ string) (any, error) {
	if v == nil {
		return zero(f), nil
	}
	bad := func() (any, error) {
		return nil, fmt.Errorf("%s: attribute %s must be %s, got %T", typ, path, f.Kind, v)
	}
	switch f.Kind {
	case Bool:
		if _, ok := v.(bool); !ok {
			return bad()
		}
	case String:
		s, ok := v.(string)
		if !ok {
			return bad()
		}
		if len(f.Enum) > 0 && !contains(f.Enum, s) {
			return nil, fmt.Errorf("%s: attribute %s is %q, want one of %v", typ, path, s, f.Enum)
		}
	case Int:
		switch n := v.(type) {
		case int:
			return int64(n), nil
		case int64:
			return n, nil
		case float64:
			if n != math.Trunc(n) {
				return bad()
			}
			return int64(n), nil
		}
		return bad()
	case StringList:
		l, ok := v.([]any)
		if !ok {
			if ss, ok := v.([]string); ok {
				out := make([]any, len(ss))
				for i, s := range ss {
					out[i] = s
				}
				return out, nil
			}
			return bad()
		}
		for _, e := range l {
			if _, ok := e.(string); !ok {
				return nil, fmt.Errorf("%s: attribute %s must be a list of strings, has %T", typ, path, e)
			}
		}
	case StringMap:
		mm, ok := v.(map[string]any)
		if !ok {
			if ss, ok := v.(map[string]string); ok {
				out := make(map[string]any, len(ss))
				for k, s := range ss {
					out[k] = s
				}
				return out, nil
			}
			return bad()
		}
		for k, e := range mm {
			if _, ok := e.(string); !ok {
				return nil, fmt.Errorf("%s: attribute %s.%s must be a string, got %T", typ, path, k, e)
			}
		}
	case Object:
		mm, ok := v.(map[string]any)
		if !ok {
			return bad()
		}
		if err := conform(mm, f.Fields, path+".", typ); err != nil {
			return nil, err
		}
	case ObjectList:
		l, ok := v.([]any)
		if !ok {
			return bad()
		}
		for i, e := range l {
			mm, ok := e.(map[string]any)
			if !ok {
				return nil, fmt.Errorf("%s: attribute %s[%d] must be an object, got %T", typ, path, i, e)
			}
			if err := conform(mm, f.Fields, fmt.Sprintf("%s[%d].", path, i), typ); err != nil {
				return nil, err
			}
		}
	}
	return v, nil
}

func contains(list []string, s string) bool {
	for _, e := range list {
		if e == s {
			return true
		}
	}
	return false
}
