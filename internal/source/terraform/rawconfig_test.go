package terraform

import (
	"bytes"
	"encoding/json"
	"slices"
	"testing"

	"github.com/hoheit/hoheit/bench/gen/plan"
)

// TestRawConfigMatchesDecoded checks that configured, references and
// planned answer the same on configuration expressions left in the file
// (rawValue) as on the decoded ones, on every path of the bench
// generator's configuration and of hand-made expressions, whole and
// trimmed to a keep list.
func TestRawConfigMatchesDecoded(t *testing.T) {
	docs := []string{
		`{}`,
		`{"a": {"constant_value": "x"}, "b": {"references": ["aws_kms_key.k.arn", "aws_kms_key.k", 3]}, "c": null,
		  "d": [{"e": {"constant_value": {"f": null, "g": 1}}, "h": [{"i": {"references": []}}]}, null, {"j": {"constant_value": [1]}}],
		  "k": {"constant_value": null}, "l": {"references": "notalist"}, "m": {"constant_value": {"n": 1}, "references": ["var.x"]},
		  "dup": {"constant_value": 1}, "dup": {"references": ["aws_s3_bucket.b"]}, "esc\u0061ped": {"constant_value": 2}}`,
		`{"constant_value": 5, "a": {"references": ["aws_kms_key.k"]}}`,
		`{"references": ["module.m.out"]}`,
	}
	var buf bytes.Buffer
	if err := plan.Write(&buf, 300, 1); err != nil {
		t.Fatal(err)
	}
	var p struct {
		Configuration struct {
			RootModule struct {
				Resources []struct {
					Expressions json.RawMessage `json:"expressions"`
				} `json:"resources"`
			} `json:"root_module"`
		} `json:"configuration"`
	}
	if err := json.Unmarshal(buf.Bytes(), &p); err != nil {
		t.Fatal(err)
	}
	for _, r := range p.Configuration.RootModule.Resources {
		docs = append(docs, string(r.Expressions))
	}
	for _, doc := range docs {
		d := newDecoder([]byte(doc))
		v, err := d.value()
		if err != nil {
			t.Fatalf("%s: %v", doc, err)
		}
		full, _ := v.(map[string]any)
		at := span{0, len(doc), 0}
		keeps := [][]string{nil, {"b", "d", "dup", "kms_key_id", "bucket"}}
		for _, keep := range keeps {
			decoded := full
			if keep != nil {
				decoded = keepKeys(full, keep)
			}
			nd := &native{Address: "aws_s3_bucket.x", Config: decoded}
			nr := &native{Address: "aws_s3_bucket.x", lazy: lazyConfig{data: []byte(doc), at: at, keep: keep}}
			// And through a worker's nav, which remembers the blocks the
			// paths before stepped into.
			nn := &native{Address: "aws_s3_bucket.x", lazy: lazyConfig{data: []byte(doc), at: at, keep: keep}, nav: &nav{}}
			paths := allPaths(full, "")
			paths = append(paths, "", "a.b", "d.0.e.f", "d.0.e.g", "d.9", "d.x", "m.n", "..", "d..0")
			for _, path := range paths {
				for _, raw := range []struct {
					how string
					n   *native
				}{{"raw", nr}, {"through nav", nn}} {
					if a, b := nd.configured(path), raw.n.configured(path); a != b {
						t.Errorf("%s keep %v: configured(%q) is %v decoded, %v %s", doc, keep, path, a, b, raw.how)
					}
					if a, b := nd.references(path), raw.n.references(path); !slices.Equal(a, b) {
						t.Errorf("%s keep %v: references(%q) is %v decoded, %v %s", doc, keep, path, a, b, raw.how)
					}
					if a, b := planned(nd, path), planned(raw.n, path); a != b {
						t.Errorf("%s keep %v: planned(%q) is %v decoded, %v %s", doc, keep, path, a, b, raw.how)
					}
				}
			}
		}
	}
}
