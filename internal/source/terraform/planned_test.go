package terraform

import (
	"bytes"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"
)

func TestPlannedIndexFind(t *testing.T) {
	var x plannedIndex
	for i, a := range []string{"a.x", "b.x", "c.x", "b.x", "d.x"} {
		x.add(plannedPos{address: a, seq: i})
	}
	// Asked in order, out of order, again, and for what is not there;
	// want is the seq found, -1 for none, or either of two for an address
	// listed twice.
	tests := []struct {
		address string
		want    []int
	}{
		{"a.x", []int{0}},
		{"b.x", []int{1, 3}},
		{"d.x", []int{4}}, // out of order: the map
		{"c.x", []int{2}},
		{"b.x", []int{1, 3}},
		{"e.x", []int{-1}},
		{"a.x", []int{0}},
		{"c.x", []int{2}},
		{"b.x", []int{1, 3}}, // in order again after a lookup in the map
		{"d.x", []int{4}},
	}
	for i, tt := range tests {
		pos, ok := x.find(tt.address)
		got := -1
		if ok {
			got = pos.seq
			if pos.address != tt.address {
				t.Fatalf("%d: find(%q) returned %q", i, tt.address, pos.address)
			}
		}
		if !slices.Contains(tt.want, got) {
			t.Errorf("%d: find(%q) = %d, want one of %v", i, tt.address, got, tt.want)
		}
	}
}

// TestChangesLocated checks where resources read from resource_changes are
// located: in planned_values, listed in its order or not, and in
// resource_changes for one planned_values lacks.
func TestChangesLocated(t *testing.T) {
	res := func(addr string) string {
		typ, name, _ := strings.Cut(addr, ".")
		return `{"address":"` + addr + `","mode":"managed","type":"` + typ + `","name":"` + name + `","provider_name":"registry.terraform.io/hashicorp/aws"`
	}
	vpc := `{"cidr_block":"10.0.0.0/16"}`
	planned := []string{"aws_vpc.c", "aws_vpc.a", "aws_vpc.b"}
	changes := []string{"aws_vpc.a", "aws_vpc.b", "aws_vpc.c", "aws_vpc.d"}
	var pv, rc []string
	for _, a := range planned {
		pv = append(pv, res(a)+`,"values":`+vpc+`}`)
	}
	for _, a := range changes {
		rc = append(rc, res(a)+`,"change":{"actions":["create"],"before":null,"after":`+vpc+`,"after_unknown":{}}}`)
	}
	plan := `{"format_version":"1.2","planned_values":{"root_module":{"resources":[` + strings.Join(pv, ",") +
		`]}},"resource_changes":[` + strings.Join(rc, ",") + `],"configuration":{"root_module":{}}}`
	e, err := Parse("plan.json", []byte(plan))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"aws_vpc.a": "planned_values.root_module.resources[1]",
		"aws_vpc.b": "planned_values.root_module.resources[2]",
		"aws_vpc.c": "planned_values.root_module.resources[0]",
		"aws_vpc.d": "resource_changes[3]",
	}
	got := map[string]string{}
	for _, r := range e.Resources {
		got[r.Address] = r.Source.Path
	}
	if !maps.Equal(got, want) {
		t.Errorf("locations %v, want %v", got, want)
	}
}

// TestTagsInPlace checks that tags read straight from the file (tagsAt,
// nativeTags) are those of the decoded value, for odd members too.
func TestTagsInPlace(t *testing.T) {
	docs := []string{
		`{}`,
		`{"tags": {}}`,
		`{"tags": null}`,
		`{"tags": {"a": "1", "b": "two"}}`,
		`{"tags": {"a": 1, "b": null, "c": true, "d": {"x": "y"}, "e": ["f"]}}`,
		`{"tags": {"a": "first", "a": 2}}`,
		`{"tags": {"a": 2, "a": "second"}}`,
		`{"tags": {"esc\"aped": "new\nline \u00e9"}}`,
		`{"tags": ["x", "y"]}`,
		`{"tags_all": {"a": 1}, "tags": {"b": "2"}}`,
		`{"tags_all": {}, "tags": {"b": "2"}, "labels": {"c": "3"}}`,
		`{"labels": {"env": "prod"}}`,
	}
	for _, doc := range docs {
		for _, key := range []string{"tags", "tags_all", "labels"} {
			inPlace := &native{obj: indexed(t, doc)}
			decoded := &native{obj: indexed(t, doc)}
			decoded.obj.decodeAll()
			got, want := inPlace.tagsAt(key), tagsOf(decoded.get(key))
			if !reflect.DeepEqual(got, want) {
				t.Errorf("%s: tagsAt(%q) = %#v, want %#v", doc, key, got, want)
			}
		}
		inPlace := &native{obj: indexed(t, doc)}
		decoded := &native{obj: indexed(t, doc)}
		decoded.obj.decodeAll()
		if got, want := nativeTags(inPlace), nativeTags(decoded); !reflect.DeepEqual(got, want) {
			t.Errorf("%s: nativeTags = %#v, want %#v", doc, got, want)
		}
	}
}

// TestAfterComparedWithPlanned checks a change's values are read from
// change.after whether or not its bytes are those of the planned values
// (the walker passes over an identical after without walking it).
func TestAfterComparedWithPlanned(t *testing.T) {
	res := func(addr string) string {
		typ, name, _ := strings.Cut(addr, ".")
		return `{"address":"` + addr + `","mode":"managed","type":"` + typ + `","name":"` + name + `","provider_name":"registry.terraform.io/hashicorp/aws"`
	}
	vpc := func(cidr string) string { return `{"cidr_block":"` + cidr + `"}` }
	tests := []struct {
		name, planned, after, want string
	}{
		{"same", vpc("10.0.0.0/16"), vpc("10.0.0.0/16"), "10.0.0.0/16"},
		{"other value", vpc("10.0.0.0/16"), vpc("10.1.0.0/16"), "10.1.0.0/16"},
		{"spaced", vpc("10.0.0.0/16"), `{ "cidr_block" : "10.2.0.0/16" }`, "10.2.0.0/16"},
		{"longer", vpc("10.0.0.0/16"), `{"cidr_block":"10.0.0.0/16","x":1}`, "10.0.0.0/16"},
		{"planned a prefix", `{"cidr_block":"10.0.0.0/16"}`, `{"cidr_block":"10.0.0.0/16"} `, "10.0.0.0/16"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			plan := `{"format_version":"1.2","planned_values":{"root_module":{"resources":[` + res("aws_vpc.a") + `,"values":` + tt.planned + `}]}},` +
				`"resource_changes":[` + res("aws_vpc.a") + `,"change":{"actions":["create"],"before":null,"after":` + tt.after + `,"after_unknown":{}}}],` +
				`"configuration":{"root_module":{}}}`
			e, err := Parse("plan.json", []byte(plan))
			if err != nil {
				t.Fatal(err)
			}
			if len(e.Resources) != 1 {
				t.Fatalf("%d resources", len(e.Resources))
			}
			if got, _ := e.Resources[0].Get("cidrs"); !reflect.DeepEqual(got, []any{tt.want}) {
				t.Errorf("cidrs %v, want [%s]", got, tt.want)
			}
		})
	}
	// A change.after that is malformed after the planned value's bytes is
	// still an error.
	plan := `{"format_version":"1.2","planned_values":{"root_module":{"resources":[` + res("aws_vpc.a") + `,"values":` + vpc("10.0.0.0/16") + `}]}},` +
		`"resource_changes":[` + res("aws_vpc.a") + `,"change":{"actions":["create"],"before":null,"after":` + vpc("10.0.0.0/16") + `x,"after_unknown":{}}}]}`
	if _, err := Parse("plan.json", []byte(plan)); err == nil {
		t.Error("a malformed change.after was accepted")
	}
}

// TestHasNewline checks the line break search on every core finds a
// break wherever it is, and none where there is none.
func TestHasNewline(t *testing.T) {
	size := 40 << 20
	data := bytes.Repeat([]byte{'x'}, size)
	if hasNewline(data) {
		t.Error("a break found in a file on one line")
	}
	for _, at := range []int{0, 1 << 20, 16 << 20, 16<<20 + 1, size / 2, size - 1} {
		data[at] = '\n'
		if !hasNewline(data) {
			t.Errorf("the break at %d not found", at)
		}
		data[at] = 'x'
	}
	if hasNewline(nil) || !hasNewline([]byte("{\n}")) {
		t.Error("small inputs answered wrong")
	}
}
