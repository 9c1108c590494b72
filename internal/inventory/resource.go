package inventory

import (
	"encoding/json"
	"fmt"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
)

// Resource is one cloud or cluster object in normalized form. Type-specific
// settings live in Attrs, shaped by the schema of Type; the provider's own
// attributes are kept whole in Native so nothing the source knew is lost.
type Resource struct {
	Provider     string            `json:"provider"`
	Account      string            `json:"account,omitempty"`
	Region       string            `json:"region,omitempty"`
	Jurisdiction Jurisdiction      `json:"jurisdiction"`
	Type         string            `json:"type"`
	NativeType   string            `json:"native_type"`
	ID           string            `json:"id"`
	Address      string            `json:"address,omitempty"`
	Name         string            `json:"name,omitempty"`
	Tags         map[string]string `json:"tags,omitempty"`
	// Attrs holds the normalized attributes as nested maps whose values are
	// bool, string, int64, []any or map[string]any, as the schema declares.
	// The common fields are not in it: Value adds them. A resource that
	// starts without Attrs and whose type has a schema keeps them in slots
	// instead (slots.go); Attributes returns them as maps either way.
	Attrs map[string]any `json:"attributes"`
	// Unknown lists the dotted attribute paths whose values are not known
	// until apply. Rules that depend on them yield no verdict, never a pass or
	// a fail.
	Unknown []string       `json:"unknown,omitempty"`
	Native  map[string]any `json:"native,omitempty"`
	// NativeJSON holds the provider's attributes as the JSON they were read
	// from, when a source keeps them so rather than as Native: decoding
	// every resource's attributes costs more memory than the rest of a scan,
	// and few rules read them. EnsureNative decodes them on demand.
	NativeJSON []byte   `json:"-"`
	Source     Location `json:"location"`

	// finalized is set once jurisdiction holds the value rules read as
	// resource.jurisdiction.
	finalized    bool
	jurisdiction map[string]any
	// value is what Value built: Attrs with the common fields, made only
	// for a rule that runs on the resource.
	value map[string]any
	// layout and slots hold the attributes of a resource with slots, extra
	// what its type does not declare.
	layout *Layout
	slots  []any
	extra  map[string]any
}

// Location says where a resource was read from.
type Location struct {
	File string `json:"file,omitempty"`
	Line int    `json:"line,omitempty"`
	// Path is a JSON path into the file when no line is known.
	Path string `json:"path,omitempty"`
}

// String renders the location as file:line or file#path.
func (l Location) String() string {
	switch {
	case l.File == "":
		return l.Path
	case l.Line > 0:
		return l.File + ":" + strconv.Itoa(l.Line)
	case l.Path != "":
		return l.File + "#" + l.Path
	}
	return l.File
}

// Set stores value at the dotted path in Attrs, creating intermediate maps.
func (r *Resource) Set(path string, value any) {
	r.useSlots()
	if r.slots != nil {
		r.setSlot(path, value)
	} else {
		setPath(r.Attrs, path, value)
	}
	r.value = nil
}

// Attributes returns the normalized attributes as nested maps, without
// the common fields; built anew for a resource with slots, Attrs itself
// otherwise.
func (r *Resource) Attributes() map[string]any {
	if r.slots != nil {
		return r.attributes()
	}
	return r.Attrs
}

// NewAttrs makes the attribute map of a resource of the normalized type
// typ at its final size, the type's attributes. A map that grows on the
// way is rebuilt each time it doubles, which a large estate pays for
// every resource.
func NewAttrs(typ string) map[string]any {
	n := 20
	if s, ok := Schemas[typ]; ok {
		n = len(s.Fields)
	}
	return make(map[string]any, n)
}

// Get returns the attribute at the dotted path.
func (r *Resource) Get(path string) (any, bool) {
	if r.slots != nil {
		return r.getSlot(path)
	}
	return getPath(r.Attrs, path)
}

// SetUnknown marks the dotted attribute path as not known before apply.
func (r *Resource) SetUnknown(path string) {
	for _, u := range r.Unknown {
		if u == path {
			return
		}
	}
	r.Unknown = append(r.Unknown, path)
}

// IsUnknown reports whether path, or a parent of it, is marked unknown.
func (r *Resource) IsUnknown(path string) bool {
	for _, u := range r.Unknown {
		if u == path || strings.HasPrefix(path, u+".") {
			return true
		}
	}
	return false
}

// commonKeys are the names Value adds to the attribute map. No normalized
// type declares an attribute of these names.
var commonKeys = []string{"provider", "account", "region", "jurisdiction", "type", "native_type", "id", "address", "name", "tags", "native"}

// Value returns the object rules see as `resource`: the normalized
// attributes with the common fields merged in. It is built on the first
// call, for a rule that runs on the resource: most rules' verdicts are
// reused from resources with the same settings (the rules engine), which
// read single attributes (Lookup, Common), and a large estate spent more
// on merging eleven fields into every resource's map, and on the larger
// maps, than on anything else in finalizing it.
func (r *Resource) Value() map[string]any {
	if !r.finalized {
		r.finalize(nil)
	}
	if r.value == nil {
		attrs := r.Attrs
		if r.slots != nil {
			attrs = r.attributes()
		}
		v := make(map[string]any, len(attrs)+len(commonKeys))
		for k, x := range attrs {
			v[k] = x
		}
		for _, k := range commonKeys {
			v[k], _ = r.Common(k)
		}
		r.value = v
	}
	return r.value
}

// Common returns the value rules read as resource.<key> for a common
// field; ok is false when key names none.
func (r *Resource) Common(key string) (v any, ok bool) {
	if s, ok := r.CommonString(key); ok {
		return s, true
	}
	switch key {
	case "jurisdiction":
		if !r.finalized {
			r.finalize(nil)
		}
		return r.jurisdiction, true
	case "tags":
		if r.Tags == nil {
			return noTags, true
		}
		return r.Tags, true
	case "native":
		if r.Native == nil {
			return noNative, true
		}
		return r.Native, true
	}
	return nil, false
}

// CommonString is Common for the common fields that are strings, without
// boxing the string; ok is false for any other key.
func (r *Resource) CommonString(key string) (s string, ok bool) {
	switch key {
	case "provider":
		return r.Provider, true
	case "account":
		return r.Account, true
	case "region":
		return r.Region, true
	case "type":
		return r.Type, true
	case "native_type":
		return r.NativeType, true
	case "id":
		return r.ID, true
	case "address":
		return r.Address, true
	case "name":
		return r.Name, true
	}
	return "", false
}

// Lookup returns the value rules read at the dotted path below
// `resource`, common fields included, and whether there is one.
func (r *Resource) Lookup(path string) (any, bool) {
	head, rest, nested := strings.Cut(path, ".")
	if v, ok := r.Common(head); ok {
		if !nested {
			return v, true
		}
		// As in CEL's view of a select path: only objects have members
		// (tags are a map of strings, indexed, never selected into).
		if m, ok := v.(map[string]any); ok {
			return getPath(m, rest)
		}
		return nil, false
	}
	if r.slots != nil {
		return r.getSlot(path)
	}
	return getPath(r.Attrs, path)
}

// noTags and noNative are what rules read for a resource without tags or
// native attributes: shared, so never written (rules only read).
var (
	noTags   = map[string]string{}
	noNative = map[string]any{}
)

// finalizeCache keeps what one worker of Finalize shares between
// resources: the jurisdiction objects.
type finalizeCache struct {
	jurisdictions map[Jurisdiction]map[string]any
}

func (r *Resource) finalize(c *finalizeCache) {
	r.useSlots()
	var j map[string]any
	ok := false
	if c != nil {
		j, ok = c.jurisdictions[r.Jurisdiction]
	}
	if !ok {
		j = r.Jurisdiction.value()
		if c != nil {
			c.jurisdictions[r.Jurisdiction] = j
		}
	}
	r.jurisdiction, r.value = j, nil
	r.finalized = true
}

// EnsureNative decodes NativeJSON into Native if that has not happened yet,
// so that `resource.native` reads the provider's attributes.
func (r *Resource) EnsureNative() error {
	if r.Native != nil || len(r.NativeJSON) == 0 {
		return nil
	}
	var m map[string]any
	if err := json.Unmarshal(r.NativeJSON, &m); err != nil {
		return fmt.Errorf("decoding the native attributes of %s: %w", r.Address, err)
	}
	r.Native = m
	if r.value != nil {
		r.value["native"] = m
	}
	return nil
}

// MarshalJSON writes the resource with only the normalized attributes under
// "attributes"; the common fields stand at the top level.
func (r *Resource) MarshalJSON() ([]byte, error) {
	type plain Resource
	c := *r
	if c.slots != nil {
		c.Attrs, c.slots = c.attributes(), nil
	}
	if c.Native == nil && len(c.NativeJSON) > 0 {
		return marshalWithRawNative(&c)
	}
	return json.Marshal((*plain)(&c))
}

// marshalWithRawNative writes a resource whose native attributes are still
// the JSON they were read from, without decoding them.
func marshalWithRawNative(r *Resource) ([]byte, error) {
	raw := json.RawMessage(r.NativeJSON)
	r.NativeJSON = nil
	b, err := r.MarshalJSON()
	if err != nil {
		return nil, err
	}
	// b ends with the object's closing brace; native goes before it.
	out := make([]byte, 0, len(b)+len(raw)+12)
	out = append(out, b[:len(b)-1]...)
	out = append(out, `,"native":`...)
	out = append(out, raw...)
	return append(out, '}'), nil
}

// ReleaseNative drops every resource's native attributes, and with them the
// input they were read from, once nothing will read them again: a scan
// needs them only while rules evaluate, and no report shows them.
func (e *Estate) ReleaseNative() {
	for _, r := range e.Resources {
		r.Native, r.NativeJSON = nil, nil
		if r.value != nil {
			r.value["native"] = noNative
		}
	}
}

// ReleaseAttributes drops every resource's attributes, normalized and
// native, once the rules have read them: no report shows them, and on a
// large estate they are half of what a scan holds while it writes its
// report. The common fields (provider, region, address, ...) stay.
func (e *Estate) ReleaseAttributes() {
	for _, r := range e.Resources {
		r.Attrs, r.Native, r.NativeJSON, r.finalized = nil, nil, nil, false
		r.jurisdiction, r.value = nil, nil
		r.layout, r.slots, r.extra = nil, nil, nil
	}
}

// Estate is everything one scan sees: the normalized resources, what could
// not be modelled, and the inputs that failed to read.
type Estate struct {
	Resources   []*Resource   `json:"resources"`
	Unsupported []Unsupported `json:"unsupported,omitempty"`
	Inputs      []Input       `json:"inputs"`
}

// Unsupported is a native type hoheit does not model yet, with how often it
// was seen. It is reported, never dropped silently.
type Unsupported struct {
	Provider   string   `json:"provider"`
	NativeType string   `json:"native_type"`
	Count      int      `json:"count"`
	Examples   []string `json:"examples,omitempty"`
}

// Input is one file (or stdin) a scan read, with its detected kind and the
// error that stopped it, if any.
type Input struct {
	Path      string `json:"path"`
	Kind      string `json:"kind,omitempty"`
	Resources int    `json:"resources"`
	Error     string `json:"error,omitempty"`
	// Skipped says why a file found in a directory was not read: it is
	// well-formed but no plan, state, manifest or snapshot.
	Skipped string `json:"skipped,omitempty"`
}

// Add appends resources to the estate.
func (e *Estate) Add(rs ...*Resource) { e.Resources = append(e.Resources, rs...) }

// AddUnsupported counts one resource of a type hoheit does not model.
func (e *Estate) AddUnsupported(provider, nativeType, example string) {
	for i := range e.Unsupported {
		u := &e.Unsupported[i]
		if u.Provider == provider && u.NativeType == nativeType {
			u.Count++
			if len(u.Examples) < 3 && example != "" {
				u.Examples = append(u.Examples, example)
			}
			return
		}
	}
	u := Unsupported{Provider: provider, NativeType: nativeType, Count: 1}
	if example != "" {
		u.Examples = []string{example}
	}
	e.Unsupported = append(e.Unsupported, u)
}

// Merge moves everything from other into e.
func (e *Estate) Merge(other *Estate) {
	e.Resources = append(e.Resources, other.Resources...)
	for _, u := range other.Unsupported {
		for i := 0; i < u.Count; i++ {
			ex := ""
			if i < len(u.Examples) {
				ex = u.Examples[i]
			}
			e.AddUnsupported(u.Provider, u.NativeType, ex)
		}
	}
	e.Inputs = append(e.Inputs, other.Inputs...)
}

// Finalize fills every attribute the schema declares but a source left out
// with its zero value, looks up jurisdictions, sorts the unsupported list and
// builds the values rules read. Call it once, after all sources have run.
func (e *Estate) Finalize() {
	// Resources are independent: large estates are finalized on every
	// core, each worker with its own caches.
	inChunks(e.Resources, func(rs []*Resource) {
		cache := &finalizeCache{jurisdictions: map[Jurisdiction]map[string]any{}}
		type place struct{ provider, region string }
		type found struct {
			j  Jurisdiction
			ok bool
		}
		places := map[place]found{}
		for _, r := range rs {
			pl := place{r.Provider, r.Region}
			f, seen := places[pl]
			if !seen {
				f.j, f.ok = LookupJurisdiction(r.Provider, r.Region)
				places[pl] = f
			}
			if f.ok && !r.Jurisdiction.Known {
				r.Jurisdiction = f.j
			}
			r.useSlots()
			if r.slots != nil {
				r.fillSlots()
			} else if s, ok := Schemas[r.Type]; ok {
				s.Fill(r.Attrs, func(m map[string]any) { r.Attrs = m })
			}
			r.finalize(cache)
		}
	})
	sort.Slice(e.Unsupported, func(i, j int) bool {
		a, b := e.Unsupported[i], e.Unsupported[j]
		if a.Count != b.Count {
			return a.Count > b.Count
		}
		return a.Provider+a.NativeType < b.Provider+b.NativeType
	})
}

// Touch reads the resources rs and the headers of their attribute maps,
// for a loop over a large estate to call a few resources ahead of where
// it works: each resource lies somewhere else in memory, and reading
// several together overlaps the waits that reading them one at a time
// would line up. It returns a number only so that the reads happen.
func Touch(rs []*Resource) int {
	n := 0
	for _, r := range rs {
		n += len(r.Type) + len(r.Attrs) + len(r.slots)
	}
	return n
}

// inChunks calls fn on one share of rs per core, in parallel, when there
// are enough resources to be worth it.
func inChunks(rs []*Resource, fn func([]*Resource)) {
	workers := runtime.GOMAXPROCS(0)
	if len(rs) < 8192 || workers == 1 {
		fn(rs)
		return
	}
	chunk := (len(rs) + workers - 1) / workers
	var wg sync.WaitGroup
	for lo := 0; lo < len(rs); lo += chunk {
		wg.Add(1)
		go func() {
			defer wg.Done()
			fn(rs[lo:min(lo+chunk, len(rs))])
		}()
	}
	wg.Wait()
}

func setPath(m map[string]any, path string, value any) {
	for {
		i := strings.IndexByte(path, '.')
		if i < 0 {
			m[path] = value
			return
		}
		next, ok := m[path[:i]].(map[string]any)
		if !ok {
			next = map[string]any{}
			m[path[:i]] = next
		}
		m, path = next, path[i+1:]
	}
}

func getPath(m map[string]any, path string) (any, bool) {
	for {
		i := strings.IndexByte(path, '.')
		if i < 0 {
			v, ok := m[path]
			return v, ok
		}
		next, ok := m[path[:i]].(map[string]any)
		if !ok {
			return nil, false
		}
		m, path = next, path[i+1:]
	}
}
