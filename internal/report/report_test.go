package report

import (
	"bytes"
	"cmp"
	"context"
	"flag"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/hoheit/hoheit/internal/rules"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

var testOptions = Options{ToolVersion: "1.2.3-test", Now: fixedNow}

type goldenCase struct {
	name string
	res  func() *rules.Result
	opts Options
}

var goldenCases = []goldenCase{
	{"sample", sampleResult, testOptions},
	{"empty", emptyResult, testOptions},
}

func render(t *testing.T, format string, res *rules.Result, opts Options) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := Write(context.Background(), &buf, format, res, opts); err != nil {
		t.Fatalf("Write(%s): %v", format, err)
	}
	return buf.Bytes()
}

// compareGolden compares got with testdata/name, or rewrites it with -update.
func compareGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("reading golden file (run go test -update to create it): %v", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (run go test ./internal/report -update and review the diff):\n%s", path, firstDiff(string(want), string(got)))
	}
}

func firstDiff(want, got string) string {
	wl, gl := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := 0; i < max(len(wl), len(gl)); i++ {
		var w, g string
		if i < len(wl) {
			w = wl[i]
		}
		if i < len(gl) {
			g = gl[i]
		}
		if w != g {
			return "line " + strconv.Itoa(i+1) + ":\n  want: " + w + "\n  got:  " + g
		}
	}
	return "(same lines, different bytes)"
}

func TestGolden(t *testing.T) {
	for _, c := range goldenCases {
		for _, format := range Formats {
			t.Run(c.name+"/"+format, func(t *testing.T) {
				got := render(t, format, c.res(), c.opts)
				compareGolden(t, c.name+"."+format, got)
			})
		}
	}
	t.Run("sample/table-color-unsupported", func(t *testing.T) {
		opts := testOptions
		opts.Color = true
		opts.ShowUnsupported = true
		compareGolden(t, "sample-color.table", render(t, "table", sampleResult(), opts))
	})
}

// TestDeterministic checks that the order of findings, rules and unsupported
// types in the result does not change any output.
func TestDeterministic(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, format := range Formats {
		t.Run(format, func(t *testing.T) {
			want := render(t, format, sampleResult(), testOptions)
			for range 5 {
				res := sampleResult()
				rng.Shuffle(len(res.Findings), func(i, j int) { res.Findings[i], res.Findings[j] = res.Findings[j], res.Findings[i] })
				rng.Shuffle(len(res.Rules), func(i, j int) { res.Rules[i], res.Rules[j] = res.Rules[j], res.Rules[i] })
				u := res.Estate.Unsupported
				rng.Shuffle(len(u), func(i, j int) { u[i], u[j] = u[j], u[i] })
				if got := render(t, format, res, testOptions); !bytes.Equal(got, want) {
					t.Fatalf("output depends on input order:\n%s", firstDiff(string(want), string(got)))
				}
			}
		})
	}
}

func TestUnknownFormat(t *testing.T) {
	err := Write(context.Background(), &bytes.Buffer{}, "pdf", sampleResult(), testOptions)
	if err == nil {
		t.Fatal("Write accepted format pdf")
	}
	for _, f := range Formats {
		if !strings.Contains(err.Error(), f) {
			t.Errorf("error %q does not name format %s", err, f)
		}
	}
}

func TestFormatNameCaseInsensitive(t *testing.T) {
	if err := Write(context.Background(), &bytes.Buffer{}, " SARIF ", sampleResult(), testOptions); err != nil {
		t.Fatal(err)
	}
}

func TestNilResult(t *testing.T) {
	if err := Write(context.Background(), &bytes.Buffer{}, "json", nil, testOptions); err == nil {
		t.Fatal("Write accepted a nil result")
	}
}

func TestCancelledContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := Write(ctx, &bytes.Buffer{}, "json", sampleResult(), testOptions); err == nil {
		t.Fatal("Write ignored a cancelled context")
	}
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, os.ErrClosed }

func TestWriteErrorsPropagate(t *testing.T) {
	for _, format := range Formats {
		t.Run(format, func(t *testing.T) {
			err := Write(context.Background(), failingWriter{}, format, sampleResult(), testOptions)
			if err == nil {
				t.Fatal("write error was swallowed")
			}
			if !strings.Contains(err.Error(), format) {
				t.Errorf("error %q does not say which format failed", err)
			}
		})
	}
}

// TestFindingsWithoutRuleOrResource checks that a finding missing its rule
// or resource (a bug upstream) is still reported, never a panic.
func TestFindingsWithoutRuleOrResource(t *testing.T) {
	res := sampleResult()
	res.Findings = append(res.Findings, rules.Finding{Status: rules.Error, Message: "engine bug"})
	for _, format := range Formats {
		t.Run(format, func(t *testing.T) {
			out := render(t, format, res, testOptions)
			if !bytes.Contains(out, []byte("engine bug")) {
				t.Errorf("the finding's message is missing")
			}
		})
	}
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestOddEvidence checks evidence JSON cannot encode is written as text
// rather than failing the report.
func TestOddEvidence(t *testing.T) {
	res := sampleResult()
	res.Findings[0].Evidence = rules.EvidenceOf(map[string]any{
		"nan":    math.NaN(),
		"inf":    []any{math.Inf(1)},
		"chan":   make(chan int),
		"nested": map[string]any{"f": float32(1.5)},
	})
	for _, format := range Formats {
		t.Run(format, func(t *testing.T) {
			out := render(t, format, res, testOptions)
			if format == "json" && !bytes.Contains(out, []byte(`"nan":"NaN"`)) && !bytes.Contains(out, []byte(`"nan": "NaN"`)) {
				t.Errorf("NaN evidence not written as text")
			}
		})
	}
}

// TestOrderWhateverTheInputOrder checks findings in the engine's order
// (grouped by severity and rule, each group sorted on its own) and the same
// findings in any other order come out in the same report order.
func TestOrderWhateverTheInputOrder(t *testing.T) {
	base := sampleResult()
	orders := map[string]func(fs []rules.Finding){
		"reversed": func(fs []rules.Finding) { slices.Reverse(fs) },
		"by severity and rule": func(fs []rules.Finding) {
			slices.SortStableFunc(fs, func(a, b rules.Finding) int {
				return cmp.Or(cmp.Compare(b.Rule.Severity, a.Rule.Severity), cmp.Compare(a.Rule.ID, b.Rule.ID))
			})
		},
		"by severity and rule, reversed inside": func(fs []rules.Finding) {
			slices.Reverse(fs)
			slices.SortStableFunc(fs, func(a, b rules.Finding) int {
				return cmp.Or(cmp.Compare(b.Rule.Severity, a.Rule.Severity), cmp.Compare(a.Rule.ID, b.Rule.ID))
			})
		},
	}
	want := render(t, "json", base, testOptions)
	for name, reorder := range orders {
		t.Run(name, func(t *testing.T) {
			res := sampleResult()
			reorder(res.Findings)
			if got := render(t, "json", res, testOptions); !bytes.Equal(got, want) {
				t.Errorf("the report depends on the order findings come in")
			}
		})
	}
}
