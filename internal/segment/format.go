package segment

import (
	"fmt"
	"net/netip"
	"strings"
)

// Format renders the rule set for people (`hoheit segment apply --dry-run`,
// golden files): one line per local endpoint, rule and peer.
func (rs *NodeRuleSet) Format() string {
	var b strings.Builder
	fmt.Fprintf(&b, "node %s version %d default %s", rs.Node, rs.Version, rs.DefaultMode)
	if rs.AllPeers {
		b.WriteString(" all-peers")
	}
	b.WriteByte('\n')
	for _, l := range rs.Locals {
		fmt.Fprintf(&b, "  local %s %s [%s] %s", l.Name, prefixes(l.Addresses), strings.Join(l.Identities, ","), l.Mode)
		if l.Segment != "" {
			fmt.Fprintf(&b, " segment=%s", l.Segment)
		}
		b.WriteByte('\n')
	}
	for _, r := range rs.Inbound {
		fmt.Fprintf(&b, "  in  %s: %s %s <- %s %s %s\n", r.Rule, r.LocalIdentity, prefixes(r.Local), r.RemoteIdentity, prefixes(r.Remote), ports(r.Ports))
	}
	for _, r := range rs.Outbound {
		fmt.Fprintf(&b, "  out %s: %s %s -> %s %s %s\n", r.Rule, r.LocalIdentity, prefixes(r.Local), r.RemoteIdentity, prefixes(r.Remote), ports(r.Ports))
	}
	for _, p := range rs.Peers {
		fmt.Fprintf(&b, "  peer %s %s\n", p.Node, prefixes(p.Addresses))
	}
	return b.String()
}

func prefixes(ps []netip.Prefix) string {
	s := make([]string, len(ps))
	for i, p := range ps {
		if p.IsSingleIP() {
			s[i] = p.Addr().String()
		} else {
			s[i] = p.String()
		}
	}
	return "[" + strings.Join(s, " ") + "]"
}

func ports(ps []PortRange) string {
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = p.String()
	}
	return strings.Join(s, ",")
}

// String renders a flow record on one line.
func (r FlowRecord) String() string {
	return fmt.Sprintf("%s -> %s %s count=%d first=%s last=%s", endpointName(r.Src, r.SrcAddr), endpointName(r.Dst, r.DstAddr),
		flowProto(r.Proto, r.Port)+" "+r.Verdict.String(), r.Count, r.FirstSeen.UTC().Format("2006-01-02T15:04:05Z"), r.LastSeen.UTC().Format("2006-01-02T15:04:05Z"))
}

// String renders an alert on one line.
func (a Alert) String() string {
	return fmt.Sprintf("%s %s node=%s mode=%s %s -> %s %s %s", a.Time.UTC().Format("2006-01-02T15:04:05Z"), a.Flow.Verdict, a.Node, a.Mode,
		endpointName(a.Flow.Src, a.Src), endpointName(a.Flow.Dst, a.Dst), flowProto(a.Flow.Proto, a.Flow.Port), a.Direction)
}

func endpointName(name string, a netip.Addr) string {
	if name != "" {
		return name
	}
	if a.IsValid() {
		return "?" + a.String()
	}
	return "?"
}

func flowProto(p Proto, port uint16) string {
	switch p {
	case TCP, UDP:
		return fmt.Sprintf("%s/%d", p, port)
	}
	return p.String()
}
