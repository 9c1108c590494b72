package terraform

import "slices"

// rawValue is a JSON value in the file, read where it lies: a resource's
// configuration expressions are asked a few questions (is this attribute
// configured, what does it reference) and are as large as the planned
// values, so they are navigated in place rather than decoded into maps.
// The value was validated when it was found (decoder.validate), so
// navigating it cannot fail.
//
// Its answers are those of the decoded value under lookup and step: a
// member that is null is as absent as a missing one; of repeated keys the
// last counts, as in a decoded map; a list is indexed by a key of digits.
type rawValue struct {
	data []byte
	at   span
	// keep, at the top level of a trimmed configuration, are the only
	// members it has (see trim).
	keep []string
	// nav, while a worker maps the resource the value belongs to,
	// remembers the blocks stepped into, for the next path into them.
	nav *nav
}

func (r rawValue) decoder() *decoder {
	return &decoder{data: r.data[r.at.start:r.at.end], base: r.at.start, depth: r.at.depth}
}

// kind is the value's first byte: '{', '[', '"', 't', 'f', 'n' or a
// digit or '-'.
func (r rawValue) kind() byte { return r.data[r.at.start] }

// member returns the value of key in an object and whether the key is
// there (also when its value is null).
func (r rawValue) member(key string) (rawValue, bool) {
	if r.kind() != '{' || r.keep != nil && !slices.Contains(r.keep, key) {
		return rawValue{}, false
	}
	if r.nav != nil {
		if at, found, ok := r.nav.member(r, key); ok {
			return rawValue{data: r.data, at: at, nav: r.nav}, found
		}
	}
	d := r.decoder()
	var out rawValue
	found := false
	_ = d.fields(func(k []byte) error {
		start, depth := d.pos, d.depth
		if err := d.skipFast(); err != nil {
			return err
		}
		if string(k) == key {
			out, found = rawValue{data: r.data, at: span{r.at.start + start, r.at.start + d.pos, depth}}, true
		}
		return nil
	})
	return out, found
}

// has reports whether an object has key, whatever its value.
func (r rawValue) has(key string) bool {
	_, ok := r.member(key)
	return ok
}

// step is step on the decoded value: the member key of an object, the
// element of a list its digits name; ok is false where step returns nil.
func (r rawValue) step(key string) (rawValue, bool) {
	switch r.kind() {
	case '{':
		v, ok := r.member(key)
		return v, ok && v.kind() != 'n'
	case '[':
		i := 0
		for _, ch := range key {
			if ch < '0' || ch > '9' {
				return rawValue{}, false
			}
			i = i*10 + int(ch-'0')
		}
		if key == "" {
			return rawValue{}, false
		}
		if r.nav != nil {
			if at, found, ok := r.nav.element(r, i); ok {
				out := rawValue{data: r.data, at: at, nav: r.nav}
				return out, found && out.kind() != 'n'
			}
		}
		d := r.decoder()
		var out rawValue
		found := false
		_ = d.elements(func(k int) error {
			start, depth := d.pos, d.depth
			if err := d.skipFast(); err != nil {
				return err
			}
			if k == i {
				out, found = rawValue{data: r.data, at: span{r.at.start + start, r.at.start + d.pos, depth}}, true
				return errStop
			}
			return nil
		})
		return out, found && out.kind() != 'n'
	}
	return rawValue{}, false
}

// lookup is lookup on the decoded value.
func (r rawValue) lookup(path string) (rawValue, bool) {
	for path != "" {
		var p string
		p, path = cutDot(path)
		var ok bool
		if r, ok = r.step(p); !ok {
			return rawValue{}, false
		}
	}
	return r, r.kind() != 'n'
}

// strings returns the elements of a list, "" for those that are not
// strings.
func (r rawValue) strings() []string {
	if r.kind() != '[' {
		return nil
	}
	d := r.decoder()
	var out []string
	_ = d.elements(func(int) error {
		if d.peek() == '"' {
			b, err := d.rawString()
			if err != nil {
				return err
			}
			out = append(out, string(b))
			return nil
		}
		out = append(out, "")
		return d.skipFast()
	})
	return out
}
