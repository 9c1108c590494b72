// Package segment is hoheit's microsegmentation core: the policy file
// (identities by label selectors, allow rules, modes, tests), its central
// compilation into per-node rule sets, the stateful packet filter the agent
// runs between its mesh device and the local stack, flow aggregation and
// alerts, proposing a policy from learned flows, and export to Kubernetes
// NetworkPolicy and CiliumNetworkPolicy.
//
// It is a pure library: no networking, no storage. The server imports it to
// parse, test, compile and export policies and to promote segments; the
// agent imports it to enforce a NodeRuleSet with a Filter and ship flow
// records; the CLI imports it for `hoheit segment apply|flows|propose|export`.
// docs/segmentation.md describes the format and the model.
package segment

import (
	"bytes"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// APIVersion and Kind identify a policy file.
const (
	APIVersion = "hoheit/v1"
	Kind       = "SegmentPolicy"
)

// maxPolicyBytes bounds what ParsePolicy reads (a policy is written by people
// or proposed from flows; 16 MiB is far beyond 5,000 rules).
const maxPolicyBytes = 16 << 20

// Mode is how a segment treats flows outside its policy.
type Mode uint8

// Modes, from permissive to strict. The zero value is Protect: fail closed.
const (
	Protect Mode = iota // drop and alert
	Monitor             // allow, alert on every flow outside the policy
	Learn               // allow, record flows
)

func (m Mode) String() string {
	switch m {
	case Protect:
		return "protect"
	case Monitor:
		return "monitor"
	case Learn:
		return "learn"
	}
	return "mode(" + strconv.Itoa(int(m)) + ")"
}

// ParseMode parses "learn", "monitor" or "protect".
func ParseMode(s string) (Mode, error) {
	switch s {
	case "protect":
		return Protect, nil
	case "monitor":
		return Monitor, nil
	case "learn":
		return Learn, nil
	}
	return 0, fmt.Errorf("mode %q is not one of learn, monitor, protect", s)
}

// stricter reports whether a is stricter than b.
func stricter(a, b Mode) bool { return a < b }

// Proto is an IP protocol a rule may allow.
type Proto uint8

// Protocols. ICMP covers ICMPv4 and ICMPv6.
const (
	TCP  Proto = 6
	UDP  Proto = 17
	ICMP Proto = 1
)

func (p Proto) String() string {
	switch p {
	case TCP:
		return "tcp"
	case UDP:
		return "udp"
	case ICMP:
		return "icmp"
	}
	return "proto(" + strconv.Itoa(int(p)) + ")"
}

func parseProto(s string) (Proto, error) {
	switch s {
	case "tcp":
		return TCP, nil
	case "udp":
		return UDP, nil
	case "icmp":
		return ICMP, nil
	}
	return 0, fmt.Errorf("protocol %q is not one of tcp, udp, icmp", s)
}

// PortRange is a protocol with an inclusive port range. ICMP has no ports
// (Lo = Hi = 0); "tcp" alone is Lo 1, Hi 65535.
type PortRange struct {
	Proto  Proto
	Lo, Hi uint16
}

// Contains reports whether the range admits proto and port.
func (r PortRange) Contains(proto Proto, port uint16) bool {
	if r.Proto != proto {
		return false
	}
	return proto == ICMP || (port >= r.Lo && port <= r.Hi)
}

func (r PortRange) String() string {
	switch {
	case r.Proto == ICMP:
		return "icmp"
	case r.Lo == 1 && r.Hi == 65535:
		return r.Proto.String()
	case r.Lo == r.Hi:
		return fmt.Sprintf("%s/%d", r.Proto, r.Lo)
	}
	return fmt.Sprintf("%s/%d-%d", r.Proto, r.Lo, r.Hi)
}

// ParsePortRange parses "tcp/8080", "udp/5000-5010", "tcp" (every port) or
// "icmp".
func ParsePortRange(s string) (PortRange, error) {
	proto, ports, hasPorts := strings.Cut(s, "/")
	p, err := parseProto(proto)
	if err != nil {
		return PortRange{}, err
	}
	if p == ICMP {
		if hasPorts {
			return PortRange{}, fmt.Errorf("%q: icmp has no ports", s)
		}
		return PortRange{Proto: ICMP}, nil
	}
	if !hasPorts {
		return PortRange{Proto: p, Lo: 1, Hi: 65535}, nil
	}
	loS, hiS, isRange := strings.Cut(ports, "-")
	lo, err := parsePort(loS)
	if err != nil {
		return PortRange{}, fmt.Errorf("%q: %w", s, err)
	}
	hi := lo
	if isRange {
		if hi, err = parsePort(hiS); err != nil {
			return PortRange{}, fmt.Errorf("%q: %w", s, err)
		}
		if hi < lo {
			return PortRange{}, fmt.Errorf("%q: range ends before it starts", s)
		}
	}
	return PortRange{Proto: p, Lo: lo, Hi: hi}, nil
}

func parsePort(s string) (uint16, error) {
	n, err := strconv.ParseUint(s, 10, 16)
	if err != nil || n == 0 {
		return 0, fmt.Errorf("port %q is not a number from 1 to 65535", s)
	}
	return uint16(n), nil
}

// Operator is a set-expression operator of a selector.
type Operator string

// Operators, as in Kubernetes label selectors.
const (
	In           Operator = "In"
	NotIn        Operator = "NotIn"
	Exists       Operator = "Exists"
	DoesNotExist Operator = "DoesNotExist"
)

// Requirement is one set expression: key In (values), key NotIn (values),
// key Exists, key DoesNotExist.
type Requirement struct {
	Key      string   `yaml:"key"`
	Operator Operator `yaml:"operator"`
	Values   []string `yaml:"values,omitempty"`
}

// Selector selects nodes and workloads by their labels: every match_labels
// pair and every expression must hold. The empty selector selects every
// node and workload.
type Selector struct {
	MatchLabels      map[string]string `yaml:"match_labels,omitempty"`
	MatchExpressions []Requirement     `yaml:"match_expressions,omitempty"`
}

// Matches reports whether labels satisfy the selector.
func (s *Selector) Matches(labels map[string]string) bool {
	for k, v := range s.MatchLabels {
		if lv, ok := labels[k]; !ok || lv != v {
			return false
		}
	}
	for _, r := range s.MatchExpressions {
		v, ok := labels[r.Key]
		switch r.Operator {
		case In:
			if !ok || !slices.Contains(r.Values, v) {
				return false
			}
		case NotIn:
			if ok && slices.Contains(r.Values, v) {
				return false
			}
		case Exists:
			if !ok {
				return false
			}
		case DoesNotExist:
			if ok {
				return false
			}
		default:
			return false
		}
	}
	return true
}

// Identity is a named selector: the unit rules, flows and tests speak of.
type Identity struct {
	Name        string
	Description string
	Selector    Selector
	Line        int
}

// Promotion configures automatic promotion of a segment: learn -> monitor
// after MonitorAfter without a new flow, monitor -> protect after
// ProtectAfter without a violation. A zero duration disables that step.
type Promotion struct {
	MonitorAfter time.Duration
	ProtectAfter time.Duration
}

// Segment groups identities under one mode.
type Segment struct {
	Name       string
	Identities []string
	Mode       Mode
	Promotion  Promotion
	Line       int
}

// Rule allows flows from any endpoint of a From identity to any endpoint of
// a To identity on the listed ports.
type Rule struct {
	Name  string
	From  []string
	To    []string
	Ports []PortRange
	// Comment is written above the rule by Format (Propose fills it in).
	Comment string
	Line    int
}

// Expect is a test's expected outcome.
type Expect bool

// Test outcomes.
const (
	ExpectDeny  Expect = false
	ExpectAllow Expect = true
)

func (e Expect) String() string {
	if e {
		return "allow"
	}
	return "deny"
}

// FlowTest is one entry of the tests section: "web -> customer-db:5432 deny".
type FlowTest struct {
	From, To string
	Proto    Proto
	Port     uint16
	Expect   Expect
	Line     int
}

func (t FlowTest) String() string { return t.Flow() + " " + t.Expect.String() }

// Flow is the test without its expectation: "web -> customer-db:5432".
func (t FlowTest) Flow() string {
	dst := t.To + ":"
	switch t.Proto {
	case ICMP:
		dst += "icmp"
	case UDP:
		dst += strconv.Itoa(int(t.Port)) + "/udp"
	default:
		dst += strconv.Itoa(int(t.Port))
	}
	return t.From + " -> " + dst
}

// Policy is a parsed, validated segmentation policy. Build one with
// ParsePolicy (or Propose); the zero value is not valid.
type Policy struct {
	Name string
	// Mode is the mode of identities that belong to no segment.
	Mode       Mode
	Identities []Identity
	Segments   []Segment
	Rules      []Rule
	Tests      []FlowTest

	ids     map[string]int // identity name -> index
	comment []string       // Propose: flows not turned into rules
}

// Identity returns the identity called name.
func (p *Policy) Identity(name string) (*Identity, bool) {
	i, ok := p.ids[name]
	if !ok {
		return nil, false
	}
	return &p.Identities[i], true
}

// ModeOf returns the mode of an identity: that of its segment, else the
// policy's default, and the segment's name ("" for none).
func (p *Policy) ModeOf(identity string) (Mode, string) {
	for i := range p.Segments {
		if slices.Contains(p.Segments[i].Identities, identity) {
			return p.Segments[i].Mode, p.Segments[i].Name
		}
	}
	return p.Mode, ""
}

// PolicyError is a problem in a policy file, with its line (0 if unknown).
type PolicyError struct {
	Line int
	Msg  string
}

func (e *PolicyError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("line %d: %s", e.Line, e.Msg)
	}
	return e.Msg
}

func perr(line int, format string, args ...any) error {
	return &PolicyError{Line: line, Msg: fmt.Sprintf(format, args...)}
}

// raw file structure, decoded strictly.
type rawPolicy struct {
	APIVersion string                 `yaml:"apiVersion"`
	Kind       string                 `yaml:"kind"`
	Name       string                 `yaml:"name"`
	Mode       string                 `yaml:"mode"`
	Identities map[string]rawIdentity `yaml:"identities"`
	Segments   map[string]rawSegment  `yaml:"segments"`
	Rules      []rawRule              `yaml:"rules"`
	Tests      []string               `yaml:"tests"`
}

type rawIdentity struct {
	Description      string            `yaml:"description"`
	MatchLabels      map[string]string `yaml:"match_labels"`
	MatchExpressions []Requirement     `yaml:"match_expressions"`
}

type rawSegment struct {
	Identities []string      `yaml:"identities"`
	Mode       string        `yaml:"mode"`
	Promotion  *rawPromotion `yaml:"promotion"`
}

type rawPromotion struct {
	MonitorAfter duration `yaml:"monitor_after"`
	ProtectAfter duration `yaml:"protect_after"`
}

type rawRule struct {
	Name  string     `yaml:"name"`
	From  stringList `yaml:"from"`
	To    stringList `yaml:"to"`
	Ports []string   `yaml:"ports"`
}

type duration time.Duration

func (d *duration) UnmarshalYAML(n *yaml.Node) error {
	var s string
	if err := n.Decode(&s); err != nil {
		return err
	}
	v, err := time.ParseDuration(s)
	if err != nil || v < 0 {
		return perr(n.Line, "%q is not a duration (write e.g. 30m, 24h)", s)
	}
	*d = duration(v)
	return nil
}

// stringList is a string or a list of strings.
type stringList []string

func (l *stringList) UnmarshalYAML(n *yaml.Node) error {
	switch n.Kind {
	case yaml.ScalarNode:
		var s string
		if err := n.Decode(&s); err != nil {
			return err
		}
		*l = []string{s}
		return nil
	case yaml.SequenceNode:
		var ss []string
		if err := n.Decode(&ss); err != nil {
			return err
		}
		*l = ss
		return nil
	}
	return perr(n.Line, "expected an identity name or a list of them")
}

var nameRE = regexp.MustCompile(`^[a-z0-9]([a-z0-9._-]{0,61}[a-z0-9])?$`)

// labelKeyRE admits Kubernetes-style keys with an optional prefix.
var labelKeyRE = regexp.MustCompile(`^([a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?/)?[A-Za-z0-9]([A-Za-z0-9._-]{0,61}[A-Za-z0-9])?$`)
var labelValueRE = regexp.MustCompile(`^([A-Za-z0-9]([A-Za-z0-9._-]{0,61}[A-Za-z0-9])?)?$`)

// ParsePolicy parses and validates a policy file. Unknown keys, duplicate
// keys, unknown identities and malformed ports are errors with line numbers.
// It does not run the tests section: call RunTests.
func ParsePolicy(data []byte) (*Policy, error) {
	if len(data) > maxPolicyBytes {
		return nil, perr(0, "policy is larger than %d bytes", maxPolicyBytes)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, yamlErr(err)
	}
	if len(doc.Content) == 0 {
		return nil, perr(0, "policy is empty")
	}
	var raw rawPolicy
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&raw); err != nil {
		return nil, yamlErr(err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		return nil, perr(extra.Line, "a policy file holds one YAML document")
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return nil, perr(root.Line, "policy must be a mapping")
	}
	ln := func(path ...any) int { return lineOf(root, path...) }

	if raw.APIVersion != APIVersion {
		return nil, perr(ln("apiVersion"), "apiVersion must be %q, not %q", APIVersion, raw.APIVersion)
	}
	if raw.Kind != Kind {
		return nil, perr(ln("kind"), "kind must be %q, not %q", Kind, raw.Kind)
	}
	p := &Policy{Name: raw.Name, Mode: Protect, ids: map[string]int{}}
	if raw.Mode != "" {
		m, err := ParseMode(raw.Mode)
		if err != nil {
			return nil, perr(ln("mode"), "%v", err)
		}
		p.Mode = m
	}

	names := sortedKeys(raw.Identities)
	for _, name := range names {
		ri := raw.Identities[name]
		line := ln("identities", name)
		if !nameRE.MatchString(name) {
			return nil, perr(line, "identity name %q: use lower-case letters, digits, '.', '_' and '-'", name)
		}
		id := Identity{Name: name, Description: ri.Description, Line: line,
			Selector: Selector{MatchLabels: ri.MatchLabels, MatchExpressions: ri.MatchExpressions}}
		if err := validateSelector(&id.Selector); err != nil {
			return nil, perr(line, "identity %q: %v", name, err)
		}
		p.ids[name] = len(p.Identities)
		p.Identities = append(p.Identities, id)
	}

	member := map[string]string{}
	for _, name := range sortedKeys(raw.Segments) {
		rs := raw.Segments[name]
		line := ln("segments", name)
		if !nameRE.MatchString(name) {
			return nil, perr(line, "segment name %q: use lower-case letters, digits, '.', '_' and '-'", name)
		}
		seg := Segment{Name: name, Mode: p.Mode, Line: line}
		if rs.Mode != "" {
			m, err := ParseMode(rs.Mode)
			if err != nil {
				return nil, perr(line, "segment %q: %v", name, err)
			}
			seg.Mode = m
		}
		if len(rs.Identities) == 0 {
			return nil, perr(line, "segment %q lists no identities", name)
		}
		for _, id := range rs.Identities {
			if _, ok := p.ids[id]; !ok {
				return nil, perr(line, "segment %q: unknown identity %q", name, id)
			}
			if other, ok := member[id]; ok {
				return nil, perr(line, "identity %q is in segments %q and %q; an identity belongs to one segment", id, other, name)
			}
			member[id] = name
		}
		seg.Identities = slices.Clone(rs.Identities)
		sort.Strings(seg.Identities)
		if rs.Promotion != nil {
			seg.Promotion = Promotion{MonitorAfter: time.Duration(rs.Promotion.MonitorAfter), ProtectAfter: time.Duration(rs.Promotion.ProtectAfter)}
		}
		p.Segments = append(p.Segments, seg)
	}

	ruleNames := map[string]int{}
	for i, rr := range raw.Rules {
		line := ln("rules", i)
		r := Rule{Name: rr.Name, Line: line}
		if r.Name == "" {
			r.Name = fmt.Sprintf("rule-%d", i+1)
		} else if !nameRE.MatchString(r.Name) {
			return nil, perr(line, "rule name %q: use lower-case letters, digits, '.', '_' and '-'", r.Name)
		}
		if prev, ok := ruleNames[r.Name]; ok {
			return nil, perr(line, "rule name %q already used on line %d", r.Name, prev)
		}
		ruleNames[r.Name] = line
		if len(rr.From) == 0 || len(rr.To) == 0 {
			return nil, perr(line, "rule %q needs from and to", r.Name)
		}
		for _, list := range []stringList{rr.From, rr.To} {
			for _, id := range list {
				if _, ok := p.ids[id]; !ok {
					return nil, perr(line, "rule %q: unknown identity %q (define it under identities)", r.Name, id)
				}
			}
		}
		r.From, r.To = dedupSorted(rr.From), dedupSorted(rr.To)
		if len(rr.Ports) == 0 {
			return nil, perr(line, "rule %q lists no ports (write e.g. ports: [tcp/8080])", r.Name)
		}
		for _, s := range rr.Ports {
			pr, err := ParsePortRange(s)
			if err != nil {
				return nil, perr(line, "rule %q: %v", r.Name, err)
			}
			r.Ports = append(r.Ports, pr)
		}
		p.Rules = append(p.Rules, r)
	}

	for i, s := range raw.Tests {
		line := ln("tests", i)
		t, err := parseFlowTest(s)
		if err != nil {
			return nil, perr(line, "test %q: %v", s, err)
		}
		for _, id := range []string{t.From, t.To} {
			if _, ok := p.ids[id]; !ok {
				return nil, perr(line, "test %q: unknown identity %q", s, id)
			}
		}
		t.Line = line
		p.Tests = append(p.Tests, t)
	}
	return p, nil
}

// parseFlowTest parses "FROM -> TO:PORT[/udp|/tcp] allow|deny" and
// "FROM -> TO:icmp allow|deny".
func parseFlowTest(s string) (FlowTest, error) {
	f := strings.Fields(s)
	if len(f) != 4 || f[1] != "->" {
		return FlowTest{}, errors.New(`write "FROM -> TO:PORT allow" or "FROM -> TO:PORT/udp deny"`)
	}
	var t FlowTest
	switch f[3] {
	case "allow":
		t.Expect = ExpectAllow
	case "deny":
		t.Expect = ExpectDeny
	default:
		return FlowTest{}, fmt.Errorf("expected allow or deny, not %q", f[3])
	}
	t.From = f[0]
	to, port, ok := strings.Cut(f[2], ":")
	if !ok {
		return FlowTest{}, errors.New("destination needs a port: TO:PORT, TO:PORT/udp or TO:icmp")
	}
	t.To = to
	if port == "icmp" {
		t.Proto = ICMP
		return t, nil
	}
	num, proto, hasProto := strings.Cut(port, "/")
	t.Proto = TCP
	if hasProto {
		p, err := parseProto(proto)
		if err != nil || p == ICMP {
			return FlowTest{}, fmt.Errorf("protocol %q: use tcp or udp after the port", proto)
		}
		t.Proto = p
	}
	n, err := parsePort(num)
	if err != nil {
		return FlowTest{}, err
	}
	t.Port = n
	return t, nil
}

func validateSelector(s *Selector) error {
	for k, v := range s.MatchLabels {
		if !labelKeyRE.MatchString(k) {
			return fmt.Errorf("label key %q is not valid", k)
		}
		if !labelValueRE.MatchString(v) {
			return fmt.Errorf("label value %q (key %q) is not valid", v, k)
		}
	}
	for _, r := range s.MatchExpressions {
		if !labelKeyRE.MatchString(r.Key) {
			return fmt.Errorf("label key %q is not valid", r.Key)
		}
		switch r.Operator {
		case In, NotIn:
			if len(r.Values) == 0 {
				return fmt.Errorf("%s on %q needs values", r.Operator, r.Key)
			}
			for _, v := range r.Values {
				if !labelValueRE.MatchString(v) {
					return fmt.Errorf("label value %q (key %q) is not valid", v, r.Key)
				}
			}
		case Exists, DoesNotExist:
			if len(r.Values) != 0 {
				return fmt.Errorf("%s on %q takes no values", r.Operator, r.Key)
			}
		default:
			return fmt.Errorf("operator %q is not one of In, NotIn, Exists, DoesNotExist", r.Operator)
		}
	}
	return nil
}

// lineOf finds the line of a mapping key (string) or sequence item (int)
// below n; 0 when the path does not exist.
func lineOf(n *yaml.Node, path ...any) int {
	line := 0
	for _, step := range path {
		switch s := step.(type) {
		case string:
			if n.Kind != yaml.MappingNode {
				return line
			}
			found := false
			for i := 0; i+1 < len(n.Content); i += 2 {
				if n.Content[i].Value == s {
					line, n, found = n.Content[i].Line, n.Content[i+1], true
					break
				}
			}
			if !found {
				return line
			}
		case int:
			if n.Kind != yaml.SequenceNode || s >= len(n.Content) {
				return line
			}
			n = n.Content[s]
			line = n.Line
		}
	}
	return line
}

var yamlLineRE = regexp.MustCompile(`line (\d+): (.*)`)

// yamlErr turns yaml.v3's errors into a PolicyError carrying the first line.
func yamlErr(err error) error {
	var pe *PolicyError
	if errors.As(err, &pe) {
		return pe
	}
	var te *yaml.TypeError
	msg := err.Error()
	if errors.As(err, &te) && len(te.Errors) > 0 {
		msg = te.Errors[0]
	}
	if m := yamlLineRE.FindStringSubmatch(msg); m != nil {
		n, _ := strconv.Atoi(m[1])
		return &PolicyError{Line: n, Msg: m[2]}
	}
	return &PolicyError{Msg: strings.TrimPrefix(msg, "yaml: ")}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func dedupSorted(in []string) []string {
	out := slices.Clone(in)
	sort.Strings(out)
	return slices.Compact(out)
}
