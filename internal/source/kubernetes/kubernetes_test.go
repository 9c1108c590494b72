package kubernetes

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/hoheit/hoheit/internal/inventory"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// golden is what a golden file holds: the normalized resources without their
// native objects (TestNative checks those), or the error.
type golden struct {
	Resources   []*inventory.Resource   `json:"resources,omitempty"`
	Unsupported []inventory.Unsupported `json:"unsupported,omitempty"`
	Error       string                  `json:"error,omitempty"`
}

func inputs(t *testing.T) []string {
	t.Helper()
	var out []string
	for _, pat := range []string{"testdata/*.yaml", "testdata/*.json"} {
		m, err := filepath.Glob(pat)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range m {
			if !strings.HasSuffix(f, ".golden.json") {
				out = append(out, f)
			}
		}
	}
	if len(out) == 0 {
		t.Fatal("no test inputs in testdata")
	}
	return out
}

func TestParse(t *testing.T) {
	for _, in := range inputs(t) {
		t.Run(filepath.Base(in), func(t *testing.T) {
			data, err := os.ReadFile(in)
			if err != nil {
				t.Fatal(err)
			}
			var got golden
			e, err := Parse(filepath.Base(in), data)
			if err != nil {
				got.Error = err.Error()
			} else {
				e.Finalize()
				for _, r := range e.Resources {
					c := *r
					c.Native = nil
					got.Resources = append(got.Resources, &c)
				}
				got.Unsupported = e.Unsupported
			}
			out, err := json.MarshalIndent(got, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, '\n')
			gf := strings.TrimSuffix(in, filepath.Ext(in)) + ".golden.json"
			if *update {
				if err := os.WriteFile(gf, out, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(gf)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if !bytes.Equal(out, want) {
				t.Errorf("output differs from %s (run go test -update and review the diff):\n%s", gf, out)
			}
		})
	}
}

// TestNative checks that the whole object is kept, numbers as int64.
func TestNative(t *testing.T) {
	e, err := Parse("x.yaml", []byte("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: a}\nspec:\n  replicas: 3\n  ratio: 0.5\n  template: {spec: {containers: []}}\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"apiVersion": "apps/v1", "kind": "Deployment", "metadata": map[string]any{"name": "a"},
		"spec": map[string]any{"replicas": int64(3), "ratio": 0.5, "template": map[string]any{"spec": map[string]any{"containers": []any{}}}},
	}
	if got := e.Resources[0].Native; !reflect.DeepEqual(got, want) {
		t.Errorf("native = %#v, want %#v", got, want)
	}
}

// TestJoin checks that objects in different files see each other.
func TestJoin(t *testing.T) {
	a, err := Load("ns.yaml", []byte("apiVersion: v1\nkind: Namespace\nmetadata: {name: prod}\n"), Options{Cluster: "c1"})
	if err != nil {
		t.Fatal(err)
	}
	b, err := Load("np.yaml", []byte(`apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny, namespace: prod}
spec: {podSelector: {}}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: app, namespace: prod}
automountServiceAccountToken: false
---
apiVersion: v1
kind: Pod
metadata: {name: p, namespace: prod}
spec: {serviceAccountName: app, containers: [{name: c, image: i}]}
`), Options{Cluster: "c1"})
	if err != nil {
		t.Fatal(err)
	}
	if a.Resources() != 1 || b.Resources() != 1 {
		t.Errorf("Resources() = %d, %d; want 1, 1", a.Resources(), b.Resources())
	}
	e := Join(a, b)
	if len(e.Resources) != 2 {
		t.Fatalf("got %d resources, want the namespace and the pod", len(e.Resources))
	}
	ns, pod := e.Resources[0], e.Resources[1]
	if ns.Attrs["network_policy"] != true || ns.Attrs["default_deny"] != true || ns.Account != "c1" {
		t.Errorf("namespace = %+v", ns)
	}
	if pod.Attrs["automount_service_account_token"] != false {
		t.Errorf("the service account's automountServiceAccountToken: false was not applied: %v", pod.Attrs)
	}
}

func TestDepthAndAliases(t *testing.T) {
	for name, in := range map[string]string{
		"yaml flow": strings.Repeat("[", 5000) + strings.Repeat("]", 5000),
		"yaml block": func() string {
			var b strings.Builder
			for i := 0; i < 2000; i++ {
				b.WriteString(strings.Repeat(" ", i) + "a:\n")
			}
			return b.String()
		}(),
		"json":            `{"kind":` + strings.Repeat("[", 5000) + strings.Repeat("]", 5000) + "}",
		"json over 10000": `{"kind":` + strings.Repeat("[", 100000) + strings.Repeat("]", 100000) + "}",
		"yaml over 10000": strings.Repeat("[", 100000),
		"billion laughs":  "a: &a [x,x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\nf: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]\ng: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]\nh: [*g,*g,*g,*g,*g,*g,*g,*g,*g]\n",
		"self reference":  "a: &a [*a]\n",
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Parse("deep", []byte(in))
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.HasPrefix(err.Error(), "deep") {
				t.Errorf("error does not name the file: %v", err)
			}
			t.Log(err)
		})
	}
}
