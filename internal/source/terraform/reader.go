package terraform

import (
	"bytes"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/hoheit/hoheit/internal/inventory"
	"github.com/hoheit/hoheit/internal/source/position"
)

// The kinds Detect reports.
const (
	KindPlan  = "terraform-plan"
	KindState = "terraform-state"
)

// Detect tells a plan from a state printed by `terraform show -json` by a
// look at the top-level keys, without decoding the values. It stops at the
// first key that decides, which Terraform writes near the start.
func Detect(data []byte) (kind string, ok bool) {
	d := newDecoder(trimBOM(data))
	versioned, raw := false, false
	err := d.fields(func(k []byte) error {
		switch string(k) {
		case "serial", "lineage":
			// A raw terraform.tfstate, not `terraform show -json` output.
			raw = true
			return errStop
		case "format_version", "terraform_version":
			versioned = true
		case "planned_values", "resource_changes", "prior_state", "resource_drift", "output_changes":
			kind = KindPlan
			return errStop
		case "values":
			if versioned {
				kind = KindState
				return errStop
			}
		}
		return d.skipFast()
	})
	switch {
	case raw:
		return "", false
	case kind != "":
		return kind, true
	case err == nil && versioned:
		// An empty state prints only its versions.
		return KindState, true
	}
	return "", false
}

var errStop = errors.New("stop")

func trimBOM(data []byte) []byte { return bytes.TrimPrefix(data, []byte("\xef\xbb\xbf")) }

// Parse reads a plan or a state as printed by `terraform show -json` and
// returns its managed resources in normalized form. The file name is used in
// locations and errors only. Settings Terraform splits into separate
// resources (aws_s3_bucket_versioning, ...) are joined onto the resource they
// configure; values known only after apply are marked unknown, never taken
// as false; native types hoheit does not model are counted as unsupported.
//
// Malformed input, input nested deeper than MaxDepth and JSON format major
// versions other than 1 are errors naming the file and the position.
func Parse(file string, data []byte) (*inventory.Estate, error) {
	return ParseWith(file, data, Options{})
}

// Options tune ParseWith.
type Options struct {
	// Release, if set, is told of byte ranges of data (offsets from its
	// start) that Parse will most likely not read again: the sections a
	// plan holds but Parse skips, and the resources' values once workers
	// have mapped them. The ranges do not overlap, and calls may come from
	// several goroutines at once. A caller that mapped the file can
	// drop their pages from memory; Parse may still read them (to place an
	// error, or map a resource again), so they must stay readable, as the
	// pages of a mapped file do.
	Release func(start, end int)
	// KeepNative, if set, says whether resources of a normalized type keep
	// their native attributes (inventory.Resource.NativeJSON); nil keeps
	// them for all. A scan whose rules never read resource.native of a
	// type has no use for them: they are as large as the rest of a
	// resource.
	KeepNative func(typ string) bool
}

// ParseWith is Parse with options.
func ParseWith(file string, data []byte, opts Options) (*inventory.Estate, error) {
	trimmed := trimBOM(data)
	bom := len(data) - len(trimmed)
	data = trimmed
	p := &parser{file: file, data: data, keepNative: opts.KeepNative, plannedFrom: -1}
	if opts.Release != nil {
		p.release = func(start, end int) { opts.Release(bom+start, bom+end) }
	}
	p.mappers, p.joiners = registry()
	p.backRefs = backRefRegistry()
	p.keep = newKeySet(keptKeys(p.backRefs))
	if err := p.scan(); err != nil {
		return nil, p.wrap(err)
	}
	return p.build()
}

// parser holds one Parse call's state.
//
// It reads the file in one pass. The scanner walks the structure and
// hands each resource's bulky parts to workers on every core, which decode
// and map it at once, while its maps are still in the cache. A plan's
// resources are taken from resource_changes, where the planned values
// (change.after) and the unknowns (change.after_unknown) sit side by side;
// planned_values only locates and orders them. Mapping needs the
// configuration, which Terraform prints near the end of the file, so the
// parser decodes it ahead, while the scanner passes over planned_values, by
// a guess (the last `"configuration":`), and checks the guess when the
// scan reaches the real key. When the guess fails, variables come late, or
// a file lacks resource_changes, the mapping (and decoding) runs again
// after the scan, with what the scan read.
type parser struct {
	file string
	data []byte
	kind string

	mappers map[string]mapper
	joiners map[string]joiner
	// backRefs are the settings resources others name (lend.go).
	backRefs map[string]backRef
	// keep holds the native keys a mapped resource keeps (see trim).
	keep *keySet

	// planned are the resources of planned_values (plans) or values
	// (states); changes those of resource_changes. build uses changes
	// when the file has them.
	planned, changes []*record

	cfg *configIndex
	// cfgEarly is the configuration decoded ahead of the scan, used by
	// the workers while cfgOK holds.
	cfgEarly *configIndex
	// cfgAt and cfgEnd are where the guessed configuration starts and
	// ends in the file.
	cfgAt, cfgEnd int
	cfgOK         bool
	// cfgDone is closed once cfgEarly, cfgAt and cfgEnd are set.
	cfgDone chan struct{}

	// variables are the root module's input values; lateVariables those
	// found after the workers started.
	variables, lateVariables map[string]any

	// plannedFrom is where the part of planned_values not given back yet
	// starts, -1 when there is none (releasePlanned).
	plannedFrom int
	// locating is set while planned_values is walked only to locate the
	// resources read from resource_changes: planned lists where each is,
	// in file order, so a resource is located where its planned values
	// are; nplanned counts them. With resource_changes in the file nothing
	// else of planned_values is kept.
	locating bool
	located  plannedIndex
	nplanned int
	// plannedValues is where planned_values is, walked again for its
	// resources when resource_changes turns out to have none.
	plannedValues span

	// lines locates resources in a pretty-printed file; nil for a file on
	// one line, where a JSON path says more than "line 1".
	lines *position.Lines

	// release, if set, is told of the parts of the file passed over for
	// good (Options.Release).
	release func(start, end int)
	// keepNative is Options.KeepNative.
	keepNative func(typ string) bool
}

// record is one managed resource instance as the scanner finds it.
type record struct {
	address, mode, typ, name, provider string
	path                               string
	line                               int
	deposed                            bool
	// seq orders the resources as planned_values lists them.
	seq int
	// values and unknown are where the planned values and the unknowns
	// are in the file; the workers decode them.
	values, unknown span

	n   *native
	r   *inventory.Resource
	err error
	// trimmed is set once n keeps only nativeKeysAfterMapping; a second
	// mapping decodes the values again from their span.
	trimmed bool
	// awsFirewall is set for a record mapped to an AWS security group,
	// noted while it is at hand for awsAttachments.
	awsFirewall bool
}

// nativeKeysAfterMapping are the native attributes of a mapped resource
// that later steps read: finding targets by value (join.go), the
// attributes joiners read on their target, security group attachments,
// custom key stores. The attributes lenders follow (backRef.Attr) are kept
// too, without being listed here. Every other native value is dropped once
// the resource is mapped and kept only as the JSON it was read from
// (inventory.Resource.NativeJSON), which is what keeps a large plan's scan
// small. A new joiner or lender that reads another native attribute of its
// target adds it here; the reader's tests fail until it does.
var nativeKeysAfterMapping = []string{
	"id", "arn", "name", "bucket", "cluster_identifier", "account_id",
	"vpc_security_group_ids", "security_groups", "security_group_names",
	"custom_key_store_id",
	"allow_nested_items_to_be_public", "allow_blob_public_access", "public_network_access_enabled",
	"delegated_subnet_id", "security_rule", "public_access_prevention",
}

// keptKeys is nativeKeysAfterMapping with every lender's attribute.
func keptKeys(refs map[string]backRef) []string {
	out := slices.Clone(nativeKeysAfterMapping)
	for _, br := range refs {
		if !slices.Contains(out, br.Attr) {
			out = append(out, br.Attr)
		}
	}
	return out
}

// trim drops the native values, unknowns and configuration expressions
// later steps do not read (the parser's keep list) from a mapped resource.
func trim(rec *record, set *keySet) {
	if rec.trimmed || !rec.values.ok() {
		return
	}
	keys := set.keys
	n := rec.n
	if n.obj != nil {
		// One pass over the fields, asking the set, rather than a search
		// of the fields for every key; of repeated keys the last counts.
		var kept map[string]any
		for i := range n.obj.fields {
			if f := &n.obj.fields[i]; set.has(f.key) {
				if kept == nil {
					kept = make(map[string]any, 4)
				}
				kept[f.key] = n.obj.value(f)
			}
		}
		n.Values, n.obj = kept, nil
	} else {
		n.Values = keepKeys(n.Values, keys)
	}
	if n.unk != nil {
		// Only the kept keys that say something is unknown.
		var kept map[string]any
		for i := range n.unk.fields {
			f := &n.unk.fields[i]
			if !set.has(f.key) {
				continue
			}
			if v := n.unk.unknownOf(f); anyTrue(v, 0) {
				if kept == nil {
					kept = make(map[string]any, 2)
				}
				kept[f.key] = v
			} else {
				// A later duplicate says it is known.
				delete(kept, f.key)
			}
		}
		n.Unknown, n.unk = kept, nil
	} else {
		n.Unknown = keepKeys(n.Unknown, keys)
	}
	n.Config = keepKeys(n.Config, keys)
	if n.lazy.data != nil {
		n.lazy.keep = keys
	}
	rec.r.Native = n.Values
	rec.trimmed = true
}

// keySet is a few keys, asked about by every field of every resource: by
// length first, which tells most fields apart from every key at once.
type keySet struct {
	keys  []string
	byLen [][]string
}

func newKeySet(keys []string) *keySet {
	s := &keySet{keys: keys}
	for _, k := range keys {
		if len(k) >= len(s.byLen) {
			s.byLen = append(s.byLen, make([][]string, len(k)+1-len(s.byLen))...)
		}
		s.byLen[len(k)] = append(s.byLen[len(k)], k)
	}
	return s
}

// has reports whether k is one of the set's keys.
func (s *keySet) has(k string) bool {
	if len(k) >= len(s.byLen) {
		return false
	}
	for _, c := range s.byLen[len(k)] {
		if c == k {
			return true
		}
	}
	return false
}

// keepKeys returns a copy of m with only the keys listed; nil for nil.
func keepKeys(m map[string]any, keys []string) map[string]any {
	if m == nil {
		return nil
	}
	out := make(map[string]any, 4)
	for _, k := range keys {
		if v, ok := m[k]; ok {
			out[k] = v
		}
	}
	return out
}

// span is a value's place in the file and the nesting depth it starts at.
type span struct{ start, end, depth int }

func (sp span) ok() bool { return sp.end > sp.start }

// jobBatch is how many records travel to a worker at once.
const jobBatch = 64

func (p *parser) wrap(err error) error {
	var se *syntaxError
	if errors.As(err, &se) {
		line, col := position.LineColumn(p.data, se.Offset)
		return fmt.Errorf("%s:%d:%d: %s (byte %d); check that it is the unchanged output of `terraform show -json`",
			p.file, line, col, se.Msg, se.Offset)
	}
	return fmt.Errorf("%s: %w", p.file, err)
}

// guessConfig decodes the configuration ahead of the scan, from the last
// `"configuration":` in a plan, and returns it with where it starts and
// ends; a state has none (offsets -1). The scan confirms or refutes the
// guess, and passes over a confirmed one without reading it again.
func guessConfig(data []byte, plan bool) (c *configIndex, start, end int) {
	none := &configIndex{}
	if !plan {
		return none, -1, -1
	}
	key := []byte(`"configuration":`)
	at := lastIndex(data, key)
	if at < 0 {
		return none, -1, -1
	}
	d := newDecoder(data)
	d.pos = at + len(key)
	d.depth = 1
	if d.peek() != '{' {
		return none, -1, -1
	}
	start = d.pos
	c, err := readConfig(d)
	if err != nil {
		return none, -1, -1
	}
	return c, start, d.pos
}

// hasNewline reports whether data holds a line break. A file printed on
// one line, as Terraform prints it, holds none, and is searched through
// on every core: the search is the first thing a scan does, while the
// other cores would wait.
func hasNewline(data []byte) bool {
	const chunk = 16 << 20
	workers := runtime.GOMAXPROCS(0)
	if len(data) < 2*chunk || workers == 1 {
		return bytes.IndexByte(data, '\n') >= 0
	}
	if bytes.IndexByte(data[:chunk], '\n') >= 0 {
		return true // a printed file breaks its first line early
	}
	data = data[chunk:]
	var found atomic.Bool
	share := (len(data) + workers - 1) / workers
	var wg sync.WaitGroup
	for lo := 0; lo < len(data); lo += share {
		wg.Go(func() {
			if bytes.IndexByte(data[lo:min(lo+share, len(data))], '\n') >= 0 {
				found.Store(true)
			}
		})
	}
	wg.Wait()
	return found.Load()
}

// lastIndex is bytes.LastIndex, searching chunks from the end forwards:
// bytes.Index is vectorized, bytes.LastIndex is not, and the configuration
// starts tens of megabytes before the end of a large plan.
func lastIndex(data, key []byte) int {
	const chunk = 1 << 20
	for end := len(data); end > 0; end -= chunk {
		start := max(0, end-chunk)
		// An occurrence starting before end may run past it.
		window := data[start:min(end+len(key)-1, len(data))]
		last := -1
		for off := 0; ; {
			i := bytes.Index(window[off:], key)
			if i < 0 {
				break
			}
			last, off = off+i, off+i+1
		}
		if last >= 0 {
			return start + last
		}
	}
	return -1
}

// scan walks the document once, reading the small fields itself and handing
// the bulky values to workers that decode (and, with the configuration
// known, map) them in parallel.
func (p *parser) scan() error {
	if hasNewline(bytes.TrimRight(p.data, " \r\n\t")) {
		p.lines = position.NewLines(p.data)
	}
	// A plan's resources are read from resource_changes, and planned_values
	// only located: a plan without resource_changes (or with none in it)
	// costs a second pass over planned_values (build), where searching the
	// file for resource_changes first cost every plan 25 ms at 300 MB. Only
	// plans have a configuration to guess.
	kind, _ := Detect(p.data)
	useChanges := kind == KindPlan
	// The guess runs while the scanner passes over planned_values, which
	// needs no configuration; workers wait for it before they map.
	p.cfgOK, p.cfgDone = true, make(chan struct{})
	go func() {
		p.cfgEarly, p.cfgAt, p.cfgEnd = guessConfig(p.data, useChanges)
		close(p.cfgDone)
	}()

	workers := runtime.GOMAXPROCS(0)
	// Workers map only once the configuration is read, which for a large
	// plan takes as long as walking its planned_values: the queue holds all
	// the walker finds meanwhile, so that walking resource_changes and
	// reading the configuration overlap rather than the walker waiting with
	// a core idle (it walks resource_changes ten times faster than workers
	// map them).
	jobs := make(chan job, max(workers*4, jobQueue(len(p.data))))
	behind := &releaser{release: p.release, done: map[int]int{}, min: releaseMin(len(p.data))}
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w := p.newWorker()
			<-p.cfgDone
			for j := range jobs {
				for _, rec := range j.recs {
					w.process(rec, p.cfgEarly)
				}
				behind.finished(j)
			}
		}()
	}
	next := job{recs: make([]*record, 0, jobBatch)}
	flush := func() {
		first, last := next.recs[0], next.recs[len(next.recs)-1]
		next.start, next.end = first.extent().start, last.extent().end
		jobs <- next
		next = job{seq: next.seq + 1, recs: make([]*record, 0, jobBatch)}
	}
	send := func(rec *record) {
		next.recs = append(next.recs, rec)
		if len(next.recs) == jobBatch {
			flush()
		}
	}

	err := p.walk(send, useChanges)
	if len(next.recs) > 0 {
		flush()
	}
	close(jobs)
	wg.Wait()
	<-p.cfgDone
	if err != nil {
		return err
	}
	if p.lateVariables != nil {
		p.variables = p.lateVariables
	}
	if p.kind == "" {
		return errors.New("neither a plan nor a state: no planned_values, resource_changes or values at the top level; pass the output of `terraform show -json`")
	}
	return nil
}

// jobQueue is how many batches the walker may queue ahead of the workers
// for a file of size bytes: every resource it may hold (a plan's take
// 3,000 bytes each, counted at 2,000). A batch queued is a pointer and
// two offsets; its records are made anyway.
func jobQueue(size int) int { return size / 2000 / jobBatch }

// job is a batch of records the walker found one after the other; start
// and end enclose their values in the file.
type job struct {
	seq        int
	recs       []*record
	start, end int
}

// extent is the part of the file that holds the record's values and
// unknowns.
func (rec *record) extent() span {
	sp := rec.values
	if rec.unknown.ok() {
		if !sp.ok() {
			return rec.unknown
		}
		sp.start, sp.end = min(sp.start, rec.unknown.start), max(sp.end, rec.unknown.end)
	}
	return sp
}

// releaser gives back the part of the file the workers are done with, as
// they go: once every batch up to k is processed, everything from the first
// batch's start to the end of batch k, walked and decoded (the resources
// keep copies of what they need), goes to the parser's release. Batches
// finish out of order; the ones ahead wait in done.
type releaser struct {
	// min is the least it gives back at once (releaseMin).
	min     int
	mu      sync.Mutex
	release func(start, end int)
	next    int
	from    int
	started bool
	// done maps the number of each batch finished ahead of next to its end.
	done map[int]int
}

func (r *releaser) finished(j job) {
	if r.release == nil {
		return
	}
	r.mu.Lock()
	if j.seq == 0 {
		r.from, r.started = j.start, true
	}
	r.done[j.seq] = j.end
	upTo := -1
	for {
		end, ok := r.done[r.next]
		if !ok {
			break
		}
		delete(r.done, r.next)
		r.next++
		upTo = end
	}
	from := r.from
	if !r.started || upTo <= from || upTo-from < r.min {
		r.mu.Unlock()
		return
	}
	r.from = upTo
	// Released outside the lock: a release is a system call, which the
	// other workers finishing batches need not wait for.
	r.mu.Unlock()
	r.release(from, upTo)
}

// releaseMin is the least a releaser of a file of size bytes gives back at
// once: each release is a system call that empties the other cores' TLBs,
// and giving back every batch's bytes took 1,300 calls at 300 MB. What is
// left at the end goes when the file is unmapped.
func releaseMin(size int) int { return min(8<<20, size/32) }

// worker decodes and maps records; each has its own decoder and region
// cache.
type worker struct {
	p       *parser
	d       *decoder
	fields  []field // index's scratch
	ufields []field // indexUnknowns' scratch
	regions map[*configIndex]map[string]providerConfig
	// natives is the block the worker copies mapped resources' planned
	// values into (keepJSON).
	natives []byte
	// nav serves the lookups of the resource being mapped.
	nav nav
}

// nativeBlock is the size of the blocks workers copy native JSON into.
const nativeBlock = 1 << 20

// keepJSON copies b into the worker's block of native JSON, so that the
// resource keeps its attributes as the JSON they were read from while the
// file itself (values twice, configuration, ...) is released.
func (w *worker) keepJSON(b []byte) []byte {
	if len(w.natives)+len(b) > cap(w.natives) {
		w.natives = make([]byte, 0, max(nativeBlock, len(b)))
	}
	start := len(w.natives)
	w.natives = append(w.natives, b...)
	return w.natives[start:len(w.natives):len(w.natives)]
}

func (p *parser) newWorker() *worker {
	return &worker{p: p, d: newDecoder(nil), regions: map[*configIndex]map[string]providerConfig{}}
}

// process decodes a record's values and unknowns and, given the
// configuration, maps it.
func (w *worker) process(rec *record, cfg *configIndex) {
	if rec.err != nil || rec.n != nil && (cfg == nil || rec.r != nil) {
		return
	}
	if rec.n == nil {
		values, err := w.index(rec.values)
		if err != nil {
			rec.err = err
			return
		}
		defer w.detach(rec, values)
		unknown, err := w.indexUnknowns(rec.unknown)
		if err != nil {
			rec.err = err
			return
		}
		defer w.detachUnknowns(rec, unknown)
		rec.n = &native{
			Address:  rec.address,
			Type:     rec.typ,
			Name:     rec.name,
			Provider: providerShortName(rec.provider, rec.typ),
			obj:      values,
			unk:      unknown,
			Location: inventory.Location{File: w.p.file, Line: rec.line, Path: rec.path},
		}
	}
	if cfg == nil {
		return
	}
	n := rec.n
	n.outputs, n.inputs = cfg.outputs, cfg.inputs
	n.Config, n.lazy, n.Region, n.account = nil, lazyConfig{}, "", ""
	regions := w.regions[cfg]
	if regions == nil {
		regions = map[string]providerConfig{}
		w.regions[cfg] = regions
	}
	key := n.Provider
	if cr, ok := cfg.resources[configAddress(n.Address)]; ok {
		// Validated when the configuration was read (captureValid),
		// decoded when first read (lazyConfig).
		if cr.expressions.ok() {
			n.lazy = lazyConfig{data: w.p.data, at: cr.expressions}
		} else {
			n.Config = map[string]any{}
		}
		key = cr.providerKey
	}
	if cfg.providers != nil {
		pc, ok := regions[key]
		if !ok {
			pc = w.p.providerSettings(cfg.providers, key)
			regions[key] = pc
		}
		n.Region, n.account = pc.region, pc.account
	}
	m, ok := w.p.mappers[n.Type]
	if !ok {
		return
	}
	w.nav.reset()
	n.nav = &w.nav
	defer func() { n.nav = nil }()
	if attachingTypes[n.Type] {
		n.groupKeys, n.groupKeysRead = groupKeys(n), true
	}
	r, err := safeMap(m, n)
	if err != nil {
		rec.err = err
		return
	}
	if r != nil {
		fillCommon(r, n)
		rec.r = r
		rec.awsFirewall = r.Type == "network.firewall" && r.Provider == "aws"
		trim(rec, w.p.keep)
		if rec.trimmed && (w.p.keepNative == nil || w.p.keepNative(r.Type)) {
			r.NativeJSON = w.keepJSON(w.p.data[rec.values.start:rec.values.end])
		}
	}
}

// index locates the planned values at sp (object); an empty object when
// there are none.
func (w *worker) index(sp span) (*object, error) {
	if !sp.ok() {
		return &object{}, nil
	}
	w.d.reset(w.p.data[sp.start:sp.end], sp.start)
	w.d.depth = sp.depth
	return w.d.index(w.p.data, &w.fields)
}

// detach runs when process is done with a record whose planned values it
// indexed into the worker's scratch: a record still holding them (not
// mapped, or not trimmed) gets its own copy, and the scratch is cleared for
// the next record.
func (w *worker) detach(rec *record, o *object) {
	if rec.n != nil && rec.n.obj == o && len(o.fields) > 0 {
		o.fields = slices.Clone(o.fields)
		// Joiners and lenders read these after the scan, when this part of
		// the file is released: decoded now, their values are not read
		// from the file again.
		_, joined := w.p.joiners[rec.n.Type]
		_, lends := w.p.backRefs[rec.n.Type]
		if joined || lends {
			o.decodeAll()
		}
	}
	clear(w.fields)
	w.fields = w.fields[:0]
}

// indexUnknowns locates the after_unknown at sp as index locates the
// planned values, in the worker's second scratch (detachUnknowns); nil when
// there is none. Its containers are decoded only when a mapper asks about
// them: most are empty blocks, and the few answers that matter are kept by
// trim.
func (w *worker) indexUnknowns(sp span) (*object, error) {
	if !sp.ok() {
		return nil, nil
	}
	w.d.reset(w.p.data[sp.start:sp.end], sp.start)
	w.d.depth = sp.depth
	return w.d.index(w.p.data, &w.ufields)
}

// detachUnknowns is detach for the after_unknown.
func (w *worker) detachUnknowns(rec *record, o *object) {
	if o != nil && rec.n != nil && rec.n.unk == o && len(o.fields) > 0 {
		// Kept for joiners and lenders, read after this part of the file
		// is released: what can say "unknown" is decoded now, the rest
		// dropped.
		kept := o.fields[:0:0]
		for _, f := range o.fields {
			if v := o.unknownAt(f.key); anyTrue(v, 0) {
				kept = append(kept, field{key: f.key, v: v})
			}
		}
		o.fields = kept
	}
	clear(w.ufields)
	w.ufields = w.ufields[:0]
}

func (p *parser) walk(send func(*record), useChanges bool) error {
	d := newDecoder(p.data)
	sent := false
	err := d.fields(func(k []byte) error {
		switch string(k) {
		case "format_version":
			v, err := d.readString()
			if err != nil {
				return err
			}
			if major, _, _ := strings.Cut(v, "."); major != "1" {
				return fmt.Errorf("unsupported format_version %q: hoheit reads the JSON format 1.x of Terraform 1.x; upgrade hoheit or print the file with Terraform 1.x", v)
			}
			return nil
		case "planned_values":
			p.kind = KindPlan
			if useChanges {
				p.locating = true
			}
			start := d.pos
			p.plannedValues = span{start: start, depth: d.depth}
			err := p.walkValues(d, "planned_values", func(rec *record) {
				if !useChanges {
					sent = true
					send(rec)
				}
			})
			p.plannedValues.end = d.pos
			if err == nil && useChanges {
				// Only where the resources are was read from it; their
				// values are taken from resource_changes, which are
				// compared with them (walkChanges) before it goes.
				p.plannedFrom = start
			}
			return err
		case "values":
			if p.kind == "" {
				p.kind = KindState
			}
			return p.walkValues(d, "values", func(rec *record) {
				sent = true
				send(rec)
			})
		case "resource_changes":
			p.kind = KindPlan
			return p.walkChanges(d, func(rec *record) {
				if useChanges {
					sent = true
					send(rec)
				}
			})
		case "configuration":
			<-p.cfgDone
			if p.cfgOK && d.pos == p.cfgAt {
				// The guess was right: the configuration is read, and
				// was checked to its end.
				p.cfg = p.cfgEarly
				d.pos = p.cfgEnd
				return nil
			}
			c, err := readConfig(d)
			if err != nil {
				return err
			}
			p.cfg, p.cfgOK = c, false
			return nil
		case "variables":
			v, err := d.value()
			m, _ := v.(map[string]any)
			if sent {
				// Workers may have taken provider regions without them,
				// and may still be reading: keep them for the second pass.
				p.cfgOK, p.lateVariables = false, m
				return err
			}
			p.variables = m
			return err
		case "prior_state", "resource_drift", "output_changes":
			p.kind = KindPlan
			start := d.pos
			err := d.skipFast()
			if err == nil {
				p.releaseRange(start, d.pos)
			}
			return err
		}
		return d.skipFast()
	})
	if err != nil {
		return err
	}
	p.releasePlanned(p.plannedValues.end, true)
	if p.cfg == nil {
		<-p.cfgDone
		p.cfg = p.cfgEarly
		if p.cfgAt >= 0 {
			// Guessed from a string, not the configuration: there is none.
			p.cfg, p.cfgOK = &configIndex{}, false
		}
	}
	return d.end()
}

// walkValues reads a values representation: {"root_module": {...}}.
func (p *parser) walkValues(d *decoder, path string, send func(*record)) error {
	return d.fields(func(k []byte) error {
		if string(k) == "root_module" {
			return p.walkModule(d, path+".root_module", send)
		}
		return d.skipFast()
	})
}

func (p *parser) walkModule(d *decoder, path string, send func(*record)) error {
	return d.fields(func(k []byte) error {
		switch string(k) {
		case "resources":
			return d.elements(func(i int) error {
				return p.walkResource(d, path+".resources["+strconv.Itoa(i)+"]", send)
			})
		case "child_modules":
			return d.elements(func(i int) error {
				return p.walkModule(d, path+".child_modules["+strconv.Itoa(i)+"]", send)
			})
		}
		return d.skipFast()
	})
}

// capture records where the value at the decoder's position is and skips
// it; only objects are kept.
func capture(d *decoder) (span, error) { return captureWith(d, d.skipFast) }

// captureValid is capture, checking the value as strictly as decoding it
// would.
func captureValid(d *decoder) (span, error) { return captureWith(d, d.validate) }

func captureWith(d *decoder, skip func() error) (span, error) {
	start, depth := d.pos, d.depth
	if err := skip(); err != nil {
		return span{}, err
	}
	if d.data[start] != '{' {
		return span{}, nil
	}
	return span{start, d.pos, depth}, nil
}

func (p *parser) lineAt(off int) int {
	if p.lines == nil {
		return 0
	}
	return p.lines.At(off)
}

// plannedPos is where a resource is in planned_values: its address, order,
// line and JSON path.
type plannedPos struct {
	address   string
	seq, line int
	path      string
	// values is where its planned values are.
	values span
}

// plannedIndex finds the planned_values resources by address. Terraform
// lists resource_changes in the order of planned_values (both by address),
// so find looks at the one after the last it found first, and only a
// resource out of that order looks in a map, built when first needed:
// hashing 100,000 addresses into a map and looking each up again, each
// lookup a cache miss, cost a tenth of the walk.
type plannedIndex struct {
	list      plannedList
	next      int
	byAddress map[string]int
}

func (x *plannedIndex) add(pos plannedPos) { x.list.add(pos) }

// peek returns the next resource in order if it is at address, without
// looking anywhere else; nil if not.
func (x *plannedIndex) peek(address string) *plannedPos {
	if address == "" || x.next >= x.list.len() {
		return nil
	}
	if pos := x.list.at(x.next); pos.address == address {
		return pos
	}
	return nil
}

// readAddress reads a change's address: the string of the next resource
// located in planned_values when it is that one, else a new one.
func (p *parser) readAddress(d *decoder) (string, error) {
	if d.peek() != '"' {
		return "", d.unexpected("a string")
	}
	b, err := d.rawString()
	if err != nil {
		return "", err
	}
	if x := &p.located; x.next < x.list.len() {
		if a := x.list.at(x.next).address; a == string(b) {
			return a, nil
		}
	}
	return string(b), nil
}

// sameValue passes over the value at the decoder's position when it is
// byte for byte the planned value at, returning where it is; span{} when
// it is not (or there is none). Terraform prints a resource's change.after
// as its planned values, and comparing them is ten times faster than
// walking the value a second time. A JSON object is complete at its
// closing brace, so a value that starts with the bytes of one (checked
// when planned_values was walked) is that object.
func sameValue(d *decoder, at *plannedPos) span {
	if at == nil || !at.values.ok() || d.peek() != '{' {
		return span{}
	}
	n := at.values.end - at.values.start
	if d.pos+n > len(d.data) || !bytes.Equal(d.data[d.pos:d.pos+n], d.data[at.values.start:at.values.end]) {
		return span{}
	}
	sp := span{start: d.pos, end: d.pos + n, depth: d.depth}
	d.pos += n
	return sp
}

// releaseRange gives back [start, end) of the file.
func (p *parser) releaseRange(start, end int) {
	if p.release != nil {
		p.release(start, end)
	}
}

// releasePlanned gives back planned_values up to end, in runs of at least
// releaseMin, once the walk over resource_changes has compared what is
// before it; all that is left when force is set.
func (p *parser) releasePlanned(end int, force bool) {
	if p.release == nil || p.plannedFrom < 0 || end <= p.plannedFrom {
		return
	}
	if force || end-p.plannedFrom >= releaseMin(len(p.data)) {
		p.releaseRange(p.plannedFrom, end)
		p.plannedFrom = end
	}
}

// plannedList holds positions in blocks: a slice of 100,000 grown by
// appending copies all of it at each step, five times its size in all.
type plannedList struct {
	blocks [][]plannedPos
	n      int
}

const plannedBlock = 4096

func (l *plannedList) add(pos plannedPos) {
	if l.n%plannedBlock == 0 {
		l.blocks = append(l.blocks, make([]plannedPos, 0, plannedBlock))
	}
	b := &l.blocks[len(l.blocks)-1]
	*b = append(*b, pos)
	l.n++
}

func (l *plannedList) len() int { return l.n }

func (l *plannedList) at(i int) *plannedPos { return &l.blocks[i/plannedBlock][i%plannedBlock] }

// find returns where the resource at address is. An address listed twice
// (Terraform never does) is found at one of its places.
func (x *plannedIndex) find(address string) (plannedPos, bool) {
	if x.next < x.list.len() {
		if pos := x.list.at(x.next); pos.address == address {
			x.next++
			return *pos, true
		}
	}
	if x.byAddress == nil {
		x.byAddress = make(map[string]int, x.list.len())
		for i := range x.list.len() {
			if a := x.list.at(i).address; x.byAddress[a] == 0 {
				x.byAddress[a] = i + 1
			}
		}
	}
	i := x.byAddress[address] - 1
	if i < 0 {
		return plannedPos{}, false
	}
	x.next = i + 1
	return *x.list.at(i), true
}

func (p *parser) walkResource(d *decoder, path string, send func(*record)) error {
	if p.locating {
		return p.locateResource(d, path)
	}
	r := &record{path: path, line: p.lineAt(d.pos)}
	err := d.fields(func(k []byte) error {
		var err error
		switch string(k) {
		case "address":
			r.address, err = d.readUnique()
		case "mode":
			r.mode, err = d.readString()
		case "type":
			r.typ, err = d.readString()
		case "name":
			r.name, err = d.readUnique()
		case "provider_name":
			r.provider, err = d.readString()
		case "values":
			r.values, err = capture(d)
		default:
			err = d.skipFast()
		}
		return err
	})
	if err != nil {
		return err
	}
	if r.mode == "managed" && r.typ != "" && r.address != "" {
		r.seq = p.nplanned
		p.nplanned++
		p.planned = append(p.planned, r)
		send(r)
	}
	return nil
}

// locateResource is walkResource for a plan whose resources are read from
// resource_changes: it notes only where the resource is.
func (p *parser) locateResource(d *decoder, path string) error {
	line := p.lineAt(d.pos)
	var address, mode, typ string
	var values span
	err := d.fields(func(k []byte) error {
		var err error
		switch string(k) {
		case "address":
			address, err = d.readUnique()
		case "mode":
			mode, err = d.readString()
		case "type":
			typ, err = d.readString()
		case "values":
			values, err = capture(d)
		default:
			err = d.skipFast()
		}
		return err
	})
	if err != nil {
		return err
	}
	if mode == "managed" && typ != "" && address != "" {
		p.located.add(plannedPos{address: address, seq: p.nplanned, line: line, path: path, values: values})
		p.nplanned++
	}
	return nil
}

func (p *parser) walkChanges(d *decoder, send func(*record)) error {
	return d.elements(func(i int) error {
		// The path is named below, once the resource is not found in
		// planned_values: nearly all are, located there.
		r := &record{line: p.lineAt(d.pos)}
		err := d.fields(func(k []byte) error {
			var err error
			switch string(k) {
			case "address":
				r.address, err = p.readAddress(d)
			case "mode":
				r.mode, err = d.readString()
			case "type":
				r.typ, err = d.readString()
			case "name":
				r.name, err = d.readUnique()
			case "provider_name":
				r.provider, err = d.readString()
			case "deposed":
				r.deposed = true
				err = d.skipFast()
			case "change":
				// Its planned values, if it is the next resource located in
				// planned_values, as it nearly always is.
				planned := p.located.peek(r.address)
				err = d.fields(func(k []byte) error {
					var err error
					switch string(k) {
					case "after":
						if r.values = sameValue(d, planned); !r.values.ok() {
							r.values, err = capture(d)
						}
					case "after_unknown":
						r.unknown, err = capture(d)
					default:
						err = d.skipFast()
					}
					return err
				})
			default:
				err = d.skipFast()
			}
			return err
		})
		// Deleted, forgotten and deposed objects have no planned values.
		if err == nil && r.mode == "managed" && !r.deposed && r.values.ok() && r.typ != "" && r.address != "" {
			r.seq = p.nplanned + i
			if pr, ok := p.located.find(r.address); ok {
				r.path, r.line, r.seq = pr.path, pr.line, pr.seq
				p.releasePlanned(pr.values.end, false)
			} else {
				r.path = "resource_changes[" + strconv.Itoa(i) + "]"
			}
			p.changes = append(p.changes, r)
			send(r)
		}
		return err
	})
}

// build finishes what the workers could not (all of it, when the
// configuration guess failed), then joins the split resources.
func (p *parser) build() (*inventory.Estate, error) {
	if len(p.changes) == 0 && p.locating && p.nplanned > 0 {
		// "resource_changes" was in the file but held no resources: take
		// them from planned_values after all (the workers map them below).
		d := newDecoder(p.data)
		d.pos, d.depth = p.plannedValues.start, p.plannedValues.depth
		p.locating, p.located, p.nplanned = false, plannedIndex{}, 0
		if err := p.walkValues(d, "planned_values", func(*record) {}); err != nil {
			return nil, p.wrap(err)
		}
	}
	recs := p.planned
	if len(p.changes) > 0 {
		recs = p.changes
		// Terraform lists both by address, so they are nearly always in
		// order already.
		bySeq := func(a, b *record) int { return a.seq - b.seq }
		if !slices.IsSortedFunc(recs, bySeq) {
			slices.SortStableFunc(recs, bySeq)
		}
	}
	cfg := p.cfg
	if cfg == nil {
		cfg = &configIndex{}
	}
	// Without a confirmed guess every record is mapped again with the
	// configuration the scan read.
	redo := !p.cfgOK
	pending := 0
	for _, rec := range recs {
		if rec.err == nil && (rec.n == nil || redo) {
			pending++
		}
	}
	if pending > 0 {
		workers := runtime.GOMAXPROCS(0)
		chunk := (len(recs) + workers - 1) / workers
		var wg sync.WaitGroup
		for lo := 0; lo < len(recs); lo += chunk {
			wg.Add(1)
			go func() {
				defer wg.Done()
				w := p.newWorker()
				for _, rec := range recs[lo:min(lo+chunk, len(recs))] {
					if rec.err != nil || rec.n != nil && !redo {
						continue
					}
					rec.r = nil
					if rec.trimmed {
						rec.n, rec.trimmed = nil, false
					}
					w.process(rec, cfg)
				}
			}()
		}
		wg.Wait()
	}
	for _, rec := range recs {
		if rec.err != nil {
			return nil, p.wrap(rec.err)
		}
	}

	est := &inventory.Estate{Resources: make([]*inventory.Resource, 0, len(recs))}
	natives := make([]*native, len(recs))
	var split []int
	// The natives the later passes read, each gathered here rather than
	// by a pass of its own over every resource; a plan has a few dozen
	// types, classified once each.
	var lenders, awsDefaults, attaching []*native
	var awsFirewalls []*inventory.Resource
	classes := map[string]typeClass{}
	for i, rec := range recs {
		n := rec.n
		natives[i] = n
		c, ok := classes[n.Type]
		if !ok {
			c = p.classify(n.Type)
			classes[n.Type] = c
		}
		mapped, joined, lends := c.mapped, c.joined, c.lends
		if lends {
			lenders = append(lenders, n)
		}
		if c.awsDefault {
			awsDefaults = append(awsDefaults, n)
		}
		if c.attaching {
			attaching = append(attaching, n)
		}
		if rec.awsFirewall && rec.r != nil {
			awsFirewalls = append(awsFirewalls, rec.r)
		}
		switch {
		case rec.r != nil:
			est.Add(rec.r)
		case !mapped && !joined && !lends:
			est.AddUnsupported(providerName(n.Provider), n.Type, n.Address)
		case !joined && !lends && !accountSettings[n.Type]:
			// The mapper declined this one (a diagnostic setting of a
			// single resource, a log sink that exports no audit logs):
			// seen, not modelled, and so counted, never dropped.
			est.AddUnsupported(providerName(n.Provider), n.Type, n.Address)
		}
		if joined {
			split = append(split, i)
		}
	}
	var t *targets
	if len(split) > 0 || hasType(est.Resources, "kms.key") {
		types := map[string]bool{"kms.key": true}
		for _, i := range split {
			types[p.joiners[natives[i].Type].Target] = true
		}
		t = indexTargets(est.Resources, types)
		if err := join(t, natives, split, p.joiners); err != nil {
			return nil, err
		}
	}
	mapped := make([]*inventory.Resource, len(recs))
	for i, rec := range recs {
		mapped[i] = rec.r
	}
	if err := lend(lenders, natives, mapped, p.backRefs); err != nil {
		return nil, err
	}
	awsAccountDefaults(awsDefaults, est.Resources)
	awsAttachments(attaching, awsFirewalls)
	if t != nil {
		resolveKeyManagers(est.Resources, t)
	}
	// The trimmed native values served the joins; the resource keeps its
	// attributes as the JSON they were read from, which the worker that
	// mapped it copied (keepJSON).
	for _, rec := range recs {
		if rec.trimmed && rec.r != nil {
			rec.r.Native = nil
		}
	}
	est.Inputs = []inventory.Input{{Path: p.file, Kind: p.kind, Resources: len(est.Resources)}}
	return est, nil
}

// typeClass is what build does with the resources of one native type.
type typeClass struct {
	mapped, joined, lends bool
	// awsDefault marks the account-wide AWS settings, attaching the
	// types that attach security groups.
	awsDefault, attaching bool
}

func (p *parser) classify(typ string) typeClass {
	var c typeClass
	_, c.mapped = p.mappers[typ]
	_, c.joined = p.joiners[typ]
	_, c.lends = p.backRefs[typ]
	c.awsDefault = awsDefaultTypes[typ]
	c.attaching = attachingTypes[typ]
	return c
}

// safeMap runs a mapper, turning a panic (a bug, never the input's fault)
// into an error that names the resource instead of ending the program.
func safeMap(m mapper, n *native) (r *inventory.Resource, err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("mapping %s failed: %v; this is a bug in hoheit, please report it with the resource type %s", n.Address, v, n.Type)
		}
	}()
	return m(n), nil
}

// providerConfig is what a provider configuration says about where its
// resources are.
type providerConfig struct{ region, account string }

// providerSettings reads the region (region, location) and the account
// (AWS: the account of assume_role's role, or a single allowed_account_ids
// entry) a provider configuration sets, as constants or through root module
// variables.
func (p *parser) providerSettings(providers map[string]any, key string) providerConfig {
	pc, ok := providers[key].(map[string]any)
	if !ok {
		// Module keys are "module.x:aws"; fall back to the provider's own
		// name, the configuration a module inherits by default.
		if _, local, found := strings.Cut(key, ":"); found {
			pc, ok = providers[local].(map[string]any)
		}
		if !ok {
			name, _, _ := strings.Cut(key, ".")
			pc, ok = providers[name].(map[string]any)
		}
		if !ok {
			return providerConfig{}
		}
	}
	exprs, _ := pc["expressions"].(map[string]any)
	var out providerConfig
	for _, attr := range []string{"region", "location"} {
		if s, ok := p.exprValue(exprs[attr]).(string); ok && s != "" {
			out.region = normalizeRegion(s)
			break
		}
	}
	if ids, ok := p.exprValue(exprs["allowed_account_ids"]).([]any); ok && len(ids) == 1 {
		out.account, _ = ids[0].(string)
	}
	if roles, ok := exprs["assume_role"].([]any); ok && len(roles) == 1 {
		role, _ := roles[0].(map[string]any)
		if arn, ok := p.exprValue(role["role_arn"]).(string); ok {
			if parts := strings.SplitN(arn, ":", 6); len(parts) == 6 && parts[4] != "" {
				out.account = parts[4]
			}
		}
	}
	return out
}

// exprValue returns an expression's value when the plan knows it: a
// constant, or a root module variable it refers to.
func (p *parser) exprValue(expr any) any {
	e, _ := expr.(map[string]any)
	if v, ok := e["constant_value"]; ok {
		return v
	}
	refs, _ := e["references"].([]any)
	for _, ref := range refs {
		s, _ := ref.(string)
		if name, ok := strings.CutPrefix(s, "var."); ok {
			if v, ok := p.variables[name].(map[string]any); ok {
				return v["value"]
			}
		}
	}
	return nil
}

// providerShortName takes "registry.terraform.io/hashicorp/aws" to "aws";
// without a provider name it guesses from the type's prefix.
func providerShortName(full, typ string) string {
	if full != "" {
		if i := strings.LastIndexByte(full, '/'); i >= 0 {
			return full[i+1:]
		}
		return full
	}
	name, _, _ := strings.Cut(typ, "_")
	return name
}

// providerName is hoheit's name of a Terraform provider, or the
// Terraform name for providers hoheit does not know.
func providerName(short string) string {
	if p, ok := providerNames[short]; ok {
		return p
	}
	return short
}

// fillCommon sets the common fields a mapper left empty.
func fillCommon(r *inventory.Resource, n *native) {
	if r.Provider == "" {
		r.Provider = providerName(n.Provider)
	}
	if r.NativeType == "" {
		r.NativeType = n.Type
	}
	if r.Address == "" {
		r.Address = n.Address
	}
	if r.ID == "" {
		r.ID = nativeID(n)
	}
	if r.Name == "" {
		r.Name = nativeName(n)
	}
	if r.Tags == nil {
		r.Tags = nativeTags(n)
	}
	if r.Native == nil {
		r.Native = n.Values
	}
	if r.Source == (inventory.Location{}) {
		r.Source = n.Location
	}
	if r.Region == "" {
		r.Region = nativeRegion(n)
	}
	if r.Account == "" {
		r.Account = nativeAccount(n)
	}
	if r.Account == "" {
		r.Account = n.account
	}
}

func nativeID(n *native) string {
	for _, k := range []string{"id", "arn"} {
		if s := n.str(k); s != "" {
			return s
		}
	}
	return n.Address
}

func nativeName(n *native) string {
	if s := n.str("name"); s != "" {
		return s
	}
	for _, k := range []string{"tags_all", "tags"} {
		if s := n.str(k + ".Name"); s != "" {
			return s
		}
	}
	return n.Name
}

func nativeTags(n *native) map[string]string {
	for _, k := range []string{"tags_all", "tags", "labels"} {
		if out, members, ok := n.rawStringMap(k); ok {
			if members == 0 {
				continue
			}
			return out
		}
		m, ok := n.get(k).(map[string]any)
		if !ok || len(m) == 0 {
			continue
		}
		out := make(map[string]string, len(m))
		for k, v := range m {
			if s, ok := v.(string); ok {
				out[k] = s
			}
		}
		return out
	}
	return nil
}

// nativeRegion is the resource's own region, location or zone, else the
// provider's region, else the region in an ARN.
func nativeRegion(n *native) string {
	for _, k := range []string{"region", "location"} {
		if s := n.str(k); s != "" {
			return normalizeRegion(s)
		}
	}
	for _, k := range []string{"zone", "availability_zone"} {
		if s := zoneRegion(n.str(k)); s != "" {
			return s
		}
	}
	if n.Region != "" {
		return n.Region
	}
	if parts := strings.SplitN(n.str("arn"), ":", 6); len(parts) == 6 {
		return parts[3]
	}
	return ""
}

// normalizeRegion lower-cases a region and drops spaces ("West Europe" is
// Azure's westeurope, "EUROPE-WEST3" is Google's europe-west3).
func normalizeRegion(s string) string {
	return strings.ToLower(strings.ReplaceAll(s, " ", ""))
}

// zoneRegion derives the region of an availability zone: AWS
// eu-central-1a, Google europe-west3-b, Open Telekom Cloud eu-de-01. It
// returns "" for names without a recognisable region (OpenStack's "nova").
func zoneRegion(z string) string {
	z = strings.ToLower(z)
	n := len(z)
	switch {
	case n >= 4 && z[n-1] >= 'a' && z[n-1] <= 'z' && z[n-2] >= '0' && z[n-2] <= '9' && strings.Count(z, "-") >= 2:
		return z[:n-1] // eu-central-1a
	case n >= 4 && z[n-2] == '-' && z[n-1] >= 'a' && z[n-1] <= 'z' && z[n-3] >= '0' && z[n-3] <= '9':
		return z[:n-2] // europe-west3-b
	case n >= 6 && z[n-3] == '-' && z[n-2] == '0' && z[n-1] >= '0' && z[n-1] <= '9' && strings.Count(z, "-") >= 2:
		return z[:n-3] // eu-de-01
	}
	return ""
}

// nativeAccount derives the account from values most providers carry: an
// ARN or account/owner id (AWS), a subscription in an Azure id, a Google
// project, an OpenStack project.
func nativeAccount(n *native) string {
	if parts := strings.SplitN(n.str("arn"), ":", 6); len(parts) == 6 && parts[4] != "" {
		return parts[4]
	}
	for _, k := range []string{"account_id", "owner_id", "project", "project_id", "tenant_id"} {
		if s := n.str(k); s != "" {
			return s
		}
	}
	if rest, ok := strings.CutPrefix(n.str("id"), "/subscriptions/"); ok {
		sub, _, _ := strings.Cut(rest, "/")
		return sub
	}
	return ""
}

func hasType(rs []*inventory.Resource, typ string) bool {
	for _, r := range rs {
		if r.Type == typ {
			return true
		}
	}
	return false
}
