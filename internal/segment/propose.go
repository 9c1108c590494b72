package segment

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// ProposeOptions tunes Propose.
type ProposeOptions struct {
	// Base is the policy in force: its identities, segments and rules are
	// kept, learned rules are added. Nil starts from nothing.
	Base *Policy
	// IdentityLabel turns a flow endpoint name that Base does not define
	// into an identity selecting that label: name "web" -> {app: web}.
	// Default "app".
	IdentityLabel string
	// Mode is the mode of a policy proposed without Base (default learn,
	// so applying it changes nothing until someone decides to protect).
	Mode Mode
}

var proposeNameRE = regexp.MustCompile(`[^a-z0-9._-]+`)

// Propose builds a policy from learned flow records (resolved with
// Compiler.ResolveFlow and merged): one rule per source, destination and
// protocol with the ports seen, each with a comment saying how often and
// when it was seen. Dropped flows and endpoints without a name are not
// allowed but listed in the policy's header comment for review. Render it
// with Format; it is meant to be reviewed, not applied blindly.
func Propose(flows []FlowRecord, opts ProposeOptions) *Policy {
	label := opts.IdentityLabel
	if label == "" {
		label = "app"
	}
	p := &Policy{Name: "proposed", Mode: opts.Mode, ids: map[string]int{}}
	if opts.Base == nil && opts.Mode == Protect {
		p.Mode = Learn
	}
	if b := opts.Base; b != nil {
		p.Name, p.Mode = b.Name, b.Mode
		p.Identities = append(p.Identities, b.Identities...)
		p.Segments = append(p.Segments, b.Segments...)
		p.Rules = append(p.Rules, b.Rules...)
		p.Tests = append(p.Tests, b.Tests...)
		for i, id := range p.Identities {
			p.ids[id.Name] = i
		}
	}
	type agg struct {
		from, to    string
		proto       Proto
		ports       map[uint16]bool
		count       uint64
		first, last time.Time
	}
	groups := map[[3]string]*agg{}
	var skipped []string
	for _, r := range MergeFlows(flows) {
		if r.Verdict == Drop {
			skipped = append(skipped, fmt.Sprintf("dropped: %s", flowLine(r)))
			continue
		}
		if r.Src == "" || r.Dst == "" {
			skipped = append(skipped, fmt.Sprintf("unnamed endpoint: %s", flowLine(r)))
			continue
		}
		if p.Evaluate(p.repr(r.Src, label), p.repr(r.Dst, label), r.Proto, r.Port) != nil {
			continue // already allowed
		}
		k := [3]string{r.Src, r.Dst, r.Proto.String()}
		g := groups[k]
		if g == nil {
			g = &agg{from: r.Src, to: r.Dst, proto: r.Proto, ports: map[uint16]bool{}, first: r.FirstSeen, last: r.LastSeen}
			groups[k] = g
		}
		g.ports[r.Port] = true
		g.count += r.Count
		if r.FirstSeen.Before(g.first) {
			g.first = r.FirstSeen
		}
		if r.LastSeen.After(g.last) {
			g.last = r.LastSeen
		}
	}
	keys := make([][3]string, 0, len(groups))
	for k := range groups {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		return keys[i][0]+"\x00"+keys[i][1]+"\x00"+keys[i][2] < keys[j][0]+"\x00"+keys[j][1]+"\x00"+keys[j][2]
	})
	used := map[string]bool{}
	for _, r := range p.Rules {
		used[r.Name] = true
	}
	for _, k := range keys {
		g := groups[k]
		for _, name := range []string{g.from, g.to} {
			if _, ok := p.ids[name]; !ok {
				p.ids[name] = len(p.Identities)
				p.Identities = append(p.Identities, Identity{Name: name, Description: "learned from flows",
					Selector: Selector{MatchLabels: map[string]string{label: name}}})
			}
		}
		r := Rule{From: []string{g.from}, To: []string{g.to},
			Comment: fmt.Sprintf("learned: %d connections, first %s, last %s", g.count, g.first.UTC().Format(time.RFC3339), g.last.UTC().Format(time.RFC3339))}
		if g.proto == ICMP {
			r.Ports = []PortRange{{Proto: ICMP}}
		} else {
			ports := make([]int, 0, len(g.ports))
			for port := range g.ports {
				ports = append(ports, int(port))
			}
			sort.Ints(ports)
			for _, port := range ports {
				r.Ports = append(r.Ports, PortRange{Proto: g.proto, Lo: uint16(port), Hi: uint16(port)})
			}
		}
		base := proposeNameRE.ReplaceAllString(g.from+"-to-"+g.to, "-")
		if g.proto != TCP {
			base += "-" + g.proto.String()
		}
		if len(base) > 54 {
			// Rule names are at most 63 characters: shorten, keep them
			// apart with a hash of the full name (room left for "-N").
			sum := sha256.Sum256([]byte(base))
			base = strings.TrimRight(base[:45], "-") + "-" + hex.EncodeToString(sum[:4])
		}
		name := base
		for i := 2; used[name]; i++ {
			name = fmt.Sprintf("%s-%d", base, i)
		}
		used[name] = true
		r.Name = name
		p.Rules = append(p.Rules, r)
	}
	sort.Slice(p.Identities, func(i, j int) bool { return p.Identities[i].Name < p.Identities[j].Name })
	for i, id := range p.Identities {
		p.ids[id.Name] = i
	}
	p.comment = skipped
	return p
}

// repr is the representative labels of a known identity, or of the
// identity Propose would create for name.
func (p *Policy) repr(name, label string) map[string]string {
	if l, ok := p.representative(name); ok {
		return l
	}
	return map[string]string{label: name}
}

func flowLine(r FlowRecord) string {
	return fmt.Sprintf("%s -> %s %s (%d)", endpointName(r.Src, r.SrcAddr), endpointName(r.Dst, r.DstAddr), flowProto(r.Proto, r.Port), r.Count)
}

// Format renders the policy as a policy file, with rule comments (and, for
// a proposed policy, the flows it did not turn into rules). ParsePolicy
// reads it back.
func (p *Policy) Format() ([]byte, error) {
	root := &yaml.Node{Kind: yaml.MappingNode}
	str := func(s string) *yaml.Node { return &yaml.Node{Kind: yaml.ScalarNode, Value: s} }
	flowSeq := func(ss []string) *yaml.Node {
		n := &yaml.Node{Kind: yaml.SequenceNode, Style: yaml.FlowStyle}
		for _, s := range ss {
			n.Content = append(n.Content, str(s))
		}
		return n
	}
	add := func(m *yaml.Node, k string, v *yaml.Node) { m.Content = append(m.Content, str(k), v) }
	add(root, "apiVersion", str(APIVersion))
	add(root, "kind", str(Kind))
	if len(p.comment) > 0 {
		root.Content[0].HeadComment = "Proposed from learned flows: review every rule before applying.\nNot turned into rules:\n  " + strings.Join(p.comment, "\n  ")
	}
	if p.Name != "" {
		add(root, "name", str(p.Name))
	}
	add(root, "mode", str(p.Mode.String()))
	if len(p.Identities) > 0 {
		ids := &yaml.Node{Kind: yaml.MappingNode}
		for _, id := range p.Identities {
			v := &yaml.Node{Kind: yaml.MappingNode}
			if id.Description != "" {
				add(v, "description", str(id.Description))
			}
			if len(id.Selector.MatchLabels) > 0 {
				ml := &yaml.Node{Kind: yaml.MappingNode, Style: yaml.FlowStyle}
				for _, k := range sortedKeys(id.Selector.MatchLabels) {
					add(ml, k, str(id.Selector.MatchLabels[k]))
				}
				add(v, "match_labels", ml)
			}
			if len(id.Selector.MatchExpressions) > 0 {
				seq := &yaml.Node{Kind: yaml.SequenceNode}
				for _, r := range id.Selector.MatchExpressions {
					e := &yaml.Node{Kind: yaml.MappingNode, Style: yaml.FlowStyle}
					add(e, "key", str(r.Key))
					add(e, "operator", str(string(r.Operator)))
					if len(r.Values) > 0 {
						add(e, "values", flowSeq(r.Values))
					}
					seq.Content = append(seq.Content, e)
				}
				add(v, "match_expressions", seq)
			}
			if len(v.Content) == 0 {
				v.Style = yaml.FlowStyle
			}
			add(ids, id.Name, v)
		}
		add(root, "identities", ids)
	}
	if len(p.Segments) > 0 {
		segs := &yaml.Node{Kind: yaml.MappingNode}
		for _, s := range p.Segments {
			v := &yaml.Node{Kind: yaml.MappingNode}
			add(v, "identities", flowSeq(s.Identities))
			add(v, "mode", str(s.Mode.String()))
			if s.Promotion != (Promotion{}) {
				pm := &yaml.Node{Kind: yaml.MappingNode, Style: yaml.FlowStyle}
				if s.Promotion.MonitorAfter > 0 {
					add(pm, "monitor_after", str(s.Promotion.MonitorAfter.String()))
				}
				if s.Promotion.ProtectAfter > 0 {
					add(pm, "protect_after", str(s.Promotion.ProtectAfter.String()))
				}
				add(v, "promotion", pm)
			}
			add(segs, s.Name, v)
		}
		add(root, "segments", segs)
	}
	if len(p.Rules) > 0 {
		rules := &yaml.Node{Kind: yaml.SequenceNode}
		for _, r := range p.Rules {
			v := &yaml.Node{Kind: yaml.MappingNode, HeadComment: r.Comment}
			add(v, "name", str(r.Name))
			add(v, "from", flowSeq(r.From))
			add(v, "to", flowSeq(r.To))
			ps := make([]string, len(r.Ports))
			for i, pr := range r.Ports {
				ps[i] = pr.String()
			}
			add(v, "ports", flowSeq(ps))
			rules.Content = append(rules.Content, v)
		}
		add(root, "rules", rules)
	}
	if len(p.Tests) > 0 {
		tests := &yaml.Node{Kind: yaml.SequenceNode}
		for _, t := range p.Tests {
			tests.Content = append(tests.Content, str(t.String()))
		}
		add(root, "tests", tests)
	}
	var b strings.Builder
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(root); err != nil {
		return nil, fmt.Errorf("formatting policy: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return []byte(b.String()), nil
}
