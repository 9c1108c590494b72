package cli

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/hoheit/hoheit/internal/rules"
)

// ruleSelection is the flags that choose rules, shared by scan and policy.
type ruleSelection struct {
	packs      []string
	custom     []string
	frameworks []string
}

// load reads the chosen packs and custom rule paths and keeps the rules that
// map to one of the chosen frameworks (all, if none is chosen).
func (s ruleSelection) load(d *Deps) ([]*rules.Rule, error) {
	packs := s.packs
	if len(packs) == 0 {
		packs = d.PackNames
	}
	var all []*rules.Rule
	var errs []error
	for _, p := range packs {
		if p == "none" {
			continue
		}
		if !slices.Contains(d.PackNames, p) {
			return nil, usageError("unknown pack %q: the built-in packs are %s (or 'none' with --rules)", p, strings.Join(d.PackNames, ", "))
		}
		rs, err := rules.LoadFS(d.Packs, p, p)
		if err != nil {
			errs = append(errs, err)
		}
		all = append(all, rs...)
	}
	for _, c := range s.custom {
		rs, err := rules.LoadPath(c)
		if err != nil {
			errs = append(errs, err)
		}
		all = append(all, rs...)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, usageError("loading rules:\n%v", err)
	}
	if len(s.frameworks) == 0 {
		return all, nil
	}
	var out []*rules.Rule
	for _, r := range all {
		for _, f := range s.frameworks {
			if _, ok := r.Frameworks[f]; ok || (f == r.Pack) {
				out = append(out, r)
				break
			}
		}
	}
	if len(out) == 0 {
		return nil, usageError("no rule maps to framework %s", strings.Join(s.frameworks, ", "))
	}
	return out, nil
}

// compile loads and compiles the selection.
func (s ruleSelection) compile(d *Deps) (*rules.Set, error) {
	rs, err := s.load(d)
	if err != nil {
		return nil, err
	}
	c, err := rules.NewCompiler(0)
	if err != nil {
		return nil, err
	}
	set, err := c.Compile(rs)
	if err != nil {
		return nil, usageError("compiling rules:\n%v", err)
	}
	return set, nil
}

func frameworkList(r *rules.Rule) string {
	var parts []string
	for _, f := range sortedKeys(r.Frameworks) {
		parts = append(parts, fmt.Sprintf("%s:%s", f, strings.Join(r.Frameworks[f], ",")))
	}
	return strings.Join(parts, " ")
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
