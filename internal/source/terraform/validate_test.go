package terraform

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/hoheit/hoheit/bench/gen/plan"
	"github.com/hoheit/hoheit/internal/inventory"
)

// TestValidateMatchesDecode checks that validate, which the reader runs on
// configuration expressions it decodes only later, fails exactly where and
// how decoding fails.
func TestValidateMatchesDecode(t *testing.T) {
	cases := []string{
		`{}`, `[]`, `{"a": {"constant_value": [1, -2.5e3, true, false, null, "x\n\u00e9"]}}`,
		`{"a": {"references": ["aws_kms_key.k.arn", "aws_kms_key.k"]}, "b": [{"c": {"constant_value": {"d": 1}}}]}`,
		`{"a" 1}`, `{"a": }`, `{"a": 1,}`, `{"a": 1 "b": 2}`, `[1 2]`, `[1,]`, `{"a": tru}`, `{"a": nul}`,
		`{"a": 01}`, `{"a": 1.}`, `{"a": 1e}`, `{"a": -}`, `{"a": 1e999}`, `{"a": 123456789012345678901234567890}`,
		"{\"a\": \"tab\there\"}", `{"a": "\x"}`, `{"a": "\u12"}`, `{"a": "unterminated}`, `{1: 2}`, `{"a": [}`,
		`{"a": {"b": [1, {"c": "\ud83d\ude00"}]}}`, `{"a": 1}}`, `x`, ``,
	}
	deep := ""
	for range MaxDepth + 1 {
		deep += "["
	}
	cases = append(cases, deep)
	for _, c := range cases {
		d1 := newDecoder([]byte(c))
		_, err1 := d1.value()
		d2 := newDecoder([]byte(c))
		err2 := d2.validate()
		if (err1 == nil) != (err2 == nil) || err1 != nil && err1.Error() != err2.Error() {
			t.Errorf("%q: decode says %v, validate %v", c, err1, err2)
		}
		if err1 == nil && d1.pos != d2.pos {
			t.Errorf("%q: decode ends at %d, validate at %d", c, d1.pos, d2.pos)
		}
		if err1 != nil {
			var s1, s2 *syntaxError
			s1, _ = err1.(*syntaxError)
			s2, _ = err2.(*syntaxError)
			if s1 != nil && s2 != nil && s1.Offset != s2.Offset {
				t.Errorf("%q: decode fails at %d, validate at %d", c, s1.Offset, s2.Offset)
			}
		}
	}
}

// TestUnknownsLocated checks that the after_unknown the workers locate in
// the file (indexUnknowns) answers native.unknown and unknownBelow as the
// decoded one does, on every path of hand-made values and of the bench
// generator's plan, that what trim keeps of it answers the same for the
// kept keys, and that it fails as decoding does on malformed input.
func TestUnknownsLocated(t *testing.T) {
	docs := []string{
		`{}`, `{"a": true}`, `{"a": false, "b": {}}`, `{"a": [false, true, false], "b": [{}, {"c": true}], "d": [[], [false]]}`,
		`{"tags": {}, "x": [{"y": [{"z": false}]}], "w": [true], "v": {"u": {"t": true}}, "s": null, "r": "str", "q": 1}`,
		`{"a": true, "a": false}`, `{"a": false, "b": [true], "a": [true]}`, `{"a": {"x": true}, "a": {}}`,
		`{"a" 1}`, `{"a": [true,]}`, `{"a": tru}`, `{"a": "\x"}`, `{"a": 1e999}`,
	}
	docs = append(docs, changeDocs(t, 400, 1, "after_unknown")...)
	for _, doc := range docs {
		d1 := newDecoder([]byte(doc))
		full, err1 := d1.value()
		d2 := newDecoder([]byte(doc))
		var scratch []field
		located, err2 := d2.index([]byte(doc), &scratch)
		if (err1 == nil) != (err2 == nil) || err1 != nil && err1.Error() != err2.Error() {
			t.Errorf("%s: value says %v, index %v", doc, err1, err2)
			continue
		}
		if err1 != nil {
			continue
		}
		fm, _ := full.(map[string]any)
		nf, nl := &native{Unknown: fm}, &native{unk: located}
		paths := allPaths(full, "")
		for _, path := range paths {
			if a, b := nf.unknown(path), nl.unknown(path); a != b {
				t.Errorf("%s: unknown(%q) is %v decoded, %v located", doc, path, a, b)
			}
			if a, b := unknownBelow(nf, path), unknownBelow(nl, path); a != b {
				t.Errorf("%s: unknownBelow(%q) is %v decoded, %v located", doc, path, a, b)
			}
		}
		// trim keeps the answers for the kept keys (all of them here).
		var keys []string
		for k := range fm {
			keys = append(keys, k)
		}
		nk := &native{unk: located}
		rec := &record{values: span{0, 1, 0}, n: nk, r: &inventory.Resource{}}
		trim(rec, newKeySet(keys))
		if nk.unk != nil {
			t.Fatalf("%s: trim kept the located unknowns", doc)
		}
		for _, path := range paths {
			if a, b := nf.unknown(path), nk.unknown(path); a != b {
				t.Errorf("%s: unknown(%q) is %v decoded, %v trimmed", doc, path, a, b)
			}
			if a, b := unknownBelow(nf, path), unknownBelow(nk, path); a != b {
				t.Errorf("%s: unknownBelow(%q) is %v decoded, %v trimmed", doc, path, a, b)
			}
		}
	}
}

// allPaths lists the dotted paths of every value in v, and one path below
// each that does not exist.
func allPaths(v any, prefix string) []string {
	join := func(k string) string {
		if prefix == "" {
			return k
		}
		return prefix + "." + k
	}
	out := []string{join("missing"), join("0")}
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			out = append(out, join(k))
			out = append(out, allPaths(e, join(k))...)
		}
	case []any:
		for i, e := range x {
			k := strconv.Itoa(i)
			out = append(out, join(k))
			out = append(out, allPaths(e, join(k))...)
		}
	}
	return out
}

// TestEmptyResourceChanges checks a plan whose resource_changes holds
// nothing, or that has none, still yields the resources of planned_values,
// in their order.
func TestEmptyResourceChanges(t *testing.T) {
	var buf bytes.Buffer
	if err := plan.Write(&buf, 60, 3); err != nil {
		t.Fatal(err)
	}
	want, err := Parse("plan.json", buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	for _, absent := range []bool{false, true} {
		if absent {
			delete(doc, "resource_changes")
		} else {
			doc["resource_changes"] = []any{}
		}
		empty, err := json.Marshal(doc)
		if err != nil {
			t.Fatal(err)
		}
		got, err := Parse("plan.json", empty)
		if err != nil {
			t.Fatal(err)
		}
		if len(got.Resources) == 0 || len(got.Resources) != len(want.Resources) {
			t.Fatalf("absent %v: %d resources without resource_changes, %d with", absent, len(got.Resources), len(want.Resources))
		}
		for i, r := range got.Resources {
			if r.Address != want.Resources[i].Address || r.Source.Path != want.Resources[i].Source.Path {
				t.Errorf("absent %v, resource %d: %s at %s, want %s at %s", absent, i, r.Address, r.Source.Path, want.Resources[i].Address, want.Resources[i].Source.Path)
			}
		}
	}
}

// TestKeySet checks the set trim asks knows its keys and only them.
func TestKeySet(t *testing.T) {
	keys := []string{"id", "arn", "name", "bucket", "security_rule", "x"}
	s := newKeySet(keys)
	for _, k := range keys {
		if !s.has(k) {
			t.Errorf("has(%q) = false", k)
		}
	}
	for _, k := range []string{"", "i", "ids", "ar", "arm", "nam", "names", "security_rules", "security_rul", "y", "a_much_longer_key_than_any"} {
		if s.has(k) {
			t.Errorf("has(%q) = true", k)
		}
	}
	if newKeySet(nil).has("") {
		t.Error("the empty set has the empty key")
	}
}

// changeDocs returns one field ("after", "after_unknown") of every change
// in a plan of n resources from the bench generator.
func changeDocs(t *testing.T, n int, seed int64, field string) []string {
	t.Helper()
	var buf bytes.Buffer
	if err := plan.Write(&buf, n, seed); err != nil {
		t.Fatal(err)
	}
	var p struct {
		ResourceChanges []struct {
			Change map[string]json.RawMessage `json:"change"`
		} `json:"resource_changes"`
	}
	if err := json.Unmarshal(buf.Bytes(), &p); err != nil {
		t.Fatal(err)
	}
	var docs []string
	for _, rc := range p.ResourceChanges {
		docs = append(docs, string(rc.Change[field]))
	}
	return docs
}

// indexed locates the planned values doc as a worker does.
func indexed(t *testing.T, doc string) *object {
	t.Helper()
	var scratch []field
	o, err := newDecoder([]byte(doc)).index([]byte(doc), &scratch)
	if err != nil {
		t.Fatal(err)
	}
	return o
}

// TestLookupLocated checks a path into planned values still in the file
// (native.lookup navigating a block without decoding it) answers as lookup
// on the decoded values does, on every path of hand-made values and of the
// bench generator's plan.
func TestLookupLocated(t *testing.T) {
	docs := []string{
		`{}`, `{"a": {"b": 1}, "c": [{"d": "x"}, {"d": null}], "e": [[1, 2], []], "f": null}`,
		`{"a": {"b": 1, "b": 2}, "l": [{"k": 1}, {"k": 2, "k": 3}], "s": "str", "n": 0}`,
	}
	docs = append(docs, changeDocs(t, 200, 2, "after")...)
	for _, doc := range docs {
		full, err := newDecoder([]byte(doc)).value()
		if err != nil {
			t.Fatal(err)
		}
		located, stepped := indexed(t, doc), indexed(t, doc)
		// The same lookups through a worker's nav, which remembers the
		// blocks it stepped into for the next path, and on paths that
		// are not there: past a scalar, a list index out of range or not
		// a number, a missing key, an empty step.
		n, nn := &native{obj: located}, &native{obj: stepped, nav: &nav{}}
		untouched := &native{obj: indexed(t, doc)}
		var paths []string
		for _, path := range allPaths(full, "") {
			paths = append(paths, path, path+".0", path+".1", path+".7", path+".x", path+".", path+"..0")
		}
		// Looking up a top-level key decodes its block, and later paths
		// into it read the decoded value: the deepest paths go first, so
		// that every path into a block is asked while it is in the file.
		slices.SortStableFunc(paths, func(a, b string) int {
			return strings.Count(b, ".") - strings.Count(a, ".")
		})
		for _, path := range paths {
			// has answers without decoding a top-level block (and so
			// in an object no lookup has decoded anything of).
			if got, want := untouched.has(path), lookup(full, path) != nil; got != want {
				t.Errorf("%s: has(%q) is %v located, %v decoded", doc, path, got, want)
			}
			want := fmt.Sprint(lookup(full, path))
			if got := fmt.Sprint(n.lookup(path)); got != want {
				t.Errorf("%s: lookup(%q) is %s decoded, %s located", doc, path, want, got)
			}
			if got := fmt.Sprint(nn.lookup(path)); got != want {
				t.Errorf("%s: lookup(%q) is %s decoded, %s through nav", doc, path, want, got)
			}
		}
	}
}
