package kubernetes

import (
	"fmt"
	"sort"
	"strings"

	"github.com/hoheit/hoheit/internal/inventory"
)

// Provider is the provider of every resource this package produces.
const Provider = "kubernetes"

// DefaultMaxDepth is the nesting limit Parse applies. Real manifests stay
// below 30 levels; the limit only has to stop hostile input.
const DefaultMaxDepth = 1000

// Options tune how manifests are read. The zero value is ready to use.
type Options struct {
	// Cluster is the name of the cluster the manifests belong to, if known.
	// It becomes the Account of every resource.
	Cluster string
	// Namespace is where objects without metadata.namespace land, as
	// kubectl's --namespace would decide. Empty means "default".
	Namespace string
	// MaxDepth limits how deeply a document may nest. Zero means
	// DefaultMaxDepth.
	MaxDepth int
}

func (o Options) withDefaults() Options {
	if o.Namespace == "" {
		o.Namespace = "default"
	}
	if o.MaxDepth <= 0 {
		o.MaxDepth = DefaultMaxDepth
	}
	return o
}

// Manifests is what one file holds, decoded and normalized as far as the file
// alone allows. Join completes it with what other files say about the same
// namespaces and service accounts.
type Manifests struct {
	file string
	opts Options
	// resources are the workloads and declared namespaces, in file order.
	resources []*inventory.Resource
	workloads []*workload
	// namespaces are the declared namespaces by name.
	namespaces map[string]*inventory.Resource
	facts      map[string]*namespaceFacts
	// serviceAccounts maps namespace/name to the account's
	// automountServiceAccountToken, for accounts that set it.
	serviceAccounts map[string]bool
	unsupported     []unsupported
}

type unsupported struct{ nativeType, example string }

// workload is a normalized workload with what Join still needs to know.
type workload struct {
	res *inventory.Resource
	// automountSet says the pod spec sets automountServiceAccountToken, so
	// the service account's own setting does not apply.
	automountSet bool
}

// namespaceFacts gathers what the scanned objects say about one namespace.
type namespaceFacts struct {
	networkPolicy, defaultDeny, resourceQuota, limitRange bool
}

// Resources is the number of resources the file contributes: its workloads
// and the namespaces it declares.
func (m *Manifests) Resources() int { return len(m.resources) }

// Parse reads the manifests in data, read from file, with default options.
func Parse(file string, data []byte) (*inventory.Estate, error) {
	m, err := Load(file, data, Options{})
	if err != nil {
		return nil, err
	}
	return Join(m), nil
}

// Load decodes and normalizes one file of manifests: YAML with any number of
// documents, or JSON, including List objects and rendered Helm charts.
// Errors name the file and, where the parser knows it, the line.
func Load(file string, data []byte, opts Options) (*Manifests, error) {
	opts = opts.withDefaults()
	m := &Manifests{
		file:            file,
		opts:            opts,
		namespaces:      map[string]*inventory.Resource{},
		facts:           map[string]*namespaceFacts{},
		serviceAccounts: map[string]bool{},
	}
	d := &decoder{file: file, maxDepth: opts.MaxDepth}
	err := d.decode(data, func(v any, line int, itemLines []int) error {
		obj, ok := v.(map[string]any)
		if !ok {
			return d.errorf(line, "the document is a %s, not a Kubernetes object; every document needs apiVersion, kind and metadata", describe(v))
		}
		return m.add(d, obj, line, itemLines, "", "")
	})
	if err != nil {
		return nil, err
	}
	return m, nil
}

// add files one object, unpacking Lists. listAPIVersion and listKind are
// set for the items of a typed list (PodList), whose items may omit them.
func (m *Manifests) add(d *decoder, obj map[string]any, line int, itemLines []int, listAPIVersion, listKind string) error {
	apiVersion, _ := obj["apiVersion"].(string)
	kind, _ := obj["kind"].(string)
	if kind == "" && listKind != "" {
		apiVersion, kind = listAPIVersion, listKind
	}
	if kind == "" || apiVersion == "" {
		return d.errorf(line, "the document has no apiVersion or kind, so it is not a Kubernetes object; remove it or scan only manifests")
	}
	if items, ok := obj["items"].([]any); ok && strings.HasSuffix(kind, "List") {
		itemKind := strings.TrimSuffix(kind, "List")
		if kind == "List" {
			itemKind = ""
		}
		for i, it := range items {
			il := line
			if i < len(itemLines) {
				il = itemLines[i]
			}
			o, ok := it.(map[string]any)
			if !ok {
				return d.errorf(il, "item %d of the %s is a %s, not a Kubernetes object", i, kind, describe(it))
			}
			if err := m.add(d, o, il, nil, apiVersion, itemKind); err != nil {
				return err
			}
		}
		return nil
	}
	loc := inventory.Location{File: m.file, Line: line}
	group := apiVersion
	if i := strings.LastIndexByte(apiVersion, '/'); i >= 0 {
		group = apiVersion[:i]
	} else {
		group = "" // the core group: "v1"
	}
	meta, _ := obj["metadata"].(map[string]any)
	name := str(meta, "name")
	if name == "" {
		name = str(meta, "generateName")
	}
	ns := str(meta, "namespace")
	if ns == "" {
		ns = m.opts.Namespace
	}
	switch {
	case isWorkload(group, kind):
		w := m.workload(obj, apiVersion, kind, name, ns, meta, loc)
		m.workloads = append(m.workloads, w)
		m.resources = append(m.resources, w.res)
		return nil
	case group == "" && kind == "Namespace":
		if _, dup := m.namespaces[name]; dup {
			return nil
		}
		r := m.resource("kubernetes.namespace", apiVersion, kind, name, "", meta, obj, loc)
		r.Address, r.ID = "Namespace/"+name, "Namespace/"+name
		pss := str(labels(meta), "pod-security.kubernetes.io/enforce")
		switch pss {
		case "privileged", "baseline", "restricted":
		default:
			pss = "" // an invalid level is not enforced; admission rejects it
		}
		r.Set("pod_security", pss)
		m.namespaces[name] = r
		m.resources = append(m.resources, r)
		return nil
	case (group == "networking.k8s.io" || group == "extensions") && kind == "NetworkPolicy":
		f := m.fact(ns)
		f.networkPolicy = true
		if deniesAllIngress(obj) {
			f.defaultDeny = true
		}
		return nil
	case group == "" && kind == "ResourceQuota":
		m.fact(ns).resourceQuota = true
		return nil
	case group == "" && kind == "LimitRange":
		m.fact(ns).limitRange = true
		return nil
	case group == "" && kind == "ServiceAccount":
		if b, ok := obj["automountServiceAccountToken"].(bool); ok {
			m.serviceAccounts[ns+"/"+name] = b
		}
		return nil
	}
	m.unsupported = append(m.unsupported, unsupported{apiVersion + "/" + kind, loc.String()})
	return nil
}

func (m *Manifests) fact(ns string) *namespaceFacts {
	f := m.facts[ns]
	if f == nil {
		f = &namespaceFacts{}
		m.facts[ns] = f
	}
	return f
}

// resource builds the common part of a normalized resource.
func (m *Manifests) resource(typ, apiVersion, kind, name, ns string, meta, obj map[string]any, loc inventory.Location) *inventory.Resource {
	addr := kind + "/" + ns + "/" + name
	r := &inventory.Resource{
		Provider:   Provider,
		Account:    m.opts.Cluster,
		Type:       typ,
		NativeType: apiVersion + "/" + kind,
		ID:         addr,
		Address:    addr,
		Name:       name,
		Native:     obj,
		Source:     loc,
		Attrs:      map[string]any{},
	}
	if l := labels(meta); len(l) > 0 {
		r.Tags = make(map[string]string, len(l))
		for k, v := range l {
			r.Tags[k] = scalarString(v)
		}
	}
	return r
}

// deniesAllIngress reports whether a NetworkPolicy selects every pod of its
// namespace, governs ingress and allows none: the usual default-deny policy.
func deniesAllIngress(np map[string]any) bool {
	spec, _ := np["spec"].(map[string]any)
	if spec == nil {
		return false
	}
	if sel, _ := spec["podSelector"].(map[string]any); len(mapOf(sel, "matchLabels")) > 0 || len(listOf(sel, "matchExpressions")) > 0 {
		return false
	}
	// Without policyTypes, Ingress always applies (and Egress only when
	// egress rules are present).
	ingress := true
	if pts, ok := spec["policyTypes"].([]any); ok {
		ingress = false
		for _, p := range pts {
			if p == "Ingress" {
				ingress = true
			}
		}
	}
	return ingress && len(listOf(spec, "ingress")) == 0
}

// Join builds one estate from manifests read from one or more files, so a
// NetworkPolicy in one file counts for the Namespace declared in another.
//
// Every namespace a workload runs in gets a kubernetes.namespace resource,
// declared or not, so that "namespace has no NetworkPolicy" can be checked
// for namespaces the manifests only use. A namespace that is not declared
// has an empty native object and takes its location from the first workload
// that uses it.
func Join(ms ...*Manifests) *inventory.Estate {
	e := &inventory.Estate{}
	facts := map[string]*namespaceFacts{}
	declared := map[string]*inventory.Resource{}
	serviceAccounts := map[string]bool{}
	for _, m := range ms {
		for ns, f := range m.facts {
			g := facts[ns]
			if g == nil {
				g = &namespaceFacts{}
				facts[ns] = g
			}
			g.networkPolicy = g.networkPolicy || f.networkPolicy
			g.defaultDeny = g.defaultDeny || f.defaultDeny
			g.resourceQuota = g.resourceQuota || f.resourceQuota
			g.limitRange = g.limitRange || f.limitRange
		}
		for k, v := range m.serviceAccounts {
			serviceAccounts[k] = v
		}
	}
	implicit := map[string]*inventory.Resource{}
	var implicitOrder []string
	for _, m := range ms {
		for _, r := range m.resources {
			if r.Type == "kubernetes.namespace" {
				if _, dup := declared[r.Name]; dup {
					continue // declared in two files: the first one counts
				}
				declared[r.Name] = r
			}
			e.Add(r)
		}
		for _, w := range m.workloads {
			ns, _ := w.res.Attrs["namespace"].(string)
			sa, _ := w.res.Attrs["service_account"].(string)
			if b, ok := serviceAccounts[ns+"/"+sa]; ok && !w.automountSet {
				w.res.Set("automount_service_account_token", b)
			}
			if _, ok := implicit[ns]; !ok {
				implicit[ns] = &inventory.Resource{
					Provider:   Provider,
					Account:    m.opts.Cluster,
					Type:       "kubernetes.namespace",
					NativeType: "v1/Namespace",
					ID:         "Namespace/" + ns,
					Address:    "Namespace/" + ns,
					Name:       ns,
					Source:     w.res.Source,
					Attrs:      map[string]any{"pod_security": ""},
				}
				implicitOrder = append(implicitOrder, ns)
			}
		}
		for _, u := range m.unsupported {
			e.AddUnsupported(Provider, u.nativeType, u.example)
		}
	}
	sort.Strings(implicitOrder)
	for _, ns := range implicitOrder {
		if _, ok := declared[ns]; !ok {
			e.Add(implicit[ns])
			declared[ns] = implicit[ns]
		}
	}
	for ns, r := range declared {
		f := facts[ns]
		if f == nil {
			f = &namespaceFacts{}
		}
		r.Set("network_policy", f.networkPolicy)
		r.Set("default_deny", f.defaultDeny)
		r.Set("resource_quota", f.resourceQuota)
		r.Set("limit_range", f.limitRange)
	}
	return e
}

func describe(v any) string {
	switch v.(type) {
	case []any:
		return "list"
	case string:
		return "string"
	case nil:
		return "null"
	case bool:
		return "boolean"
	case int64, float64:
		return "number"
	}
	return fmt.Sprintf("%T", v)
}
