package terraform

import (
	"log/slog"
	"slices"
	"strings"

	"github.com/hoheit/hoheit/internal/inventory"
)

// targets indexes the normalized resources a split resource may configure.
type targets struct {
	byAddr map[string]*inventory.Resource
	// byBlock lists the instances of one resource block within one module
	// instance: module.a["x"].aws_s3_bucket.logs -> its [0], [1], ...
	byBlock map[string][]*inventory.Resource
	// byValue finds resources by the values a split resource names them
	// with (id, arn, name, bucket), per normalized type.
	byValue map[string][]*inventory.Resource
}

func indexTargets(rs []*inventory.Resource) *targets {
	t := &targets{
		byAddr:  make(map[string]*inventory.Resource, len(rs)),
		byBlock: make(map[string][]*inventory.Resource, len(rs)),
		byValue: make(map[string][]*inventory.Resource, len(rs)),
	}
	for _, r := range rs {
		t.byAddr[r.Address] = r
		block, _ := cutIndex(r.Address)
		t.byBlock[block] = append(t.byBlock[block], r)
		seen := [4]string{}
		for i, k := range [...]string{"id", "arn", "name", "bucket"} {
			s, _ := r.Native[k].(string)
			if s == "" || slices.Contains(seen[:i], s) {
				continue
			}
			seen[i] = s
			key := r.Type + "\x00" + s
			t.byValue[key] = append(t.byValue[key], r)
		}
	}
	return t
}

// join applies every split resource onto the resource it configures: by the
// value of its Ref attribute where that is known, else through the
// references of its configuration expression.
func join(t *targets, natives []*native, split []int, joiners map[string]joiner) {
	for _, i := range split {
		n := natives[i]
		j := joiners[n.Type]
		target := t.resolve(n, j)
		if target == nil {
			slog.Debug("terraform: split resource has no target in this file", "address", n.Address, "ref", j.Ref)
			continue
		}
		j.Apply(n, target)
	}
}

func (t *targets) resolve(n *native, j joiner) *inventory.Resource {
	accept := func(r *inventory.Resource) bool {
		return r.Type == j.Target && (len(j.Natives) == 0 || slices.Contains(j.Natives, r.NativeType))
	}
	module, _ := splitAddress(n.Address)
	if v := n.str(j.Ref); v != "" && !n.unknown(j.Ref) {
		var found *inventory.Resource
		for _, r := range t.byValue[j.Target+"\x00"+v] {
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
	for _, ref := range n.references(j.Ref) {
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
	parts := splitDots(ref)
	if len(parts) < 2 {
		return "", "", false
	}
	switch parts[0] {
	case "var", "local", "module", "data", "count", "each", "path", "terraform", "self":
		return "", "", false
	}
	name, index := cutIndex(parts[1])
	return parts[0] + "." + name, index, true
}

// splitAddress splits a resource instance address into its module instance
// path (module.a["x"].module.b, empty for the root) and the resource part
// (aws_s3_bucket.logs[0]).
func splitAddress(addr string) (module, resource string) {
	parts := splitDots(addr)
	i := 0
	for i+2 < len(parts) && parts[i] == "module" {
		i += 2
	}
	if i == 0 {
		return "", addr
	}
	module = strings.Join(parts[:i], ".")
	return module, addr[len(module)+1:]
}

// configAddress drops every instance key from an address:
// module.a["x"].aws_s3_bucket.logs[0] -> module.a.aws_s3_bucket.logs, the
// key of the resource's block in the configuration.
func configAddress(addr string) string {
	if strings.IndexByte(addr, '[') < 0 {
		return addr
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
