package snapshot

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/hoheit/hoheit/internal/inventory"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

type golden struct {
	Meta        *Meta                   `json:"meta,omitempty"`
	Resources   []*inventory.Resource   `json:"resources,omitempty"`
	Unsupported []inventory.Unsupported `json:"unsupported,omitempty"`
	Error       string                  `json:"error,omitempty"`
}

func TestDecode(t *testing.T) {
	ins, err := filepath.Glob("testdata/*.json")
	if err != nil {
		t.Fatal(err)
	}
	for _, in := range ins {
		if strings.HasSuffix(in, ".golden.json") {
			continue
		}
		t.Run(filepath.Base(in), func(t *testing.T) {
			data, err := os.ReadFile(in)
			if err != nil {
				t.Fatal(err)
			}
			var got golden
			e, meta, err := Decode(filepath.Base(in), data)
			if err != nil {
				got.Error = err.Error()
			} else {
				e.Finalize()
				got.Meta, got.Resources, got.Unsupported = &meta, e.Resources, e.Unsupported
			}
			out, err := json.MarshalIndent(got, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, '\n')
			gf := strings.TrimSuffix(in, ".json") + ".golden.json"
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

// TestKinds checks that numbers reach rules as int64 where the schema says
// int, so CEL compares them with ints.
func TestKinds(t *testing.T) {
	data, err := os.ReadFile("testdata/estate.json")
	if err != nil {
		t.Fatal(err)
	}
	e, err := Parse("estate.json", data)
	if err != nil {
		t.Fatal(err)
	}
	db := e.Resources[1]
	if v, _ := db.Get("backup.retention_days"); v != int64(7) {
		t.Errorf("backup.retention_days = %#v, want int64(7)", v)
	}
	fw := e.Resources[2]
	rule := fw.Attrs["rules"].([]any)[0].(map[string]any)
	if rule["port_from"] != int64(22) {
		t.Errorf("port_from = %#v, want int64(22)", rule["port_from"])
	}
	if n := e.Resources[0].Native["ObjectLockRetentionDays"]; n != int64(30) {
		t.Errorf("native integer = %#v, want int64(30)", n)
	}
	if n := e.Resources[0].Native["Ratio"]; n != 0.25 {
		t.Errorf("native fraction = %#v, want 0.25", n)
	}
	if l := e.Resources[2].Source; l.File != "estate.json" || l.Line != 10 {
		t.Errorf("location = %+v, want estate.json:10", l)
	}
}

// TestRoundTrip writes an estate and reads it back unchanged.
func TestRoundTrip(t *testing.T) {
	data, err := os.ReadFile("testdata/estate.json")
	if err != nil {
		t.Fatal(err)
	}
	e, meta, err := Decode("estate.json", data)
	if err != nil {
		t.Fatal(err)
	}
	e.Finalize()
	meta.CollectedAt = time.Date(2026, 11, 23, 10, 0, 0, 0, time.FixedZone("CET", 3600))
	var buf bytes.Buffer
	if err := Write(&buf, e, meta); err != nil {
		t.Fatal(err)
	}
	if !json.Valid(buf.Bytes()) {
		t.Fatalf("Write produced invalid JSON:\n%s", buf.Bytes())
	}
	e2, meta2, err := Decode("again.json", buf.Bytes())
	if err != nil {
		t.Fatalf("reading what Write wrote: %v\n%s", err, buf.Bytes())
	}
	e2.Finalize()
	if !meta2.CollectedAt.Equal(meta.CollectedAt) || !reflect.DeepEqual(meta2.Collector, meta.Collector) {
		t.Errorf("meta = %+v, want %+v", meta2, meta)
	}
	if len(e2.Resources) != len(e.Resources) {
		t.Fatalf("%d resources, want %d", len(e2.Resources), len(e.Resources))
	}
	for i := range e.Resources {
		a, b := e.Resources[i], e2.Resources[i]
		if !reflect.DeepEqual(a.Attrs, b.Attrs) || !reflect.DeepEqual(a.Native, b.Native) || a.ID != b.ID || !reflect.DeepEqual(a.Tags, b.Tags) || !reflect.DeepEqual(a.Unknown, b.Unknown) {
			t.Errorf("resource %d changed:\n got %+v\nwant %+v", i, b, a)
		}
		if b.Source.Line != i+3 {
			t.Errorf("resource %d is on line %d, want %d (one resource per line)", i, b.Source.Line, i+3)
		}
	}
	if !reflect.DeepEqual(e2.Unsupported, e.Unsupported) {
		t.Errorf("unsupported = %+v, want %+v", e2.Unsupported, e.Unsupported)
	}
}

func TestWriteEmpty(t *testing.T) {
	var buf bytes.Buffer
	if err := Write(&buf, &inventory.Estate{}, Meta{Collector: Collector{Name: "test"}}); err != nil {
		t.Fatal(err)
	}
	e, err := Parse("empty.json", buf.Bytes())
	if err != nil {
		t.Fatalf("%v\n%s", err, buf.Bytes())
	}
	if len(e.Resources) != 0 {
		t.Errorf("got %d resources from an empty estate", len(e.Resources))
	}
}
