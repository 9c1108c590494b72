package terraform

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/maphash"
	"math"
	"math/bits"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
	"unsafe"
)

// MaxDepth is the deepest nesting of JSON arrays and objects Parse accepts.
// Terraform's own output stays far below it (a resource's values rarely nest
// more than a dozen levels); the limit keeps hostile input from exhausting
// the stack.
const MaxDepth = 512

// syntaxError is a malformed input at a byte offset.
type syntaxError struct {
	Offset int
	Msg    string
}

func (e *syntaxError) Error() string { return e.Msg }

// errDepth is returned for input nested deeper than MaxDepth.
var errDepth = fmt.Errorf("JSON nested deeper than %d levels", MaxDepth)

// decoder is a small JSON reader tuned for Terraform's output: it decodes
// values into map[string]any/[]any/string/float64/bool/nil like
// encoding/json, skips values it does not need without building them, and
// interns object keys and short strings, which repeat on every resource.
//
// A decoder is not safe for concurrent use; each worker has its own.
type decoder struct {
	data []byte
	pos  int
	// base is the offset of data in the whole file, for error messages.
	base  int
	depth int

	seed maphash.Seed
	// keys and values are separate caches so that unique values (names,
	// ids) never evict the keys every resource repeats.
	keys, values *[internSize]internEntry
	// pairs and items are stacks the objects and arrays being decoded
	// collect their members on, so each map and slice is made once at its
	// final size.
	pairs []pair
	items []any
}

type pair struct {
	k string
	v any
}

// internEntry caches one string and its boxed form: keys and short values
// repeat on every resource, and a hit costs neither an allocation for the
// string nor one for the interface.
type internEntry struct {
	s string
	v any
}

// internSize is the number of slots of the direct-mapped interning cache.
const internSize = 1 << 13

// maxInternLen is the longest string value interned; keys are always
// interned.
const maxInternLen = 40

// smallInts are the boxed small integers, shared so that decoding a port or
// a size does not allocate.
var smallInts = func() (a [1024]any) {
	for i := range a {
		a[i] = float64(i)
	}
	return a
}()

func newDecoder(data []byte) *decoder {
	return &decoder{data: data, seed: maphash.MakeSeed(), keys: new([internSize]internEntry), values: new([internSize]internEntry)}
}

// reset points the decoder at a new slice of the file starting at base,
// keeping its interning cache.
func (d *decoder) reset(data []byte, base int) {
	d.data, d.pos, d.base, d.depth = data, 0, base, 0
}

func (d *decoder) errorf(format string, args ...any) error {
	return &syntaxError{Offset: d.base + d.pos, Msg: fmt.Sprintf(format, args...)}
}

func (d *decoder) ws() {
	for d.pos < len(d.data) {
		switch d.data[d.pos] {
		case ' ', '\n', '\r', '\t':
			d.pos++
		default:
			return
		}
	}
}

// peek returns the next non-space byte, 0 at the end.
func (d *decoder) peek() byte {
	d.ws()
	if d.pos >= len(d.data) {
		return 0
	}
	return d.data[d.pos]
}

func (d *decoder) expect(c byte) error {
	if d.peek() != c {
		return d.unexpected(fmt.Sprintf("%q", c))
	}
	d.pos++
	return nil
}

func (d *decoder) unexpected(want string) error {
	if d.pos >= len(d.data) {
		return d.errorf("unexpected end of JSON input, want %s", want)
	}
	return d.errorf("invalid character %q, want %s", d.data[d.pos], want)
}

func (d *decoder) push() error {
	d.depth++
	if d.depth > MaxDepth {
		return &syntaxError{Offset: d.base + d.pos, Msg: errDepth.Error()}
	}
	return nil
}

// value decodes the next value.
func (d *decoder) value() (any, error) {
	switch d.peek() {
	case '{':
		return d.object()
	case '[':
		return d.array()
	case '"':
		b, err := d.rawString()
		if err != nil {
			return nil, err
		}
		return d.boxed(b), nil
	case 't':
		return true, d.literal("true")
	case 'f':
		return false, d.literal("false")
	case 'n':
		return nil, d.literal("null")
	case '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
		return d.number()
	}
	return nil, d.unexpected("a JSON value")
}

func (d *decoder) object() (map[string]any, error) {
	if err := d.push(); err != nil {
		return nil, err
	}
	d.pos++ // '{'
	if d.peek() == '}' {
		d.pos++
		d.depth--
		return map[string]any{}, nil
	}
	start := len(d.pairs)
	for {
		if d.peek() != '"' {
			return nil, d.unexpected("an object key")
		}
		kb, err := d.rawString()
		if err != nil {
			return nil, err
		}
		k := d.key(kb)
		if err := d.expect(':'); err != nil {
			return nil, err
		}
		v, err := d.value()
		if err != nil {
			return nil, err
		}
		d.pairs = append(d.pairs, pair{k, v})
		switch d.peek() {
		case ',':
			d.pos++
		case '}':
			d.pos++
			d.depth--
			m := make(map[string]any, len(d.pairs)-start)
			for _, p := range d.pairs[start:] {
				m[p.k] = p.v
			}
			clear(d.pairs[start:])
			d.pairs = d.pairs[:start]
			return m, nil
		default:
			return nil, d.unexpected("',' or '}'")
		}
	}
}

func (d *decoder) array() ([]any, error) {
	if err := d.push(); err != nil {
		return nil, err
	}
	d.pos++ // '['
	if d.peek() == ']' {
		d.pos++
		d.depth--
		return []any{}, nil
	}
	start := len(d.items)
	for {
		v, err := d.value()
		if err != nil {
			return nil, err
		}
		d.items = append(d.items, v)
		switch d.peek() {
		case ',':
			d.pos++
		case ']':
			d.pos++
			d.depth--
			l := make([]any, len(d.items)-start)
			copy(l, d.items[start:])
			clear(d.items[start:])
			d.items = d.items[:start]
			return l, nil
		default:
			return nil, d.unexpected("',' or ']'")
		}
	}
}

func (d *decoder) literal(lit string) error {
	if len(d.data)-d.pos < len(lit) || string(d.data[d.pos:d.pos+len(lit)]) != lit {
		return d.errorf("invalid literal, want %s", lit)
	}
	d.pos += len(lit)
	return nil
}

// numberEnd scans a JSON number at pos and returns its end, validating the
// grammar.
func (d *decoder) numberEnd() (int, bool, error) {
	i := d.pos
	data := d.data
	if i < len(data) && data[i] == '-' {
		i++
	}
	if i >= len(data) {
		d.pos = i
		return 0, false, d.unexpected("a digit")
	}
	switch {
	case data[i] == '0':
		i++
	case data[i] >= '1' && data[i] <= '9':
		for i < len(data) && data[i] >= '0' && data[i] <= '9' {
			i++
		}
	default:
		d.pos = i
		return 0, false, d.unexpected("a digit")
	}
	integer := true
	if i < len(data) && data[i] == '.' {
		integer = false
		i++
		start := i
		for i < len(data) && data[i] >= '0' && data[i] <= '9' {
			i++
		}
		if i == start {
			d.pos = i
			return 0, false, d.unexpected("a digit after '.'")
		}
	}
	if i < len(data) && (data[i] == 'e' || data[i] == 'E') {
		integer = false
		i++
		if i < len(data) && (data[i] == '+' || data[i] == '-') {
			i++
		}
		start := i
		for i < len(data) && data[i] >= '0' && data[i] <= '9' {
			i++
		}
		if i == start {
			d.pos = i
			return 0, false, d.unexpected("a digit in the exponent")
		}
	}
	return i, integer, nil
}

func (d *decoder) number() (any, error) {
	end, integer, err := d.numberEnd()
	if err != nil {
		return nil, err
	}
	b := d.data[d.pos:end]
	// Small integers, the common case, without strconv.
	if integer && len(b) < 16 {
		neg := b[0] == '-'
		if neg {
			b = b[1:]
		}
		var n int64
		for _, c := range b {
			n = n*10 + int64(c-'0')
		}
		if neg {
			n = -n
		}
		d.pos = end
		if n >= 0 && n < int64(len(smallInts)) {
			return smallInts[n], nil
		}
		return float64(n), nil
	}
	f, err := strconv.ParseFloat(unsafe.String(unsafe.SliceData(b), len(b)), 64)
	if err != nil && !errors.Is(err, strconv.ErrRange) {
		return nil, d.errorf("invalid number %q", b)
	}
	if math.IsInf(f, 0) {
		return nil, d.errorf("number %q out of range", b)
	}
	d.pos = end
	return f, nil
}

// rawString reads a string at pos (which is '"') and returns its bytes
// between the quotes, escapes still in place, or decoded into a fresh
// slice when there were any.
func (d *decoder) rawString() ([]byte, error) {
	start := d.pos + 1
	end := quoteAt(d.data, start)
	if end < 0 {
		d.pos = len(d.data)
		return nil, d.unexpected("closing '\"' of a string")
	}
	i := end - start
	s := d.data[start:end]
	if plainBytes(s) {
		d.pos = end + 1
		return s, nil
	}
	if bytes.IndexByte(s, '\\') < 0 {
		if j := controlChar(s); j >= 0 {
			d.pos = start + j
			return nil, d.errorf("invalid control character %q in string", s[j])
		}
		d.pos = start + i + 1
		return s, nil
	}
	return d.unescape(start)
}

// unescape decodes a string with escapes starting after its opening quote.
func (d *decoder) unescape(start int) ([]byte, error) {
	out := make([]byte, 0, 32)
	i := start
	data := d.data
	for {
		if i >= len(data) {
			d.pos = i
			return nil, d.unexpected("closing '\"' of a string")
		}
		c := data[i]
		switch {
		case c == '"':
			d.pos = i + 1
			return out, nil
		case c < 0x20:
			d.pos = i
			return nil, d.errorf("invalid control character %q in string", c)
		case c != '\\':
			out = append(out, c)
			i++
			continue
		}
		if i+1 >= len(data) {
			d.pos = i + 1
			return nil, d.unexpected("an escape")
		}
		switch e := data[i+1]; e {
		case '"', '\\', '/':
			out = append(out, e)
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			r, ok := hex4(data, i+2)
			if !ok {
				d.pos = i
				return nil, d.errorf("invalid \\u escape in string")
			}
			i += 6
			if utf16.IsSurrogate(r) {
				if r2, ok := hex4(data, i+2); ok && i+1 < len(data) && data[i] == '\\' && data[i+1] == 'u' {
					if dec := utf16.DecodeRune(r, r2); dec != utf8.RuneError {
						i += 6
						r = dec
					} else {
						r = utf8.RuneError
					}
				} else {
					r = utf8.RuneError
				}
			}
			out = utf8.AppendRune(out, r)
			continue
		default:
			d.pos = i
			return nil, d.errorf("invalid escape %q in string", "\\"+string(e))
		}
		i += 2
	}
}

// plainBytes reports whether s holds neither a backslash nor a byte below
// 0x20, testing eight bytes at a time.
func plainBytes(s []byte) bool {
	const ones, highs, backslashes = 0x0101010101010101, 0x8080808080808080, 0x5c5c5c5c5c5c5c5c
	i := 0
	for ; i+8 <= len(s); i += 8 {
		x := binary.LittleEndian.Uint64(s[i:])
		b := x ^ backslashes
		// A byte below 0x20 borrows when 0x20 is subtracted and had its
		// high bit clear; a backslash is a zero byte after xor.
		if ((x-ones*0x20)&^x|(b-ones)&^b)&highs != 0 {
			return false
		}
	}
	for ; i < len(s); i++ {
		if s[i] < 0x20 || s[i] == '\\' {
			return false
		}
	}
	return true
}

// controlChar returns the index of the first byte below 0x20 in s, or -1.
// It tests eight bytes at a time: strings are most of a plan's bytes.
func controlChar(s []byte) int {
	const lo, hi = 0x2020202020202020, 0x8080808080808080
	i := 0
	for ; i+8 <= len(s); i += 8 {
		x := binary.LittleEndian.Uint64(s[i:])
		// A byte below 0x20 borrows when 0x20 is subtracted and had its
		// high bit clear.
		if (x-lo)&^x&hi != 0 {
			break
		}
	}
	for ; i < len(s); i++ {
		if s[i] < 0x20 {
			return i
		}
	}
	return -1
}

func hex4(data []byte, i int) (rune, bool) {
	if i+4 > len(data) {
		return 0, false
	}
	var r rune
	for _, c := range data[i : i+4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			c = c - 'A' + 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

// key turns object key bytes into a string, interned.
func (d *decoder) key(b []byte) string {
	e := &d.keys[maphash.Bytes(d.seed, b)&(internSize-1)]
	if e.s == string(b) && e.v != nil {
		return e.s
	}
	s := string(b)
	e.s, e.v = s, s
	return s
}

// boxed turns string value bytes into an interface value, interning short
// strings.
func (d *decoder) boxed(b []byte) any {
	if len(b) > maxInternLen {
		return string(b)
	}
	e := &d.values[maphash.Bytes(d.seed, b)&(internSize-1)]
	if e.s == string(b) && e.v != nil {
		return e.v
	}
	s := string(b)
	e.s, e.v = s, s
	return e.v
}

// validate passes over the next value with the checks of value (strings,
// numbers and literals strictly), failing where value fails and with the
// same error, but without building anything.
func (d *decoder) validate() error {
	switch d.peek() {
	case '{':
		if err := d.push(); err != nil {
			return err
		}
		d.pos++
		if d.peek() == '}' {
			d.pos++
			d.depth--
			return nil
		}
		for {
			if d.peek() != '"' {
				return d.unexpected("an object key")
			}
			if _, err := d.rawString(); err != nil {
				return err
			}
			if err := d.expect(':'); err != nil {
				return err
			}
			if err := d.validate(); err != nil {
				return err
			}
			switch d.peek() {
			case ',':
				d.pos++
			case '}':
				d.pos++
				d.depth--
				return nil
			default:
				return d.unexpected("',' or '}'")
			}
		}
	case '[':
		if err := d.push(); err != nil {
			return err
		}
		d.pos++
		if d.peek() == ']' {
			d.pos++
			d.depth--
			return nil
		}
		for {
			if err := d.validate(); err != nil {
				return err
			}
			switch d.peek() {
			case ',':
				d.pos++
			case ']':
				d.pos++
				d.depth--
				return nil
			default:
				return d.unexpected("',' or ']'")
			}
		}
	case '"':
		_, err := d.rawString()
		return err
	case 't':
		return d.literal("true")
	case 'f':
		return d.literal("false")
	case 'n':
		return d.literal("null")
	case '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
		end, integer, err := d.numberEnd()
		if err != nil {
			return err
		}
		if integer && end-d.pos < 16 {
			d.pos = end
			return nil
		}
		_, err = d.number()
		return err
	}
	return d.unexpected("a JSON value")
}

// skip passes over the next value, validating it without building it.
func (d *decoder) skip() error {
	switch d.peek() {
	case '{':
		if err := d.push(); err != nil {
			return err
		}
		d.pos++
		if d.peek() == '}' {
			d.pos++
			d.depth--
			return nil
		}
		for {
			if d.peek() != '"' {
				return d.unexpected("an object key")
			}
			if err := d.skipString(); err != nil {
				return err
			}
			if err := d.expect(':'); err != nil {
				return err
			}
			if err := d.skip(); err != nil {
				return err
			}
			switch d.peek() {
			case ',':
				d.pos++
			case '}':
				d.pos++
				d.depth--
				return nil
			default:
				return d.unexpected("',' or '}'")
			}
		}
	case '[':
		if err := d.push(); err != nil {
			return err
		}
		d.pos++
		if d.peek() == ']' {
			d.pos++
			d.depth--
			return nil
		}
		for {
			if err := d.skip(); err != nil {
				return err
			}
			switch d.peek() {
			case ',':
				d.pos++
			case ']':
				d.pos++
				d.depth--
				return nil
			default:
				return d.unexpected("',' or ']'")
			}
		}
	case '"':
		return d.skipString()
	case 't':
		return d.literal("true")
	case 'f':
		return d.literal("false")
	case 'n':
		return d.literal("null")
	case '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
		end, _, err := d.numberEnd()
		if err != nil {
			return err
		}
		d.pos = end
		return nil
	}
	return d.unexpected("a JSON value")
}

// skipString passes over a string at pos. It checks escapes loosely (a
// backslash and the byte after it) and does not look for control
// characters; the values that are kept are decoded, and strictly checked,
// by rawString.
func (d *decoder) skipString() error {
	i := d.pos + 1
	data := d.data
	for {
		j := bytes.IndexByte(data[i:], '"')
		if j < 0 {
			d.pos = len(data)
			return d.unexpected("closing '\"' of a string")
		}
		q := i + j
		// The quote is escaped if an odd number of backslashes precede it.
		n := 0
		for k := q - 1; k >= i && data[k] == '\\'; k-- {
			n++
		}
		if n%2 == 0 {
			d.pos = q + 1
			return nil
		}
		i = q + 1
	}
}

// readUnique is readString for a string seen once (an address, a name):
// not interned, where it would only push out the strings that repeat.
func (d *decoder) readUnique() (string, error) {
	if d.peek() != '"' {
		return "", d.unexpected("a string")
	}
	b, err := d.rawString()
	if err != nil {
		return "", err
	}
	return string(b), nil
}

// readString reads the string at pos, or fails if the next value is not a
// string.
func (d *decoder) readString() (string, error) {
	if d.peek() != '"' {
		return "", d.unexpected("a string")
	}
	b, err := d.rawString()
	if err != nil {
		return "", err
	}
	return d.key(b), nil
}

// fields walks the object at pos, calling fn for each key with the decoder
// positioned at the key's value; fn must consume the value (skip, decode or
// walk it). A null is an empty object.
func (d *decoder) fields(fn func(key []byte) error) error {
	if d.peek() == 'n' {
		return d.literal("null")
	}
	if d.peek() != '{' {
		return d.unexpected("'{'")
	}
	if err := d.push(); err != nil {
		return err
	}
	d.pos++
	if d.peek() == '}' {
		d.pos++
		d.depth--
		return nil
	}
	for {
		if d.peek() != '"' {
			return d.unexpected("an object key")
		}
		k, err := d.rawString()
		if err != nil {
			return err
		}
		if err := d.expect(':'); err != nil {
			return err
		}
		d.ws()
		if err := fn(k); err != nil {
			return err
		}
		switch d.peek() {
		case ',':
			d.pos++
		case '}':
			d.pos++
			d.depth--
			return nil
		default:
			return d.unexpected("',' or '}'")
		}
	}
}

// elements walks the array at pos, calling fn for each element with the
// decoder positioned at it; fn must consume the element. A null is an empty
// array.
func (d *decoder) elements(fn func(i int) error) error {
	if d.peek() == 'n' {
		return d.literal("null")
	}
	if d.peek() != '[' {
		return d.unexpected("'['")
	}
	if err := d.push(); err != nil {
		return err
	}
	d.pos++
	if d.peek() == ']' {
		d.pos++
		d.depth--
		return nil
	}
	for i := 0; ; i++ {
		d.ws()
		if err := fn(i); err != nil {
			return err
		}
		switch d.peek() {
		case ',':
			d.pos++
		case ']':
			d.pos++
			d.depth--
			return nil
		default:
			return d.unexpected("',' or ']'")
		}
	}
}

// end checks that only white space follows the top-level value.
func (d *decoder) end() error {
	if d.peek() != 0 {
		return d.errorf("invalid character %q after top-level value", d.data[d.pos])
	}
	return nil
}

// quoteAt returns the index of the first '"' in data from i on, -1 if
// there is none. Strings are most of a plan's bytes, and most are short:
// eight bytes are tested at a time (a byte equal to '"' is a zero byte
// after xor), long strings are left to IndexByte.
func quoteAt(data []byte, i int) int {
	const ones, highs, quotes = 0x0101010101010101, 0x8080808080808080, 0x2222222222222222
	for n := 0; n < 4 && i+8 <= len(data); n++ {
		x := binary.LittleEndian.Uint64(data[i:]) ^ quotes
		if m := (x - ones) &^ x & highs; m != 0 {
			return i + bits.TrailingZeros64(m)/8
		}
		i += 8
	}
	if n := bytes.IndexByte(data[i:], '"'); n >= 0 {
		return i + n
	}
	return -1
}

// skipClass sorts the bytes skipFast meets outside strings: plain bytes
// that may stand there (white space, separators, the characters of numbers
// and literals), quotes, openers, closers, and everything else, which is
// invalid.
const (
	skipPlain = iota
	skipQuote
	skipOpen
	skipClose
	skipInvalid
)

var skipClass = func() (t [256]uint8) {
	for i := range t {
		t[i] = skipInvalid
	}
	for _, c := range []byte(" \t\r\n:,-+.0123456789eEtrufalsn") {
		t[c] = skipPlain
	}
	t['"'] = skipQuote
	t['{'], t['['] = skipOpen, skipOpen
	t['}'], t[']'] = skipClose, skipClose
	return t
}()

// skipFast passes over the value at pos by its structure alone: brackets
// must balance and match, strings must end, and only the characters of
// numbers and literals may stand between them; numbers and literals
// themselves are not parsed. The scanner uses it for the bulk it never keeps
// (prior state, before/after copies) and to find the end of values a worker
// decodes, strictly, afterwards. It is several times faster than skip.
func (d *decoder) skipFast() error {
	c := d.peek()
	if c != '{' && c != '[' {
		return d.skip()
	}
	data := d.data
	var objects [MaxDepth/64 + 1]uint64 // one bit per level: object or array
	depth := 0
	for i := d.pos; i < len(data); i++ {
		for i < len(data) && skipClass[data[i]] == skipPlain {
			i++
		}
		if i == len(data) {
			break
		}
		c := data[i]
		switch skipClass[c] {
		case skipQuote:
			j := i + 1
			for {
				k := quoteAt(data, j)
				if k < 0 {
					d.pos = len(data)
					return d.unexpected("closing '\"' of a string")
				}
				bs := 0
				for b := k - 1; b > i && data[b] == '\\'; b-- {
					bs++
				}
				if bs%2 == 0 {
					i = k
					break
				}
				j = k + 1
			}
		case skipOpen:
			if d.depth+depth+1 > MaxDepth {
				d.pos = i
				return &syntaxError{Offset: d.base + i, Msg: errDepth.Error()}
			}
			if c == '{' {
				objects[depth/64] |= 1 << (depth % 64)
			} else {
				objects[depth/64] &^= 1 << (depth % 64)
			}
			depth++
		case skipClose:
			depth--
			if isObj := objects[depth/64]&(1<<(depth%64)) != 0; isObj != (c == '}') {
				d.pos = i
				if isObj {
					return d.errorf("invalid character ']', want '}'")
				}
				return d.errorf("invalid character '}', want ']'")
			}
			if depth == 0 {
				d.pos = i + 1
				return nil
			}
		default:
			d.pos = i
			return d.errorf("invalid character %q in a JSON value", c)
		}
	}
	d.pos = len(data)
	return d.unexpected("the end of a JSON value")
}
