package rules

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/hoheit/hoheit/bench/gen/plan"
	"github.com/hoheit/hoheit/internal/inventory"
	"github.com/hoheit/hoheit/internal/source/terraform"
	"github.com/hoheit/hoheit/policies"
)

// TestVerdictCacheSameFindings evaluates the embedded packs over a
// generated multi-cloud plan with the engine, which reuses verdicts, and
// judges every (rule, resource) pair afresh: the findings are the same,
// and the cache was used.
func TestVerdictCacheSameFindings(t *testing.T) {
	set, e := packsOnPlan(t, 3000, 7)
	res, err := set.Evaluate(context.Background(), e, EvalOptions{Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]Finding{}
	for _, f := range res.Findings {
		got[f.Rule.ID+" "+f.Resource.Address] = f
	}
	want := map[string]Finding{}
	checks := 0
	act := &resourceActivation{}
	for _, r := range e.Resources {
		act.set(r)
		for _, p := range set.byType[r.Type] {
			var f Finding
			found, counted := p.judge(r, act, &f)
			if counted {
				checks++
			}
			if found {
				want[p.rule.ID+" "+r.Address] = f
			}
		}
	}
	unknown := 0
	for _, f := range want {
		if f.Status == Unknown {
			unknown++
		}
	}
	if unknown == 0 {
		t.Fatal("the plan has no findings on values known only after apply: verdicts on them are not compared")
	}
	if checks != res.Checks || len(got) != len(want) {
		t.Fatalf("engine: %d checks, %d findings; judged afresh: %d checks, %d findings", res.Checks, len(got), checks, len(want))
	}
	for k, w := range want {
		g := got[k]
		if g.Status != w.Status || g.Message != w.Message || !reflect.DeepEqual(g.Evidence, w.Evidence) {
			t.Errorf("%s: engine %s %q %v, afresh %s %q %v", k, g.Status, g.Message, g.Evidence, w.Status, w.Message, w.Evidence)
		}
	}
	// The packs' rules read scalars mostly: the generated plan repeats its
	// settings, so most verdicts come from the cache.
	cache := newVerdictCache(set.programs)
	hits, lookups := 0, 0
	for _, r := range e.Resources {
		act.set(r)
		for _, p := range set.byType[r.Type] {
			var f Finding
			cache.judge(p, r, act, &f)
		}
	}
	for _, st := range cache.stats {
		hits, lookups = hits+st.hits, lookups+st.lookups
	}
	if lookups == 0 || hits < lookups/2 {
		t.Errorf("cache: %d hits in %d lookups", hits, lookups)
	}
}

// TestVerdictKey checks the key tells apart every value a rule could tell
// apart, and refuses values it does not compare.
func TestVerdictKey(t *testing.T) {
	values := []any{absentValue, nil, false, true, "", "a", "A", int64(0), int64(1), 0, 1, 0.0, 1.0, "1",
		[]any{}, []any{"a"}, []any{"a", "b"}, []any{"ab"}, []any{[]any{}}, []any{[]any{"a"}, "b"}, []any{[]any{"a", "b"}},
		[]string{}, []string{"a"}, []string{"a", "b"}, []string{"ab"},
		map[string]any{}, map[string]any{"a": "b"}, map[string]any{"ab": ""}, map[string]any{"a": "b", "c": nil},
		map[string]any{"a": []any{"b"}}, map[string]any{"a": map[string]any{"b": "c"}},
		map[string]string{}, map[string]string{"a": "b"}, map[string]string{"a": "b", "c": "d"}, map[string]string{"a": "bc"},
	}
	seen := map[string]string{}
	for _, v := range values {
		m := map[string]any{"b": "x"}
		if v != absentValue {
			m["a"] = v
		}
		k, ok := verdictKey(m, []string{"a", "b"})
		if !ok {
			t.Fatalf("%#v: no key", v)
		}
		name := fmt.Sprintf("%#v", v)
		if prev, dup := seen[string(k)]; dup {
			t.Errorf("%s and %s have the same key", prev, name)
		}
		seen[string(k)] = name
	}
	tests := []struct {
		name  string
		value map[string]any
		path  string
		ok    bool
	}{
		{"nested scalar", map[string]any{"a": map[string]any{"b": true}}, "a.b", true},
		{"absent parent", map[string]any{}, "a.b", true},
		{"tag", map[string]any{"tags": map[string]string{"x": "1"}}, "tags.x", true},
		{"list", map[string]any{"a": []any{1}}, "a", true},
		{"map", map[string]any{"a": map[string]any{}}, "a", true},
		{"tags whole", map[string]any{"tags": map[string]string{}}, "tags", true},
		{"list of maps", map[string]any{"a": []any{map[string]any{"p": int64(22), "s": []any{"0.0.0.0/0"}}}}, "a", true},
		{"nested to the limit", map[string]any{"a": nested(maxKeyDepth)}, "a", true},
		{"nested too deep", map[string]any{"a": nested(maxKeyDepth + 1)}, "a", false},
		{"other type", map[string]any{"a": []int{1}}, "a", false},
		{"other type in a list", map[string]any{"a": []any{struct{}{}}}, "a", false},
		{"through a list", map[string]any{"a": []any{}}, "a.b", false},
	}
	for _, tt := range tests {
		if _, ok := verdictKey(tt.value, []string{tt.path}); ok != tt.ok {
			t.Errorf("%s: ok = %v, want %v", tt.name, ok, tt.ok)
		}
	}
	// Strings are length-prefixed: "aSb","c" is not "a","bSc" (S is also
	// the tag of a string).
	k1, _ := verdictKey(map[string]any{"x": "aSb", "y": "c"}, []string{"x", "y"})
	k2, _ := verdictKey(map[string]any{"x": "a", "y": "bSc"}, []string{"x", "y"})
	if bytes.Equal(k1, k2) {
		t.Error("adjacent strings run together in the key")
	}
}

// verdictKey is the key a program reading paths gets for value, as the
// engine builds it (a trie of the paths, encoded per resource).
func verdictKey(value map[string]any, paths []string) ([]byte, bool) {
	trie := &keyTrie{root: keyNode{slot: -1}}
	p := &program{keys: trie}
	for _, path := range paths {
		p.keySlots = append(p.keySlots, trie.add(path))
	}
	act := &resourceActivation{}
	act.set(resourceOf(value))
	c := newVerdictCache(1)
	return c.keyOf(p, act)
}

// resourceOf makes a resource whose value (Value) is value: its common
// fields from value's (tags, if any, a map of strings), the rest its
// attributes.
func resourceOf(value map[string]any) *inventory.Resource {
	r := &inventory.Resource{Attrs: map[string]any{}}
	for k, v := range value {
		switch k {
		case "tags":
			r.Tags = v.(map[string]string)
		case "provider", "account", "region", "type", "native_type", "id", "address", "name", "jurisdiction", "native":
			panic("resourceOf: no test sets " + k)
		default:
			r.Attrs[k] = v
		}
	}
	return r
}

// keyAlone encodes the value at one path as the trie's walk must: each
// step into a map, 'A' from the first missing key on, no key through
// anything but a map.
func keyAlone(value map[string]any, path string) ([]byte, bool) {
	var cur any = value
	for _, seg := range strings.Split(path, ".") {
		switch m := cur.(type) {
		case map[string]any:
			v, ok := m[seg]
			if !ok {
				return []byte{'A'}, true
			}
			cur = v
		case map[string]string:
			v, ok := m[seg]
			if !ok {
				return []byte{'A'}, true
			}
			cur = v
		default:
			return nil, false
		}
	}
	return appendValueKey(nil, cur, 0)
}

// TestKeyTrie checks that the keys the engine encodes for all of a type's
// paths at once, each parent looked up once, are those of each path
// encoded alone.
func TestKeyTrie(t *testing.T) {
	paths := []string{"a", "a.b", "a.b.c", "a.d", "e", "e.f", "g.h", "tags", "tags.owner", "tags.owner.x", "l.0", "n.m"}
	values := []map[string]any{
		{},
		{"a": nil, "e": "x", "g": map[string]any{}, "tags": map[string]string{}},
		{"a": map[string]any{"b": map[string]any{"c": true}, "d": int64(3)}, "e": map[string]any{"f": []any{"x"}}},
		{"a": map[string]any{"b": "s"}, "g": map[string]any{"h": nil}, "tags": map[string]string{"owner": "me"}, "l": []any{1}},
		{"a": map[string]any{"b": map[string]any{}}, "n": map[string]any{"m": map[string]any{"deep": []any{map[string]any{"k": 1.5}}}}},
		{"a": []any{}, "tags": map[string]string{"other": "x"}, "n": struct{}{}},
	}
	trie := &keyTrie{root: keyNode{slot: -1}}
	slots := make([]int, len(paths))
	for i, p := range paths {
		slots[i] = trie.add(p)
	}
	if again := trie.add("a.b"); again != slots[1] {
		t.Errorf("a.b added twice: slots %d and %d", slots[1], again)
	}
	act := &resourceActivation{}
	for _, v := range values {
		r := resourceOf(v)
		act.set(r)
		for i, p := range paths {
			// Alone, on the map rules read: the common fields merged in.
			want, wantOK := keyAlone(r.Value(), p)
			got, ok := act.pathKey(trie, slots[i])
			if ok != wantOK || ok && !bytes.Equal(got, want) {
				t.Errorf("%v, %s: trie %q %v, alone %q %v", v, p, got, ok, want, wantOK)
			}
		}
	}
}

// nested is depth lists, each holding the next, around a string.
func nested(depth int) any {
	var v any = "x"
	for range depth {
		v = []any{v}
	}
	return v
}

// absentValue stands for a key left out of the map in TestVerdictKey.
var absentValue = &struct{}{}

// TestReadsOnlySelections checks which expressions the engine may reuse
// verdicts for: those that read the resource only through selections.
func TestReadsOnlySelections(t *testing.T) {
	tests := []struct {
		expr string
		want bool
	}{
		{`resource.public`, true},
		{`has(resource.encryption.at_rest) && resource.encryption.at_rest.enabled`, true},
		{`resource.tags.?classification.orValue("") == "x"`, true},
		{`resource.tags["owner"] != ""`, true},
		{`resource.rules.exists(r, r.port_from <= 22)`, true},
		{`[resource].size() == 1`, false},
		{`resource.?public.orValue(false)`, false},
		{`[resource].exists(x, x.public)`, false},
		{`resource.rules.exists(resource, resource.port_from <= 22)`, false},
	}
	c, err := NewCompiler(0)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		ast, iss := c.envs["network.firewall"].Compile(tt.expr)
		if iss != nil && iss.Err() != nil {
			// Some are only valid on another type; the firewall has rules,
			// the bucket public and encryption.
			ast, iss = c.envs["object_storage.bucket"].Compile(tt.expr)
			if iss != nil && iss.Err() != nil {
				t.Fatalf("%s: %v", tt.expr, iss.Err())
			}
		}
		if got := readsOnlySelections(ast.NativeRep().Expr()); got != tt.want {
			t.Errorf("%s: %v, want %v", tt.expr, got, tt.want)
		}
	}
}

// TestFindingsOrder checks the engine's findings come out in one order
// whatever the number of workers: by severity (highest first), rule id and
// the resource's place in the estate.
func TestFindingsOrder(t *testing.T) {
	set, e := packsOnPlan(t, 2500, 5)
	var first []Finding
	defer func(n int) { parallelMergeMin = n }(parallelMergeMin)
	for _, workers := range []int{1, 2, 3, 7, -2} {
		if workers < 0 {
			// The findings merged on every core (a large estate's way).
			workers, parallelMergeMin = -workers, 0
		}
		res, err := set.Evaluate(context.Background(), e, EvalOptions{Workers: workers})
		if err != nil {
			t.Fatal(err)
		}
		want := slices.Clone(res.Findings)
		rand.Shuffle(len(want), func(i, j int) { want[i], want[j] = want[j], want[i] })
		slices.SortFunc(want, func(a, b Finding) int {
			return cmp.Or(int(b.Rule.Severity)-int(a.Rule.Severity), set.ruleOrder[a.Rule]-set.ruleOrder[b.Rule], a.order-b.order)
		})
		for i := range want {
			if res.Findings[i].Rule != want[i].Rule || res.Findings[i].Resource != want[i].Resource {
				t.Fatalf("%d workers: finding %d is %s on %s, want %s on %s", workers, i,
					res.Findings[i].Rule.ID, res.Findings[i].Resource.Address, want[i].Rule.ID, want[i].Resource.Address)
			}
		}
		if first == nil {
			first = res.Findings
		} else if len(res.Findings) != len(first) {
			t.Fatalf("%d workers: %d findings, 1 worker: %d", workers, len(res.Findings), len(first))
		}
	}
	if len(first) < 1000 {
		t.Fatalf("only %d findings", len(first))
	}
}

// packsOnPlan compiles the embedded packs and reads a generated plan of n
// resources into a finalized estate.
func packsOnPlan(t testing.TB, n int, seed int64) (*Set, *inventory.Estate) {
	t.Helper()
	var buf bytes.Buffer
	if err := plan.Write(&buf, n, seed); err != nil {
		t.Fatal(err)
	}
	e, err := terraform.Parse("plan.json", buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	e.Finalize()
	var rs []*Rule
	for _, p := range policies.Packs {
		r, err := LoadFS(policies.FS, p, p)
		if err != nil {
			t.Fatal(err)
		}
		rs = append(rs, r...)
	}
	return mustCompile(t, rs...), e
}
