package report

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// reportSchema is the documented JSON schema of the json format.
var reportSchema = filepath.Join("..", "..", "docs", "report.schema.json")

func compileSchema(t *testing.T, path string) *jsonschema.Schema {
	t.Helper()
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	s, err := c.Compile(path)
	if err != nil {
		t.Fatalf("compiling %s: %v", path, err)
	}
	return s
}

func validate(t *testing.T, s *jsonschema.Schema, doc []byte) error {
	t.Helper()
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(doc))
	if err != nil {
		t.Fatalf("output is not JSON: %v", err)
	}
	return s.Validate(v)
}

// TestJSONMatchesSchema validates the json output against
// docs/report.schema.json, which forbids undocumented fields, so a field
// added here without documenting it fails.
func TestJSONMatchesSchema(t *testing.T) {
	s := compileSchema(t, reportSchema)
	for _, c := range goldenCases {
		t.Run(c.name, func(t *testing.T) {
			if err := validate(t, s, render(t, "json", c.res(), c.opts)); err != nil {
				t.Errorf("%v", err)
			}
		})
	}
}

// TestSchemaCatchesMistakes checks the schema is strict enough to matter.
func TestSchemaCatchesMistakes(t *testing.T) {
	s := compileSchema(t, reportSchema)
	out := render(t, "json", sampleResult(), testOptions)
	breakages := map[string]func(m map[string]any){
		"unknown status":        func(m map[string]any) { finding0(m)["status"] = "passed" },
		"missing rule_id":       func(m map[string]any) { delete(finding0(m), "rule_id") },
		"undocumented field":    func(m map[string]any) { finding0(m)["extra"] = 1 },
		"suppressed, no reason": func(m map[string]any) { delete(findingWith(m, "suppressed"), "exception") },
		"severity missing count": func(m map[string]any) {
			delete(m["summary"].(map[string]any)["failed_by_severity"].(map[string]any), "low")
		},
	}
	for name, breakIt := range breakages {
		t.Run(name, func(t *testing.T) {
			var m map[string]any
			if err := json.Unmarshal(out, &m); err != nil {
				t.Fatal(err)
			}
			breakIt(m)
			b, _ := json.Marshal(m)
			if err := validate(t, s, b); err == nil {
				t.Error("the schema accepted a broken report")
			}
		})
	}
}

func finding0(m map[string]any) map[string]any {
	return m["findings"].([]any)[0].(map[string]any)
}

func findingWith(m map[string]any, status string) map[string]any {
	for _, f := range m["findings"].([]any) {
		if f.(map[string]any)["status"] == status {
			return f.(map[string]any)
		}
	}
	panic("no finding with status " + status)
}

// TestJSONFieldsDocumented checks every field of the schema is explained in
// docs/formats.md.
func TestJSONFieldsDocumented(t *testing.T) {
	doc := readFile(t, filepath.Join("..", "..", "docs", "formats.md"))
	var schema map[string]any
	if err := json.Unmarshal(readFile(t, reportSchema), &schema); err != nil {
		t.Fatal(err)
	}
	var missing []string
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			if props, ok := x["properties"].(map[string]any); ok {
				for name := range props {
					if !bytes.Contains(doc, []byte("`"+name+"`")) {
						missing = append(missing, name)
					}
				}
			}
			for _, c := range x {
				walk(c)
			}
		case []any:
			for _, c := range x {
				walk(c)
			}
		}
	}
	walk(schema)
	if len(missing) > 0 {
		t.Errorf("docs/formats.md does not mention these JSON fields: %s", strings.Join(missing, ", "))
	}
}
