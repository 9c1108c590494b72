package terraform

// nav remembers, for the blocks of one resource's planned values that a
// mapper's lookups step into, where each member or element lies. A mapper
// asks several paths under one block (settings.0.ip_configuration.0.ssl_mode,
// then settings.0.ip_configuration.0.require_ssl, ...), and stepping into a
// block in the file means passing over all its members: without nav, every
// path passes over the same blocks again.
//
// A worker owns one nav and resets it for each resource; the spans it
// holds point into the file, which stays in memory while the worker maps.
type nav struct {
	blocks  []navBlock
	entries []navEntry
	keys    []byte
}

// navBlock is one block stepped into: entries[from:to] are its members (an
// object) or its elements (a list).
type navBlock struct {
	start    int
	from, to int
}

// navEntry is a member (its key is keys[key:key+n]) or an element (n = 0,
// key unused).
type navEntry struct {
	key, n int
	at     span
}

func (c *nav) reset() {
	c.blocks, c.entries, c.keys = c.blocks[:0], c.entries[:0], c.keys[:0]
}

// lookup is r.lookup(path), stepping through the blocks c remembers.
func (c *nav) lookup(r rawValue, path string) (rawValue, bool) {
	if c == nil {
		return r.lookup(path)
	}
	for path != "" {
		var p string
		p, path = cutDot(path)
		var ok bool
		if r, ok = c.step(r, p); !ok {
			return rawValue{}, false
		}
	}
	return r, r.kind() != 'n'
}

// step is r.step(key) answered from the block's entries, which are found
// the first time the block is stepped into.
func (c *nav) step(r rawValue, key string) (rawValue, bool) {
	kind := r.kind()
	if kind != '{' && kind != '[' || r.keep != nil {
		return r.step(key)
	}
	b, ok := c.block(r)
	if !ok {
		return r.step(key)
	}
	var at span
	found := false
	if kind == '{' {
		// Of repeated keys the last counts, as in a decoded map.
		for i := b.to - 1; i >= b.from; i-- {
			e := &c.entries[i]
			if e.n == len(key) && string(c.keys[e.key:e.key+e.n]) == key {
				at, found = e.at, true
				break
			}
		}
	} else {
		i := 0
		for _, ch := range key {
			if ch < '0' || ch > '9' {
				return rawValue{}, false
			}
			i = i*10 + int(ch-'0')
		}
		if key != "" && i < b.to-b.from {
			at, found = c.entries[b.from+i].at, true
		}
	}
	if !found {
		return rawValue{}, false
	}
	out := rawValue{data: r.data, at: at}
	return out, out.kind() != 'n'
}

// block returns the entries of the block r, finding them if it was not
// stepped into before; ok is false if the block cannot be read (it was
// validated when found, so never in practice).
func (c *nav) block(r rawValue) (navBlock, bool) {
	for _, b := range c.blocks {
		if b.start == r.at.start {
			return b, true
		}
	}
	d := r.decoder()
	b := navBlock{start: r.at.start, from: len(c.entries)}
	var err error
	if r.kind() == '{' {
		err = d.fields(func(k []byte) error {
			start, depth := d.pos, d.depth
			if err := d.skipFast(); err != nil {
				return err
			}
			c.entries = append(c.entries, navEntry{key: len(c.keys), n: len(k), at: span{r.at.start + start, r.at.start + d.pos, depth}})
			c.keys = append(c.keys, k...)
			return nil
		})
	} else {
		err = d.elements(func(int) error {
			start, depth := d.pos, d.depth
			if err := d.skipFast(); err != nil {
				return err
			}
			c.entries = append(c.entries, navEntry{at: span{r.at.start + start, r.at.start + d.pos, depth}})
			return nil
		})
	}
	if err != nil {
		c.entries = c.entries[:b.from]
		return navBlock{}, false
	}
	b.to = len(c.entries)
	c.blocks = append(c.blocks, b)
	return b, true
}
