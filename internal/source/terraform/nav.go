package terraform

// nav remembers, for the blocks of one resource's planned values and
// configuration expressions that a mapper's lookups step into (rawValue
// member and step), where each member or element lies. A mapper asks
// several paths under one block (settings.0.ip_configuration.0.ssl_mode,
// then settings.0.ip_configuration.0.require_ssl, ...), and stepping into
// a block in the file means passing over all its members: without nav,
// every path passes over the same blocks again.
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

// member finds key among the members of the object r, as rawValue.member
// does: at is where the last of them lies, found whether there is one; ok
// is false when the object cannot be read (never in practice: it was
// validated when found).
func (c *nav) member(r rawValue, key string) (at span, found, ok bool) {
	b, ok := c.block(r)
	if !ok {
		return span{}, false, false
	}
	// Of repeated keys the last counts, as in a decoded map.
	for i := b.to - 1; i >= b.from; i-- {
		if e := &c.entries[i]; e.n == len(key) && string(c.keys[e.key:e.key+e.n]) == key {
			return e.at, true, true
		}
	}
	return span{}, false, true
}

// element finds element i of the list r, as member finds a member.
func (c *nav) element(r rawValue, i int) (at span, found, ok bool) {
	b, ok := c.block(r)
	if !ok {
		return span{}, false, false
	}
	if i < b.to-b.from {
		return c.entries[b.from+i].at, true, true
	}
	return span{}, false, true
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
