package terraform

import (
	"errors"
	"fmt"
	"hash/maphash"
	"log/slog"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/hoheit/hoheit/internal/inventory"
)

// targets indexes the normalized resources a split resource may configure.
type targets struct {
	byAddr map[string]*inventory.Resource
	// byBlock lists the instances of one resource block within one module
	// instance: module.a["x"].aws_s3_bucket.logs -> its [0], [1], ...
	// Resources without an instance key are found in byAddr.
	byBlock map[string][]*inventory.Resource
	// byValue finds resources by the values a split resource names them
	// with (id, arn, name, bucket, cluster_identifier), per normalized type.
	byValue map[valueKey][]*inventory.Resource
}

type valueKey struct{ typ, value string }

// indexTargets indexes the resources of the given normalized types.
func indexTargets(rs []*inventory.Resource, types map[string]bool) *targets {
	t := &targets{
		byAddr:  map[string]*inventory.Resource{},
		byBlock: map[string][]*inventory.Resource{},
		byValue: map[valueKey][]*inventory.Resource{},
	}
	// The maps are independent: the one by value, the largest, is built
	// beside the other two.
	var wg sync.WaitGroup
	wg.Go(func() {
		touched := 0
		defer func() { touchSink.Add(int64(touched)) }()
		for i, r := range rs {
			if i%touchAhead == 0 {
				touched += touchNatives(rs[i:min(i+touchAhead, len(rs))])
			}
			if !types[r.Type] {
				continue
			}
			var seen [5]string
			for i, k := range [...]string{"id", "arn", "name", "bucket", "cluster_identifier"} {
				s, _ := r.Native[k].(string)
				if s == "" || slices.Contains(seen[:i], s) {
					continue
				}
				seen[i] = s
				key := valueKey{r.Type, s}
				t.byValue[key] = append(t.byValue[key], r)
			}
		}
	})
	touched := 0
	for i, r := range rs {
		if i%touchAhead == 0 {
			for _, r := range rs[i:min(i+touchAhead, len(rs))] {
				touched += len(r.Type) + firstByte(r.Address)
			}
		}
		if !types[r.Type] {
			continue
		}
		t.byAddr[r.Address] = r
		if block, index := cutIndex(r.Address); index != "" {
			t.byBlock[block] = append(t.byBlock[block], r)
		}
	}
	wg.Wait()
	touchSink.Add(int64(touched))
	return t
}

// touchAhead is how many resources indexTargets reads ahead: each lies
// somewhere else in memory, and reading several together overlaps the
// waits that reading them one at a time lines up (a third of the time
// indexing 100,000 resources).
const touchAhead = 8

// touchSink keeps what the touches read, so that they happen.
var touchSink atomic.Int64

// touchNatives reads the resources rs, their native values and the name
// among them, for indexTargets.
func touchNatives(rs []*inventory.Resource) int {
	n := 0
	for _, r := range rs {
		n += len(r.Type) + len(r.Native)
		if s, ok := r.Native["name"].(string); ok {
			n += firstByte(s)
		}
	}
	return n
}

func firstByte(s string) int {
	if s == "" {
		return 0
	}
	return int(s[0])
}

// join applies every split resource onto the resource it configures: by the
// value of its Ref attribute where that is known, else through the
// references of its configuration expression.
//
// Both steps run on every core: targets are resolved in parallel (reading
// only), then each worker applies the split resources of its share of the
// targets, in file order, so no target is written by two workers.
func join(t *targets, natives []*native, split []int, joiners map[string]joiner) error {
	found := make([]*inventory.Resource, len(split))
	workers := min(runtime.GOMAXPROCS(0), max(1, len(split)/256))
	parallel(workers, len(split), func(k int) {
		n := natives[split[k]]
		found[k] = t.resolve(n, joiners[n.Type])
	})
	seed := maphash.MakeSeed()
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k, target := range found {
				if target == nil || (workers > 1 && int(maphash.String(seed, target.Address)%uint64(workers)) != w) {
					continue
				}
				n := natives[split[k]]
				if err := safeApply(joiners[n.Type], n, target); err != nil {
					errs[w] = err
					return
				}
			}
		}()
	}
	wg.Wait()
	for k, target := range found {
		if target == nil {
			n := natives[split[k]]
			slog.Debug("terraform: split resource has no target in this file", "address", n.Address, "ref", joiners[n.Type].Ref)
		}
	}
	return errors.Join(errs...)
}

// parallel calls fn for 0..n-1 on workers goroutines, in contiguous chunks.
func parallel(workers, n int, fn func(i int)) {
	if workers <= 1 {
		for i := range n {
			fn(i)
		}
		return
	}
	var wg sync.WaitGroup
	chunk := (n + workers - 1) / workers
	for lo := 0; lo < n; lo += chunk {
		hi := min(lo+chunk, n)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := lo; i < hi; i++ {
				fn(i)
			}
		}()
	}
	wg.Wait()
}

func safeApply(j joiner, n *native, target *inventory.Resource) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("joining %s onto %s failed: %v; this is a bug in hoheit, please report it with the resource type %s", n.Address, target.Address, v, n.Type)
		}
	}()
	j.Apply(n, target)
	return nil
}

func (t *targets) resolve(n *native, j joiner) *inventory.Resource {
	for _, attr := range append([]string{j.Ref}, j.AlsoRefs...) {
		if r := t.resolveBy(n, j, attr); r != nil {
			return r
		}
	}
	return nil
}

// resolveBy finds the target named by one attribute of the split resource.
func (t *targets) resolveBy(n *native, j joiner, attr string) *inventory.Resource {
	accept := func(r *inventory.Resource) bool {
		return r.Type == j.Target && (len(j.Natives) == 0 || slices.Contains(j.Natives, r.NativeType))
	}
	module, _ := splitAddress(n.Address)
	if v := n.str(attr); v != "" && !n.unknown(attr) {
		var found *inventory.Resource
		for _, r := range t.byValue[valueKey{j.Target, v}] {
			if !accept(r) {
				continue
			}
			// Prefer the candidate in the same module instance.
			if m, _ := splitAddress(r.Address); found == nil || m == module {
				found = r
			}
		}
		if found != nil {
			return found
		}
	}
	_, ownIndex := cutIndex(n.Address)
	for _, ref := range n.references(attr) {
		block, index := ref.block, ref.index
		if index != "" {
			if r := t.byAddr[block+index]; r != nil && accept(r) {
				return r
			}
			continue
		}
		if r := t.byAddr[block]; r != nil && accept(r) {
			return r
		}
		// With count or for_each on both sides, the split resource's
		// instance key usually follows its target's (count.index, each.key).
		if ownIndex != "" {
			if r := t.byAddr[block+ownIndex]; r != nil && accept(r) {
				return r
			}
		}
		if instances := t.byBlock[block]; len(instances) == 1 && accept(instances[0]) {
			return instances[0]
		}
	}
	return nil
}

// refResource reads a configuration reference such as
// `aws_s3_bucket.logs.id` or `aws_s3_bucket.logs["a"]` as the resource block
// and the instance key it names. References to variables, locals, module
// outputs and data sources name no managed resource.
func refResource(ref string) (block, index string, ok bool) {
	typ, rest, found := strings.Cut(ref, ".")
	if !found || typ == "" || rest == "" {
		return "", "", false
	}
	switch typ {
	case "var", "local", "module", "data", "count", "each", "path", "terraform", "self":
		return "", "", false
	}
	// The name ends at the next dot outside an instance key.
	name := rest
	if i := strings.IndexAny(rest, ".["); i >= 0 {
		if rest[i] == '.' {
			name = rest[:i]
		} else if j := matchBracket(rest, i); j > 0 {
			name = rest[:j+1]
		}
	}
	name, index = cutIndex(name)
	return ref[:len(typ)+1+len(name)], index, true
}

// splitAddress splits a resource instance address into its module instance
// path (module.a["x"].module.b, empty for the root) and the resource part
// (aws_s3_bucket.logs[0]).
func splitAddress(addr string) (module, resource string) {
	if !strings.HasPrefix(addr, "module.") {
		return "", addr
	}
	parts := splitDots(addr)
	i := 0
	for i+2 < len(parts) && parts[i] == "module" {
		i += 2
	}
	if i == 0 {
		return "", addr
	}
	n := i - 1 // the dots between the module parts
	for _, p := range parts[:i] {
		n += len(p)
	}
	return addr[:n], addr[n+1:]
}

// configAddress drops every instance key from an address:
// module.a["x"].aws_s3_bucket.logs[0] -> module.a.aws_s3_bucket.logs, the
// key of the resource's block in the configuration.
func configAddress(addr string) string {
	i := strings.IndexByte(addr, '[')
	if i < 0 {
		return addr
	}
	if block, index := cutIndex(addr); index != "" && len(block) == i {
		return block // the only key is the resource's own
	}
	var b strings.Builder
	b.Grow(len(addr))
	depth, quoted := 0, false
	for i := 0; i < len(addr); i++ {
		c := addr[i]
		switch {
		case quoted:
			if c == '\\' {
				i++
			} else if c == '"' {
				quoted = false
			}
			continue
		case c == '"' && depth > 0:
			quoted = true
			continue
		case c == '[':
			depth++
			continue
		case c == ']':
			depth--
			continue
		}
		if depth == 0 {
			b.WriteByte(c)
		}
	}
	return b.String()
}

// cutIndex splits a trailing instance key off an address:
// aws_s3_bucket.logs["a"] -> aws_s3_bucket.logs, ["a"].
func cutIndex(addr string) (string, string) {
	if !strings.HasSuffix(addr, "]") {
		return addr, ""
	}
	quoted := false
	for i := 0; i < len(addr); i++ {
		switch c := addr[i]; {
		case quoted && c == '\\':
			i++
		case c == '"':
			quoted = !quoted
		case !quoted && c == '[':
			if j := matchBracket(addr, i); j == len(addr)-1 {
				return addr[:i], addr[i:]
			} else if j > 0 {
				i = j
			}
		}
	}
	return addr, ""
}

func matchBracket(s string, open int) int {
	quoted := false
	for i := open + 1; i < len(s); i++ {
		switch c := s[i]; {
		case quoted && c == '\\':
			i++
		case c == '"':
			quoted = !quoted
		case !quoted && c == ']':
			return i
		}
	}
	return -1
}

// splitDots splits an address at the dots outside instance keys.
func splitDots(addr string) []string {
	var parts []string
	start, depth, quoted := 0, 0, false
	for i := 0; i < len(addr); i++ {
		c := addr[i]
		switch {
		case quoted:
			if c == '\\' {
				i++
			} else if c == '"' {
				quoted = false
			}
		case c == '"':
			quoted = true
		case c == '[':
			depth++
		case c == ']':
			depth--
		case c == '.' && depth == 0:
			parts = append(parts, addr[start:i])
			start = i + 1
		}
	}
	return append(parts, addr[start:])
}
