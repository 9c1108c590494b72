package terraform

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/hoheit/hoheit/internal/inventory"
)

// The mapper tests read native resources from testdata/<provider>_mappers.json
// and compare what the mappers and joiners make of them with
// testdata/<provider>_mappers.golden.json. Run `go test -update` to
// rewrite the golden files, then read the diff.

// mapperCase is one native resource. A joined type is applied onto the
// resource of the earlier case at Target.
type mapperCase struct {
	Address string         `json:"address"`
	Type    string         `json:"type"`
	Region  string         `json:"region,omitempty"`
	Values  map[string]any `json:"values"`
	Unknown map[string]any `json:"unknown,omitempty"`
	Target  string         `json:"target,omitempty"`
}

func (c mapperCase) native() *native {
	provider, _, _ := strings.Cut(c.Type, "_")
	return &native{
		Address:  c.Address,
		Type:     c.Type,
		Name:     c.Address[strings.LastIndexByte(c.Address, '.')+1:],
		Provider: provider,
		Values:   c.Values,
		Unknown:  c.Unknown,
		Region:   c.Region,
		Location: inventory.Location{File: "plan.json", Path: c.Address},
	}
}

// readCases decodes a case file with numbers as the plan reader gives them:
// int64 for whole numbers, float64 otherwise.
func readCases(t *testing.T, path string) []mapperCase {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("reading cases: %v", err)
	}
	d := json.NewDecoder(bytes.NewReader(data))
	d.UseNumber()
	var raw []map[string]any
	if err := d.Decode(&raw); err != nil {
		t.Fatalf("decoding %s: %v", path, err)
	}
	cases := make([]mapperCase, len(raw))
	for i, r := range raw {
		c := &cases[i]
		c.Address, _ = r["address"].(string)
		c.Type, _ = r["type"].(string)
		c.Region, _ = r["region"].(string)
		c.Target, _ = r["target"].(string)
		c.Values, _ = planNumbers(r["values"]).(map[string]any)
		c.Unknown, _ = r["unknown"].(map[string]any)
		if c.Values == nil {
			c.Values = map[string]any{}
		}
		if c.Address == "" || c.Type == "" {
			t.Fatalf("%s: case %d has no address or type", path, i)
		}
	}
	return cases
}

func planNumbers(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			x[k] = planNumbers(e)
		}
	case []any:
		for i, e := range x {
			x[i] = planNumbers(e)
		}
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return i
		}
		f, _ := x.Float64()
		return f
	}
	return v
}

// mapCases runs the mappers and joiners over the cases in order.
func mapCases(t *testing.T, cases []mapperCase) []*inventory.Resource {
	t.Helper()
	mappers, joiners := registry()
	var out []*inventory.Resource
	byAddr := map[string]*inventory.Resource{}
	for _, c := range cases {
		n := c.native()
		if m, ok := mappers[c.Type]; ok {
			if r := m(n); r != nil {
				out = append(out, r)
				byAddr[c.Address] = r
			}
			continue
		}
		j, ok := joiners[c.Type]
		if !ok {
			t.Errorf("%s: no mapper or joiner for %s", c.Address, c.Type)
			continue
		}
		target := byAddr[c.Target]
		if target == nil || target.Type != j.Target {
			t.Errorf("%s: target %q is not a mapped %s", c.Address, c.Target, j.Target)
			continue
		}
		if len(j.Natives) > 0 && !slices.Contains(j.Natives, target.NativeType) {
			t.Errorf("%s: the joiner does not accept %s", c.Address, target.NativeType)
		}
		j.Apply(n, target)
	}
	return out
}

// goldenResource is what the golden files record of a resource; Native is
// the input and left out.
type goldenResource struct {
	Address    string            `json:"address"`
	Provider   string            `json:"provider"`
	Region     string            `json:"region,omitempty"`
	Type       string            `json:"type"`
	NativeType string            `json:"native_type"`
	ID         string            `json:"id"`
	Name       string            `json:"name,omitempty"`
	Tags       map[string]string `json:"tags,omitempty"`
	Attrs      map[string]any    `json:"attributes"`
	Unknown    []string          `json:"unknown,omitempty"`
}

func runMapperGolden(t *testing.T, provider string) {
	cases := readCases(t, filepath.Join("testdata", provider+"_mappers.json"))
	rs := mapCases(t, cases)
	var got []goldenResource
	for _, r := range rs {
		checkResource(t, r)
		u := append([]string(nil), r.Unknown...)
		sort.Strings(u)
		got = append(got, goldenResource{r.Address, r.Provider, r.Region, r.Type, r.NativeType, r.ID, r.Name, r.Tags, r.Attributes(), u})
	}
	data, err := json.MarshalIndent(got, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	data = append(data, '\n')
	golden := filepath.Join("testdata", provider+"_mappers.golden.json")
	if *update {
		if err := os.WriteFile(golden, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("reading golden file (run go test -update): %v", err)
	}
	if !bytes.Equal(want, data) {
		t.Errorf("%s differs from what the mappers make; run go test -update and review the diff:\n%s", golden, lineDiff(string(want), string(data)))
	}
	checkUnknownNeverFalse(t, cases)
}

// checkResource checks the resource against the schema of its type: every
// attribute declared, of its kind, enums respected, ints as int64, every
// unknown path declared.
func checkResource(t *testing.T, r *inventory.Resource) {
	t.Helper()
	s, ok := inventory.Schemas[r.Type]
	if !ok {
		t.Errorf("%s: type %q is not in the schema", r.Address, r.Type)
		return
	}
	if !slices.Contains(inventory.Providers, r.Provider) {
		t.Errorf("%s: provider %q is not one of %v", r.Address, r.Provider, inventory.Providers)
	}
	if r.Native == nil && len(r.NativeJSON) == 0 || r.Address == "" || r.NativeType == "" || r.ID == "" {
		t.Errorf("%s: common fields missing: %+v", r.Address, r)
	}
	checkFields(t, r.Address, r.Attributes(), s.Fields, "")
	for _, u := range r.Unknown {
		if _, ok := s.Lookup(u); !ok {
			t.Errorf("%s: unknown path %q is not an attribute of %s", r.Address, u, r.Type)
		}
	}
}

func checkFields(t *testing.T, addr string, m map[string]any, fs []*inventory.Field, prefix string) {
	t.Helper()
	for k, v := range m {
		var f *inventory.Field
		for _, x := range fs {
			if x.Name == k {
				f = x
			}
		}
		path := prefix + k
		if f == nil {
			t.Errorf("%s: attribute %s is not declared", addr, path)
			continue
		}
		bad := func() { t.Errorf("%s: attribute %s must be %s, is %T %v", addr, path, f.Kind, v, v) }
		switch f.Kind {
		case inventory.Bool:
			if _, ok := v.(bool); !ok {
				bad()
			}
		case inventory.String:
			s, ok := v.(string)
			if !ok {
				bad()
			} else if len(f.Enum) > 0 && !slices.Contains(f.Enum, s) {
				t.Errorf("%s: attribute %s is %q, not one of %v", addr, path, s, f.Enum)
			}
		case inventory.Int:
			if _, ok := v.(int64); !ok {
				bad()
			}
		case inventory.StringList:
			l, ok := v.([]any)
			if !ok {
				bad()
			}
			for _, e := range l {
				if _, ok := e.(string); !ok {
					bad()
				}
			}
		case inventory.StringMap:
			mm, ok := v.(map[string]any)
			if !ok {
				bad()
			}
			for _, e := range mm {
				if _, ok := e.(string); !ok {
					bad()
				}
			}
		case inventory.Object:
			mm, ok := v.(map[string]any)
			if !ok {
				bad()
				continue
			}
			checkFields(t, addr, mm, f.Fields, path+".")
		case inventory.ObjectList:
			l, ok := v.([]any)
			if !ok {
				bad()
				continue
			}
			for _, e := range l {
				mm, ok := e.(map[string]any)
				if !ok {
					bad()
					continue
				}
				checkFields(t, addr, mm, f.Fields, path+"[].")
			}
		}
	}
}

// checkUnknownNeverFalse maps every case a second time as a plan would
// show it if all its values were known only after apply, and requires
// every attribute that comes out different to be marked unknown: a value
// the plan does not know must never read as false, empty or zero.
func checkUnknownNeverFalse(t *testing.T, cases []mapperCase) {
	t.Helper()
	mappers, joiners := registry()
	index := map[string]mapperCase{}
	for _, c := range cases {
		index[c.Address] = c
	}
	fresh := func(addr string) *inventory.Resource {
		c := index[addr]
		return mappers[c.Type](c.native())
	}
	for _, c := range cases {
		known, unknown := c, c
		unknown.Values = map[string]any{}
		unknown.Unknown = map[string]any{}
		for k, v := range c.Unknown {
			unknown.Unknown[k] = v
		}
		for k := range c.Values {
			unknown.Unknown[k] = true
		}
		var a, b *inventory.Resource
		if m, ok := mappers[c.Type]; ok {
			a, b = m(known.native()), m(unknown.native())
		} else if j, ok := joiners[c.Type]; ok && index[c.Target].Type != "" {
			a, b = fresh(c.Target), fresh(c.Target)
			if a == nil {
				continue
			}
			j.Apply(known.native(), a)
			j.Apply(unknown.native(), b)
		}
		if a == nil || b == nil {
			continue
		}
		for path, v := range leaves(a.Attributes(), "") {
			w, ok := leaves(b.Attributes(), "")[path]
			if ok && reflect.DeepEqual(v, w) {
				continue
			}
			if !b.IsUnknown(path) && !b.IsUnknown(strings.TrimSuffix(path, ".")) {
				t.Errorf("%s: %s is %v when known but %v, not unknown, when its inputs are unknown", c.Address, path, v, w)
			}
		}
	}
}

// TestUnknownLeavesNeverFalse maps every case once for each of its
// values (blocks, lists and scalars at any depth) made unknown on its
// own, as a plan shows a value that refers to a resource not yet created.
// Whatever attribute comes out different from the fully known case must
// be marked unknown.
func TestUnknownLeavesNeverFalse(t *testing.T) {
	mappers, joiners := registry()
	for _, p := range []string{"azure", "google", "openstack"} {
		cases := readCases(t, filepath.Join("testdata", p+"_mappers.json"))
		index := map[string]mapperCase{}
		for _, c := range cases {
			index[c.Address] = c
		}
		run := func(c mapperCase) *inventory.Resource {
			if m, ok := mappers[c.Type]; ok {
				return m(c.native())
			}
			tc, ok := index[c.Target]
			if !ok {
				return nil
			}
			target := mappers[tc.Type](tc.native())
			if target != nil {
				joiners[c.Type].Apply(c.native(), target)
			}
			return target
		}
		for _, c := range cases {
			known := run(c)
			if known == nil {
				continue
			}
			for _, path := range nodePaths(c.Values, nil) {
				v := c
				v.Values = withoutPath(c.Values, path).(map[string]any)
				v.Unknown = mergeUnknown(c.Unknown, unknownAt(path))
				got := run(v)
				if got == nil {
					continue
				}
				for attr, want := range leaves(known.Attributes(), "") {
					w, ok := leaves(got.Attributes(), "")[attr]
					if ok && reflect.DeepEqual(want, w) || got.IsUnknown(attr) {
						continue
					}
					t.Errorf("%s with %v unknown: %s is %v, not unknown (known: %v)", c.Address, path, attr, w, want)
				}
			}
		}
	}
}

// nodePaths lists the path of every value below v: map keys and list
// indexes.
func nodePaths(v any, prefix []any) [][]any {
	var out [][]any
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			p := append(append([]any{}, prefix...), k)
			out = append(out, p)
			out = append(out, nodePaths(e, p)...)
		}
	case []any:
		for i, e := range x {
			p := append(append([]any{}, prefix...), i)
			out = append(out, p)
			out = append(out, nodePaths(e, p)...)
		}
	}
	return out
}

// withoutPath copies v with the value at path removed (a list element
// becomes null, keeping the indexes of the others).
func withoutPath(v any, path []any) any {
	if len(path) == 0 {
		return nil
	}
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = e
		}
		k, _ := path[0].(string)
		if len(path) == 1 {
			delete(out, k)
		} else if e, ok := x[k]; ok {
			out[k] = withoutPath(e, path[1:])
		}
		return out
	case []any:
		out := append([]any{}, x...)
		if i, ok := path[0].(int); ok && i < len(out) {
			out[i] = withoutPath(x[i], path[1:])
		}
		return out
	}
	return v
}

// unknownAt builds after_unknown with true at path.
func unknownAt(path []any) any {
	if len(path) == 0 {
		return true
	}
	switch k := path[0].(type) {
	case string:
		return map[string]any{k: unknownAt(path[1:])}
	case int:
		l := make([]any, k+1)
		for i := range l {
			l[i] = map[string]any{}
		}
		l[k] = unknownAt(path[1:])
		return l
	}
	return true
}

// mergeUnknown overlays b on the case's own after_unknown a.
func mergeUnknown(a map[string]any, b any) map[string]any {
	out := map[string]any{}
	for k, v := range a {
		out[k] = v
	}
	bm, _ := b.(map[string]any)
	for k, v := range bm {
		if am, ok := out[k].(map[string]any); ok {
			if vm, ok := v.(map[string]any); ok {
				out[k] = mergeUnknown(am, vm)
				continue
			}
		}
		out[k] = v
	}
	return out
}

// leaves flattens objects to dotted paths; lists are leaves.
func leaves(m map[string]any, prefix string) map[string]any {
	out := map[string]any{}
	for k, v := range m {
		if sub, ok := v.(map[string]any); ok {
			for p, e := range leaves(sub, prefix+k+".") {
				out[p] = e
			}
			continue
		}
		out[prefix+k] = v
	}
	return out
}

func TestAzureMappers(t *testing.T) { runMapperGolden(t, "azure") }

// TestMappersSurviveHostileValues feeds every mapper and joiner of the
// azure, google and openstack files values of the wrong shape: they must
// not panic and must still produce attributes of the declared kinds.
func TestMappersSurviveHostileValues(t *testing.T) {
	var cases []mapperCase
	for _, p := range []string{"azure", "google", "openstack"} {
		cases = append(cases, readCases(t, filepath.Join("testdata", p+"_mappers.json"))...)
	}
	mappers, joiners := registry()
	index := map[string]mapperCase{}
	for _, c := range cases {
		index[c.Address] = c
	}
	hostile := map[string]func(any) any{
		"numbers":     func(any) any { return int64(7) },
		"strings":     func(any) any { return "maybe" },
		"nulls":       func(any) any { return nil },
		"floats":      func(any) any { return 1e300 },
		"lists":       func(any) any { return []any{nil, "x", int64(3), map[string]any{}} },
		"empty lists": func(any) any { return []any{} },
		"maps":        func(any) any { return map[string]any{"0": []any{}} },
	}
	unknowns := map[string]map[string]any{
		"no unknowns":   nil,
		"odd unknowns":  {"a": "yes", "b": []any{true, "x"}, "c": map[string]any{"0": int64(1)}},
		"list unknowns": {"security_rule": []any{map[string]any{"protocol": true}}, "network_interface": []any{true}},
	}
	for _, c := range cases {
		for hname, h := range hostile {
			for uname, u := range unknowns {
				for _, depth := range []int{0, 1, 3} {
					values := deform(c.Values, h, depth)
					n := c
					n.Values = values
					n.Unknown = u
					name := fmt.Sprintf("%s/%s/%s/depth%d", c.Address, hname, uname, depth)
					func() {
						defer func() {
							if p := recover(); p != nil {
								t.Errorf("%s: panic: %v", name, p)
							}
						}()
						if m, ok := mappers[c.Type]; ok {
							if r := m(n.native()); r != nil {
								checkFields(t, name, r.Attributes(), inventory.Schemas[r.Type].Fields, "")
							}
							return
						}
						tc, ok := index[c.Target]
						if !ok {
							return
						}
						target := mappers[tc.Type](tc.native())
						if target == nil {
							return
						}
						joiners[c.Type].Apply(n.native(), target)
						checkFields(t, name, target.Attributes(), inventory.Schemas[target.Type].Fields, "")
					}()
				}
			}
		}
		// And nothing at all.
		func() {
			defer func() {
				if p := recover(); p != nil {
					t.Errorf("%s/empty: panic: %v", c.Address, p)
				}
			}()
			n := c
			n.Values = map[string]any{}
			if m, ok := mappers[c.Type]; ok {
				m(n.native())
			}
		}()
	}
}

// deform replaces the values below depth levels of nesting with h's.
func deform(v any, h func(any) any, depth int) map[string]any {
	out, _ := deformValue(v, h, depth).(map[string]any)
	if out == nil {
		out = map[string]any{}
	}
	return out
}

func deformValue(v any, h func(any) any, depth int) any {
	switch x := v.(type) {
	case map[string]any:
		if depth < 0 {
			return h(x)
		}
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = deformValue(e, h, depth-1)
		}
		return out
	case []any:
		if depth < 0 {
			return h(x)
		}
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = deformValue(e, h, depth-1)
		}
		return out
	}
	return h(v)
}

// parsePlan reads a plan from testdata through the reader, finalizes the
// estate and indexes its resources by address.
func parsePlan(t *testing.T, file string) (*inventory.Estate, map[string]*inventory.Resource) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", file))
	if err != nil {
		t.Fatal(err)
	}
	est, err := Parse(file, data)
	if err != nil {
		t.Fatalf("Parse(%s): %v", file, err)
	}
	est.Finalize()
	byAddr := map[string]*inventory.Resource{}
	for _, r := range est.Resources {
		byAddr[r.Address] = r
	}
	return est, byAddr
}

// planFact is one attribute a plan test expects; unknown expects the path
// marked unknown instead of a value.
type planFact struct {
	address, path string
	want          any
	unknown       bool
}

func checkPlanFacts(t *testing.T, rs map[string]*inventory.Resource, facts []planFact) {
	t.Helper()
	for _, f := range facts {
		r := rs[f.address]
		if r == nil {
			t.Errorf("%s: not in the estate", f.address)
			continue
		}
		if f.unknown {
			if !r.IsUnknown(f.path) {
				t.Errorf("%s: %s should be unknown", f.address, f.path)
			}
			continue
		}
		var got any
		switch f.path {
		case "region":
			got = r.Region
		case "jurisdiction.country":
			got = r.Jurisdiction.Country
		case "jurisdiction.eu":
			got = r.Jurisdiction.EU
		default:
			got, _ = r.Get(f.path)
		}
		if r.IsUnknown(f.path) || !reflect.DeepEqual(got, f.want) {
			t.Errorf("%s: %s = %v (unknown %v), want %v", f.address, f.path, got, r.IsUnknown(f.path), f.want)
		}
	}
}

// TestAzurePlan reads an azurerm plan end to end: split resources joined
// through configuration references (also inside a counted module), keys
// created in the same plan, regions and their jurisdiction.
func TestAzurePlan(t *testing.T) {
	est, rs := parsePlan(t, "azure.plan.json")
	checkPlanFacts(t, rs, []planFact{
		{address: "azurerm_storage_account.data", path: "public", want: true},
		{address: "azurerm_storage_account.data", path: "encryption.at_rest.key_manager", want: "customer"},
		{address: "azurerm_storage_account.data", path: "encryption.at_rest.key_id", unknown: true},
		{address: "azurerm_storage_account.data", path: "jurisdiction.country", want: "DE"},
		{address: "azurerm_storage_account.data", path: "jurisdiction.eu", want: true},
		{address: "module.logs.azurerm_storage_account.this[0]", path: "public", want: false},
		{address: "module.logs.azurerm_storage_account.this[0]", path: "region", want: "westeurope"},
		{address: "azurerm_linux_virtual_machine.cvm", path: "confidential_computing", want: "sev-snp"},
		{address: "azurerm_linux_virtual_machine.cvm", path: "public_ip", unknown: true},
		{address: "azurerm_virtual_network.hub", path: "flow_logs.enabled", want: true},
		{address: "azurerm_monitor_diagnostic_setting.activity", path: "enabled", want: true},
		{address: "azurerm_role_assignment.owner", path: "admin", want: true},
		{address: "azurerm_role_assignment.owner", path: "members", unknown: true},
	})
	ssh := false
	for _, rule := range must(rs["azurerm_network_security_group.web"].Get("rules")).([]any) {
		r := rule.(map[string]any)
		ssh = ssh || r["port_from"] == int64(22) && r["from_internet"] == true
	}
	if !ssh {
		t.Error("the joined ssh rule from the internet is missing from azurerm_network_security_group.web")
	}
	if len(est.Unsupported) != 1 || est.Unsupported[0].NativeType != "azurerm_resource_group" {
		t.Errorf("unsupported = %+v, want azurerm_resource_group counted", est.Unsupported)
	}
}

func must(v any, ok bool) any {
	if !ok {
		return nil
	}
	return v
}

// TestCatalogKnowsEveryMapper makes sure every azure, google and openstack
// mapper yields a resource for the catalog's empty probe, so the list of
// supported types is complete.
func TestCatalogKnowsEveryMapper(t *testing.T) {
	listed := map[string]bool{}
	for _, m := range Catalog() {
		listed[m.NativeType] = true
	}
	for _, table := range []map[string]mapper{azureMappers, googleMappers, openstackMappers} {
		for nt := range table {
			if !listed[nt] {
				t.Errorf("%s is missing from Catalog(): its mapper returns nil for empty values", nt)
			}
		}
	}
}

// BenchmarkMappers maps every golden case of the azure, google and
// openstack files (joiners applied) per iteration.
// go test ./internal/source/terraform -run '^$' -bench Mappers -benchmem
func BenchmarkMappers(b *testing.B) {
	t := &testing.T{}
	var cases []mapperCase
	for _, p := range []string{"azure", "google", "openstack"} {
		cases = append(cases, readCases(t, filepath.Join("testdata", p+"_mappers.json"))...)
	}
	mappers, joiners := registry()
	natives := make([]*native, len(cases))
	for i, c := range cases {
		natives[i] = c.native()
	}
	b.ReportAllocs()
	for b.Loop() {
		byAddr := make(map[string]*inventory.Resource, len(cases))
		for i, c := range cases {
			if m, ok := mappers[c.Type]; ok {
				if r := m(natives[i]); r != nil {
					byAddr[c.Address] = r
				}
			} else if target := byAddr[c.Target]; target != nil {
				joiners[c.Type].Apply(natives[i], target)
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(cases)), "ns/resource")
}
