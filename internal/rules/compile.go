package rules

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync/atomic"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/ast"
	"cel.dev/cel-go/common/cost"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/ext"

	"github.com/hoheit/hoheit/internal/inventory"
)

// DefaultCostLimit bounds the work one check may do on one resource. A rule
// over the limit yields an error result for that resource.
const DefaultCostLimit = 1_000_000

// Set is a compiled collection of rules, ready to evaluate.
type Set struct {
	Rules     []*Rule
	byType    map[string][]*program
	ruleOrder map[*Rule]int // position by id, for sorting findings
	// native lists the types with a rule that reads resource.native: only
	// their resources' native attributes are decoded (see
	// inventory.Resource.EnsureNative).
	native map[string]bool
	// programs counts the programs of byType; each has its id below it.
	programs int
	// ranks counts the ranks programs have (program.rank).
	ranks int
}

// program is one rule compiled for one normalized type.
type program struct {
	rule        *Rule
	typ         string
	pre, check  cel.Program
	partialPre  cel.Program
	partial     cel.Program
	paths       []string // attribute paths the precondition and check read
	prePaths    []string
	checkPaths  []string
	hasPrecheck bool
	// preFree and checkFree are pre and check without runtime cost
	// tracking, for resources small enough (freeProgram); nil when pre or
	// check is not tracked (no comprehension).
	preFree, checkFree *freeProgram
	// id numbers the program in its set, for the engine's per-program
	// state; rank is its rule's place in the order of findings.
	id, rank int
	// pure is set when the precondition and the check read the resource
	// only through the selections in keyPaths: the verdict is then a
	// function of those attributes' values, and the engine may reuse it
	// for another resource with the same values (verdictCache).
	pure     bool
	keyPaths []string
	// keySlots number keyPaths among the key paths of all the type's
	// programs, the leaves of keys, which the engine encodes once per
	// resource for all of them (resourceActivation.pathKey).
	keySlots []int
	keys     *keyTrie
}

// keyTrie holds the key paths of a type's programs by their segments, so
// that a path's parent (encryption.at_rest) is looked up once for all the
// paths below it.
type keyTrie struct {
	root  keyNode
	slots int
	// layout is the layout of the type's resources with slots
	// (inventory.Resource.Layout), which place marks on the nodes.
	layout *inventory.Layout
}

// keyNode is one segment; slot is the number of the path that ends at it,
// or -1. With a layout, path is the node's dotted path, and attr the
// resource's slot for it (-1 for none), object set for an object.
type keyNode struct {
	seg      string
	slot     int
	children []*keyNode
	path     string
	attr     int
	object   bool
}

// place marks the nodes below n with where layout puts their paths.
func (t *keyTrie) place(layout *inventory.Layout) {
	t.layout = layout
	var walk func(n *keyNode, prefix string)
	walk = func(n *keyNode, prefix string) {
		for _, c := range n.children {
			c.path = prefix + c.seg
			c.attr, c.object = -1, false
			if layout != nil {
				c.attr, c.object = layout.Slot(c.path)
			}
			walk(c, c.path+".")
		}
	}
	walk(&t.root, "")
}

// add puts path into the trie, returning its slot.
func (t *keyTrie) add(path string) int {
	n := &t.root
	for _, seg := range strings.Split(path, ".") {
		var next *keyNode
		for _, c := range n.children {
			if c.seg == seg {
				next = c
				break
			}
		}
		if next == nil {
			next = &keyNode{seg: seg, slot: -1}
			n.children = append(n.children, next)
		}
		n = next
	}
	if n.slot < 0 {
		n.slot = t.slots
		t.slots++
	}
	return n.slot
}

// freeProgram is an expression compiled without runtime cost tracking,
// for resources whose size (resourceSize) is at most bound: at that size
// its static cost estimate is far under the limit (freeBound). It is
// built when a resource of its type first needs it, so that a scan pays
// for the estimates of the rules it runs only.
type freeProgram struct {
	// state is freeNew, freeBuilding or freeBuilt; prog and bound are
	// set before it becomes freeBuilt.
	state atomic.Int32
	env   *cel.Env
	ast   *cel.Ast
	limit uint64
	prog  cel.Program
	bound uint64
}

const (
	freeNew = iota
	freeBuilding
	freeBuilt
)

// get returns the program and its bound; a nil program if it could not be
// built, or while another goroutine builds it: the tracked one runs then,
// with the same result, rather than a core waiting.
func (f *freeProgram) get() (cel.Program, uint64) {
	switch f.state.Load() {
	case freeBuilt:
		return f.prog, f.bound
	case freeBuilding:
		return nil, 0
	}
	if !f.state.CompareAndSwap(freeNew, freeBuilding) {
		return f.get()
	}
	if prog, err := f.env.Program(f.ast, cel.EvalOptions(cel.OptOptimize)); err == nil {
		f.prog, f.bound = prog, freeBound(f.env, f.ast, f.limit)
	}
	f.env, f.ast = nil, nil
	f.state.Store(freeBuilt)
	return f.prog, f.bound
}

// CompileError is one rule that failed to compile, with where it is written.
type CompileError struct {
	Rule string
	File string
	Line int
	Msg  string
}

func (e *CompileError) Error() string {
	loc := e.File
	if e.Line > 0 {
		loc = fmt.Sprintf("%s:%d", e.File, e.Line)
	}
	if loc != "" {
		loc += ": "
	}
	return fmt.Sprintf("%srule %s: %s", loc, e.Rule, e.Msg)
}

// Compiler builds CEL programs against the normalized model. One compiler
// holds one environment per normalized type; it is safe to reuse.
type Compiler struct {
	envs      map[string]*cel.Env
	costLimit uint64
}

// NewCompiler prepares the CEL environments for every normalized type.
func NewCompiler(costLimit uint64) (*Compiler, error) {
	if costLimit == 0 {
		costLimit = DefaultCostLimit
	}
	c := &Compiler{envs: map[string]*cel.Env{}, costLimit: costLimit}
	for t := range inventory.Schemas {
		prov, err := newModelProvider()
		if err != nil {
			return nil, fmt.Errorf("creating CEL type registry: %w", err)
		}
		env, err := cel.NewEnv(
			cel.CustomTypeProvider(prov),
			cel.Variable("resource", cel.ObjectType(typePrefix+t)),
			cel.OptionalTypes(),
			ext.Strings(),
			ext.Sets(),
			ext.Lists(),
		)
		if err != nil {
			return nil, fmt.Errorf("creating CEL environment for %s: %w", t, err)
		}
		c.envs[t] = env
	}
	return c, nil
}

// Compile type-checks every rule against each type it names and returns the
// compiled set. All problems are returned together, one CompileError each.
func (c *Compiler) Compile(rs []*Rule) (*Set, error) {
	set := &Set{Rules: rs, byType: map[string][]*program{}, ruleOrder: map[*Rule]int{}, native: map[string]bool{}}
	byID := slices.Clone(rs)
	slices.SortFunc(byID, func(a, b *Rule) int { return strings.Compare(a.ID, b.ID) })
	for i, r := range byID {
		set.ruleOrder[r] = i
	}
	// A rule's rank is its place in the findings' order: highest severity
	// first, then by id (sortFindings).
	byRank := slices.Clone(byID)
	slices.SortStableFunc(byRank, func(a, b *Rule) int { return int(b.Severity) - int(a.Severity) })
	rank := make(map[*Rule]int, len(byRank))
	for i, r := range byRank {
		rank[r] = i
	}
	set.ranks = len(byRank)
	var errs []error
	seen := map[string]*Rule{}
	for _, r := range rs {
		if prev, ok := seen[r.ID]; ok {
			errs = append(errs, &CompileError{Rule: r.ID, File: r.File, Line: r.Line,
				Msg: fmt.Sprintf("duplicate id, also defined in %s:%d", prev.File, prev.Line)})
			continue
		}
		seen[r.ID] = r
		if err := validate(r); err != nil {
			errs = append(errs, &CompileError{Rule: r.ID, File: r.File, Line: r.Line, Msg: err.Error()})
			continue
		}
		for _, t := range r.Types {
			p, err := c.compileFor(r, t)
			if err != nil {
				errs = append(errs, &CompileError{Rule: r.ID, File: r.File, Line: r.Line, Msg: err.Error()})
				continue
			}
			p.id, p.rank = set.programs, rank[r]
			set.programs++
			set.byType[t] = append(set.byType[t], p)
			if p.readsNative() {
				set.native[t] = true
			}
		}
	}
	for typ, progs := range set.byType {
		trie := &keyTrie{root: keyNode{slot: -1}}
		for _, p := range progs {
			p.keySlots, p.keys = nil, trie
			for _, path := range p.keyPaths {
				p.keySlots = append(p.keySlots, trie.add(path))
			}
		}
		trie.place(inventory.LayoutOf(typ))
	}
	return set, errors.Join(errs...)
}

// readsNative reports whether the rule reads the provider's own attributes.
func (p *program) readsNative() bool {
	if !p.pure {
		// It reads the resource otherwise than through selections: it may
		// reach native.
		return true
	}
	for _, path := range p.paths {
		if path == "native" || strings.HasPrefix(path, "native.") {
			return true
		}
	}
	return false
}

func validate(r *Rule) error {
	var missing []string
	if r.ID == "" {
		missing = append(missing, "id")
	}
	if r.Title == "" {
		missing = append(missing, "title")
	}
	if r.Severity == 0 {
		missing = append(missing, "severity")
	}
	if len(r.Types) == 0 {
		missing = append(missing, "types")
	}
	if strings.TrimSpace(r.Check) == "" {
		missing = append(missing, "check")
	}
	if len(missing) > 0 {
		return fmt.Errorf("missing %s", strings.Join(missing, ", "))
	}
	if r.Severity > Critical {
		return fmt.Errorf("severity must be one of %s", strings.Join(Severities, ", "))
	}
	for _, t := range r.Types {
		if _, ok := inventory.Schemas[t]; !ok {
			return fmt.Errorf("unknown type %q; the normalized types are %s", t, strings.Join(inventory.TypeNames(), ", "))
		}
	}
	return nil
}

func (c *Compiler) compileFor(r *Rule, typ string) (*program, error) {
	p := &program{rule: r, typ: typ}
	var err error
	var preSelectionsOnly bool
	var preKeyPaths []string
	if strings.TrimSpace(r.Precondition) != "" {
		p.hasPrecheck = true
		var e compiled
		if e, err = c.compileExpr(typ, "precondition", r.Precondition); err != nil {
			return nil, err
		}
		p.pre, p.partialPre, p.prePaths, p.preFree = e.prog, e.partial, e.paths, e.free
		preSelectionsOnly, preKeyPaths = e.selectionsOnly, e.keyPaths
	}
	e, err := c.compileExpr(typ, "check", r.Check)
	if err != nil {
		return nil, err
	}
	p.check, p.partial, p.checkPaths, p.checkFree = e.prog, e.partial, e.paths, e.free
	p.paths = mergePaths(p.prePaths, p.checkPaths)
	p.pure = e.selectionsOnly && (!p.hasPrecheck || preSelectionsOnly)
	p.keyPaths = mergePaths(preKeyPaths, e.keyPaths)
	return p, nil
}

// compiled is one expression of a rule, compiled.
type compiled struct {
	prog, partial cel.Program
	paths         []string
	// free is prog without cost tracking (freeProgram); nil when prog is
	// not tracked.
	free *freeProgram
	// selectionsOnly is set when the expression reads the resource only
	// through field selections (readsOnlySelections); keyPaths are those
	// selections (selectionPaths with optional fields).
	selectionsOnly bool
	keyPaths       []string
}

func (c *Compiler) compileExpr(typ, what, expr string) (compiled, error) {
	env := c.envs[typ]
	checked, iss := env.Compile(expr)
	if iss != nil && iss.Err() != nil {
		return compiled{}, fmt.Errorf("%s on %s: %s", what, typ, explain(typ, iss.Err().Error()))
	}
	if !checked.OutputType().IsExactType(types.BoolType) && checked.OutputType() != types.DynType {
		return compiled{}, fmt.Errorf("%s on %s must be a bool expression, it is %s", what, typ, checked.OutputType())
	}
	// Without a comprehension a CEL expression does work linear in its own
	// size and its inputs, so only loops (exists, all, map, filter) need the
	// runtime cost limit, whose tracking would double every evaluation.
	var opts []cel.ProgramOption
	tracked := hasComprehension(checked.NativeRep().Expr())
	if tracked {
		opts = append(opts, cel.CostLimit(c.costLimit))
	}
	out := compiled{
		paths:          resourcePaths(checked.NativeRep()),
		keyPaths:       selectionPaths(checked.NativeRep(), true),
		selectionsOnly: readsOnlySelections(checked.NativeRep().Expr()),
	}
	var err error
	if out.prog, err = env.Program(checked, append(opts, cel.EvalOptions(cel.OptOptimize))...); err != nil {
		return compiled{}, fmt.Errorf("%s on %s: %w", what, typ, err)
	}
	if out.partial, err = env.Program(checked, append(opts, cel.EvalOptions(cel.OptOptimize, cel.OptPartialEval))...); err != nil {
		return compiled{}, fmt.Errorf("%s on %s: %w", what, typ, err)
	}
	if tracked {
		out.free = &freeProgram{env: env, ast: checked, limit: c.costLimit}
	}
	return out, nil
}

// freeBound is a size n, close to the largest, such that CEL's static
// estimate of the expression's cost, with every list, map and string of
// the input at most n long, stays under a quarter of limit. On such input
// the expression runs without runtime tracking: its cost is bounded by
// the estimate, and the quarter leaves room for the estimate's
// approximations. 0 when even empty input does not qualify.
//
// Each estimate walks the expression, so the search is coarse: doubling,
// then four halvings of the last step (within 1/16 of the largest).
func freeBound(env *cel.Env, checked *cel.Ast, limit uint64) uint64 {
	fits := func(n uint64) bool {
		est, err := env.EstimateCost(checked, sizeBound(n))
		return err == nil && est.Max <= limit/4
	}
	if !fits(0) {
		return 0
	}
	const ceiling = 1 << 24
	lo := uint64(0)
	for n := uint64(1); n <= ceiling && fits(n); n *= 2 {
		lo = n
	}
	if lo == ceiling || lo == 0 {
		return lo
	}
	for step := lo / 2; step >= max(lo/16, 1); step /= 2 {
		if fits(lo + step) {
			lo += step
		}
	}
	return lo
}

// sizeBound estimates every list, map and string an expression reads as
// at most n long.
type sizeBound uint64

func (n sizeBound) EstimateSize(cost.AstNode) *cost.SizeEstimate {
	return &cost.SizeEstimate{Min: 0, Max: uint64(n)}
}

func (sizeBound) EstimateCallCost(string, string, *cost.AstNode, []cost.AstNode) *cost.CallEstimate {
	return nil
}

var undefinedField = regexp.MustCompile(`undefined field '([A-Za-z0-9_]+)'`)

// explain rewrites CEL's "undefined field" errors into the model's terms and
// suggests the closest attribute path.
func explain(typ, msg string) string {
	return undefinedField.ReplaceAllStringFunc(msg, func(m string) string {
		name := undefinedField.FindStringSubmatch(m)[1]
		out := fmt.Sprintf("no attribute '%s' on %s", name, typ)
		if s := Suggest(typ, name); s != "" {
			out += fmt.Sprintf("; did you mean '%s'?", s)
		}
		return out + " (see docs/model.md)"
	})
}

// Suggest returns the attribute path of typ closest to a mistyped name, or
// "" when nothing is close. An object's name leads to its first bool leaf.
func Suggest(typ, name string) string {
	s, ok := inventory.Schemas[typ]
	if !ok {
		return ""
	}
	best, bestDist := "", len(name)/2+2
	var walk func(prefix string, fs []*inventory.Field)
	walk = func(prefix string, fs []*inventory.Field) {
		for _, f := range fs {
			p := prefix + f.Name
			if d := distance(strings.ToLower(name), f.Name); d < bestDist {
				best, bestDist = leaf(p, f), d
			}
			if f.Kind == inventory.Object {
				walk(p+".", f.Fields)
			}
		}
	}
	walk("", append(append([]*inventory.Field{}, inventory.Common...), s.Fields...))
	return best
}

// leaf descends from an object to its first bool attribute, which is what a
// check usually wants to read.
func leaf(path string, f *inventory.Field) string {
	for f.Kind == inventory.Object && len(f.Fields) > 0 {
		next := f.Fields[0]
		for _, c := range f.Fields {
			if c.Kind == inventory.Bool {
				next = c
				break
			}
		}
		f, path = next, path+"."+next.Name
	}
	return path
}

// distance is the Levenshtein edit distance.
func distance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

func hasComprehension(e ast.Expr) bool {
	switch e.Kind() {
	case ast.ComprehensionKind:
		return true
	case ast.SelectKind:
		return hasComprehension(e.AsSelect().Operand())
	case ast.CallKind:
		c := e.AsCall()
		if c.IsMemberFunction() && hasComprehension(c.Target()) {
			return true
		}
		for _, a := range c.Args() {
			if hasComprehension(a) {
				return true
			}
		}
	case ast.ListKind:
		for _, el := range e.AsList().Elements() {
			if hasComprehension(el) {
				return true
			}
		}
	case ast.MapKind:
		for _, en := range e.AsMap().Entries() {
			me := en.AsMapEntry()
			if hasComprehension(me.Key()) || hasComprehension(me.Value()) {
				return true
			}
		}
	}
	return false
}

// readsOnlySelections reports whether every use of `resource` in e is the
// operand of a field selection (resource.x, has(resource.x)), so that the
// paths resourcePaths lists are everything e reads of the resource. A bare
// `resource` (passed whole to a function, selected optionally with .?x,
// iterated over), a loop variable named resource or a struct literal makes
// it false.
func readsOnlySelections(e ast.Expr) bool {
	total, selected, opaque := 0, 0, false
	ast.PreOrderVisit(e, ast.NewExprVisitor(func(x ast.Expr) {
		switch x.Kind() {
		case ast.IdentKind:
			if x.AsIdent() == "resource" {
				total++
			}
		case ast.SelectKind:
			if op := x.AsSelect().Operand(); op.Kind() == ast.IdentKind && op.AsIdent() == "resource" {
				selected++
			}
		case ast.StructKind:
			opaque = true
		case ast.ComprehensionKind:
			// A loop variable named resource hides the resource: its
			// selections are not the resource's.
			if c := x.AsComprehension(); c.IterVar() == "resource" || c.IterVar2() == "resource" || c.AccuVar() == "resource" {
				opaque = true
			}
		}
	}))
	return total == selected && !opaque
}

// resourcePaths lists the attribute paths an expression reads from
// `resource`, longest selections only, for evidence and unknown detection.
func resourcePaths(a *ast.AST) []string { return selectionPaths(a, false) }

// selectionPaths is resourcePaths; with optional, an optional selection
// of a literal field (resource.tags.?classification) counts as reading that
// field, not the whole object (verdictCache keys).
func selectionPaths(a *ast.AST, optional bool) []string {
	set := map[string]bool{}
	var visit func(e ast.Expr, parentSelects bool)
	visit = func(e ast.Expr, parentSelects bool) {
		switch e.Kind() {
		case ast.SelectKind:
			if p, ok := selectPath(e); ok {
				if !parentSelects {
					set[p] = true
				}
				return
			}
			visit(e.AsSelect().Operand(), true)
		case ast.CallKind:
			c := e.AsCall()
			if c.IsMemberFunction() {
				visit(c.Target(), false)
			}
			if (c.FunctionName() == "_[_]" || optional && c.FunctionName() == "_?._") && len(c.Args()) == 2 {
				// resource.tags["x"] reads the tag x.
				if p, ok := selectPath(c.Args()[0]); ok && c.Args()[1].Kind() == ast.LiteralKind {
					if s, ok := c.Args()[1].AsLiteral().Value().(string); ok {
						set[p+"."+s] = true
						return
					}
				}
			}
			for _, a := range c.Args() {
				visit(a, false)
			}
		case ast.ComprehensionKind:
			c := e.AsComprehension()
			visit(c.IterRange(), false)
			visit(c.AccuInit(), false)
			visit(c.LoopCondition(), false)
			visit(c.LoopStep(), false)
			visit(c.Result(), false)
		case ast.ListKind:
			for _, el := range e.AsList().Elements() {
				visit(el, false)
			}
		case ast.MapKind:
			for _, en := range e.AsMap().Entries() {
				me := en.AsMapEntry()
				visit(me.Key(), false)
				visit(me.Value(), false)
			}
		}
	}
	visit(a.Expr(), false)
	out := make([]string, 0, len(set))
	for p := range set {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}

// selectPath turns resource.a.b into "a.b".
func selectPath(e ast.Expr) (string, bool) {
	var parts []string
	for e.Kind() == ast.SelectKind {
		s := e.AsSelect()
		parts = append(parts, s.FieldName())
		e = s.Operand()
	}
	if e.Kind() != ast.IdentKind || e.AsIdent() != "resource" || len(parts) == 0 {
		return "", false
	}
	for i, j := 0, len(parts)-1; i < j; i, j = i+1, j-1 {
		parts[i], parts[j] = parts[j], parts[i]
	}
	return strings.Join(parts, "."), true
}

func mergePaths(a, b []string) []string {
	set := map[string]bool{}
	for _, p := range append(append([]string{}, a...), b...) {
		set[p] = true
	}
	out := make([]string, 0, len(set))
	for p := range set {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}
