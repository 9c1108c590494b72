//go:build integration

package segment_test

// This test proves the Kubernetes export valid against a real API server:
// etcd from Debian's etcd-server package and kube-apiserver built from
// k8s.io/kubernetes by scripts/build-kube-apiserver.sh (`make deps`). It
// starts both the way controller-runtime's envtest does (a generated serving
// certificate, a static bearer token in system:masters), creates every
// exported object with fieldValidation=Strict (an unknown, misspelt or
// mistyped field is an error, not silently dropped), and reads each back.
// CiliumNetworkPolicy is checked against Cilium's own CRD, read from the
// github.com/cilium/cilium module (scripts/build-kube-apiserver.sh places
// it under .cache/kube/).

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

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

	kube.installCiliumCRD(t)
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
	kube.installCiliumCRD(t)
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
	token  string
	client *http.Client
}

// startKube starts etcd and kube-apiserver for the test and stops them at
// its end. Missing binaries fail the test: run `make deps`.
func startKube(t *testing.T) *kubeServer {
	t.Helper()
	apiserver := os.Getenv("KUBE_APISERVER")
	if apiserver == "" {
		apiserver = filepath.Join(repoRoot, ".cache/bin/kube-apiserver")
	}
	if _, err := os.Stat(apiserver); err != nil {
		t.Fatalf("kube-apiserver not found (%v): build it with scripts/build-kube-apiserver.sh (make deps)", err)
	}
	etcd := os.Getenv("ETCD")
	if etcd == "" {
		var err error
		if etcd, err = exec.LookPath("etcd"); err != nil {
			t.Fatalf("etcd not found: install Debian's etcd-server (scripts/test-deps.sh, make deps): %v", err)
		}
	}
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)

	// etcd, on loopback ports picked by the kernel.
	clientPort, peerPort := freePort(t), freePort(t)
	etcdURL := "http://127.0.0.1:" + strconv.Itoa(clientPort)
	peerURL := "http://127.0.0.1:" + strconv.Itoa(peerPort)
	etcdDone := startProcess(ctx, t, dir, "etcd", etcd,
		"--name=hoheit-test", "--data-dir="+filepath.Join(dir, "etcd"),
		"--listen-client-urls="+etcdURL, "--advertise-client-urls="+etcdURL,
		"--listen-peer-urls="+peerURL, "--initial-advertise-peer-urls="+peerURL,
		"--initial-cluster=hoheit-test="+peerURL, "--log-level=warn")
	waitFor(t, 30*time.Second, "etcd", etcdDone, func() error {
		resp, err := http.Get(etcdURL + "/health")
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("HTTP %d", resp.StatusCode)
		}
		return nil
	})

	// The serving certificate (a test CA, so the client verifies the
	// server), the service-account key pair and a static admin token.
	caPool := writeServingCert(t, dir)
	writeServiceAccountKey(t, dir)
	tok := make([]byte, 16)
	rand.Read(tok)
	token := hex.EncodeToString(tok)
	if err := os.WriteFile(filepath.Join(dir, "tokens.csv"), []byte(token+`,hoheit-test,hoheit-test,"system:masters"`+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	port := freePort(t)
	url := "https://127.0.0.1:" + strconv.Itoa(port)
	apiDone := startProcess(ctx, t, dir, "kube-apiserver", apiserver,
		"--etcd-servers="+etcdURL,
		"--bind-address=127.0.0.1", "--advertise-address=127.0.0.1", "--secure-port="+strconv.Itoa(port),
		// As envtest: no kubernetes Service endpoints for a loopback address.
		"--endpoint-reconciler-type=none",
		"--cert-dir="+filepath.Join(dir, "certs"),
		"--tls-cert-file="+filepath.Join(dir, "serving.crt"), "--tls-private-key-file="+filepath.Join(dir, "serving.key"),
		"--token-auth-file="+filepath.Join(dir, "tokens.csv"),
		"--authorization-mode=RBAC",
		"--service-account-issuer="+url,
		"--service-account-key-file="+filepath.Join(dir, "sa.pub"),
		"--service-account-signing-key-file="+filepath.Join(dir, "sa.key"),
		"--service-cluster-ip-range=10.0.0.0/24",
		"--allow-privileged=true",
		"--v=1")
	k := &kubeServer{url: url, token: token, client: &http.Client{
		Timeout:   30 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: caPool, MinVersion: tls.VersionTLS12}},
	}}
	waitFor(t, 90*time.Second, "kube-apiserver /readyz", apiDone, func() error {
		status, body, err := k.request(http.MethodGet, "/readyz", nil)
		if err != nil {
			return err
		}
		if status != http.StatusOK {
			return fmt.Errorf("HTTP %d: %s", status, body)
		}
		return nil
	})
	// The default namespace exists once the bootstrap controller ran;
	// wait for it so namespaced creates do not race the server's start.
	waitFor(t, 60*time.Second, "namespace default", apiDone, func() error {
		status, body, err := k.request(http.MethodGet, "/api/v1/namespaces/default", nil)
		if err != nil {
			return err
		}
		if status != http.StatusOK {
			return fmt.Errorf("HTTP %d: %s", status, body)
		}
		return nil
	})
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
	req.Header.Set("Authorization", "Bearer "+k.token)
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

// installCiliumCRD installs Cilium's CiliumNetworkPolicy CRD, as
// scripts/build-kube-apiserver.sh copied it from the github.com/cilium/cilium
// module, and waits until the server serves it.
func (k *kubeServer) installCiliumCRD(t *testing.T) {
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
	const path = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
	if status, body := k.do(t, http.MethodPost, path, docs[0]); status != http.StatusCreated && status != http.StatusConflict {
		t.Fatalf("installing the Cilium CRD: HTTP %d: %s", status, body)
	}
	waitFor(t, 60*time.Second, "CiliumNetworkPolicy CRD established", nil, func() error {
		status, body, err := k.request(http.MethodGet, path+"/ciliumnetworkpolicies.cilium.io", nil)
		if err != nil {
			return err
		}
		if status != http.StatusOK {
			return fmt.Errorf("HTTP %d", status)
		}
		var crd struct {
			Status struct {
				Conditions []struct{ Type, Status string }
			}
		}
		if err := json.Unmarshal(body, &crd); err != nil {
			return err
		}
		for _, c := range crd.Status.Conditions {
			if c.Type == "Established" && c.Status == "True" {
				// Established can precede the discovery of the new
				// resource by a moment; wait until it lists.
				if s, b, err := k.request(http.MethodGet, "/apis/cilium.io/v2/ciliumnetworkpolicies", nil); err != nil || s != http.StatusOK {
					return fmt.Errorf("listing: HTTP %d %s %v", s, b, err)
				}
				return nil
			}
		}
		return errors.New("not established yet")
	})
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

// startProcess runs a server process until the test ends; its output goes
// to a log file shown when the test fails. The channel closes if it exits.
func startProcess(ctx context.Context, t *testing.T, dir, name, bin string, args ...string) <-chan struct{} {
	t.Helper()
	logPath := filepath.Join(dir, name+".log")
	logf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.WaitDelay = 10 * time.Second
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", name, err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-done
		logf.Close()
		if t.Failed() {
			b, _ := os.ReadFile(logPath)
			if len(b) > 8000 {
				b = b[len(b)-8000:]
			}
			t.Logf("%s log (tail):\n%s", name, b)
		}
	})
	return done
}

// waitFor polls ready until it succeeds, the deadline passes or the process
// behind it exits (exited closes; nil for none).
func waitFor(t *testing.T, timeout time.Duration, what string, exited <-chan struct{}, ready func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		err := ready()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not ready after %s: %v", what, timeout, err)
		}
		select {
		case <-exited:
			t.Fatalf("%s: the process exited (its log follows): %v", what, err)
		case <-tick.C:
		}
	}
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// writeServingCert writes serving.crt/serving.key for 127.0.0.1, signed by
// a fresh CA, and returns a pool holding that CA.
func writeServingCert(t *testing.T, dir string) *x509.CertPool {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "hoheit test CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "kube-apiserver"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, DNSNames: []string{"localhost"}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	writePEM(t, filepath.Join(dir, "serving.crt"), "CERTIFICATE", der)
	writePEM(t, filepath.Join(dir, "serving.key"), "PRIVATE KEY", keyDER)
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	return pool
}

// writeServiceAccountKey writes the key pair kube-apiserver signs and
// verifies service-account tokens with (required, unused here).
func writeServiceAccountKey(t *testing.T, dir string) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	priv, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	writePEM(t, filepath.Join(dir, "sa.key"), "PRIVATE KEY", priv)
	writePEM(t, filepath.Join(dir, "sa.pub"), "PUBLIC KEY", pub)
}

func writePEM(t *testing.T, path, typ string, der []byte) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}
