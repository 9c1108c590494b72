package inventory

import (
	"sort"
	"strings"
)

// Kind is the type of one attribute in the normalized model.
type Kind int

// The attribute kinds. They map one to one onto CEL types.
const (
	Bool Kind = iota
	String
	Int
	StringList
	StringMap
	Object
	ObjectList
	Dyn
)

func (k Kind) String() string {
	return [...]string{"bool", "string", "int", "list(string)", "map(string, string)", "object", "list(object)", "dyn"}[k]
}

// Field is one attribute of a normalized type.
type Field struct {
	Name string
	Kind Kind
	Doc  string
	// Enum lists the allowed values of a String field, if fixed.
	Enum []string
	// Fields are the members of an Object or of each ObjectList element.
	Fields []*Field
}

// Schema declares one normalized type: its attributes and the native types
// of each provider that map onto it.
type Schema struct {
	Type   string
	Doc    string
	Fields []*Field
}

// Common are the attributes every resource has, whatever its type.
var Common = []*Field{
	{Name: "provider", Kind: String, Doc: "cloud or platform", Enum: Providers},
	{Name: "account", Kind: String, Doc: "AWS account, Azure subscription, Google Cloud project, OpenStack project or Kubernetes cluster"},
	{Name: "region", Kind: String, Doc: "provider region (empty for global resources)"},
	{Name: "jurisdiction", Kind: Object, Doc: "where the region is, from hoheit's region table", Fields: []*Field{
		{Name: "country", Kind: String, Doc: "ISO 3166-1 alpha-2 country code, empty if unknown"},
		{Name: "eu", Kind: Bool, Doc: "the country is an EU member state"},
		{Name: "eea", Kind: Bool, Doc: "the country is in the European Economic Area"},
		{Name: "adequacy", Kind: Bool, Doc: "EU/EEA, or a country with an EU adequacy decision (GDPR Art. 45)"},
		{Name: "known", Kind: Bool, Doc: "the region was found in the table"},
	}},
	{Name: "type", Kind: String, Doc: "normalized type"},
	{Name: "native_type", Kind: String, Doc: "provider type, e.g. aws_s3_bucket"},
	{Name: "id", Kind: String, Doc: "provider id, or the Terraform address before apply"},
	{Name: "address", Kind: String, Doc: "Terraform address or Kubernetes kind/namespace/name"},
	{Name: "name", Kind: String, Doc: "display name"},
	{Name: "tags", Kind: StringMap, Doc: "tags or labels"},
	{Name: "native", Kind: Dyn, Doc: "the provider's attributes, unchanged"},
}

// Providers are the values of the provider attribute.
var Providers = []string{"aws", "azure", "gcp", "openstack", "otc", "stackit", "ionos", "kubernetes"}

// KeyManagers are the values of encryption.at_rest.key_manager: who holds the key.
var KeyManagers = []string{"none", "provider", "customer", "external"}

// Lookup returns the field at a dotted path below the type's attributes,
// including the common ones.
func (s *Schema) Lookup(path string) (*Field, bool) {
	fields := s.all()
	var f *Field
	for _, part := range strings.Split(path, ".") {
		f = find(fields, part)
		if f == nil {
			return nil, false
		}
		fields = f.Fields
	}
	return f, f != nil
}

func (s *Schema) all() []*Field { return append(append([]*Field{}, Common...), s.Fields...) }

// Paths lists every dotted attribute path of the type, the common ones
// included, for suggestions and documentation.
func (s *Schema) Paths() []string {
	var out []string
	var walk func(prefix string, fs []*Field)
	walk = func(prefix string, fs []*Field) {
		for _, f := range fs {
			p := prefix + f.Name
			out = append(out, p)
			if f.Kind == Object {
				walk(p+".", f.Fields)
			}
		}
	}
	walk("", s.all())
	sort.Strings(out)
	return out
}

// Fill sets every field the schema declares but m lacks to its zero value,
// so a rule never fails on a missing key. set receives m if it had to be
// created.
func (s *Schema) Fill(m map[string]any, set func(map[string]any)) {
	if m == nil {
		m = NewAttrs(s.Type)
		set(m)
	}
	fill(m, s.Fields)
}

func fill(m map[string]any, fs []*Field) {
	for _, f := range fs {
		v, ok := m[f.Name]
		if !ok || v == nil {
			m[f.Name] = zero(f)
			continue
		}
		switch f.Kind {
		case Object:
			if sub, ok := v.(map[string]any); ok {
				fill(sub, f.Fields)
			}
		case ObjectList:
			if l, ok := v.([]any); ok {
				for _, e := range l {
					if sub, ok := e.(map[string]any); ok {
						fill(sub, f.Fields)
					}
				}
			}
		}
	}
}

func zero(f *Field) any {
	switch f.Kind {
	case Bool:
		return false
	case String:
		if len(f.Enum) > 0 {
			// The first value of an enum is its neutral one (none, ...).
			return f.Enum[0]
		}
		return ""
	case Int:
		return int64(0)
	case StringList, ObjectList:
		return []any{}
	case StringMap:
		return map[string]any{}
	case Object:
		m := map[string]any{}
		fill(m, f.Fields)
		return m
	}
	return nil
}

func find(fs []*Field, name string) *Field {
	for _, f := range fs {
		if f.Name == name {
			return f
		}
	}
	return nil
}

// TypeNames lists the normalized types in order.
func TypeNames() []string {
	out := make([]string, 0, len(Schemas))
	for t := range Schemas {
		out = append(out, t)
	}
	sort.Strings(out)
	return out
}
