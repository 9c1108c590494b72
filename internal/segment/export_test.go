package segment

import (
	"bytes"
	"strings"
	"testing"

	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"
)

var shopNamespaces = NamespaceMap{"web": "shop-front", "pricelist": "shop", "billing": "shop", "monitoring": "ops"}

func splitDocs(b []byte) [][]byte {
	var out [][]byte
	for _, d := range bytes.Split(b, []byte("\n---\n")) {
		if len(bytes.TrimSpace(d)) > 0 {
			out = append(out, d)
		}
	}
	return out
}

func TestExportNetworkPolicy(t *testing.T) {
	out, err := ExportNetworkPolicy(shopPolicy(t), shopNamespaces)
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "export/shop-networkpolicy.yaml", out)

	docs := splitDocs(out)
	if len(docs) != 4 {
		t.Fatalf("%d documents, want 4 (customer-db is outside the cluster)", len(docs))
	}
	byName := map[string]networkingv1.NetworkPolicy{}
	for _, d := range docs {
		var np networkingv1.NetworkPolicy
		// Strict: an unknown or misspelt field fails, as kubectl --validate=strict would.
		if err := yaml.UnmarshalStrict(d, &np); err != nil {
			t.Fatalf("not a valid NetworkPolicy: %v\n%s", err, d)
		}
		if np.APIVersion != "networking.k8s.io/v1" || np.Kind != "NetworkPolicy" || np.Name == "" || np.Namespace == "" {
			t.Fatalf("bad header: %+v", np.TypeMeta)
		}
		if _, err := metav1.LabelSelectorAsSelector(&np.Spec.PodSelector); err != nil {
			t.Errorf("%s: podSelector: %v", np.Name, err)
		}
		for _, r := range append(np.Spec.Ingress, egressAsIngress(np.Spec.Egress)...) {
			for _, peer := range r.From {
				if _, err := metav1.LabelSelectorAsSelector(peer.PodSelector); err != nil {
					t.Errorf("%s: peer selector: %v", np.Name, err)
				}
			}
			for _, p := range r.Ports {
				if p.EndPort != nil && (p.Port == nil || *p.EndPort < p.Port.IntVal) {
					t.Errorf("%s: endPort without a lower port", np.Name)
				}
			}
		}
		if len(np.Spec.PolicyTypes) != 2 {
			t.Errorf("%s: policyTypes %v, want both (default deny)", np.Name, np.Spec.PolicyTypes)
		}
		byName[np.Name] = np
	}
	pl := byName["hoheit-pricelist"]
	if len(pl.Spec.Ingress) != 2 || pl.Spec.Ingress[0].Ports[0].Port.IntVal != 8080 ||
		pl.Spec.Ingress[0].From[0].PodSelector.MatchLabels["app"] != "web" ||
		pl.Spec.Ingress[0].From[0].NamespaceSelector.MatchLabels["kubernetes.io/metadata.name"] != "shop-front" {
		t.Errorf("pricelist ingress = %+v", pl.Spec.Ingress)
	}
	if !strings.Contains(string(out), "billing-to-customer-db: billing -> customer-db (customer-db is outside the cluster)") {
		t.Errorf("rule to the out-of-cluster database is not listed as left out")
	}
}

func egressAsIngress(eg []networkingv1.NetworkPolicyEgressRule) []networkingv1.NetworkPolicyIngressRule {
	var out []networkingv1.NetworkPolicyIngressRule
	for _, e := range eg {
		out = append(out, networkingv1.NetworkPolicyIngressRule{From: e.To, Ports: e.Ports})
	}
	return out
}

// cilium.io/v2 mirrors of the fields we write; UnmarshalStrict refuses
// anything else (the Cilium module itself is far too large to import).
type ciliumCheck struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   struct {
		Name      string            `json:"name"`
		Namespace string            `json:"namespace"`
		Labels    map[string]string `json:"labels"`
	} `json:"metadata"`
	Spec struct {
		EndpointSelector  metav1.LabelSelector `json:"endpointSelector"`
		EnableDefaultDeny struct {
			Ingress *bool `json:"ingress"`
			Egress  *bool `json:"egress"`
		} `json:"enableDefaultDeny"`
		Ingress []ciliumRuleCheck `json:"ingress"`
		Egress  []ciliumRuleCheck `json:"egress"`
	} `json:"spec"`
}

type ciliumRuleCheck struct {
	FromEndpoints []metav1.LabelSelector `json:"fromEndpoints"`
	ToEndpoints   []metav1.LabelSelector `json:"toEndpoints"`
	ToPorts       []struct {
		Ports []struct {
			Port     string `json:"port"`
			EndPort  int32  `json:"endPort"`
			Protocol string `json:"protocol"`
		} `json:"ports"`
	} `json:"toPorts"`
	ICMPs []struct {
		Fields []struct {
			Family string `json:"family"`
			Type   string `json:"type"`
		} `json:"fields"`
	} `json:"icmps"`
}

func TestExportCilium(t *testing.T) {
	out, err := ExportCilium(shopPolicy(t), shopNamespaces)
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "export/shop-cilium.yaml", out)
	docs := splitDocs(out)
	if len(docs) != 4 {
		t.Fatalf("%d documents, want 4", len(docs))
	}
	for _, d := range docs {
		var cp ciliumCheck
		if err := yaml.UnmarshalStrict(d, &cp); err != nil {
			t.Fatalf("%v\n%s", err, d)
		}
		if cp.APIVersion != "cilium.io/v2" || cp.Kind != "CiliumNetworkPolicy" || cp.Metadata.Namespace == "" {
			t.Fatalf("bad header %s %s", cp.APIVersion, cp.Kind)
		}
		if cp.Spec.EnableDefaultDeny.Ingress == nil || !*cp.Spec.EnableDefaultDeny.Ingress || !*cp.Spec.EnableDefaultDeny.Egress {
			t.Errorf("%s: default deny not enabled", cp.Metadata.Name)
		}
		for _, r := range append(cp.Spec.Ingress, cp.Spec.Egress...) {
			for _, sel := range append(r.FromEndpoints, r.ToEndpoints...) {
				if sel.MatchLabels[ciliumNamespaceLabel] == "" {
					t.Errorf("%s: peer without namespace", cp.Metadata.Name)
				}
			}
			for _, pr := range r.ToPorts {
				for _, p := range pr.Ports {
					if p.Protocol != "TCP" && p.Protocol != "UDP" {
						t.Errorf("protocol %q", p.Protocol)
					}
				}
			}
		}
	}
	if !strings.Contains(string(out), "EchoRequest") {
		t.Errorf("icmp allowance of scrape-metrics is missing")
	}
}

func TestExportUnknownIdentity(t *testing.T) {
	if _, err := ExportNetworkPolicy(shopPolicy(t), NamespaceMap{"nope": "x"}); err == nil {
		t.Fatal("unknown identity in namespace map accepted")
	}
}
