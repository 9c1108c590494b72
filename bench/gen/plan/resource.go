package plan

import (
	"fmt"
	"math/rand/v2"
)

// block is one attribute tree under construction: a resource's top level
// or one of its nested blocks. attrs holds every attribute the provider
// puts in the plan (known values, unknown, null); expr holds the
// configuration's expressions for the attributes the author wrote.
type block struct {
	attrs map[string]any
	expr  map[string]any
}

func newBlock() *block {
	return &block{attrs: map[string]any{}, expr: map[string]any{}}
}

// set records an attribute the configuration sets to a literal.
func (b *block) set(k string, v any) *block {
	b.attrs[k] = v
	if s, ok := v.(secret); ok {
		v = s.v
	}
	b.expr[k] = map[string]any{"constant_value": v}
	return b
}

// ref records an attribute the configuration sets from other objects
// (resources, variables); v is its planned value, often unknown.
func (b *block) ref(k string, v any, refs ...string) *block {
	b.attrs[k] = v
	b.expr[k] = map[string]any{"references": refs}
	return b
}

// def records attributes the configuration leaves out, with the value the
// provider plans for them: a default, null (nil) or unknown.
func (b *block) def(k string, v any) *block {
	b.attrs[k] = v
	return b
}

// computed records attributes known only after apply.
func (b *block) computed(ks ...string) *block {
	for _, k := range ks {
		b.attrs[k] = unknown
	}
	return b
}

// null records optional attributes left unset.
func (b *block) null(ks ...string) *block {
	for _, k := range ks {
		b.attrs[k] = nil
	}
	return b
}

// empty records nested blocks the configuration does not write (an empty
// list in the plan).
func (b *block) empty(ks ...string) *block {
	for _, k := range ks {
		b.attrs[k] = []any{}
	}
	return b
}

// nested records nested blocks the configuration writes, as the list of
// objects Terraform's JSON uses for them.
func (b *block) nested(k string, children ...*block) *block {
	attrs := make([]any, len(children))
	expr := make([]any, len(children))
	for i, c := range children {
		attrs[i] = c.attrs
		expr[i] = c.expr
	}
	b.attrs[k] = attrs
	b.expr[k] = expr
	return b
}

// resource is one managed resource of the plan.
type resource struct {
	*block
	typ, name string
	// providerKey is the provider configuration it uses: "aws" or an
	// alias such as "aws.us".
	providerKey string
}

func (r *resource) address() string { return r.typ + "." + r.name }

// attr returns a reference to one of r's attributes, as Terraform lists
// references: the attribute traversal and the resource itself.
func (r *resource) attr(a string) []string {
	return []string{r.address() + "." + a, r.address()}
}

// unit is a small group of resources a Terraform author writes together:
// a bucket and its split settings, a VPC and its security group. A unit's
// contents depend only on the seed and its index, so the writer can
// regenerate it for each section of the plan instead of holding the plan.
type unit struct {
	rng   *rand.Rand
	index int
	out   []*resource
}

func newUnit(seed int64, index int) *unit {
	return &unit{
		rng:   rand.New(rand.NewPCG(uint64(seed), uint64(index)*0x9e3779b97f4a7c15+1)),
		index: index,
	}
}

// add starts a resource of type typ named label_<index>.
func (u *unit) add(typ, label, providerKey string) *resource {
	r := &resource{block: newBlock(), typ: typ, name: fmt.Sprintf("%s_%06d", label, u.index), providerKey: providerKey}
	u.out = append(u.out, r)
	return r
}

// bad reports, with probability p, that this setting is the insecure one.
func (u *unit) bad(p float64) bool { return u.rng.Float64() < p }

// pick returns one of xs.
func (u *unit) pick(xs ...string) string { return xs[u.rng.IntN(len(xs))] }

// between returns an int in [lo, hi].
func (u *unit) between(lo, hi int) int { return lo + u.rng.IntN(hi-lo+1) }

// id returns a deterministic fake UUID for identifiers that come from
// outside the configuration (images, networks, subnets).
func (u *unit) id() string {
	a, b := u.rng.Uint64(), u.rng.Uint64()
	return fmt.Sprintf("%08x-%04x-%04x-%04x-%012x", uint32(a>>32), uint16(a>>16), uint16(a)&0x0fff|0x4000, uint16(b>>48)&0x3fff|0x8000, b&0xffffffffffff)
}

// slug returns a name for cloud objects: prefix-<index>.
func (u *unit) slug(prefix string) string { return fmt.Sprintf("%s-%06d", prefix, u.index) }

// tags returns the tags a team puts on everything; keys and values are
// lower case, so they serve as GCP labels too.
func (u *unit) tags() map[string]string {
	return map[string]string{
		"environment": u.pick("prod", "prod", "staging", "dev"),
		"owner":       u.pick("platform", "payments", "data", "identity", "web"),
		"cost-center": fmt.Sprintf("cc-%04d", u.index%97),
		"managed-by":  "terraform",
	}
}
