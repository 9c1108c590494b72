package terraform

import (
	"bytes"
	"sync"
)

// object is a resource's planned values as the worker finds them: every
// field located and checked (as strictly as decoding would), scalars
// decoded, but objects and lists left in the file until a mapper first
// reads them. A provider plans 15-74 attributes per resource and a mapper
// reads a handful; building maps for all of them was most of a large
// plan's parse time and memory.
//
// An object is read by one goroutine at a time (the worker that maps the
// resource, later the reader's single-threaded joins), and only while the
// file is in memory: trim replaces it by the few values kept afterwards.
type object struct {
	data   []byte
	fields []field
}

// field is one attribute; at is where a container not decoded yet lies.
type field struct {
	key string
	v   any
	at  span
}

// lazyDecoders decode containers on first read; a decoder keeps its
// interning cache between uses.
var lazyDecoders = sync.Pool{New: func() any { return newDecoder(nil) }}

// get returns the value of key and whether the object has it. As with
// decoding into a map, the last of duplicate keys wins.
func (o *object) get(key string) (any, bool) {
	f := o.last(key)
	if f == nil {
		return nil, false
	}
	return o.value(f), true
}

// value is the field's value, decoded from the file the first time.
func (o *object) value(f *field) any {
	if f.at.ok() {
		f.v, f.at = decodeRaw(rawValue{data: o.data, at: f.at}), span{}
	}
	return f.v
}

// last is the field of key, the last of duplicates as decoding into a map
// keeps; nil if there is none.
func (o *object) last(key string) *field {
	if o == nil {
		return nil
	}
	for i := len(o.fields) - 1; i >= 0; i-- {
		if o.fields[i].key == key {
			return &o.fields[i]
		}
	}
	return nil
}

// rawAt returns, for a container not decoded yet, where it lies in the
// file; ok is false for any other field or none.
func (o *object) rawAt(key string) (rawValue, bool) {
	f := o.last(key)
	if f == nil || !f.at.ok() {
		return rawValue{}, false
	}
	return rawValue{data: o.data, at: f.at}, true
}

// decodeRaw decodes a value found in the file.
func decodeRaw(r rawValue) any {
	d := lazyDecoders.Get().(*decoder)
	d.reset(r.data[r.at.start:r.at.end], r.at.start)
	d.depth = r.at.depth
	v, err := d.value()
	d.reset(nil, 0)
	lazyDecoders.Put(d)
	if err != nil {
		// Checked when indexed; a failure here would be a bug.
		return nil
	}
	return v
}

// decodeAll decodes every container not decoded yet, so that the object
// no longer reads the file.
func (o *object) decodeAll() {
	for i := range o.fields {
		o.value(&o.fields[i])
	}
}

// unknownAt is get for an after_unknown: a container with no true in it
// says nothing is unknown, and is answered as nil without being decoded
// (most are empty blocks, [{}]). A container whose bytes hold "true"
// anywhere is decoded, so no true is ever missed.
func (o *object) unknownAt(key string) any {
	f := o.last(key)
	if f == nil {
		return nil
	}
	return o.unknownOf(f)
}

// unknownOf is unknownAt for the field f.
func (o *object) unknownOf(f *field) any {
	if f.at.ok() && !bytes.Contains(o.data[f.at.start:f.at.end], []byte("true")) {
		return nil
	}
	return o.value(f)
}

// index reads the object at the decoder's position into an object; a
// value that is not an object is checked and read as an empty one, as
// decoding it into a map did. The object's fields live in *scratch until
// the caller copies them out.
func (d *decoder) index(file []byte, scratch *[]field) (*object, error) {
	o := &object{data: file}
	if d.peek() != '{' {
		if _, err := d.value(); err != nil {
			return nil, err
		}
		return o, nil
	}
	fields := (*scratch)[:0]
	err := d.fields(func(kb []byte) error {
		f := field{key: d.key(kb)}
		switch d.peek() {
		case '{', '[':
			start, depth := d.pos, d.depth
			if err := d.validate(); err != nil {
				return err
			}
			f.at = span{start: d.base + start, end: d.base + d.pos, depth: depth}
		default:
			v, err := d.value()
			if err != nil {
				return err
			}
			f.v = v
		}
		fields = append(fields, f)
		return nil
	})
	if err != nil {
		clear(fields)
		*scratch = fields[:0]
		return nil, err
	}
	// The fields stay in the caller's scratch: most objects are mapped and
	// trimmed before the worker indexes the next, and the few kept longer
	// are copied out then (worker.detach).
	o.fields = fields
	*scratch = fields
	return o, nil
}
