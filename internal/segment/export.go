package segment

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// NamespaceMap places identities in a Kubernetes cluster: identity name ->
// namespace of its pods. Identities not in the map are outside the cluster;
// rules to or from them are left out of an export (listed in a comment).
type NamespaceMap map[string]string

// Kubernetes wire shapes, written by hand so the binary does not pull in
// k8s.io/api (the tests check the output against the upstream types).
type k8sMeta struct {
	Name      string            `yaml:"name"`
	Namespace string            `yaml:"namespace"`
	Labels    map[string]string `yaml:"labels,omitempty"`
}

type k8sSelector struct {
	MatchLabels      map[string]string `yaml:"matchLabels,omitempty"`
	MatchExpressions []k8sRequirement  `yaml:"matchExpressions,omitempty"`
}

type k8sRequirement struct {
	Key      string   `yaml:"key"`
	Operator string   `yaml:"operator"`
	Values   []string `yaml:"values,omitempty"`
}

type networkPolicy struct {
	APIVersion string            `yaml:"apiVersion"`
	Kind       string            `yaml:"kind"`
	Metadata   k8sMeta           `yaml:"metadata"`
	Spec       networkPolicySpec `yaml:"spec"`
}

type networkPolicySpec struct {
	PodSelector k8sSelector `yaml:"podSelector"`
	PolicyTypes []string    `yaml:"policyTypes"`
	Ingress     []npRule    `yaml:"ingress,omitempty"`
	Egress      []npRule    `yaml:"egress,omitempty"`
}

type npRule struct {
	From  []npPeer `yaml:"from,omitempty"`
	To    []npPeer `yaml:"to,omitempty"`
	Ports []npPort `yaml:"ports,omitempty"`
}

type npPeer struct {
	PodSelector       *k8sSelector `yaml:"podSelector,omitempty"`
	NamespaceSelector *k8sSelector `yaml:"namespaceSelector,omitempty"`
}

type npPort struct {
	Protocol string `yaml:"protocol"`
	Port     *int   `yaml:"port,omitempty"`
	EndPort  *int   `yaml:"endPort,omitempty"`
}

const managedBy = "app.kubernetes.io/managed-by"

func k8sSel(s Selector) k8sSelector {
	out := k8sSelector{MatchLabels: s.MatchLabels}
	for _, r := range s.MatchExpressions {
		out.MatchExpressions = append(out.MatchExpressions, k8sRequirement{Key: r.Key, Operator: string(r.Operator), Values: r.Values})
	}
	return out
}

// exportPair is one allowed (rule, local identity, remote identity) inside
// the cluster.
type exportPair struct {
	rule   *Rule
	remote string
}

// walkExport calls f for every in-cluster identity with its ingress and
// egress pairs, and collects what had to be left out.
func walkExport(p *Policy, ns NamespaceMap, f func(id *Identity, in, out []exportPair) error) (skipped []string, err error) {
	for i := range p.Identities {
		id := &p.Identities[i]
		if _, ok := ns[id.Name]; !ok {
			continue
		}
		var in, out []exportPair
		for r := range p.Rules {
			rule := &p.Rules[r]
			for _, from := range rule.From {
				for _, to := range rule.To {
					if to == id.Name {
						if _, ok := ns[from]; ok {
							in = append(in, exportPair{rule, from})
						} else {
							skipped = append(skipped, fmt.Sprintf("rule %s: %s -> %s (%s is outside the cluster)", rule.Name, from, to, from))
						}
					}
					if from == id.Name {
						if _, ok := ns[to]; ok {
							out = append(out, exportPair{rule, to})
						} else {
							skipped = append(skipped, fmt.Sprintf("rule %s: %s -> %s (%s is outside the cluster)", rule.Name, from, to, to))
						}
					}
				}
			}
		}
		if err := f(id, in, out); err != nil {
			return nil, err
		}
	}
	for name := range ns {
		if _, ok := p.Identity(name); !ok {
			return nil, fmt.Errorf("namespace map names unknown identity %q", name)
		}
	}
	return skipped, nil
}

// ExportNetworkPolicy writes one Kubernetes networking.k8s.io/v1
// NetworkPolicy per identity placed in the cluster by ns: its pods
// (selected by the identity's selector, used as pod labels) get ingress from
// and egress to exactly the in-cluster identities the policy allows, on the
// allowed TCP/UDP ports. Each policy has both policy types, so everything
// else is denied, as in the mesh. NetworkPolicy cannot express ICMP; ICMP
// allowances are left out and listed in the header comment, as are rules
// whose other side is outside the cluster. Modes are not exported: the
// output enforces (protect).
func ExportNetworkPolicy(p *Policy, ns NamespaceMap) ([]byte, error) {
	var docs []any
	var notes []string
	skipped, err := walkExport(p, ns, func(id *Identity, in, out []exportPair) error {
		np := networkPolicy{APIVersion: "networking.k8s.io/v1", Kind: "NetworkPolicy",
			Metadata: k8sMeta{Name: objectName(id.Name), Namespace: ns[id.Name], Labels: map[string]string{managedBy: "hoheit"}},
			Spec:     networkPolicySpec{PodSelector: k8sSel(id.Selector), PolicyTypes: []string{"Ingress", "Egress"}}}
		for dir, pairs := range [][]exportPair{in, out} {
			for _, pr := range pairs {
				remote, _ := p.Identity(pr.remote)
				sel := k8sSel(remote.Selector)
				peer := npPeer{PodSelector: &sel, NamespaceSelector: &k8sSelector{MatchLabels: map[string]string{"kubernetes.io/metadata.name": ns[pr.remote]}}}
				rule := npRule{}
				for _, port := range pr.rule.Ports {
					if port.Proto == ICMP {
						notes = append(notes, fmt.Sprintf("rule %s: icmp between %s and %s (NetworkPolicy has no ICMP)", pr.rule.Name, id.Name, pr.remote))
						continue
					}
					rule.Ports = append(rule.Ports, k8sPort(port))
				}
				if len(rule.Ports) == 0 {
					continue
				}
				if dir == 0 {
					rule.From = []npPeer{peer}
					np.Spec.Ingress = append(np.Spec.Ingress, rule)
				} else {
					rule.To = []npPeer{peer}
					np.Spec.Egress = append(np.Spec.Egress, rule)
				}
			}
		}
		docs = append(docs, np)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return encodeDocs("NetworkPolicy", docs, append(skipped, notes...))
}

func k8sPort(pr PortRange) npPort {
	out := npPort{Protocol: "TCP"}
	if pr.Proto == UDP {
		out.Protocol = "UDP"
	}
	if pr.Lo == 1 && pr.Hi == 65535 {
		return out
	}
	lo := int(pr.Lo)
	out.Port = &lo
	if pr.Hi > pr.Lo {
		hi := int(pr.Hi)
		out.EndPort = &hi
	}
	return out
}

// Cilium wire shapes (cilium.io/v2).
type ciliumPolicy struct {
	APIVersion string     `yaml:"apiVersion"`
	Kind       string     `yaml:"kind"`
	Metadata   k8sMeta    `yaml:"metadata"`
	Spec       ciliumSpec `yaml:"spec"`
}

type ciliumSpec struct {
	EndpointSelector  k8sSelector  `yaml:"endpointSelector"`
	EnableDefaultDeny ciliumDeny   `yaml:"enableDefaultDeny"`
	Ingress           []ciliumRule `yaml:"ingress,omitempty"`
	Egress            []ciliumRule `yaml:"egress,omitempty"`
}

type ciliumDeny struct {
	Ingress bool `yaml:"ingress"`
	Egress  bool `yaml:"egress"`
}

type ciliumRule struct {
	FromEndpoints []k8sSelector    `yaml:"fromEndpoints,omitempty"`
	ToEndpoints   []k8sSelector    `yaml:"toEndpoints,omitempty"`
	ToPorts       []ciliumPortRule `yaml:"toPorts,omitempty"`
	ICMPs         []ciliumICMPRule `yaml:"icmps,omitempty"`
}

type ciliumPortRule struct {
	Ports []ciliumPort `yaml:"ports"`
}

type ciliumPort struct {
	Port     string `yaml:"port"`
	EndPort  int    `yaml:"endPort,omitempty"`
	Protocol string `yaml:"protocol"`
}

type ciliumICMPRule struct {
	Fields []ciliumICMPField `yaml:"fields"`
}

type ciliumICMPField struct {
	Family string `yaml:"family"`
	Type   string `yaml:"type"`
}

const ciliumNamespaceLabel = "k8s:io.kubernetes.pod.namespace"

// ExportCilium writes one cilium.io/v2 CiliumNetworkPolicy per identity
// placed in the cluster by ns, with the same meaning as
// ExportNetworkPolicy; Cilium can express ICMP, so ICMP allowances (echo
// request, IPv4 and IPv6) are kept. Default deny is explicit
// (enableDefaultDeny, Cilium 1.15 and later).
func ExportCilium(p *Policy, ns NamespaceMap) ([]byte, error) {
	var docs []any
	skipped, err := walkExport(p, ns, func(id *Identity, in, out []exportPair) error {
		cp := ciliumPolicy{APIVersion: "cilium.io/v2", Kind: "CiliumNetworkPolicy",
			Metadata: k8sMeta{Name: objectName(id.Name), Namespace: ns[id.Name], Labels: map[string]string{managedBy: "hoheit"}},
			Spec:     ciliumSpec{EndpointSelector: k8sSel(id.Selector), EnableDefaultDeny: ciliumDeny{Ingress: true, Egress: true}}}
		for dir, pairs := range [][]exportPair{in, out} {
			for _, pr := range pairs {
				remote, _ := p.Identity(pr.remote)
				sel := k8sSel(remote.Selector)
				ml := map[string]string{ciliumNamespaceLabel: ns[pr.remote]}
				for k, v := range sel.MatchLabels {
					ml[k] = v
				}
				sel.MatchLabels = ml
				var ports []ciliumPort
				icmp := false
				for _, port := range pr.rule.Ports {
					switch port.Proto {
					case ICMP:
						icmp = true
					default:
						cp := ciliumPort{Protocol: "TCP"}
						if port.Proto == UDP {
							cp.Protocol = "UDP"
						}
						if port.Lo == 1 && port.Hi == 65535 {
							cp.Port = "0" // every port
						} else {
							cp.Port = strconv.Itoa(int(port.Lo))
							if port.Hi > port.Lo {
								cp.EndPort = int(port.Hi)
							}
						}
						ports = append(ports, cp)
					}
				}
				var rules []ciliumRule
				if len(ports) > 0 {
					rules = append(rules, ciliumRule{ToPorts: []ciliumPortRule{{Ports: ports}}})
				}
				if icmp {
					rules = append(rules, ciliumRule{ICMPs: []ciliumICMPRule{{Fields: []ciliumICMPField{{Family: "IPv4", Type: "EchoRequest"}, {Family: "IPv6", Type: "EchoRequest"}}}}})
				}
				for _, r := range rules {
					if dir == 0 {
						r.FromEndpoints = []k8sSelector{sel}
						cp.Spec.Ingress = append(cp.Spec.Ingress, r)
					} else {
						r.ToEndpoints = []k8sSelector{sel}
						cp.Spec.Egress = append(cp.Spec.Egress, r)
					}
				}
			}
		}
		// Cilium's CRD wants a rule in each direction; an empty rule
		// selects nothing, so with default deny it admits nothing.
		if len(cp.Spec.Ingress) == 0 {
			cp.Spec.Ingress = []ciliumRule{{}}
		}
		if len(cp.Spec.Egress) == 0 {
			cp.Spec.Egress = []ciliumRule{{}}
		}
		docs = append(docs, cp)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return encodeDocs("CiliumNetworkPolicy", docs, skipped)
}

// objectName names an identity's object: a DNS subdomain, as Kubernetes
// requires (no '_'), prefixed hoheit-; a name changed by the mapping gets
// a short hash so two identities never share an object.
func objectName(identity string) string {
	n := strings.ToLower(strings.ReplaceAll(identity, "_", "-"))
	if n != identity {
		sum := sha256.Sum256([]byte(identity))
		n += "-" + hex.EncodeToString(sum[:3])
	}
	return "hoheit-" + n
}

func encodeDocs(kind string, docs []any, notes []string) ([]byte, error) {
	var b bytes.Buffer
	fmt.Fprintf(&b, "# %s generated by hoheit from a segmentation policy: do not edit, re-export.\n", kind)
	if len(notes) > 0 {
		b.WriteString("# Not exported:\n")
		seen := map[string]bool{}
		for _, n := range notes {
			if !seen[n] {
				seen[n] = true
				fmt.Fprintf(&b, "#   %s\n", n)
			}
		}
	}
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	for _, d := range docs {
		if err := enc.Encode(d); err != nil {
			return nil, fmt.Errorf("encoding %s: %w", kind, err)
		}
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}
