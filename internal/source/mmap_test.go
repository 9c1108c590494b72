package source

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/hoheit/hoheit/bench/gen/plan"
	"github.com/hoheit/hoheit/internal/source/terraform"
)

// TestMappedInputs reads files large enough to be mapped rather than read
// (mapMinSize): a plan gives the estate Parse gives on the same bytes, and
// the estate stays whole after the mapping is gone; a manifest, which its
// reader may keep, is read too.
func TestMappedInputs(t *testing.T) {
	dir := t.TempDir()
	var buf bytes.Buffer
	if err := plan.Write(&buf, 600, 1); err != nil {
		t.Fatal(err)
	}
	if buf.Len() < mapMinSize {
		t.Fatalf("the plan is %d bytes, want at least %d to be mapped", buf.Len(), mapMinSize)
	}
	planPath := filepath.Join(dir, "plan.json")
	if err := os.WriteFile(planPath, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	want, err := terraform.Parse(planPath, buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	want.Finalize()
	// What is resident of the mapping is reported: the whole file when it
	// is mapped, parts of it as the reader releases them, the rest when it
	// is unmapped, never more than was mapped.
	var mu sync.Mutex
	var deltas []int64
	got, err := Read(context.Background(), []string{planPath}, Options{Mapped: func(d int64) {
		mu.Lock()
		deltas = append(deltas, d)
		mu.Unlock()
	}})
	if err != nil {
		t.Fatal(err)
	}
	if len(deltas) < 3 || deltas[0] != int64(buf.Len()) {
		t.Fatalf("Mapped was told %v; want the file's %d bytes first, then releases while reading, then the rest", deltas, buf.Len())
	}
	resident := int64(0)
	for i, d := range deltas {
		resident += d
		if resident < 0 || i > 0 && d >= 0 {
			t.Fatalf("Mapped was told %v: resident %d after %d calls", deltas, resident, i+1)
		}
	}
	// planned_values (skipped) and resource_changes (released behind the
	// workers) are three quarters of the plan; configuration is kept.
	if released := int64(buf.Len()) + deltas[len(deltas)-1]; released < int64(buf.Len())*6/10 {
		t.Errorf("%d of %d bytes released while reading, want at least 60%%", released, buf.Len())
	}
	if resident != 0 {
		t.Errorf("%d bytes still counted resident after the file was unmapped (%v)", resident, deltas)
	}
	if len(got.Resources) != len(want.Resources) || len(got.Resources) == 0 {
		t.Fatalf("read %d resources from the mapped plan, want %d", len(got.Resources), len(want.Resources))
	}
	for i, r := range got.Resources {
		g, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		w, _ := json.Marshal(want.Resources[i])
		if !bytes.Equal(g, w) {
			t.Fatalf("resource %d differs when mapped:\n got %s\nwant %s", i, g, w)
		}
	}

	var m strings.Builder
	m.WriteString("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: big\n")
	for m.Len() < mapMinSize+100 {
		m.WriteString("# padding to make the file large enough to be mapped\n")
	}
	manPath := filepath.Join(dir, "ns.yaml")
	if err := os.WriteFile(manPath, []byte(m.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	e, err := Read(context.Background(), []string{manPath}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(e.Resources) != 1 || e.Resources[0].Name != "big" {
		t.Fatalf("the mapped manifest read as %+v", e.Resources)
	}
}

// TestDroppedPagesReadAgain checks that the pages dropPages drops from a
// mapped file are read from the file again when touched.
func TestDroppedPagesReadAgain(t *testing.T) {
	want := bytes.Repeat([]byte("0123456789abcdef"), 3*mapMinSize/16)
	path := filepath.Join(t.TempDir(), "f.json")
	if err := os.WriteFile(path, want, 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	data, unmap, ok := mapFile(f, int64(len(want)))
	if !ok {
		t.Skip("files are not mapped here")
	}
	defer unmap()
	dropPages(data, 100, len(data)-100)
	if !bytes.Equal(data, want) {
		t.Fatal("the mapped file reads differently after its pages were dropped")
	}
}
