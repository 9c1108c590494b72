package refvalues

import (
	"encoding/hex"
	"fmt"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Hex is a byte string written in YAML as hexadecimal ("0x" prefix and
// upper case accepted).
type Hex []byte

// UnmarshalYAML decodes a hexadecimal scalar.
func (h *Hex) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("line %d: expected a hexadecimal string", n.Line)
	}
	s := strings.TrimPrefix(strings.TrimPrefix(n.Value, "0x"), "0X")
	b, err := hex.DecodeString(s)
	if err != nil {
		return fmt.Errorf("line %d: %q is not hexadecimal", n.Line, n.Value)
	}
	*h = b
	return nil
}

// MarshalYAML writes lower-case hexadecimal.
func (h Hex) MarshalYAML() (any, error) { return hex.EncodeToString(h), nil }

// String returns lower-case hexadecimal.
func (h Hex) String() string { return hex.EncodeToString(h) }

// Value is what a Field may hold.
type Value interface {
	Hex | uint64 | uint32 | string
}

// Field is one reference value: the acceptable values of one claim and
// whether a mismatch refuses the node (Enforce, the default) or only warns.
// In YAML it is written as a single value, a list of values, or a mapping
// {value: V} / {values: [V, ...]} with an optional enforce: false.
type Field[T Value] struct {
	Values  []T
	Enforce bool
	// Line is the field's line in its file, for messages.
	Line int
}

// UnmarshalYAML accepts the three spellings of a field. The decoder's
// strictness does not reach custom unmarshalers, so keys are checked here.
func (f *Field[T]) UnmarshalYAML(n *yaml.Node) error {
	f.Enforce = true
	f.Line = n.Line
	switch n.Kind {
	case yaml.ScalarNode:
		var v T
		if err := decodeValue(n, &v); err != nil {
			return err
		}
		f.Values = []T{v}
	case yaml.SequenceNode:
		return f.decodeList(n)
	case yaml.MappingNode:
		var haveValue, haveValues bool
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			switch k.Value {
			case "value":
				var x T
				if err := decodeValue(v, &x); err != nil {
					return err
				}
				f.Values = []T{x}
				haveValue = true
			case "values":
				if err := f.decodeList(v); err != nil {
					return err
				}
				haveValues = true
			case "enforce":
				if err := v.Decode(&f.Enforce); err != nil || v.Kind != yaml.ScalarNode {
					return fmt.Errorf("line %d: enforce must be true or false", v.Line)
				}
			default:
				return fmt.Errorf("line %d: field %s not allowed here (a reference value has value or values, and enforce)", k.Line, k.Value)
			}
		}
		if haveValue == haveValues {
			return fmt.Errorf("line %d: give exactly one of value or values", n.Line)
		}
	default:
		return fmt.Errorf("line %d: expected a value, a list of values, or {value: ..., enforce: ...}", n.Line)
	}
	return nil
}

func (f *Field[T]) decodeList(n *yaml.Node) error {
	if n.Kind != yaml.SequenceNode {
		return fmt.Errorf("line %d: values must be a list", n.Line)
	}
	if len(n.Content) == 0 {
		return fmt.Errorf("line %d: an empty list accepts nothing; remove the field to check nothing", n.Line)
	}
	f.Values = make([]T, 0, len(n.Content))
	for _, c := range n.Content {
		var v T
		if err := decodeValue(c, &v); err != nil {
			return err
		}
		f.Values = append(f.Values, v)
	}
	return nil
}

func decodeValue[T Value](n *yaml.Node, v *T) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("line %d: expected a single value", n.Line)
	}
	switch p := any(v).(type) {
	case *Hex:
		return p.UnmarshalYAML(n)
	case *string:
		*p = n.Value
		return nil
	default:
		if err := n.Decode(v); err != nil {
			return fmt.Errorf("line %d: %q is not a non-negative integer in range", n.Line, n.Value)
		}
		return nil
	}
}

// MarshalYAML writes the shortest spelling.
func (f Field[T]) MarshalYAML() (any, error) {
	if f.Enforce {
		if len(f.Values) == 1 {
			return f.Values[0], nil
		}
		return f.Values, nil
	}
	if len(f.Values) == 1 {
		return struct {
			Value   T    `yaml:"value"`
			Enforce bool `yaml:"enforce"`
		}{f.Values[0], false}, nil
	}
	return struct {
		Values  []T  `yaml:"values"`
		Enforce bool `yaml:"enforce"`
	}{f.Values, false}, nil
}

// checkKeys refuses keys other than allowed in a mapping node.
func checkKeys(n *yaml.Node, what string, allowed ...string) error {
	if n.Kind != yaml.MappingNode {
		return fmt.Errorf("line %d: %s must be a mapping", n.Line, what)
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := n.Content[i]
		ok := false
		for _, a := range allowed {
			if k.Value == a {
				ok = true
			}
		}
		if !ok {
			return fmt.Errorf("line %d: field %s not allowed in %s (allowed: %s)", k.Line, k.Value, what, strings.Join(allowed, ", "))
		}
	}
	return nil
}
