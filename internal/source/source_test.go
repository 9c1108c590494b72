package source

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hoheit/hoheit/internal/inventory"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// summary is what a golden file holds: the inputs, and each resource by
// type, address and location. The readers' own tests check attributes.
type summary struct {
	Inputs    []inventory.Input `json:"inputs"`
	Resources []string          `json:"resources"`
	Error     string            `json:"error,omitempty"`
}

func summarize(e *inventory.Estate, err error) summary {
	var s summary
	if err != nil {
		s.Error = err.Error()
	}
	if e != nil {
		s.Inputs = e.Inputs
		for _, r := range e.Resources {
			s.Resources = append(s.Resources, r.Type+" "+r.Address+" "+r.Source.String())
		}
	}
	return s
}

// TestReadCases reads each entry of testdata/cases (a file or a directory)
// and compares the result with its golden file.
func TestReadCases(t *testing.T) {
	entries, err := os.ReadDir("testdata/cases")
	if err != nil {
		t.Fatal(err)
	}
	for _, ent := range entries {
		if strings.HasSuffix(ent.Name(), ".golden.json") {
			continue
		}
		t.Run(ent.Name(), func(t *testing.T) {
			in := filepath.Join("testdata/cases", ent.Name())
			e, err := Read(context.Background(), []string{in}, Options{Cluster: "test"})
			var buf bytes.Buffer
			enc := json.NewEncoder(&buf)
			enc.SetEscapeHTML(false)
			enc.SetIndent("", "  ")
			if err := enc.Encode(summarize(e, err)); err != nil {
				t.Fatal(err)
			}
			out := buf.Bytes()
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

// TestJoinAcrossFiles checks that a NetworkPolicy in one file counts for a
// Namespace declared in another, however the reads interleave.
func TestJoinAcrossFiles(t *testing.T) {
	e, err := Read(context.Background(), []string{"testdata/cases/mixed/k8s"}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, r := range e.Resources {
		if r.Address == "Namespace/shop" {
			found = true
			if r.Attrs["network_policy"] != true || r.Attrs["default_deny"] != true || r.Attrs["pod_security"] != "baseline" {
				t.Errorf("Namespace/shop = %v", r.Attrs)
			}
		}
		if r.Address == "Namespace/backoffice" && r.Attrs["network_policy"] != false {
			t.Errorf("Namespace/backoffice = %v", r.Attrs)
		}
	}
	if !found {
		t.Error("no Namespace/shop")
	}
}

func TestStdin(t *testing.T) {
	yaml := "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: c, image: i}]}\n"
	e, err := Read(context.Background(), []string{"-", "-"}, Options{Stdin: strings.NewReader(yaml)})
	if err != nil {
		t.Fatal(err)
	}
	if len(e.Inputs) != 1 || e.Inputs[0].Path != "stdin" || e.Inputs[0].Kind != KindKubernetes || e.Inputs[0].Resources != 1 {
		t.Errorf("inputs = %+v", e.Inputs)
	}
	if got := e.Resources[0].Source.String(); got != "stdin:1" {
		t.Errorf("location = %s, want stdin:1", got)
	}
}

func TestMaxInputSize(t *testing.T) {
	dir := t.TempDir()
	big := filepath.Join(dir, "big.json")
	f, err := os.Create(big)
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	if err := os.Truncate(big, 1<<30); err != nil { // sparse: no disk used
		t.Fatal(err)
	}
	small := filepath.Join(dir, "small.yaml")
	if err := os.WriteFile(small, []byte("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	e, err := Read(context.Background(), []string{big, small}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := big + " is 1.0 GiB, over the 512 MiB input limit; raise it with --max-input-size"
	if e.Inputs[0].Error != want {
		t.Errorf("error = %q, want %q", e.Inputs[0].Error, want)
	}
	if e.Inputs[1].Error != "" || e.Inputs[1].Resources != 1 {
		t.Errorf("the small input was not read: %+v", e.Inputs[1])
	}

	// stdin has no size: it is read up to the limit and no further.
	_, err = Read(context.Background(), []string{"-"}, Options{MaxInputSize: 1 << 10, Stdin: bytes.NewReader(make([]byte, 1<<20))})
	if err == nil || err.Error() != "stdin is over the 1 KiB input limit; raise it with --max-input-size" {
		t.Errorf("stdin over the limit: %v", err)
	}
}

// TestDeepNesting feeds a million levels of nesting in each syntax; each
// must fail with a clear error, not a stack overflow or an exhausted heap.
func TestDeepNesting(t *testing.T) {
	const n = 1_000_000
	dir := t.TempDir()
	block := func() string {
		var b strings.Builder
		b.WriteString("apiVersion: v1\nkind: ConfigMap\ndata:\n")
		for i := 1; i < 3000; i++ {
			b.WriteString(strings.Repeat(" ", i) + "a:\n")
		}
		return b.String()
	}
	cases := map[string]string{
		"deep.json":        `{"apiVersion": "v1", "kind": "ConfigMap", "data": ` + strings.Repeat("[", n) + strings.Repeat("]", n) + "}",
		"deep-plan.json":   `{"format_version": "1.2", "planned_values": ` + strings.Repeat(`{"a":`, n) + "1" + strings.Repeat("}", n) + "}",
		"deep-flow.yaml":   "apiVersion: v1\nkind: ConfigMap\ndata: " + strings.Repeat("[", n) + strings.Repeat("]", n) + "\n",
		"deep-block.yaml":  block(),
		"deep-seq.yaml":    "apiVersion: v1\nkind: ConfigMap\ndata:\n" + strings.Repeat("- ", n) + "x\n",
		"deep-snap.json":   `{"hoheit_snapshot": 1, "resources": [` + strings.Repeat("[", n) + "]}",
		"unclosed.json":    `{"apiVersion": "v1", "kind": "ConfigMap", "data": ` + strings.Repeat("[", n),
		"deep-stream.yaml": "apiVersion: v1\nkind: ConfigMap\ndata: " + strings.Repeat("{a: ", n) + "\n",
	}
	var paths []string
	for name, content := range cases {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
	}
	e, err := Read(context.Background(), paths, Options{})
	if err == nil {
		t.Fatal("Read succeeded although every input is too deep")
	}
	for _, in := range e.Inputs {
		if in.Error == "" {
			t.Errorf("%s: no error", in.Path)
			continue
		}
		if !strings.HasPrefix(in.Error, in.Path) {
			t.Errorf("%s: the error does not name the file: %s", in.Path, in.Error)
		}
		if !strings.Contains(in.Error, "deeper than") && !strings.Contains(in.Error, "ends") && !strings.Contains(in.Error, "malformed") {
			t.Errorf("%s: unclear error: %s", in.Path, in.Error)
		}
		t.Logf("%s", in.Error)
	}
}

func TestNothingRead(t *testing.T) {
	if _, err := Read(context.Background(), nil, Options{}); err == nil {
		t.Error("no paths: no error")
	}
	e, err := Read(context.Background(), []string{"testdata/nonexistent", "testdata/cases/mixed/k8s/values.yaml"}, Options{})
	if err == nil || !strings.Contains(err.Error(), "none of the 2 inputs") {
		t.Errorf("err = %v", err)
	}
	if e == nil || len(e.Inputs) != 2 {
		t.Fatalf("the estate with the failed inputs is missing: %+v", e)
	}
	if got := e.Inputs[0].Error; got != "testdata/nonexistent: no such file or directory; check the path" {
		t.Errorf("missing file: %q", got)
	}
}

func TestCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Read(ctx, []string{"testdata/cases/mixed"}, Options{}); err == nil || !strings.Contains(err.Error(), "context canceled") {
		t.Errorf("err = %v, want context canceled", err)
	}
}

func TestDetect(t *testing.T) {
	for _, tc := range []struct {
		in, kind string
	}{
		{`{"format_version":"1.2","terraform_version":"1.9.5","planned_values":{}}`, KindTerraformPlan},
		{`{"format_version":"1.2","resource_changes":[]}`, KindTerraformPlan},
		{`{"format_version":"1.0","terraform_version":"1.9.5","values":{}}`, KindTerraformState},
		{`{"format_version":"1.0","terraform_version":"1.9.5"}`, KindTerraformState},
		{`{"version":4,"terraform_version":"1.9.5","serial":1,"lineage":"x","resources":[]}`, ""},
		{"\ufeff" + `{"hoheit_snapshot":1}`, KindSnapshot},
		{`{"kind":"Pod","apiVersion":"v1","metadata":{"name":"x","labels":{"format_version":"1"}}}`, KindKubernetes},
		{`{"metadata":{"apiVersion":"v1","kind":"Pod"}}`, ""},
		{"---\n# Source: x\napiVersion: v1\nkind: Pod\n", KindKubernetes},
		{"\"apiVersion\": v1\n'kind' : Pod\n", KindKubernetes},
		{"apiVersion: v1\n---\nkind: Pod\n", ""},
		{"replicaCount: 1\n", ""},
		{"  \n", ""},
		{`[{"apiVersion":"v1","kind":"Pod"}]`, ""},
		{`{"a":"\"apiVersion\": 1, \"kind\": 2"}`, ""},
	} {
		kind, ok := Detect([]byte(tc.in))
		if kind != tc.kind || ok != (tc.kind != "") {
			t.Errorf("Detect(%q) = %q, %v; want %q", tc.in, kind, ok, tc.kind)
		}
	}
}

func TestFormatSize(t *testing.T) {
	for n, want := range map[int64]string{
		1 << 30: "1.0 GiB", 512 << 20: "512.0 MiB", 1536: "1.5 KiB", 10: "10 bytes",
	} {
		if got := formatSize(n, 1); got != want {
			t.Errorf("formatSize(%d, 1) = %q, want %q", n, got, want)
		}
	}
	if got := formatSize(512<<20, 0); got != "512 MiB" {
		t.Errorf("formatSize(512 MiB, 0) = %q", got)
	}
}

func TestReadOnce(t *testing.T) {
	e, err := Read(context.Background(), []string{"testdata/cases/mixed/k8s/web.yaml", "testdata/cases/mixed/k8s", "./testdata/cases/mixed/k8s/web.yaml"}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, in := range e.Inputs {
		if strings.HasSuffix(in.Path, "web.yaml") {
			n++
		}
	}
	if n != 1 {
		t.Errorf("web.yaml was read %d times, want once: %+v", n, e.Inputs)
	}
}
