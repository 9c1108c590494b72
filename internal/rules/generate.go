package rules

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"cel.dev/cel-go/common/ast"

	"github.com/hoheit/hoheit/internal/inventory"
)

// maxSampleTries bounds the search for sample resources.
const maxSampleTries = 20_000

// Sample is one generated resource for a rule's test cases: the attribute
// values (dotted paths) that give the wanted verdict; all others are zero.
type Sample struct {
	Want   string
	Values map[string]any
}

// SampleCases compiles r for typ and searches combinations of values for
// the attributes the rule reads (the schema's enum values, the literals in
// the expressions, true/false, ...) for one resource that passes and one
// that fails. Either may be missing when no small combination reaches it.
func (c *Compiler) SampleCases(r *Rule, typ string) (pass, fail *Sample, err error) {
	if err := validate(r); err != nil {
		return nil, nil, err
	}
	p, err := c.compileFor(r, typ)
	if err != nil {
		return nil, nil, err
	}
	lits := literals(c, typ, r)
	schema := inventory.Schemas[typ]
	var paths []string
	var choices [][]any
	for _, path := range p.paths {
		cands := candidates(schema, path, lits)
		if len(cands) == 0 {
			continue
		}
		paths = append(paths, path)
		choices = append(choices, cands)
	}
	idx := make([]int, len(paths))
	for try := 0; try < maxSampleTries; try++ {
		values := map[string]any{}
		for i, path := range paths {
			values[path] = choices[i][idx[i]]
		}
		res := sampleResource(typ, values)
		f, counted := p.evaluate(res, &resourceActivation{res: res})
		switch {
		case counted && f == nil && pass == nil:
			pass = &Sample{Want: "pass", Values: values}
		case counted && f != nil && f.Status == Fail && fail == nil:
			fail = &Sample{Want: "fail", Values: values}
		}
		if pass != nil && fail != nil {
			break
		}
		// Next combination, mixed radix.
		i := 0
		for ; i < len(idx); i++ {
			idx[i]++
			if idx[i] < len(choices[i]) {
				break
			}
			idx[i] = 0
		}
		if i == len(idx) {
			break
		}
	}
	return pass, fail, nil
}

// sampleResource builds a resource of typ with values set at their paths.
func sampleResource(typ string, values map[string]any) *inventory.Resource {
	r := &inventory.Resource{Type: typ, ID: "sample", Attrs: map[string]any{}, Tags: map[string]string{}}
	e := &inventory.Estate{Resources: []*inventory.Resource{r}}
	for path, v := range values {
		switch {
		case path == "provider":
			r.Provider, _ = v.(string)
		case path == "region":
			r.Region, _ = v.(string)
		case path == "account":
			r.Account, _ = v.(string)
		case strings.HasPrefix(path, "tags."):
			if s, _ := v.(string); s != "" {
				r.Tags[strings.TrimPrefix(path, "tags.")] = s
			}
		case strings.HasPrefix(path, "jurisdiction."):
			b, _ := v.(bool)
			switch strings.TrimPrefix(path, "jurisdiction.") {
			case "eu":
				r.Jurisdiction.EU = b
			case "eea":
				r.Jurisdiction.EEA = b
			case "adequacy":
				r.Jurisdiction.Adequacy = b
			case "known":
				r.Jurisdiction.Known = b
			case "country":
				r.Jurisdiction.Country, _ = v.(string)
			}
		default:
			r.Set(path, v)
		}
	}
	e.Finalize()
	return r
}

// candidates lists the values worth trying for one attribute path.
func candidates(s *inventory.Schema, path string, lits exprLiterals) []any {
	if strings.HasPrefix(path, "tags.") {
		return append([]any{""}, anyStrings(lits.strings)...)
	}
	f, ok := s.Lookup(path)
	if !ok {
		return nil
	}
	switch f.Kind {
	case inventory.Bool:
		return []any{true, false}
	case inventory.String:
		if len(f.Enum) > 0 {
			return anyStrings(f.Enum)
		}
		return append([]any{""}, anyStrings(lits.strings)...)
	case inventory.Int:
		set := map[int64]bool{0: true}
		for _, n := range lits.ints {
			set[n], set[n+1] = true, true
			if n > 0 {
				set[n-1] = true
			}
		}
		out := make([]any, 0, len(set))
		for n := range set {
			out = append(out, n)
		}
		sort.Slice(out, func(i, j int) bool { return out[i].(int64) < out[j].(int64) })
		return out
	case inventory.StringList:
		out := []any{[]any{}}
		for _, s := range lits.strings {
			out = append(out, []any{s})
		}
		return out
	}
	return nil
}

func anyStrings(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

type exprLiterals struct {
	strings []string
	ints    []int64
}

// literals collects the string and int constants of a rule's expressions.
func literals(c *Compiler, typ string, r *Rule) exprLiterals {
	var out exprLiterals
	for _, expr := range []string{r.Precondition, r.Check} {
		if strings.TrimSpace(expr) == "" {
			continue
		}
		a, iss := c.envs[typ].Parse(expr)
		if iss != nil && iss.Err() != nil {
			continue
		}
		var visit func(e ast.Expr)
		visit = func(e ast.Expr) {
			switch e.Kind() {
			case ast.LiteralKind:
				switch v := e.AsLiteral().Value().(type) {
				case string:
					if !slices.Contains(out.strings, v) {
						out.strings = append(out.strings, v)
					}
				case int64:
					out.ints = append(out.ints, v)
				}
			case ast.SelectKind:
				visit(e.AsSelect().Operand())
			case ast.CallKind:
				ca := e.AsCall()
				if ca.IsMemberFunction() {
					visit(ca.Target())
				}
				for _, arg := range ca.Args() {
					visit(arg)
				}
			case ast.ListKind:
				for _, el := range e.AsList().Elements() {
					visit(el)
				}
			case ast.ComprehensionKind:
				cm := e.AsComprehension()
				visit(cm.IterRange())
				visit(cm.LoopStep())
				visit(cm.Result())
			}
		}
		visit(a.NativeRep().Expr())
	}
	return out
}

// CaseYAML renders samples as a case file for rule id and type typ.
func CaseYAML(id, typ, provider string, samples ...*Sample) ([]byte, error) {
	var cases []map[string]any
	for _, s := range samples {
		if s == nil {
			continue
		}
		res := map[string]any{"type": typ, "provider": provider}
		attrs := map[string]any{}
		tags := map[string]any{}
		juris := map[string]any{}
		keys := make([]string, 0, len(s.Values))
		for k := range s.Values {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, path := range keys {
			v := s.Values[path]
			switch {
			case path == "provider" || path == "region" || path == "account":
				res[path] = v
			case strings.HasPrefix(path, "tags."):
				if v != "" {
					tags[strings.TrimPrefix(path, "tags.")] = v
				}
			case strings.HasPrefix(path, "jurisdiction."):
				juris[strings.TrimPrefix(path, "jurisdiction.")] = v
			default:
				putPath(attrs, path, v)
			}
		}
		if len(tags) > 0 {
			res["tags"] = tags
		}
		if len(juris) > 0 {
			res["jurisdiction"] = juris
		}
		if len(attrs) > 0 {
			res["attributes"] = attrs
		}
		name := "compliant " + typ
		if s.Want == "fail" {
			name = "non-compliant " + typ
		}
		cases = append(cases, map[string]any{"name": name, "want": s.Want, "resource": res})
	}
	if len(cases) == 0 {
		return nil, fmt.Errorf("no sample resource found for %s", id)
	}
	return encodeYAML(map[string]any{"rule": id, "cases": cases})
}

func putPath(m map[string]any, path string, v any) {
	parts := strings.Split(path, ".")
	for _, p := range parts[:len(parts)-1] {
		next, ok := m[p].(map[string]any)
		if !ok {
			next = map[string]any{}
			m[p] = next
		}
		m = next
	}
	m[parts[len(parts)-1]] = v
}
