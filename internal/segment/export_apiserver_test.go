//go:build integration

package segment_test

// This test proves the Kubernetes export valid against a real API server:
// kube-apiserver built from k8s.io/kubernetes by
// scripts/build-kube-apiserver.sh (`make deps`) and etcd from Debian's
// etcd-server package, run by controller-runtime's envtest. It creates every
// exported object with fieldValidation=Strict (an unknown, misspelt or
// mistyped field is an error, not silently dropped), and reads each back.
// CiliumNetworkPolicy is checked against Cilium's own CRD, read from the
// github.com/cilium/cilium module (scripts/build-kube-apiserver.sh places
// it under .cache/kube/).

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"go.yaml.in/yaml/v3"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/hoheit/hoheit/internal/segment"
)

// repoRoot is where .cache/ lives, relative to this package.
const repoRoot = "../.."

// edgePolicy exercises what the shop example does not: port ranges, whole
// protocols, UDP, every selector operator, empty selectors, dotted names,
// an identity with an underscore and no allowed flow.
const edgePolicy = `apiVersion: hoheit/v1
kind: SegmentPolicy
name: edge
identities:
  front.v2:
    match_labels: {app: front, tier: web}
    match_expressions:
      - {key: env, operator: NotIn, values: [dev, test]}
      - {key: example.com/team, operator: Exists}
  media:
    match_labels: {app: media}
    match_expressions:
      - {key: canary, operator: DoesNotExist}
  dns:
    match_labels: {k8s-app: kube-dns}
  everything: {}
  batch_worker:
    description: no flow allowed at all, and a name Kubernetes objects cannot carry
    match_labels: {app: batch}
rules:
  - name: front-to-media
    from: front.v2
    to: media
    ports: [udp/5000-5010, tcp/443, tcp/8000-8999, icmp]
  - name: all-dns
    from: everything
    to: dns
    ports: [udp/53, tcp/53]
  - name: media-any-tcp
    from: media
    to: front.v2
    ports: [tcp]
tests:
  - front.v2 -> media:5005/udp allow
  - media -> dns:53/udp allow
`

func TestExportAcceptedByKubeAPIServer(t *testing.T) {
	kube := startKube(t)

	shopData, err := os.ReadFile(filepath.Join(repoRoot, "examples/segment/shop.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	policies := []struct {
		name string
		data string
		ns   segment.NamespaceMap
		// objects is how many policies the export must hold.
		objects int
	}{
		{"shop", string(shopData), segment.NamespaceMap{"web": "shop-front", "pricelist": "shop", "billing": "shop", "monitoring": "ops"}, 4},
		{"shop-one-namespace", string(shopData), segment.NamespaceMap{"web": "shop", "pricelist": "shop", "billing": "shop", "customer-db": "shop", "monitoring": "shop"}, 5},
		{"edge", edgePolicy, segment.NamespaceMap{"front.v2": "edge", "media": "edge-media", "dns": "kube-system", "everything": "edge", "batch_worker": "edge"}, 5},
	}
	formats := []struct {
		name     string
		export   func(*segment.Policy, segment.NamespaceMap) ([]byte, error)
		resource string // plural, under /apis/GROUP/VERSION/namespaces/NS/
	}{
		{"networkpolicy", segment.ExportNetworkPolicy, "networking.k8s.io/v1/namespaces/%s/networkpolicies"},
		{"cilium", segment.ExportCilium, "cilium.io/v2/namespaces/%s/ciliumnetworkpolicies"},
	}

	for _, pc := range policies {
		p, err := segment.ParsePolicy([]byte(pc.data))
		if err != nil {
			t.Fatalf("%s: %v", pc.name, err)
		}
		if f := p.RunTests(); len(f) > 0 {
			t.Fatalf("%s: tests fail: %v", pc.name, f)
		}
		for _, ns := range pc.ns {
			kube.ensureNamespace(t, ns)
		}
		for _, fc := range formats {
			t.Run(pc.name+"/"+fc.name, func(t *testing.T) {
				out, err := fc.export(p, pc.ns)
				if err != nil {
					t.Fatal(err)
				}
				objs := decodeDocs(t, out)
				if len(objs) != pc.objects {
					t.Fatalf("%d objects, want %d:\n%s", len(objs), pc.objects, out)
				}
				for _, obj := range objs {
					meta := obj["metadata"].(map[string]any)
					name, ns := meta["name"].(string), meta["namespace"].(string)
					// Cases share namespaces and names: delete after reading back.
					path := "/apis/" + fmt.Sprintf(fc.resource, ns)
					created := kube.create(t, path, obj)
					got := kube.get(t, path+"/"+name)
					for _, o := range []map[string]any{created, got} {
						if err := subset("spec", obj["spec"], o["spec"]); err != nil {
							t.Errorf("%s/%s: the server changed what was sent: %v", ns, name, err)
						}
					}
					kube.delete(t, path+"/"+name)
				}
			})
		}
	}
}

// TestKubeAPIServerRejectsInvalid shows the check has teeth: the same
// server refuses objects with the mistakes an exporter could make.
func TestKubeAPIServerRejectsInvalid(t *testing.T) {
	kube := startKube(t)
	kube.ensureNamespace(t, "bad")
	np := func(mut func(spec map[string]any)) map[string]any {
		spec := map[string]any{
			"podSelector": map[string]any{"matchLabels": map[string]any{"app": "web"}},
			"policyTypes": []any{"Ingress", "Egress"},
			"ingress": []any{map[string]any{
				"from":  []any{map[string]any{"podSelector": map[string]any{"matchLabels": map[string]any{"app": "pricelist"}}}},
				"ports": []any{map[string]any{"protocol": "TCP", "port": 8080}},
			}},
		}
		mut(spec)
		return map[string]any{"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
			"metadata": map[string]any{"name": "hoheit-bad", "namespace": "bad"}, "spec": spec}
	}
	cnp := func(mut func(spec map[string]any)) map[string]any {
		spec := map[string]any{
			"endpointSelector":  map[string]any{"matchLabels": map[string]any{"app": "web"}},
			"enableDefaultDeny": map[string]any{"ingress": true, "egress": true},
			"ingress": []any{map[string]any{
				"fromEndpoints": []any{map[string]any{"matchLabels": map[string]any{"app": "pricelist"}}},
				"toPorts":       []any{map[string]any{"ports": []any{map[string]any{"port": "8080", "protocol": "TCP"}}}},
			}},
		}
		mut(spec)
		return map[string]any{"apiVersion": "cilium.io/v2", "kind": "CiliumNetworkPolicy",
			"metadata": map[string]any{"name": "hoheit-bad", "namespace": "bad"}, "spec": spec}
	}
	ingress0 := func(spec map[string]any) map[string]any { return spec["ingress"].([]any)[0].(map[string]any) }
	npPath := "/apis/networking.k8s.io/v1/namespaces/bad/networkpolicies"
	cnpPath := "/apis/cilium.io/v2/namespaces/bad/ciliumnetworkpolicies"
	cases := []struct {
		name, path string
		obj        map[string]any
	}{
		{"np-valid-control", npPath, np(func(map[string]any) {})},
		{"np-unknown-field", npPath, np(func(s map[string]any) { s["egres"] = []any{} })},
		{"np-bad-protocol", npPath, np(func(s map[string]any) { ingress0(s)["ports"] = []any{map[string]any{"protocol": "ICMP", "port": 1}} })},
		{"np-endport-below-port", npPath, np(func(s map[string]any) {
			ingress0(s)["ports"] = []any{map[string]any{"protocol": "TCP", "port": 9000, "endPort": 8000}}
		})},
		{"np-bad-operator", npPath, np(func(s map[string]any) {
			s["podSelector"] = map[string]any{"matchExpressions": []any{map[string]any{"key": "app", "operator": "Equals", "values": []any{"x"}}}}
		})},
		{"np-bad-policy-type", npPath, np(func(s map[string]any) { s["policyTypes"] = []any{"Inbound"} })},
		{"cnp-valid-control", cnpPath, cnp(func(map[string]any) {})},
		{"cnp-unknown-field", cnpPath, cnp(func(s map[string]any) { s["enableDefaultDenny"] = map[string]any{} })},
		{"cnp-port-not-string", cnpPath, cnp(func(s map[string]any) {
			ingress0(s)["toPorts"] = []any{map[string]any{"ports": []any{map[string]any{"port": 8080, "protocol": "TCP"}}}}
		})},
		{"cnp-bad-protocol", cnpPath, cnp(func(s map[string]any) {
			ingress0(s)["toPorts"] = []any{map[string]any{"ports": []any{map[string]any{"port": "8080", "protocol": "tcp"}}}}
		})},
		{"cnp-bad-icmp-family", cnpPath, cnp(func(s map[string]any) {
			ingress0(s)["icmps"] = []any{map[string]any{"fields": []any{map[string]any{"family": "IPv5", "type": "EchoRequest"}}}}
		})},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			status, body := kube.do(t, http.MethodPost, tc.path+"?fieldValidation=Strict", tc.obj)
			wantOK := strings.HasSuffix(tc.name, "-valid-control")
			switch {
			case wantOK && status != http.StatusCreated:
				t.Fatalf("valid control refused: HTTP %d: %s", status, body)
			case wantOK:
				kube.delete(t, tc.path+"/hoheit-bad")
			case status < 400:
				kube.delete(t, tc.path+"/hoheit-bad")
				t.Fatalf("HTTP %d: the server accepted an invalid object", status)
			case status != http.StatusBadRequest && status != http.StatusUnprocessableEntity:
				t.Fatalf("HTTP %d, want 400 or 422: %s", status, body)
			}
		})
	}
}

// kubeServer is a running etcd + kube-apiserver.
type kubeServer struct {
	url    string
	client *http.Client
}

// startKube starts etcd and kube-apiserver with controller-runtime's envtest,
// installs Cilium's CiliumNetworkPolicy CRD, and stops both at the test's
// end. Missing binaries fail the test: run `make deps`.
func startKube(t *testing.T) *kubeServer {
	t.Helper()
	// envtest's own variables override the binaries; by default the
	// kube-apiserver scripts/build-kube-apiserver.sh built and Debian's etcd.
	apiserver := os.Getenv("TEST_ASSET_KUBE_APISERVER")
	if apiserver == "" {
		apiserver = filepath.Join(repoRoot, ".cache/bin/kube-apiserver")
	}
	if _, err := os.Stat(apiserver); err != nil {
		t.Fatalf("kube-apiserver not found (%v): build it with scripts/build-kube-apiserver.sh (make deps)", err)
	}
	etcd := os.Getenv("TEST_ASSET_ETCD")
	if etcd == "" {
		etcd = "etcd"
	}
	etcd, err := exec.LookPath(etcd)
	if err != nil {
		t.Fatalf("etcd not found: install Debian's etcd-server (scripts/test-deps.sh, make deps): %v", err)
	}
	crd := ciliumCRD(t)

	// envtest takes both binaries from one directory.
	dir := t.TempDir()
	assets := filepath.Join(dir, "bin")
	certs := filepath.Join(dir, "certs")
	for _, d := range []string{assets, certs} {
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	for name, bin := range map[string]string{"kube-apiserver": apiserver, "etcd": etcd} {
		abs, err := filepath.Abs(bin)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(abs, filepath.Join(assets, name)); err != nil {
			t.Fatal(err)
		}
	}
	if _, ok := os.LookupEnv("KUBEBUILDER_ASSETS"); ok {
		// It would win over BinaryAssetsDirectory (a setup-envtest
		// download, say) and test against another Kubernetes version.
		t.Setenv("KUBEBUILDER_ASSETS", assets)
	}
	// envtest logs through controller-runtime's global logger; its errors
	// come back from Start and Stop, the processes' output goes to files.
	ctrllog.SetLogger(logr.Discard())

	// Registered before Stop's cleanup, so they are shown after it.
	etcdLog := logFile(t, dir, "etcd")
	apiLog := logFile(t, dir, "kube-apiserver")
	env := &envtest.Environment{
		BinaryAssetsDirectory: assets,
		ControlPlane: envtest.ControlPlane{
			Etcd:      &envtest.Etcd{DataDir: filepath.Join(dir, "etcd"), Out: etcdLog, Err: etcdLog},
			APIServer: &envtest.APIServer{CertDir: certs, Out: apiLog, Err: apiLog},
		},
		CRDDirectoryPaths:     []string{crd},
		ErrorIfCRDPathMissing: true,
		// envtest's default of 20 s is short for a first start on a
		// loaded two-core machine.
		ControlPlaneStartTimeout: 90 * time.Second,
		ControlPlaneStopTimeout:  30 * time.Second,
	}
	env.CRDInstallOptions.MaxTime = 60 * time.Second
	t.Cleanup(func() {
		if err := env.Stop(); err != nil {
			t.Errorf("stopping etcd and kube-apiserver: %v", err)
		}
	})
	cfg, err := env.Start()
	if err != nil {
		t.Fatalf("starting etcd and kube-apiserver with envtest (logs follow): %v", err)
	}
	if len(env.CRDs) != 1 || env.CRDs[0].Name != "ciliumnetworkpolicies.cilium.io" {
		t.Fatalf("envtest installed %d CRDs from %s, want ciliumnetworkpolicies.cilium.io", len(env.CRDs), crd)
	}

	// envtest's admin user (system:masters) authenticates with a client
	// certificate; the HTTP client carries it and trusts the server's CA.
	cfg = rest.CopyConfig(cfg)
	cfg.Timeout = 30 * time.Second
	client, err := rest.HTTPClientFor(cfg)
	if err != nil {
		t.Fatal(err)
	}
	k := &kubeServer{url: strings.TrimSuffix(cfg.Host, "/"), client: client}
	// envtest waited for the CRD in discovery; it must list as well.
	if status, body := k.do(t, http.MethodGet, "/apis/cilium.io/v2/ciliumnetworkpolicies", nil); status != http.StatusOK {
		t.Fatalf("listing CiliumNetworkPolicies: HTTP %d: %s", status, body)
	}
	return k
}

func (k *kubeServer) request(method, path string, obj any) (int, []byte, error) {
	var body io.Reader
	if obj != nil {
		b, err := json.Marshal(obj)
		if err != nil {
			return 0, nil, err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, k.url+path, body)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Accept", "application/json")
	if obj != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := k.client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	return resp.StatusCode, b, err
}

func (k *kubeServer) do(t *testing.T, method, path string, obj any) (int, []byte) {
	t.Helper()
	status, body, err := k.request(method, path, obj)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	return status, body
}

// create POSTs obj with strict field validation and returns what the
// server stored.
func (k *kubeServer) create(t *testing.T, path string, obj map[string]any) map[string]any {
	t.Helper()
	status, body := k.do(t, http.MethodPost, path+"?fieldValidation=Strict", obj)
	if status != http.StatusCreated {
		y, _ := yaml.Marshal(obj)
		t.Fatalf("the API server refused the export: HTTP %d: %s\n%s", status, body, y)
	}
	return decodeJSON(t, body)
}

func (k *kubeServer) get(t *testing.T, path string) map[string]any {
	t.Helper()
	status, body := k.do(t, http.MethodGet, path, nil)
	if status != http.StatusOK {
		t.Fatalf("GET %s: HTTP %d: %s", path, status, body)
	}
	return decodeJSON(t, body)
}

func (k *kubeServer) delete(t *testing.T, path string) {
	t.Helper()
	if status, body := k.do(t, http.MethodDelete, path, nil); status != http.StatusOK && status != http.StatusAccepted {
		t.Fatalf("DELETE %s: HTTP %d: %s", path, status, body)
	}
}

func (k *kubeServer) ensureNamespace(t *testing.T, name string) {
	t.Helper()
	status, body := k.do(t, http.MethodPost, "/api/v1/namespaces", map[string]any{
		"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": name}})
	if status != http.StatusCreated && status != http.StatusConflict {
		t.Fatalf("creating namespace %s: HTTP %d: %s", name, status, body)
	}
}

// ciliumCRD returns the file holding Cilium's CiliumNetworkPolicy CRD, as
// scripts/build-kube-apiserver.sh copied it from the github.com/cilium/cilium
// module, after checking it holds that one CRD.
func ciliumCRD(t *testing.T) string {
	t.Helper()
	file := os.Getenv("CILIUM_CNP_CRD")
	if file == "" {
		file = filepath.Join(repoRoot, ".cache/kube/ciliumnetworkpolicies.yaml")
	}
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("Cilium's CRD: %v: scripts/build-kube-apiserver.sh (make deps) copies it from the github.com/cilium/cilium module", err)
	}
	docs := decodeDocs(t, data)
	if len(docs) != 1 || docs[0]["kind"] != "CustomResourceDefinition" {
		t.Fatalf("%s: want one CustomResourceDefinition", file)
	}
	return file
}

// decodeDocs splits a multi-document YAML stream into JSON-compatible maps.
func decodeDocs(t *testing.T, data []byte) []map[string]any {
	t.Helper()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var out []map[string]any
	for {
		var m map[string]any
		err := dec.Decode(&m)
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatalf("decoding YAML: %v", err)
		}
		if m != nil {
			out = append(out, m)
		}
	}
}

func decodeJSON(t *testing.T, b []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("decoding the server's answer: %v", err)
	}
	return m
}

// subset reports where want (as sent, decoded from YAML) is not contained
// in got (as returned, decoded from JSON): a field the server dropped or
// changed. Fields the server added (defaults) are fine.
func subset(path string, want, got any) error {
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			return fmt.Errorf("%s: sent an object, got %T", path, got)
		}
		for k, v := range w {
			if err := subset(path+"."+k, v, g[k]); err != nil {
				return err
			}
		}
		return nil
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			return fmt.Errorf("%s: sent %d items, got %v", path, len(w), got)
		}
		for i := range w {
			if err := subset(fmt.Sprintf("%s[%d]", path, i), w[i], g[i]); err != nil {
				return err
			}
		}
		return nil
	case int:
		if g, ok := got.(float64); !ok || g != float64(w) {
			return fmt.Errorf("%s: sent %d, got %v", path, w, got)
		}
		return nil
	}
	if !reflect.DeepEqual(want, got) {
		return fmt.Errorf("%s: sent %v, got %v", path, want, got)
	}
	return nil
}

// logFile creates dir/name.log for a process's output and, when the test
// has failed, shows its tail at the end.
func logFile(t *testing.T, dir, name string) *os.File {
	t.Helper()
	path := filepath.Join(dir, name+".log")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		f.Close()
		if b, _ := os.ReadFile(path); t.Failed() && len(b) > 0 {
			if len(b) > 8000 {
				b = b[len(b)-8000:]
			}
			t.Logf("%s log (tail):\n%s", name, b)
		}
	})
	return f
}
