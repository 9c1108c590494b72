package terraform

import (
	"encoding/json"
	"strconv"
	"strings"
)

// awsPolicy is an AWS IAM policy document (identity, resource, trust or key
// policy) reduced to what the normalized model needs.
type awsPolicy struct {
	Statements []awsStatement
}

// awsStatement is one statement; single strings are read as lists of one.
type awsStatement struct {
	Effect     string
	Actions    []string
	NotActions []string
	Resources  []string
	// Principals are the principals as "AWS:arn", "Service:name",
	// "Federated:name" or "*" for everyone.
	Principals []string
	Conditions map[string]map[string][]string
}

// parseAWSPolicy reads a policy document; Terraform keeps them as JSON
// strings (jsonencode, heredocs, aws_iam_policy_document's json).
func parseAWSPolicy(doc string) (*awsPolicy, bool) {
	doc = strings.TrimSpace(doc)
	if doc == "" {
		return nil, false
	}
	var raw struct {
		Statement json.RawMessage
	}
	if err := json.Unmarshal([]byte(doc), &raw); err != nil {
		return nil, false
	}
	var stmts []map[string]any
	if err := json.Unmarshal(raw.Statement, &stmts); err != nil {
		var one map[string]any
		if err := json.Unmarshal(raw.Statement, &one); err != nil {
			return nil, false
		}
		stmts = []map[string]any{one}
	}
	p := &awsPolicy{}
	for _, m := range stmts {
		st := awsStatement{
			Effect:     strings.ToLower(awsString(m["Effect"])),
			Actions:    awsStrings(m["Action"]),
			NotActions: awsStrings(m["NotAction"]),
			Resources:  awsStrings(m["Resource"]),
		}
		switch pr := m["Principal"].(type) {
		case string:
			if pr == "*" {
				st.Principals = append(st.Principals, "*")
			}
		case map[string]any:
			for kind, v := range pr {
				for _, s := range awsStrings(v) {
					if s == "*" && kind == "AWS" {
						st.Principals = append(st.Principals, "*")
						continue
					}
					st.Principals = append(st.Principals, kind+":"+s)
				}
			}
		}
		if cond, ok := m["Condition"].(map[string]any); ok && len(cond) > 0 {
			st.Conditions = map[string]map[string][]string{}
			for op, kv := range cond {
				kvm, _ := kv.(map[string]any)
				inner := map[string][]string{}
				for k, v := range kvm {
					inner[strings.ToLower(k)] = awsStrings(v)
				}
				st.Conditions[strings.ToLower(op)] = inner
			}
		}
		p.Statements = append(p.Statements, st)
	}
	return p, true
}

func awsString(v any) string {
	switch s := v.(type) {
	case string:
		return s
	case bool:
		if s {
			return "true"
		}
		return "false"
	case float64:
		return strconv.FormatFloat(s, 'f', -1, 64)
	}
	return ""
}

func awsStrings(v any) []string {
	switch l := v.(type) {
	case nil:
		return nil
	case []any:
		out := make([]string, 0, len(l))
		for _, e := range l {
			if s := awsString(e); s != "" {
				out = append(out, s)
			}
		}
		return out
	}
	if s := awsString(v); s != "" {
		return []string{s}
	}
	return nil
}

// Admin reports an Allow of every action on every resource.
func (p *awsPolicy) admin() bool {
	for _, s := range p.Statements {
		if s.Effect == "allow" && len(s.Conditions) == 0 && awsAny(s.Actions, "*", "*:*") && awsAny(s.Resources, "*") {
			return true
		}
	}
	return false
}

// wildcardActions reports an Allow of a service-wide wildcard such as s3:*,
// or a NotAction allow, which grants everything not listed.
func (p *awsPolicy) wildcardActions() bool {
	for _, s := range p.Statements {
		if s.Effect != "allow" {
			continue
		}
		if len(s.NotActions) > 0 {
			return true
		}
		for _, a := range s.Actions {
			if a == "*" || strings.HasSuffix(a, ":*") {
				return true
			}
		}
	}
	return false
}

// public reports an Allow to everyone without a condition that narrows it.
func (p *awsPolicy) public() bool {
	for _, s := range p.Statements {
		if s.Effect == "allow" && len(s.Conditions) == 0 && awsAny(s.Principals, "*") {
			return true
		}
	}
	return false
}

// deniesInsecureTransport reports a Deny of requests without TLS
// (aws:SecureTransport false), the documented way to enforce HTTPS on S3.
func (p *awsPolicy) deniesInsecureTransport() bool {
	for _, s := range p.Statements {
		if s.Effect != "deny" {
			continue
		}
		for _, op := range []string{"bool", "boolifexists"} {
			if awsAny(s.Conditions[op]["aws:securetransport"], "false") {
				return true
			}
		}
	}
	return false
}

// minTLSVersion returns the version below which a Deny on s3:TlsVersion
// refuses requests, "" if none.
func (p *awsPolicy) minTLSVersion() string {
	for _, s := range p.Statements {
		if s.Effect != "deny" {
			continue
		}
		if v := s.Conditions["numericlessthan"]["s3:tlsversion"]; len(v) > 0 {
			return v[0]
		}
	}
	return ""
}

// trusted lists the principals of Allow statements (a trust policy's who
// may assume the role).
func (p *awsPolicy) trusted() []string {
	var out []string
	for _, s := range p.Statements {
		if s.Effect == "allow" {
			out = append(out, s.Principals...)
		}
	}
	return out
}

// statements renders the statements as the normalized model's list.
func (p *awsPolicy) statements() []any {
	out := make([]any, 0, len(p.Statements))
	for _, s := range p.Statements {
		actions := s.Actions
		if len(s.NotActions) > 0 {
			// A NotAction allow grants everything but the listed actions.
			actions = append(append([]string{}, actions...), "*")
		}
		out = append(out, map[string]any{
			"effect":     s.Effect,
			"actions":    awsList(actions),
			"resources":  awsList(s.Resources),
			"principals": awsList(s.Principals),
		})
	}
	return out
}

func awsAny(list []string, want ...string) bool {
	for _, s := range list {
		for _, w := range want {
			if strings.EqualFold(s, w) {
				return true
			}
		}
	}
	return false
}

// awsList converts strings to the []any the normalized model holds.
func awsList(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}
