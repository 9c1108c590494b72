package rules

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/interpreter"

	"github.com/hoheit/hoheit/internal/inventory"
)

// EvalOptions tune one evaluation.
type EvalOptions struct {
	// Exceptions suppress matching failures until they expire.
	Exceptions []*Exception
	// Now decides which exceptions have expired; time.Now if nil.
	Now func() time.Time
	// Workers is the number of goroutines; GOMAXPROCS if 0.
	Workers int
	// Progress, if set, is called now and then with resources done so far.
	Progress func(done, total int)
}

// Evaluate runs every rule of the set over every resource of a matching type,
// in parallel, and returns the findings sorted by severity, rule and resource.
func (s *Set) Evaluate(ctx context.Context, e *inventory.Estate, opts EvalOptions) (*Result, error) {
	now := time.Now
	if opts.Now != nil {
		now = opts.Now
	}
	today := now()
	active, expired := splitExpired(opts.Exceptions, today)
	workers := opts.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	res := &Result{Estate: e, Rules: s.Rules, ExpiredExceptions: expired}

	const batch = 512
	var next atomic.Int64
	var mu sync.Mutex
	var wg sync.WaitGroup
	// Each worker keeps its findings by rule, in rank order: batches are
	// taken in the estate's order, so each list is in that order too, and
	// the result is the lists merged rank by rank, with no sort.
	var byWorker [][]findingList
	total := len(e.Resources)
	var done atomic.Int64
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			byRank := make([]findingList, s.ranks)
			touched := 0
			defer func() { touchSink.Add(int64(touched)) }()
			var f Finding
			checks, passed := 0, 0
			act := &resourceActivation{}
			cache := newVerdictCache(s.programs)
			for {
				if ctx.Err() != nil {
					break
				}
				start := int(next.Add(batch)) - batch
				if start >= total {
					break
				}
				end := min(start+batch, total)
				for i, r := range e.Resources[start:end] {
					if i%touchAhead == 0 {
						touched += inventory.Touch(e.Resources[start+i : min(start+i+touchAhead, end)])
					}
					progs := s.byType[r.Type]
					if len(progs) == 0 {
						continue
					}
					if s.native[r.Type] {
						// A rule reads resource.native; an undecodable one
						// leaves it empty, and the rule reports the error.
						_ = r.EnsureNative()
					}
					act.set(r)
					for _, p := range progs {
						found, counted := cache.judge(p, r, act, &f)
						if !counted {
							continue
						}
						checks++
						if !found {
							passed++
							continue
						}
						if f.Status == Fail {
							if x := matchException(active, f.Rule, r); x != nil {
								f.Status, f.Exception = Suppressed, x
							}
						}
						f.order = start + i
						byRank[p.rank].add(f)
					}
				}
				d := done.Add(int64(end - start))
				if opts.Progress != nil {
					opts.Progress(int(d), total)
				}
			}
			mu.Lock()
			byWorker = append(byWorker, byRank)
			res.Checks += checks
			res.Passed += passed
			mu.Unlock()
		}()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("evaluating rules: %w", err)
	}
	res.Findings = mergeByRank(byWorker, s.ranks)
	return res, nil
}

// touchAhead is how many resources the rules read ahead (inventory.Touch).
const touchAhead = 8

// touchSink keeps what inventory.Touch returns.
var touchSink atomic.Int64

// findingList holds findings in fixed chunks: a growing slice would copy
// them at every doubling and leave the old arrays to the collector.
type findingList struct{ chunks [][]Finding }

// findingChunk is how many findings one chunk holds.
const findingChunk = 256

func (l *findingList) add(f Finding) {
	if n := len(l.chunks); n == 0 || len(l.chunks[n-1]) == findingChunk {
		l.chunks = append(l.chunks, make([]Finding, 0, findingChunk))
	}
	last := &l.chunks[len(l.chunks)-1]
	*last = append(*last, f)
}

func (l *findingList) len() int {
	n := 0
	for _, c := range l.chunks {
		n += len(c)
	}
	return n
}

// cursor walks a findingList.
type cursor struct {
	chunks [][]Finding
	i      int // in chunks[0]
}

func (c *cursor) done() bool { return len(c.chunks) == 0 }

func (c *cursor) head() *Finding { return &c.chunks[0][c.i] }

func (c *cursor) next() {
	if c.i++; c.i == len(c.chunks[0]) {
		c.chunks, c.i = c.chunks[1:], 0
	}
}

// parallelMergeMin is how many findings mergeByRank merges on one core.
var parallelMergeMin = 1 << 14

// mergeByRank merges the workers' findings rank by rank, each rank's lists
// by the resources' order, into one slice: highest severity first, then by
// rule id, then by the resource's place in the estate.
func mergeByRank(byWorker [][]findingList, ranks int) []Finding {
	// Where each rank's findings start in the result; ranks are merged on
	// every core, each into its own part.
	starts := make([]int, ranks+1)
	for r := range ranks {
		n := 0
		for _, w := range byWorker {
			n += w[r].len()
		}
		starts[r+1] = starts[r] + n
	}
	out := make([]Finding, starts[ranks])
	mergeRanks := func(lo, hi int) {
		heads := make([]cursor, len(byWorker))
		for r := lo; r < hi; r++ {
			for i, w := range byWorker {
				heads[i] = cursor{chunks: w[r].chunks}
			}
			at := starts[r]
			for {
				best := -1
				for i := range heads {
					if !heads[i].done() && (best < 0 || heads[i].head().order < heads[best].head().order) {
						best = i
					}
				}
				if best < 0 {
					break
				}
				out[at] = *heads[best].head()
				at++
				heads[best].next()
			}
		}
	}
	workers := runtime.GOMAXPROCS(0)
	if len(out) < parallelMergeMin || workers == 1 {
		mergeRanks(0, ranks)
		return out
	}
	// Shares of about equal findings.
	var wg sync.WaitGroup
	share := (len(out) + workers - 1) / workers
	for lo := 0; lo < ranks; {
		hi := lo + 1
		for hi < ranks && starts[hi+1]-starts[lo] <= share {
			hi++
		}
		first := lo
		wg.Go(func() { mergeRanks(first, hi) })
		lo = hi
	}
	wg.Wait()
	return out
}

// verdictCache remembers, per program, the verdicts of resources by the
// values of the attributes the program reads, so that the many resources
// of a large estate that share their settings are judged once. It is used
// only for pure programs (program.pure), only when every attribute read
// is absent, a scalar, or a list or map of them (appendValueKey), and
// never for a resource with values known only after apply. One worker owns
// it: no locking.
type verdictCache struct {
	byProgram []map[string]verdict
	stats     []cacheStats
	key       []byte
}

// cacheStats counts a program's lookups; a program whose resources share
// too few settings for the cache to pay stops using it (judge).
type cacheStats struct {
	lookups, hits int
	off           bool
}

// verdict is what judge decided, without what belongs to the resource
// (its evidence, the resource itself).
type verdict struct {
	found, counted bool
	status         Status
	message        string
}

// cacheTrial is how many lookups a program's cache gets before judge
// decides whether it pays.
const cacheTrial = 1024

// verdictsPerProgram bounds each program's cache: beyond it, settings are
// too varied for the cache to pay.
const verdictsPerProgram = 4096

func newVerdictCache(programs int) *verdictCache {
	return &verdictCache{byProgram: make([]map[string]verdict, programs), stats: make([]cacheStats, programs)}
}

// judge is program.judge, answered from the cache when it can be.
func (c *verdictCache) judge(p *program, r *inventory.Resource, act *resourceActivation, f *Finding) (found, counted bool) {
	st := &c.stats[p.id]
	if !p.pure || st.off {
		return p.judge(r, act, f)
	}
	key, ok := c.keyOf(p, act)
	if !ok {
		return p.judge(r, act, f)
	}
	if unknown := p.unknownPaths(r); len(unknown) > 0 {
		// The verdict depends on which of the paths the program reads are
		// known only after apply, and so does the message naming them.
		key = append(key, 'U')
		for _, u := range unknown {
			key = appendStringKey(key, u)
		}
		c.key = key
	}
	m := c.byProgram[p.id]
	st.lookups++
	if v, hit := m[string(key)]; hit {
		st.hits++
		if v.found {
			p.finding(f, r, v.status, v.message)
		}
		return v.found, v.counted
	}
	if st.lookups >= cacheTrial && st.hits < st.lookups/4 {
		// Fewer than one resource in four shares its settings with one
		// seen before: building keys costs more than it saves.
		st.off, c.byProgram[p.id] = true, nil
	}
	found, counted = p.judge(r, act, f)
	if m == nil {
		m = map[string]verdict{}
		c.byProgram[p.id] = m
	}
	if len(m) < verdictsPerProgram {
		v := verdict{found: found, counted: counted}
		if found {
			v.status, v.message = f.Status, f.Message
		}
		m[string(key)] = v
	}
	return found, counted
}

// maxKeyDepth bounds how deep appendValueKey encodes lists and maps.
const maxKeyDepth = 6

// appendValueKey appends an encoding of v, a scalar or a list or map of
// them: two values have the same encoding only if they are the same
// value. A map's entries are encoded in the order of their keys. ok is
// false for anything else, or nesting deeper than maxKeyDepth.
func appendValueKey(b []byte, cur any, depth int) ([]byte, bool) {
	switch v := cur.(type) {
	case nil:
		b = append(b, 'N')
	case bool:
		if v {
			b = append(b, 'T')
		} else {
			b = append(b, 'F')
		}
	case int64:
		b = binary.LittleEndian.AppendUint64(append(b, 'I'), uint64(v))
	case int:
		b = binary.LittleEndian.AppendUint64(append(b, 'i'), uint64(v))
	case float64:
		b = binary.LittleEndian.AppendUint64(append(b, 'D'), math.Float64bits(v))
	case string:
		b = appendStringKey(append(b, 'S'), v)
	case []any:
		if depth == maxKeyDepth {
			return b, false
		}
		b = binary.AppendUvarint(append(b, 'L'), uint64(len(v)))
		for _, e := range v {
			var ok bool
			if b, ok = appendValueKey(b, e, depth+1); !ok {
				return b, false
			}
		}
	case []string:
		b = binary.AppendUvarint(append(b, 'l'), uint64(len(v)))
		for _, e := range v {
			b = appendStringKey(b, e)
		}
	case map[string]any:
		if depth == maxKeyDepth {
			return b, false
		}
		b = binary.AppendUvarint(append(b, 'M'), uint64(len(v)))
		for _, k := range sortedKeys(v) {
			var ok bool
			if b, ok = appendValueKey(appendStringKey(b, k), v[k], depth+1); !ok {
				return b, false
			}
		}
	case map[string]string:
		b = binary.AppendUvarint(append(b, 'm'), uint64(len(v)))
		for _, k := range sortedKeys(v) {
			b = appendStringKey(appendStringKey(b, k), v[k])
		}
	default:
		return b, false
	}
	return b, true
}

// appendStringKey appends s, prefixed with its length.
func appendStringKey(b []byte, s string) []byte {
	return append(binary.AppendUvarint(b, uint64(len(s))), s...)
}

// sortedKeys returns m's keys in order.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// keyOf returns the program's verdict key: the encodings of the values at
// its keyPaths (absent, or appendValueKey's), which the activation keeps
// for the resource, since the programs of a type read many of the same
// attributes; ok is false when one of them has no encoding.
func (c *verdictCache) keyOf(p *program, act *resourceActivation) ([]byte, bool) {
	key := c.key[:0]
	for _, slot := range p.keySlots {
		k, ok := act.pathKey(p.keys, slot)
		if !ok {
			c.key = key
			return key, false
		}
		key = append(key, k...)
	}
	c.key = key
	return key, true
}

// lookupKey is one step of a path in a map (encodeKeys).
func lookupKey[V any](m map[string]V, key string) (v any, found, isMap bool) {
	e, ok := m[key]
	return e, ok, true
}

// evaluate runs one rule on one resource. It returns nil for a pass, and
// counted=false when the precondition excludes the resource.
func (p *program) evaluate(r *inventory.Resource, act *resourceActivation) (f *Finding, counted bool) {
	var out Finding
	found, counted := p.judge(r, act, &out)
	if !found {
		return nil, counted
	}
	return &out, counted
}

// judge runs one rule on one resource and, unless it passes, fills *f with
// the finding: found=false for a pass, counted=false when the precondition
// excludes the resource. The engine's loop reuses one Finding for every
// evaluation rather than allocating one each.
func (p *program) judge(r *inventory.Resource, act *resourceActivation, f *Finding) (found, counted bool) {
	unknown := p.unknownPaths(r)
	if p.hasPrecheck {
		v, err := p.run(p.choose(p.pre, p.preFree, act), p.partialPre, act, unknown)
		switch {
		case err != nil:
			p.finding(f, r, Error, "precondition: "+err.Error())
			return true, true
		case types.IsUnknown(v):
			p.finding(f, r, Unknown, "precondition depends on values known only after apply: "+strings.Join(unknown, ", "))
			return true, true
		case v != types.True:
			return false, false
		}
	}
	v, err := p.run(p.choose(p.check, p.checkFree, act), p.partial, act, unknown)
	switch {
	case err != nil:
		p.finding(f, r, Error, err.Error())
	case types.IsUnknown(v):
		p.finding(f, r, Unknown, "depends on values known only after apply: "+strings.Join(unknown, ", "))
	case v == types.True:
		return false, true
	case v == types.False:
		p.finding(f, r, Fail, "")
	default:
		p.finding(f, r, Error, fmt.Sprintf("check returned %v, not a bool", v))
	}
	return true, true
}

// choose picks the program without cost tracking when the resource is
// small enough for it (program.checkFree), else the tracked one.
func (p *program) choose(tracked cel.Program, free *freeProgram, act *resourceActivation) cel.Program {
	if free == nil {
		return tracked
	}
	if prog, bound := free.get(); prog != nil && act.size(bound) <= bound {
		return prog
	}
	return tracked
}

func (p *program) run(prog, partial cel.Program, act *resourceActivation, unknown []string) (ref.Val, error) {
	if len(unknown) == 0 {
		v, _, err := prog.Eval(act)
		return v, err
	}
	patterns := make([]*cel.AttributePatternType, len(unknown))
	for i, u := range unknown {
		pat := cel.AttributePattern("resource")
		for _, q := range strings.Split(u, ".") {
			pat = pat.QualString(q)
		}
		patterns[i] = pat
	}
	pa, err := cel.PartialVars(act, patterns...)
	if err != nil {
		return nil, err
	}
	v, _, err := partial.Eval(pa)
	return v, err
}

// unknownPaths returns the resource's unknown attributes that this rule reads.
func (p *program) unknownPaths(r *inventory.Resource) []string {
	if len(r.Unknown) == 0 {
		return nil
	}
	var out []string
	for _, u := range r.Unknown {
		for _, q := range p.paths {
			if u == q || isParentPath(q, u) || isParentPath(u, q) {
				out = append(out, u)
				break
			}
		}
	}
	return out
}

// isParentPath reports whether parent is a dotted prefix of path ("a.b" of
// "a.b.c"), without building strings in the evaluation loop.
func isParentPath(parent, path string) bool {
	return len(path) > len(parent) && path[len(parent)] == '.' && path[:len(parent)] == parent
}

func (p *program) finding(f *Finding, r *inventory.Resource, st Status, msg string) {
	*f = Finding{Rule: p.rule, Resource: r, Status: st, Message: msg}
	if len(p.checkPaths) > 0 {
		// checkPaths are sorted, so the evidence is in path order.
		f.Evidence = make(Evidence, 0, len(p.checkPaths))
		for _, path := range p.checkPaths {
			if r.IsUnknown(path) {
				f.Evidence = append(f.Evidence, EvidenceItem{path, "(known after apply)"})
				continue
			}
			if val, ok := r.Lookup(path); ok {
				f.Evidence = append(f.Evidence, EvidenceItem{path, val})
			}
		}
	}
}

// resourceActivation gives CEL the one variable rules read, without a map
// allocation per evaluation.
type resourceActivation struct {
	res *inventory.Resource
	// value is res.Value(), asked for only when a program runs: verdict
	// keys read the resource's attributes and common fields directly.
	value map[string]any
	// keys holds, by the slot of a type's key paths (program.keySlots),
	// the encoding of the value at each path in keyBuf; they are the
	// resource's when keyGen is gen (set starts a new one) and keyTrie the
	// program's.
	keys    []pathKey
	keyBuf  []byte
	gen     uint64
	keyGen  uint64
	keyTrie *keyTrie
	// sized is set once maxLen holds the resource's size, measured up to
	// sizedTo (resourceSize); it is measured when a rule first asks.
	sized           bool
	maxLen, sizedTo uint64
}

// set makes the activation present the resource r.
func (a *resourceActivation) set(r *inventory.Resource) {
	a.res, a.value, a.sized = r, nil, false
	a.gen++
}

// resource returns the value rules read as `resource`.
func (a *resourceActivation) resource() map[string]any {
	if a.value == nil {
		a.value = a.res.Value()
	}
	return a.value
}

// pathKey is one path's encoding in resourceActivation.keyBuf.
type pathKey struct {
	start, end int
	ok         bool
}

// pathKey returns the encoding of the value at the key path in slot of
// the trie: 'A' when nothing is there, else appendValueKey's; ok is false
// when a step of the path is not into a map, or the value has no encoding. The first time a program of the resource
// asks, every path of the trie is encoded, each parent looked up once.
func (a *resourceActivation) pathKey(t *keyTrie, slot int) ([]byte, bool) {
	if a.keyGen != a.gen || a.keyTrie != t {
		a.keyBuf = a.keyBuf[:0]
		if cap(a.keys) < t.slots {
			a.keys = make([]pathKey, t.slots)
		}
		a.keys = a.keys[:t.slots]
		a.encodeRoot(t)
		a.keyGen, a.keyTrie = a.gen, t
	}
	k := a.keys[slot]
	return a.keyBuf[k.start:k.end], k.ok
}

// keyState is what the walk of a key trie found at a node.
type keyState uint8

const (
	keyFound    keyState = iota // a value, in cur
	keyAbsent                   // nothing there: it and every path below encode as absent
	keyNotInMap                 // its parent is not a map: no key for it or below
)

// encodeRoot is encodeKeys for the top of the resource, where the common
// fields are read from the resource, strings without boxing them, and the
// attributes of a resource with slots from its slots.
func (a *resourceActivation) encodeRoot(t *keyTrie) {
	slots := t.layout != nil && a.res.Layout() == t.layout
	for _, c := range t.root.children {
		if s, ok := a.res.CommonString(c.seg); ok {
			// A string has no members: its children are not in a map.
			if c.slot >= 0 {
				k := pathKey{start: len(a.keyBuf), ok: true}
				a.keyBuf = appendStringKey(append(a.keyBuf, 'S'), s)
				k.end = len(a.keyBuf)
				a.keys[c.slot] = k
			}
			if len(c.children) > 0 {
				a.encodeKeys(c, nil, keyNotInMap)
			}
			continue
		}
		v, found := a.res.Common(c.seg)
		if !found && slots {
			a.encodeSlots(c)
			continue
		}
		if !found {
			v, found = a.res.Attrs[c.seg]
		}
		a.encodeAt(c, v, found)
	}
}

// encodeSlots is encodeKeys for an attribute node of a resource with
// slots: a slot, an object whose members are slots, or a path the layout
// does not have.
func (a *resourceActivation) encodeSlots(c *keyNode) {
	if c.object {
		if c.slot >= 0 {
			// The whole object: its map, built for the key.
			v, found := a.res.Get(c.path)
			a.encodeNode(c, v, found)
		}
		for _, m := range c.children {
			a.encodeSlots(m)
		}
		return
	}
	var v any
	var found bool
	if c.attr >= 0 {
		v, found = a.res.SlotValue(c.attr)
	} else {
		v, found = a.res.Get(c.path)
	}
	a.encodeAt(c, v, found)
}

// encodeAt encodes the path that ends at c, whose value is v (or absent),
// and the paths below it.
func (a *resourceActivation) encodeAt(c *keyNode, v any, found bool) {
	if c.slot >= 0 {
		a.encodeNode(c, v, found)
	}
	if len(c.children) > 0 {
		st := keyFound
		if !found {
			st = keyAbsent
		}
		a.encodeKeys(c, v, st)
	}
}

// encodeNode encodes the key of the path that ends at c: v, or absent.
func (a *resourceActivation) encodeNode(c *keyNode, v any, found bool) {
	k := pathKey{start: len(a.keyBuf)}
	if found {
		a.keyBuf, k.ok = appendValueKey(a.keyBuf, v, 0)
	} else {
		a.keyBuf, k.ok = append(a.keyBuf, 'A'), true
	}
	k.end = len(a.keyBuf)
	a.keys[c.slot] = k
}

// encodeKeys encodes the paths below n, whose value is cur (state
// keyFound) or which is absent or under a value that is not a map (see
// pathKey).
func (a *resourceActivation) encodeKeys(n *keyNode, cur any, state keyState) {
	for _, c := range n.children {
		var v any
		st := state
		if st == keyFound {
			var found, isMap bool
			switch m := cur.(type) {
			case map[string]any:
				v, found, isMap = lookupKey(m, c.seg)
			case map[string]string:
				v, found, isMap = lookupKey(m, c.seg)
			}
			switch {
			case !isMap:
				st = keyNotInMap
			case !found:
				st = keyAbsent
			}
		}
		if c.slot >= 0 {
			k := pathKey{start: len(a.keyBuf)}
			switch st {
			case keyFound:
				a.keyBuf, k.ok = appendValueKey(a.keyBuf, v, 0)
			case keyAbsent:
				a.keyBuf, k.ok = append(a.keyBuf, 'A'), true
			}
			k.end = len(a.keyBuf)
			a.keys[c.slot] = k
		}
		if len(c.children) > 0 {
			a.encodeKeys(c, v, st)
		}
	}
}

// size returns the length of the longest list, map or string in the
// resource, or a number above limit when it is larger than limit.
func (a *resourceActivation) size(limit uint64) uint64 {
	if !a.sized || a.maxLen > a.sizedTo && limit > a.sizedTo {
		a.maxLen, a.sizedTo, a.sized = resourceSize(a.resource(), limit), limit, true
	}
	return a.maxLen
}

// resourceSize is the length of the longest list or map (in entries) or
// string (in bytes, keys too) in v, or limit+1 as soon as one is longer
// than limit or v holds a value whose size it cannot tell.
func resourceSize(v any, limit uint64) uint64 {
	var n uint64
	grow := func(l int) bool {
		n = max(n, uint64(l))
		return n <= limit
	}
	str := func(s string) bool { return grow(len(s)) }
	var walk func(v any) bool
	walk = func(v any) bool {
		switch x := v.(type) {
		case nil, bool, int64, int, float64, uint64:
			return true
		case string:
			return str(x)
		case []any:
			return listSize(x, grow, walk)
		case map[string]any:
			return mapSize(x, grow, walk)
		case map[string]string:
			return mapSize(x, grow, str)
		case []string:
			return listSize(x, grow, str)
		}
		return false
	}
	if !walk(v) {
		return limit + 1
	}
	return n
}

// listSize and mapSize measure a list or a map and what it holds for
// resourceSize; false as soon as something is too long.
func listSize[V any](l []V, grow func(int) bool, each func(V) bool) bool {
	if !grow(len(l)) {
		return false
	}
	for _, e := range l {
		if !each(e) {
			return false
		}
	}
	return true
}

func mapSize[V any](m map[string]V, grow func(int) bool, each func(V) bool) bool {
	if !grow(len(m)) {
		return false
	}
	for k, e := range m {
		if !grow(len(k)) || !each(e) {
			return false
		}
	}
	return true
}

func (a *resourceActivation) ResolveName(name string) (any, bool) {
	if name == "resource" {
		return a.resource(), true
	}
	return nil, false
}

func (a *resourceActivation) Parent() interpreter.Activation { return nil }

// ReadsNative reports whether a rule of the set may read resource.native on
// resources of the normalized type typ; the engine decodes their native
// attributes only then, and a scan keeps them only then.
func (s *Set) ReadsNative(typ string) bool { return s.native[typ] }

// Types lists the normalized types the set has rules for.
func (s *Set) Types() []string {
	out := make([]string, 0, len(s.byType))
	for t := range s.byType {
		out = append(out, t)
	}
	sort.Strings(out)
	return out
}
