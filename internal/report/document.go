package report

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"time"

	"github.com/hoheit/hoheit/internal/inventory"
	"github.com/hoheit/hoheit/internal/rules"
	"runtime"
	"sync"
	"sync/atomic"
)

// SchemaVersion is the version of the JSON report schema
// (docs/report.schema.json). Adding a field keeps it; renaming, removing or
// changing the meaning of one bumps it.
const SchemaVersion = "1"

// document is the sorted, flattened view of a rules.Result that every format
// renders. Its JSON encoding is the json format, so field names here are the
// documented schema.
type document struct {
	SchemaVersion     string        `json:"schema_version"`
	Tool              toolInfo      `json:"tool"`
	GeneratedAt       string        `json:"generated_at"`
	Summary           summary       `json:"summary"`
	Inputs            []input       `json:"inputs"`
	Unsupported       []unsupported `json:"unsupported"`
	ExpiredExceptions []exception   `json:"expired_exceptions"`
	Rules             []ruleInfo    `json:"rules"`
	Findings          []finding     `json:"findings"`

	now time.Time
	// res, order and byID let a writer build each finding when it writes
	// it (findingAt) rather than all at once (materialize): order holds
	// the findings' sort keys in report order, byID each rule's index in
	// Rules.
	res   *rules.Result
	order []*sortKey
	byID  map[string]int
}

// findingAt builds the finding at position i of the report into *f;
// without message, f.Message stays empty where the default applies
// (newFindingNoMessage).
func (d *document) findingAt(i int, f *finding, message bool) {
	k := d.order[i]
	if message {
		*f = newFinding(d.res.Findings[k.seq])
	} else {
		*f = newFindingNoMessage(d.res.Findings[k.seq])
	}
	f.rank, f.seq = k.rank, k.seq
	f.ruleIndex = -1
	if idx, ok := d.byID[f.RuleID]; ok {
		f.ruleIndex = idx
		f.rule = &d.Rules[idx]
	}
}

// touchAhead is how many findings touch reads ahead of the writers.
const touchAhead = 16

// touchSink keeps what touch reads, so that the reads are not optimized
// away.
var touchSink atomic.Int64

// touch reads the resources of findings lo to hi before they are built:
// the findings go rule by rule, so each lands on a resource far from the
// last one in memory, and building them one at a time waits for each
// resource in turn. Read together, up front, the waits overlap. It returns
// a number for touchSink.
func (d *document) touch(lo, hi int) int {
	n := 0
	for _, k := range d.order[lo:hi] {
		n += touchFinding(&d.res.Findings[k.seq])
	}
	return n
}

// touchFinding reads what building f reads apart from f itself: its
// resource, the strings of it a finding writes (the address is the key
// sorted by), and its evidence.
func touchFinding(f *rules.Finding) int {
	n := 0
	if r := f.Resource; r != nil {
		n += len(r.Address) + firstByte(r.Name) + firstByte(r.ID) + firstByte(r.Source.Path)
	}
	if len(f.Evidence) > 0 {
		n += len(f.Evidence[0].Path)
	}
	return n
}

// firstByte reads the first byte of s, 0 if it is empty (touch).
func firstByte(s string) int {
	if s == "" {
		return 0
	}
	return int(s[0])
}

// materialize builds every finding into Findings, for the writers that
// read them more than once or out of order. A large scan's findings take
// more memory than the rest of the report; the JSON writer builds one at a
// time instead.
func (d *document) materialize() {
	if d.Findings != nil && len(d.Findings) == len(d.order) {
		return
	}
	d.Findings = make([]finding, len(d.order))
	inChunks(len(d.order), func(lo, hi int) {
		for i := lo; i < hi; i++ {
			d.findingAt(i, &d.Findings[i], true)
		}
	})
}

type toolInfo struct {
	Name           string `json:"name"`
	Version        string `json:"version"`
	InformationURI string `json:"information_uri"`
}

type summary struct {
	Resources            int            `json:"resources"`
	Rules                int            `json:"rules"`
	Checks               int            `json:"checks"`
	Passed               int            `json:"passed"`
	Failed               int            `json:"failed"`
	FailedBySeverity     map[string]int `json:"failed_by_severity"`
	Suppressed           int            `json:"suppressed"`
	Errors               int            `json:"errors"`
	Unknown              int            `json:"unknown"`
	ExpiredExceptions    int            `json:"expired_exceptions"`
	Inputs               int            `json:"inputs"`
	InputsFailed         int            `json:"inputs_failed"`
	InputsSkipped        int            `json:"inputs_skipped"`
	UnsupportedTypes     int            `json:"unsupported_types"`
	UnsupportedResources int            `json:"unsupported_resources"`
}

type input struct {
	Path      string `json:"path"`
	Kind      string `json:"kind,omitempty"`
	Resources int    `json:"resources"`
	Error     string `json:"error,omitempty"`
	Skipped   string `json:"skipped,omitempty"`
}

type unsupported struct {
	Provider   string   `json:"provider"`
	NativeType string   `json:"native_type"`
	Count      int      `json:"count"`
	Examples   []string `json:"examples,omitempty"`
}

type exception struct {
	Rule          string          `json:"rule,omitempty"`
	Resources     *rules.Selector `json:"resources,omitempty"`
	Justification string          `json:"justification"`
	Owner         string          `json:"owner"`
	Expires       string          `json:"expires,omitempty"`
	File          string          `json:"file,omitempty"`
	Line          int             `json:"line,omitempty"`
}

type ruleInfo struct {
	ID          string              `json:"id"`
	Title       string              `json:"title"`
	Description string              `json:"description,omitempty"`
	Severity    string              `json:"severity"`
	Pack        string              `json:"pack,omitempty"`
	Frameworks  map[string][]string `json:"frameworks"`
	Remediation remediation         `json:"remediation"`
	Findings    int                 `json:"findings"`

	sev rules.Severity
}

type remediation struct {
	Guidance string `json:"guidance,omitempty"`
	Action   string `json:"action,omitempty"`
}

type resourceRef struct {
	Address    string `json:"address,omitempty"`
	ID         string `json:"id"`
	Name       string `json:"name,omitempty"`
	Type       string `json:"type"`
	NativeType string `json:"native_type"`
	Provider   string `json:"provider"`
	Account    string `json:"account,omitempty"`
	Region     string `json:"region,omitempty"`
	Country    string `json:"country,omitempty"`
}

type location struct {
	File string `json:"file,omitempty"`
	Line int    `json:"line,omitempty"`
	Path string `json:"path,omitempty"`
}

type finding struct {
	Fingerprint string              `json:"fingerprint"`
	RuleID      string              `json:"rule_id"`
	Title       string              `json:"title"`
	Severity    string              `json:"severity"`
	Status      string              `json:"status"`
	Message     string              `json:"message"`
	Resource    resourceRef         `json:"resource"`
	Frameworks  map[string][]string `json:"frameworks"`
	Location    location            `json:"location"`
	Evidence    rules.Evidence      `json:"evidence"`
	Exception   *exception          `json:"exception,omitempty"`
	// Remediation is the rule's; JSON carries it once per rule in rules[],
	// not on each of what may be hundreds of thousands of findings.
	Remediation remediation `json:"-"`
	Pack        string      `json:"pack,omitempty"`

	sev rules.Severity
	// rank is statusRank(Status) and seq the engine's position, both for
	// a cheap, deterministic sort.
	rank, seq int
	rule      *ruleInfo
	ruleIndex int
	// detail is the engine's own message (why an error or unknown), empty
	// for plain failures; Message falls back to a sentence built from the
	// rule and resource.
	detail string
	// streamed is set when the fingerprint, and the default message if
	// Message is empty, are built where they are written
	// (newFindingNoMessage).
	streamed bool
}

// key is how the finding names its resource to a person: the Terraform
// address where there is one, otherwise the provider's id.
func (f *finding) key() string {
	if f.Resource.Address != "" {
		return f.Resource.Address
	}
	return f.Resource.ID
}

// sortKey is what findings are sorted on, taken from the engine's finding
// before the report's finding is built.
type sortKey struct {
	sev         rules.Severity
	rank, seq   int
	ruleID, key string
	r           *inventory.Resource
}

// noResource stands in for a finding's missing resource in the sort.
var noResource = &inventory.Resource{}

func newSortKey(f *rules.Finding, seq int) sortKey {
	k := sortKey{rank: statusRank(f.Status), seq: seq, r: f.Resource}
	if f.Rule != nil {
		k.sev, k.ruleID = f.Rule.Severity, f.Rule.ID
	}
	if k.r == nil {
		k.r = noResource
	}
	k.key = k.r.Address
	if k.key == "" {
		k.key = k.r.ID
	}
	return k
}

// statusRank orders the statuses inside one rule: what needs action first.
func statusRank(s rules.Status) int {
	switch s {
	case rules.Error:
		return 1
	case rules.Unknown:
		return 2
	case rules.Suppressed:
		return 3
	}
	return 0
}

// newDocument builds the document with every finding in Findings.
func newDocument(res *rules.Result, opts Options) *document {
	d := planDocument(res, opts)
	d.materialize()
	return d
}

// planDocument builds the document but its findings: they are sorted and
// counted, and built by findingAt or materialize.
func planDocument(res *rules.Result, opts Options) *document {
	now := time.Now
	if opts.Now != nil {
		now = opts.Now
	}
	version := opts.ToolVersion
	if version == "" {
		version = "dev"
	}
	d := &document{
		SchemaVersion:     SchemaVersion,
		Tool:              toolInfo{Name: ToolName, Version: version, InformationURI: InformationURI},
		now:               now().UTC(),
		Inputs:            []input{},
		Unsupported:       []unsupported{},
		ExpiredExceptions: []exception{},
		Rules:             []ruleInfo{},
		Findings:          []finding{},
	}
	d.GeneratedAt = d.now.Format(time.RFC3339)
	s := &d.Summary
	s.FailedBySeverity = map[string]int{}
	for _, name := range rules.Severities {
		s.FailedBySeverity[name] = 0
	}

	if e := res.Estate; e != nil {
		s.Resources = len(e.Resources)
		for _, in := range e.Inputs {
			d.Inputs = append(d.Inputs, input(in))
			if in.Error != "" {
				s.InputsFailed++
			}
			if in.Skipped != "" {
				s.InputsSkipped++
			}
		}
		for _, u := range e.Unsupported {
			d.Unsupported = append(d.Unsupported, unsupported(u))
			s.UnsupportedResources += u.Count
		}
		slices.SortStableFunc(d.Unsupported, func(a, b unsupported) int {
			return cmp.Or(cmp.Compare(b.Count, a.Count), cmp.Compare(a.Provider, b.Provider), cmp.Compare(a.NativeType, b.NativeType))
		})
	}
	s.Inputs = len(d.Inputs)
	s.UnsupportedTypes = len(d.Unsupported)

	for _, x := range res.ExpiredExceptions {
		if x == nil {
			continue
		}
		e := newException(x)
		e.Rule = x.Rule
		sel := x.Resources
		e.Resources = &sel
		d.ExpiredExceptions = append(d.ExpiredExceptions, e)
	}
	slices.SortStableFunc(d.ExpiredExceptions, func(a, b exception) int {
		return cmp.Or(cmp.Compare(a.Expires, b.Expires), cmp.Compare(a.Rule, b.Rule), cmp.Compare(a.File, b.File), cmp.Compare(a.Line, b.Line))
	})
	s.ExpiredExceptions = len(d.ExpiredExceptions)

	// Rules: every evaluated rule, plus any a finding names that the result
	// did not list, so every finding has its rule entry.
	byID := map[string]int{}
	addRule := func(r *rules.Rule) {
		if r == nil {
			return
		}
		if _, ok := byID[r.ID]; ok {
			return
		}
		byID[r.ID] = len(d.Rules)
		d.Rules = append(d.Rules, newRuleInfo(r))
	}
	for _, r := range res.Rules {
		addRule(r)
	}
	for _, f := range res.Findings {
		addRule(f.Rule)
	}
	slices.SortFunc(d.Rules, func(a, b ruleInfo) int {
		return cmp.Or(cmp.Compare(b.sev, a.sev), cmp.Compare(a.ID, b.ID))
	})
	for i := range d.Rules {
		byID[d.Rules[i].ID] = i
	}
	s.Rules = len(d.Rules)
	s.Checks = res.Checks
	s.Passed = res.Passed

	// Sort small keys, then build each finding once, in its final place:
	// building the large finding values first and moving them (or copying
	// them after sorting pointers) dominated the sort.
	keys := make([]sortKey, len(res.Findings))
	inChunks(len(keys), func(lo, hi int) {
		touched := 0
		for i := lo; i < hi; i++ {
			if (i-lo)%touchAhead == 0 {
				// As in writing them (document.touch): the findings'
				// resources lie all over memory.
				for j := i; j < min(i+touchAhead, hi); j++ {
					touched += touchFinding(&res.Findings[j])
				}
			}
			keys[i] = newSortKey(&res.Findings[i], i)
		}
		touchSink.Add(int64(touched))
	})
	order := make([]*sortKey, len(keys))
	for i := range keys {
		order[i] = &keys[i]
	}
	message := func(k *sortKey) string { return newFinding(res.Findings[k.seq]).Message }
	byRule := func(a, b *sortKey) int {
		if c := cmp.Compare(b.sev, a.sev); c != 0 {
			return c
		}
		return cmp.Compare(a.ruleID, b.ruleID)
	}
	within := func(a, b *sortKey) int {
		if c := cmp.Compare(a.rank, b.rank); c != 0 {
			return c
		}
		if c := cmp.Compare(a.key, b.key); c != 0 {
			return c
		}
		if c := cmp.Or(
			cmp.Compare(a.r.Provider, b.r.Provider),
			cmp.Compare(a.r.Account, b.r.Account),
			cmp.Compare(a.r.Region, b.r.Region),
			cmp.Compare(a.r.ID, b.r.ID),
		); c != 0 {
			return c
		}
		// The same rule on the same resource twice (the same address in two
		// inputs): the message, built only here, then the engine's order.
		return cmp.Or(cmp.Compare(message(a), message(b)), cmp.Compare(a.seq, b.seq))
	}
	if slices.IsSortedFunc(order, byRule) {
		// The engine's order (rules.Set.Evaluate) already groups the
		// findings by severity and rule: each rule's run is sorted on its
		// own, the runs on every core.
		var runs [][2]int
		for lo := 0; lo < len(order); {
			hi := lo + 1
			for hi < len(order) && byRule(order[lo], order[hi]) == 0 {
				hi++
			}
			runs = append(runs, [2]int{lo, hi})
			lo = hi
		}
		// Shares of about equal findings, one per core.
		workers := runtime.GOMAXPROCS(0)
		if len(order) < 4096 {
			workers = 1
		}
		var wg sync.WaitGroup
		share := (len(order) + workers - 1) / workers
		for first := 0; first < len(runs); {
			last := first
			for last < len(runs) && runs[last][1]-runs[first][0] <= share {
				last++
			}
			last = max(last, first+1)
			group := runs[first:last]
			wg.Go(func() {
				for _, r := range group {
					slices.SortFunc(order[r[0]:r[1]], within)
				}
			})
			first = last
		}
		wg.Wait()
	} else {
		slices.SortFunc(order, func(a, b *sortKey) int { return cmp.Or(byRule(a, b), within(a, b)) })
	}
	d.res, d.order, d.byID = res, order, byID
	// The summary and the rules' counts, without building the findings:
	// in the engine's order, where a rule's findings follow each other,
	// counting failures by severity before naming them.
	var lastRule *rules.Rule
	lastIdx, lastOK := 0, false
	var failedBySev [rules.Critical + 1]int
	for i := range res.Findings {
		f := &res.Findings[i]
		if f.Rule != nil {
			if f.Rule != lastRule {
				lastRule = f.Rule
				lastIdx, lastOK = byID[f.Rule.ID]
			}
			if lastOK {
				d.Rules[lastIdx].Findings++
			}
		}
		switch f.Status {
		case rules.Fail:
			s.Failed++
			var sev rules.Severity
			if f.Rule != nil {
				sev = f.Rule.Severity
			}
			if sev >= 0 && int(sev) < len(failedBySev) {
				failedBySev[sev]++
			} else {
				s.FailedBySeverity[sev.String()]++
			}
		case rules.Suppressed:
			s.Suppressed++
		case rules.Error:
			s.Errors++
		case rules.Unknown:
			s.Unknown++
		}
	}
	for sev, n := range failedBySev {
		if n > 0 {
			s.FailedBySeverity[rules.Severity(sev).String()] += n
		}
	}
	return d
}

func newRuleInfo(r *rules.Rule) ruleInfo {
	return ruleInfo{
		ID:          r.ID,
		Title:       r.Title,
		Description: r.Description,
		Severity:    r.Severity.String(),
		Pack:        r.Pack,
		Frameworks:  frameworksOf(r),
		Remediation: remediation(r.Remediation),
		sev:         r.Severity,
	}
}

// frameworksOf returns the rule's framework map, shared, never nil; the
// report only reads it.
// noFrameworks and noEvidence are the shared, never written, empty values of
// findings without frameworks or evidence.
var (
	noFrameworks = map[string][]string{}
	noEvidence   = rules.Evidence{}
)

func frameworksOf(r *rules.Rule) map[string][]string {
	if r.Frameworks == nil {
		return noFrameworks
	}
	return r.Frameworks
}

func newException(x *rules.Exception) exception {
	e := exception{Justification: x.Justification, Owner: x.Owner, File: x.File, Line: x.Line}
	if !x.Expires.IsZero() {
		e.Expires = x.Expires.Format(time.DateOnly)
	}
	return e
}

func newFinding(f rules.Finding) finding {
	out := newFindingNoMessage(f)
	if out.Message == "" {
		out.Message = defaultMessage(&out)
	}
	out.Fingerprint, out.streamed = fingerprint(out.RuleID, out.Resource), false
	return out
}

// newFindingNoMessage is newFinding without the default message and the
// fingerprint, which the JSON writer builds in place (streamed): Message is
// empty when the engine gave none, Fingerprint always.
func newFindingNoMessage(f rules.Finding) finding {
	out := finding{
		Status:     string(f.Status),
		Message:    f.Message,
		Frameworks: noFrameworks,
		Severity:   rules.Severity(0).String(),
	}
	if r := f.Rule; r != nil {
		out.RuleID = r.ID
		out.Title = r.Title
		out.Severity = r.Severity.String()
		out.sev = r.Severity
		out.Frameworks = frameworksOf(r)
		out.Remediation = remediation(r.Remediation)
		out.Pack = r.Pack
	}
	if r := f.Resource; r != nil {
		out.Resource = resourceRef{
			Address:    r.Address,
			ID:         r.ID,
			Name:       r.Name,
			Type:       r.Type,
			NativeType: r.NativeType,
			Provider:   r.Provider,
			Account:    r.Account,
			Region:     r.Region,
			Country:    r.Jurisdiction.Country,
		}
		out.Location = location(r.Source)
	}
	// Evidence is shared with the engine's finding, read-only, unless a
	// value needs replacing to be written as JSON.
	out.Evidence = f.Evidence
	if !evidenceJSONSafe(f.Evidence) {
		out.Evidence = make(rules.Evidence, len(f.Evidence))
		for i, it := range f.Evidence {
			out.Evidence[i] = rules.EvidenceItem{Path: it.Path, Value: jsonSafe(it.Value)}
		}
	}
	if out.Evidence == nil {
		out.Evidence = noEvidence
	}
	if f.Exception != nil {
		e := newException(f.Exception)
		out.Exception = &e
	}
	out.detail = f.Message
	out.streamed = true
	return out
}

// defaultMessage says what a finding without an engine message means.
func defaultMessage(f *finding) string {
	return string(appendDefaultMessage(nil, f))
}

// appendDefaultMessage appends defaultMessage's sentence to b; the JSON
// writer builds it in place rather than as a string per finding.
func appendDefaultMessage(b []byte, f *finding) []byte {
	what := func(b []byte) []byte {
		b = append(b, f.RuleID...)
		if f.Title != "" {
			b = append(b, " ("...)
			b = append(b, f.Title...)
			b = append(b, ')')
		}
		return b
	}
	switch f.Status {
	case string(rules.Suppressed):
		b = append(b, f.key()...)
		b = append(b, " does not comply with "...)
		return append(what(b), "; an exception accepts it"...)
	case string(rules.Error):
		b = what(b)
		b = append(b, " could not be evaluated on "...)
		return append(b, f.key()...)
	case string(rules.Unknown):
		b = append(b, f.key()...)
		b = append(b, " cannot be checked against "...)
		return append(what(b), " before apply"...)
	}
	b = append(b, f.key()...)
	b = append(b, " does not comply with "...)
	return what(b)
}

// fingerprint identifies a (rule, resource) pair across scans: it leaves out
// the line, which moves when a file is edited, so SARIF consumers and
// ticketing systems see the same finding as the same finding.
func fingerprint(ruleID string, r resourceRef) string {
	var hexSum [32]byte
	return string(appendFingerprint(hexSum[:0], ruleID, r))
}

// appendFingerprint appends the fingerprint's 32 hex digits to dst.
func appendFingerprint(dst []byte, ruleID string, r resourceRef) []byte {
	name := r.Address
	if name == "" {
		name = r.ID
	}
	// One buffer, on the stack for the usual lengths, hashed at once: a
	// report computes hundreds of thousands.
	var stack [256]byte
	b := stack[:0]
	for _, part := range [...]string{"hoheit/v1", ruleID, r.Provider, r.Account, r.Region, name} {
		b = append(append(b, part...), 0)
	}
	sum := sha256.Sum256(b)
	return hex.AppendEncode(dst, sum[:16])
}

// severityNames lists the severities highest first, as reports show them.
var severityNames = []string{"critical", "high", "medium", "low"}

// where is where a finding points a reader: file:line for
// infrastructure code, provider/account/region for a live resource.
func (f *finding) where() string {
	if f.Location.File != "" || f.Location.Path != "" {
		return inventory.Location(f.Location).String()
	}
	parts := make([]string, 0, 3)
	for _, p := range []string{f.Resource.Provider, f.Resource.Account, f.Resource.Region} {
		if p != "" {
			parts = append(parts, p)
		}
	}
	return joinNonEmpty(parts, "/")
}

func joinNonEmpty(parts []string, sep string) string {
	out := ""
	for _, p := range parts {
		if p == "" {
			continue
		}
		if out != "" {
			out += sep
		}
		out += p
	}
	return out
}

// jsonSafe returns v, or a string in place of what JSON cannot encode (NaN,
// infinities, channels, funcs), so one odd evidence value cannot make the
// whole report fail to write.
// isJSONSafe reports whether v holds only values encoding/json writes as
// they are (no NaN, infinities, channels, funcs), so it can be shared as it
// is rather than copied by jsonSafe.
func evidenceJSONSafe(e rules.Evidence) bool {
	for _, it := range e {
		if !isJSONSafe(it.Value) {
			return false
		}
	}
	return true
}

func isJSONSafe(v any) bool {
	switch x := v.(type) {
	case nil, bool, string, int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64, []string, map[string]string:
		return true
	case float64:
		return !math.IsNaN(x) && !math.IsInf(x, 0)
	case []any:
		for _, e := range x {
			if !isJSONSafe(e) {
				return false
			}
		}
		return true
	case map[string]any:
		for _, e := range x {
			if !isJSONSafe(e) {
				return false
			}
		}
		return true
	}
	return false
}

func jsonSafe(v any) any {
	switch x := v.(type) {
	case nil, bool, string, int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64, []string, map[string]string:
		return v
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return strconv.FormatFloat(x, 'g', -1, 64)
		}
		return v
	case float32:
		return jsonSafe(float64(x))
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = jsonSafe(e)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = jsonSafe(e)
		}
		return out
	}
	if _, err := json.Marshal(v); err != nil {
		return fmt.Sprint(v)
	}
	return v
}

// inChunks calls fn over [0, n) split into one chunk per core, in parallel,
// and returns when all are done. fn must touch only its own indexes.
func inChunks(n int, fn func(lo, hi int)) {
	workers := runtime.GOMAXPROCS(0)
	if n < 4096 || workers == 1 {
		fn(0, n)
		return
	}
	chunk := (n + workers - 1) / workers
	var wg sync.WaitGroup
	for lo := 0; lo < n; lo += chunk {
		wg.Add(1)
		go func() {
			defer wg.Done()
			fn(lo, min(lo+chunk, n))
		}()
	}
	wg.Wait()
}
