package terraform

import (
	"strings"

	"github.com/hoheit/hoheit/internal/inventory"
)

// native is one resource as `terraform show -json` presents it, with the
// parts of the plan that concern it gathered in one place.
type native struct {
	Address string
	Type    string // e.g. aws_s3_bucket
	Name    string
	// Provider is the provider's short name: aws, azurerm, google,
	// openstack, opentelekomcloud.
	Provider string
	// Values are the planned (or state) attribute values, when decoded;
	// the reader leaves them in the file instead (obj) until trim keeps
	// the few later steps read. Read them with get and lookup.
	Values map[string]any
	obj    *object
	// nav, while a worker maps the resource, remembers the blocks of obj
	// that lookups stepped into; nil otherwise.
	nav *nav
	// Unknown mirrors Values' shape with true where the value is known only
	// after apply (the plan's change.after_unknown). The reader leaves it
	// in the file instead (unk) until trim keeps what later steps read;
	// read it with unknown and unknownBelow.
	Unknown map[string]any
	unk     *object
	// Config holds the configuration's expressions for this resource:
	// attribute -> {"references": [...]} or {"constant_value": ...}. The
	// reader leaves them in the file instead (lazy, rawConfig).
	Config map[string]any
	lazy   lazyConfig
	// Region is the region from the provider configuration, used when the
	// resource has no region or location of its own.
	Region   string
	Location inventory.Location

	// account is the account the provider configuration names, if any
	// (see providerSettings), for resources whose values do not say.
	account string

	// groupKeys, once groupKeysRead, are the keys of the security groups
	// a resource of an attaching type names (groupKeys).
	groupKeys     []string
	groupKeysRead bool

	// outputs holds the configuration's module outputs (module path
	// without instance keys -> output name -> its references), so a
	// reference to module.kms.key_arn leads to the resource behind it.
	outputs map[string]map[string][]any
	// inputs holds the arguments of module calls the same way (module path
	// -> variable name -> references in the calling module), so var.key_arn
	// inside a module leads to the key its caller passes.
	inputs map[string]map[string][]any
}

// mapper turns a native resource of one type into a normalized resource. It
// returns nil for a native resource that is only a part of another (those
// are handled by a joiner). It must set Type and the attributes; the reader
// fills the common fields it leaves empty (Provider, NativeType, ID, Address,
// Name, Tags, Native, Source, Region, Account). Mappers run concurrently and
// must not share mutable state.
type mapper func(n *native) *inventory.Resource

// joiner merges a resource that Terraform splits off (such as
// aws_s3_bucket_versioning) onto the normalized resource it configures.
type joiner struct {
	// Target is the normalized type the joined resource configures.
	Target string
	// Ref is the attribute of the split resource that names its target
	// (bucket, storage_account_id, ...). The reader resolves it by value,
	// or through the configuration's references when the value is unknown.
	Ref string
	// AlsoRefs are further attributes that name the target, tried in order
	// when Ref does not resolve: a provider's older or alternative spelling
	// (azurerm_storage_container's storage_account_name before v4).
	AlsoRefs []string
	// Apply copies the split resource's settings onto the target.
	Apply func(n *native, target *inventory.Resource)
	// Natives optionally restricts the target to these native types (an
	// aws_iam_user_login_profile configures an aws_iam_user, not a role of
	// the same name); empty means any native type of Target.
	Natives []string
}

// lazyConfig is where a resource's configuration expressions are in the
// file: they are as large as the planned values and only asked a few
// questions, which rawValue answers where they lie. The reader validates
// them as strictly as decoding would when it finds them.
type lazyConfig struct {
	data []byte
	at   span
	// keep, when set, are the only keys kept (see trim).
	keep []string
}

// rawConfig returns the configuration expressions in the file, ok false
// when they are decoded in Config instead or there are none.
func (n *native) rawConfig() (rawValue, bool) {
	if n.lazy.data == nil {
		return rawValue{}, false
	}
	return rawValue{data: n.lazy.data, at: n.lazy.at, keep: n.lazy.keep, nav: n.nav}, true
}

// get returns the top-level attribute key, nil if absent.
func (n *native) get(key string) any {
	if n.obj != nil {
		v, _ := n.obj.get(key)
		return v
	}
	return n.Values[key]
}

// lookupUnknown returns what after_unknown holds at a dotted path, nil if
// nothing.
func (n *native) lookupUnknown(path string) any {
	if n.unk != nil {
		k, rest := cutDot(path)
		return lookup(n.unk.unknownAt(k), rest)
	}
	return lookup(n.Unknown, path)
}

// lookup returns the value at a dotted path of the planned values, nil if
// absent.
func (n *native) lookup(path string) any {
	k, rest := cutDot(path)
	if rest != "" {
		// Into a block still in the file: navigate there and decode only
		// what the path names, not the whole block.
		if raw, ok := n.obj.rawAt(k); ok {
			raw.nav = n.nav
			if sub, ok := raw.lookup(rest); ok {
				return decodeRaw(sub)
			}
			return nil
		}
	}
	return lookup(n.get(k), rest)
}

// str returns the string at a path such as "versioning.0.enabled"; nested
// blocks are lists in Terraform's JSON, addressed by index.
func (n *native) str(path string) string {
	s, _ := n.lookup(path).(string)
	return s
}

// strings returns the string, or the strings of the list, at path.
func (n *native) strings(path string) []string {
	switch v := n.lookup(path).(type) {
	case string:
		if v != "" {
			return []string{v}
		}
	case []any:
		var out []string
		for _, e := range v {
			if s, ok := e.(string); ok && s != "" {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

// boolean returns the bool at path, false if absent.
func (n *native) boolean(path string) bool {
	b, _ := n.lookup(path).(bool)
	return b
}

// number returns the number at path as int64, 0 if absent.
func (n *native) number(path string) int64 {
	switch v := n.lookup(path).(type) {
	case float64:
		return int64(v)
	case int64:
		return v
	case int:
		return int64(v)
	}
	return 0
}

// list returns the list at path, nil if absent.
func (n *native) list(path string) []any {
	l, _ := n.lookup(path).([]any)
	return l
}

// has reports whether path is present and not null; a top-level block is
// not decoded to tell.
func (n *native) has(path string) bool {
	if n.obj != nil && !strings.Contains(path, ".") {
		f := n.obj.last(path)
		return f != nil && (f.at.ok() || f.v != nil)
	}
	return n.lookup(path) != nil
}

// unknown reports whether the value at path (or a parent block) is known
// only after apply.
func (n *native) unknown(path string) bool {
	var cur any = n.Unknown
	if n.unk != nil {
		// The first step is taken in the located object; a false or a
		// subtree without a true answers "known".
		var k string
		k, path = cutDot(path)
		if cur = n.unk.unknownAt(k); cur == nil {
			return false
		}
	}
	for path != "" {
		if b, ok := cur.(bool); ok {
			return b
		}
		var p string
		p, path = cutDot(path)
		cur = step(cur, p)
		if cur == nil {
			return false
		}
	}
	b, _ := cur.(bool)
	return b
}

func lookup(v any, path string) any {
	for path != "" {
		var p string
		p, path = cutDot(path)
		v = step(v, p)
		if v == nil {
			return nil
		}
	}
	return v
}

// cutDot splits the first segment off a dotted path.
func cutDot(path string) (string, string) {
	if i := strings.IndexByte(path, '.'); i >= 0 {
		return path[:i], path[i+1:]
	}
	return path, ""
}

func step(v any, key string) any {
	switch c := v.(type) {
	case map[string]any:
		return c[key]
	case []any:
		i := 0
		for _, ch := range key {
			if ch < '0' || ch > '9' {
				return nil
			}
			i = i*10 + int(ch-'0')
		}
		if key == "" || i >= len(c) {
			return nil
		}
		return c[i]
	}
	return nil
}

// configured reports whether the configuration sets the attribute or
// nested block at path ("metadata_options", "root_block_device.0.kms_key_id")
// at all. Without a configuration (state files) it reports true: nothing can
// be inferred from absence then.
func (n *native) configured(path string) bool {
	if raw, ok := n.rawConfig(); ok {
		cur := raw
		for _, p := range strings.Split(path, ".") {
			if cur.kind() == '{' && (cur.has("constant_value") || cur.has("references")) {
				return true
			}
			if cur, ok = cur.step(p); !ok {
				return false
			}
		}
		return true
	}
	if n.Config == nil {
		return true
	}
	var cur any = n.Config
	for _, p := range strings.Split(path, ".") {
		if m, ok := cur.(map[string]any); ok {
			// An expression (constant or references) configures everything
			// below it.
			if _, ok := m["constant_value"]; ok {
				return true
			}
			if _, ok := m["references"]; ok {
				return true
			}
		}
		cur = step(cur, p)
		if cur == nil {
			return false
		}
	}
	return true
}

// markUnknown marks attr unknown on r if any of the native paths is known
// only after apply, and reports whether it did. Mappers call it before
// setting attr, so an unknown value is never read as false or empty.
func (n *native) markUnknown(r *inventory.Resource, attr string, paths ...string) bool {
	for _, p := range paths {
		if n.unknown(p) {
			r.SetUnknown(attr)
			return true
		}
	}
	return false
}

// reference returns the address of the first managed resource the
// configuration expression of attr (a path such as
// "rule.0.apply_server_side_encryption_by_default.0.kms_master_key_id",
// nested blocks being lists in the configuration too) refers to, with the
// module instance path of n (module.a["x"].aws_kms_key.main), following
// module outputs; "" if it refers to none.
func (n *native) reference(attr string) string {
	for _, t := range n.references(attr) {
		return t.block + t.index
	}
	return ""
}

// refTarget is a resource block (module path included) and the instance key
// a reference names, "" if it names none.
type refTarget struct{ block, index string }

// references resolves every reference of attr's expression that leads to a
// managed resource.
func (n *native) references(attr string) []refTarget {
	var refs []any
	if raw, ok := n.rawConfig(); ok {
		if expr, ok := raw.lookup(attr); ok && expr.kind() == '{' {
			if r, ok := expr.member("references"); ok {
				for _, s := range r.strings() {
					refs = append(refs, s)
				}
			}
		}
	} else {
		expr, _ := lookup(n.Config, attr).(map[string]any)
		refs, _ = expr["references"].([]any)
	}
	if len(refs) == 0 {
		return nil
	}
	module, _ := splitAddress(n.Address)
	var out []refTarget
	for _, ref := range refs {
		s, _ := ref.(string)
		out = resolveRef(s, module, moduleRefs{n.outputs, n.inputs}, out, 0)
	}
	return out
}

// moduleRefs are the references of the configuration's module outputs and
// module call arguments (inputs), by module path without instance keys and
// name.
type moduleRefs struct {
	outputs, inputs map[string]map[string][]any
}

// resolveRef appends the resource a reference made in module names; a
// module output is followed to the references of its expression, a
// variable inside a module to those of the argument its caller passes.
func resolveRef(ref, module string, m moduleRefs, out []refTarget, depth int) []refTarget {
	parts := splitDots(ref)
	if len(parts) >= 3 && parts[0] == "module" && depth < 16 {
		child := "module." + parts[1]
		if module != "" {
			child = module + "." + child
		}
		for _, r := range m.outputs[configAddress(child)][parts[2]] {
			s, _ := r.(string)
			out = resolveRef(s, child, m, out, depth+1)
		}
		return out
	}
	if len(parts) >= 2 && parts[0] == "var" && module != "" && depth < 16 {
		parent := ""
		if i := strings.LastIndex(module, ".module."); i >= 0 {
			parent = module[:i]
		}
		for _, r := range m.inputs[configAddress(module)][parts[1]] {
			s, _ := r.(string)
			out = resolveRef(s, parent, m, out, depth+1)
		}
		return out
	}
	block, index, ok := refResource(ref)
	if !ok {
		return out
	}
	if module != "" {
		block = module + "." + block
	}
	for _, t := range out {
		if t.block == block && t.index == index {
			return out
		}
	}
	return append(out, refTarget{block, index})
}

// setKnown stores value at the normalized path and drops an unknown mark
// an earlier, less certain source left there: a joiner's known setting
// overrides the target's computed inline value.
func setKnown(r *inventory.Resource, path string, value any) {
	for i, u := range r.Unknown {
		if u == path {
			r.Unknown = append(r.Unknown[:i:i], r.Unknown[i+1:]...)
			break
		}
	}
	r.Set(path, value)
}

// tagsAt is tagsOf(n.get(key)), with an object still in the file read
// straight into the map of strings: tags are on nearly every resource, and
// decoding them into a map of values first, only to copy their strings,
// was a tenth of a large plan's allocations.
func (n *native) tagsAt(key string) map[string]string {
	if out, members, ok := n.rawStringMap(key); ok {
		if members == 0 {
			return nil
		}
		return out
	}
	return tagsOf(n.get(key))
}

// rawStringMap reads the object at key, if it is still in the file, into
// a map of its string members; members counts all of them, strings or
// not. ok is false when key is not such an object: the caller decodes it
// as usual.
func (n *native) rawStringMap(key string) (out map[string]string, members int, ok bool) {
	if n.obj == nil {
		return nil, 0, false
	}
	raw, isRaw := n.obj.rawAt(key)
	if !isRaw || raw.data[raw.at.start] != '{' {
		return nil, 0, false
	}
	d := lazyDecoders.Get().(*decoder)
	defer func() {
		d.reset(nil, 0)
		lazyDecoders.Put(d)
	}()
	d.reset(raw.data[raw.at.start:raw.at.end], raw.at.start)
	d.depth = raw.at.depth
	err := d.fields(func(kb []byte) error {
		k := d.key(kb)
		members++
		if d.peek() != '"' {
			// Not a string: not a tag, as in tagsOf; a later string of
			// the same key still wins, an earlier one is dropped as a
			// map keeps the last.
			delete(out, k)
			return d.validate()
		}
		b, err := d.rawString()
		if err != nil {
			return err
		}
		if out == nil {
			out = make(map[string]string, 8)
		}
		out[k] = d.key(b)
		return nil
	})
	if err != nil {
		// Checked when indexed: decode it as usual, which fails alike.
		return nil, 0, false
	}
	if members > 0 && out == nil {
		out = map[string]string{}
	}
	return out, members, true
}
