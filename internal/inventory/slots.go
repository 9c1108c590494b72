package inventory

import "strings"

// A resource of a normalized type with a schema keeps its attributes in
// slots, one per attribute that is not an object (an object is its
// members), in the order of the type's layout, rather than in nested
// maps: setting, filling and reading an attribute is an index, where each
// level of a nested map was an allocation on the way in and a hashed
// lookup (most often a cache miss) on every read. Rules read single
// attributes (the verdict keys of the rules engine, evidence); only a rule
// that runs, a report of the estate or a test sees the nested maps, built
// then (Attributes).

// Layout places the attributes of one normalized type in slots.
type Layout struct {
	fields []*Field // by slot
	paths  []string // dotted path, by slot
	slot   map[string]int
	// objects are the dotted paths of objects, with the slots below each.
	objects map[string][]int
	root    layoutNode
}

// layoutNode is one attribute of a layout: a slot, or an object with
// members.
type layoutNode struct {
	name    string
	slot    int // -1 for an object
	members []*layoutNode
}

// layouts holds a layout for every normalized type of the schema.
var layouts = func() map[string]*Layout {
	out := make(map[string]*Layout, len(Schemas))
	for typ, s := range Schemas {
		l := &Layout{slot: map[string]int{}, objects: map[string][]int{}, root: layoutNode{slot: -1}}
		l.add(&l.root, "", s.Fields)
		out[typ] = l
	}
	return out
}()

func (l *Layout) add(n *layoutNode, prefix string, fs []*Field) []int {
	var below []int
	for _, f := range fs {
		path := prefix + f.Name
		c := &layoutNode{name: f.Name, slot: -1}
		n.members = append(n.members, c)
		if f.Kind == Object {
			slots := l.add(c, path+".", f.Fields)
			l.objects[path] = slots
			below = append(below, slots...)
			continue
		}
		c.slot = len(l.fields)
		l.fields = append(l.fields, f)
		l.paths = append(l.paths, path)
		l.slot[path] = c.slot
		below = append(below, c.slot)
	}
	return below
}

// LayoutOf returns the layout of the normalized type typ, nil for a type
// without a schema.
func LayoutOf(typ string) *Layout { return layouts[typ] }

// Slot returns the slot of the attribute at the dotted path, and whether
// the path names an object instead (its members have slots); slot is -1
// for an object and for anything the type does not declare.
func (l *Layout) Slot(path string) (slot int, object bool) {
	if i, ok := l.slot[path]; ok {
		return i, false
	}
	_, object = l.objects[path]
	return -1, object
}

// nilValue stands in a slot for an attribute set to nil, which is set
// (Get finds it) where an empty slot is not.
type nilValue struct{}

func fromSlot(v any) (any, bool) {
	switch v.(type) {
	case nil:
		return nil, false
	case nilValue:
		return nil, true
	}
	return v, true
}

func toSlot(v any) any {
	if v == nil {
		return nilValue{}
	}
	return v
}

// useSlots gives a resource without attributes the slots of its type, if
// it has a layout.
func (r *Resource) useSlots() {
	if r.Attrs == nil && r.slots == nil {
		if l := layouts[r.Type]; l != nil {
			r.layout, r.slots = l, make([]any, len(l.fields))
		} else {
			r.Attrs = NewAttrs(r.Type)
		}
	}
}

// SlotValue returns the value in slot i of a resource that keeps its
// attributes in slots (LayoutOf its type), and whether it is set.
func (r *Resource) SlotValue(i int) (any, bool) {
	if r.slots == nil {
		return nil, false
	}
	return fromSlot(r.slots[i])
}

// Layout returns the layout of a resource with slots, nil for one that
// keeps its attributes in Attrs.
func (r *Resource) Layout() *Layout {
	if r.slots == nil {
		return nil
	}
	return r.layout
}

// setSlot is Set for a resource with slots.
func (r *Resource) setSlot(path string, value any) {
	l := r.layout
	if i, ok := l.slot[path]; ok {
		r.slots[i] = toSlot(value)
		return
	}
	if _, ok := l.objects[path]; ok {
		// A whole object (no mapper sets one): from here on the resource
		// keeps nested maps, where the value is what it is, shared with
		// the caller, as a map or not.
		r.toMaps()
		setPath(r.Attrs, path, value)
		return
	}
	// Below an attribute that holds a map (a map of strings, the provider's
	// own): into that map, made if need be.
	for i := strings.LastIndexByte(path, '.'); i > 0; i = strings.LastIndexByte(path[:i], '.') {
		if s, ok := l.slot[path[:i]]; ok {
			m, isMap := r.slots[s].(map[string]any)
			if !isMap {
				m = map[string]any{}
				r.slots[s] = m
			}
			setPath(m, path[i+1:], value)
			return
		}
	}
	r.setExtra(path, value)
}

// toMaps turns a resource with slots into one with nested maps (Attrs).
func (r *Resource) toMaps() {
	r.Attrs = r.attributes()
	r.layout, r.slots, r.extra = nil, nil, nil
}

// setExtra keeps an attribute the type does not declare, so that nothing
// a source sets is lost (the model's conformance tests look for them).
func (r *Resource) setExtra(path string, value any) {
	if r.extra == nil {
		r.extra = map[string]any{}
	}
	setPath(r.extra, path, value)
}

// getSlot is Get for a resource with slots.
func (r *Resource) getSlot(path string) (any, bool) {
	l := r.layout
	if i, ok := l.slot[path]; ok {
		return fromSlot(r.slots[i])
	}
	if _, ok := l.objects[path]; ok {
		if m := r.object(path); m != nil {
			return m, true
		}
		return nil, false
	}
	for i := strings.LastIndexByte(path, '.'); i > 0; i = strings.LastIndexByte(path[:i], '.') {
		if s, ok := l.slot[path[:i]]; ok {
			m, isMap := r.slots[s].(map[string]any)
			if !isMap {
				return nil, false
			}
			return getPath(m, path[i+1:])
		}
	}
	if r.extra == nil {
		return nil, false
	}
	return getPath(r.extra, path)
}

// object builds the nested map of the object at path from its slots; nil
// when nothing below it is set.
func (r *Resource) object(path string) map[string]any {
	n := &r.layout.root
	for _, part := range strings.Split(path, ".") {
		var next *layoutNode
		for _, c := range n.members {
			if c.name == part {
				next = c
				break
			}
		}
		if next == nil {
			return nil
		}
		n = next
	}
	m := r.build(n)
	if x, ok := getPath(r.extra, path); ok {
		if xm, isMap := x.(map[string]any); isMap {
			if m == nil {
				m = map[string]any{}
			}
			mergeInto(m, xm)
		}
	}
	return m
}

// build makes the nested map of the object n from the slots; nil when
// nothing below it is set, as a nested map exists only once something is
// set in it.
func (r *Resource) build(n *layoutNode) map[string]any {
	var m map[string]any
	for _, c := range n.members {
		var v any
		if c.slot >= 0 {
			var set bool
			if v, set = fromSlot(r.slots[c.slot]); !set {
				continue
			}
		} else {
			sub := r.build(c)
			if sub == nil {
				continue
			}
			v = sub
		}
		if m == nil {
			m = make(map[string]any, len(n.members))
		}
		m[c.name] = v
	}
	return m
}

// attributes builds the nested maps of a resource with slots.
func (r *Resource) attributes() map[string]any {
	m := r.build(&r.layout.root)
	if m == nil {
		m = map[string]any{}
	}
	mergeInto(m, r.extra)
	return m
}

// mergeInto sets every leaf of src in dst, making the maps on the way.
func mergeInto(dst, src map[string]any) {
	for k, v := range src {
		if sm, ok := v.(map[string]any); ok {
			if dm, ok := dst[k].(map[string]any); ok {
				mergeInto(dm, sm)
				continue
			}
		}
		dst[k] = v
	}
}

// fillSlots is Schema.Fill for a resource with slots: every attribute not
// set, or set to nil, gets its zero value; the objects in lists of objects
// are filled as in a map.
func (r *Resource) fillSlots() {
	for i, f := range r.layout.fields {
		switch v := r.slots[i].(type) {
		case nil, nilValue:
			r.slots[i] = zero(f)
		case []any:
			if f.Kind == ObjectList {
				for _, e := range v {
					if sub, ok := e.(map[string]any); ok {
						fill(sub, f.Fields)
					}
				}
			}
		}
	}
}
