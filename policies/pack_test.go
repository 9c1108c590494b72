package policies

import (
	"bytes"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/hoheit/hoheit/internal/inventory"
)

// packRule is a rule file as this package's tests read it: the fields of
// rules.Rule, without depending on the engine.
type packRule struct {
	ID           string              `yaml:"id"`
	Title        string              `yaml:"title"`
	Description  string              `yaml:"description"`
	Severity     string              `yaml:"severity"`
	Types        []string            `yaml:"types"`
	Precondition string              `yaml:"precondition"`
	Check        string              `yaml:"check"`
	Frameworks   map[string][]string `yaml:"frameworks"`
	Remediation  struct {
		Guidance string `yaml:"guidance"`
		Action   string `yaml:"action"`
	} `yaml:"remediation"`

	pack, file string
}

// goldenFile is a rule's golden test cases.
type goldenFile struct {
	Rule  string `yaml:"rule"`
	Cases []struct {
		Name     string `yaml:"name"`
		Want     string `yaml:"want"`
		Resource struct {
			Type         string            `yaml:"type"`
			Provider     string            `yaml:"provider"`
			Account      string            `yaml:"account"`
			Region       string            `yaml:"region"`
			Jurisdiction map[string]any    `yaml:"jurisdiction"`
			NativeType   string            `yaml:"native_type"`
			ID           string            `yaml:"id"`
			Name         string            `yaml:"name"`
			Tags         map[string]string `yaml:"tags"`
			Attributes   map[string]any    `yaml:"attributes"`
			Unknown      []string          `yaml:"unknown"`
			Native       map[string]any    `yaml:"native"`
		} `yaml:"resource"`
	} `yaml:"cases"`
}

// catalogueFiles are the YAML files in a pack folder that are not rules.
var catalogueFiles = map[string]bool{"bsi-c5/criteria.yaml": true, "gdpr/articles.yaml": true}

var (
	idPattern   = regexp.MustCompile(`^[A-Z0-9]+(-[A-Z0-9]+)+$`)
	packPrefix  = map[string]string{"baseline": "BASE-", "bsi-c5": "C5-", "gdpr": "GDPR-"}
	severities  = []string{"low", "medium", "high", "critical"}
	frameworks  = []string{"bsi-c5", "gdpr"}
	wantResults = []string{"pass", "fail", "skip", "unknown", "error"}
)

// loadRules reads every rule file of every pack, strictly: an unknown key
// is an error, as it is for the engine.
func loadRules(t *testing.T) []*packRule {
	t.Helper()
	var out []*packRule
	for _, pack := range Packs {
		entries, err := fs.ReadDir(FS, pack)
		if err != nil {
			t.Fatalf("reading pack %s: %v", pack, err)
		}
		for _, e := range entries {
			file := path.Join(pack, e.Name())
			if e.IsDir() {
				if e.Name() != "testdata" {
					t.Errorf("%s: a pack holds rule files and testdata only", file)
				}
				continue
			}
			if catalogueFiles[file] {
				continue
			}
			if !strings.HasSuffix(file, ".yaml") {
				t.Errorf("%s: rule files end in .yaml", file)
				continue
			}
			data, err := fs.ReadFile(FS, file)
			if err != nil {
				t.Fatal(err)
			}
			r := &packRule{pack: pack, file: file}
			dec := yaml.NewDecoder(bytes.NewReader(data))
			dec.KnownFields(true)
			if err := dec.Decode(r); err != nil {
				t.Errorf("%s: %v", file, err)
				continue
			}
			out = append(out, r)
		}
	}
	return out
}

// readYAML decodes a file of the packs strictly: a misspelt key is an error.
func readYAML(t *testing.T, file string, v any) {
	t.Helper()
	data, err := fs.ReadFile(FS, file)
	if err != nil {
		t.Fatalf("reading %s: %v", file, err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(v); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
}

// TestPackShape checks every rule file and its golden cases without the
// engine: required fields, known types and framework controls, ids that
// match their files, and at least one passing and one failing case.
func TestPackShape(t *testing.T) {
	criteria := c5Criteria(t)
	articles := gdprArticles(t)
	known := map[string]map[string]bool{"bsi-c5": {}, "gdpr": {}}
	for _, c := range criteria {
		known["bsi-c5"][c.ID] = true
	}
	for _, a := range articles {
		known["gdpr"][a.ID] = true
	}

	rs := loadRules(t)
	if len(rs) < 60 {
		t.Errorf("the packs hold %d rules, want at least 60", len(rs))
	}
	seen := map[string]string{}
	var prose strings.Builder
	for _, r := range rs {
		fmt.Fprintf(&prose, "%s\n%s\n", r.Description, r.Remediation.Guidance)
	}
	checkRuleNames(t, rs, prose.String())
	for _, r := range rs {
		t.Run(r.ID, func(t *testing.T) {
			var missing []string
			for name, v := range map[string]string{"id": r.ID, "title": r.Title, "description": r.Description,
				"severity": r.Severity, "check": r.Check, "remediation.guidance": r.Remediation.Guidance} {
				if strings.TrimSpace(v) == "" {
					missing = append(missing, name)
				}
			}
			if len(r.Types) == 0 {
				missing = append(missing, "types")
			}
			if len(r.Frameworks) == 0 {
				missing = append(missing, "frameworks")
			}
			if len(missing) > 0 {
				slices.Sort(missing)
				t.Errorf("%s: missing %s", r.file, strings.Join(missing, ", "))
			}
			if prev, ok := seen[r.ID]; ok {
				t.Errorf("%s: id %s is also used in %s", r.file, r.ID, prev)
			}
			seen[r.ID] = r.file
			if !idPattern.MatchString(r.ID) || !strings.HasPrefix(r.ID, packPrefix[r.pack]) {
				t.Errorf("%s: id %q must be upper case and start with %s", r.file, r.ID, packPrefix[r.pack])
			}
			if want := path.Join(r.pack, strings.ToLower(r.ID)+".yaml"); r.file != want {
				t.Errorf("rule %s is in %s, want %s", r.ID, r.file, want)
			}
			if !slices.Contains(severities, r.Severity) {
				t.Errorf("%s: severity %q, want one of %s", r.file, r.Severity, strings.Join(severities, ", "))
			}
			for _, typ := range r.Types {
				if _, ok := inventory.Schemas[typ]; !ok {
					t.Errorf("%s: unknown type %q", r.file, typ)
				}
			}
			for fw, ids := range r.Frameworks {
				if !slices.Contains(frameworks, fw) {
					t.Errorf("%s: unknown framework %q, want one of %s", r.file, fw, strings.Join(frameworks, ", "))
					continue
				}
				if len(ids) == 0 {
					t.Errorf("%s: framework %s lists no controls", r.file, fw)
				}
				for _, id := range ids {
					if !known[fw][id] {
						t.Errorf("%s: %s control %q is not in the catalogue", r.file, fw, id)
					}
				}
			}
			checkGolden(t, r)
		})
	}
	// A case file whose rule was renamed or removed would never run.
	for _, pack := range Packs {
		entries, err := fs.ReadDir(FS, path.Join(pack, "testdata"))
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			if want := path.Join(pack, e.Name()); seen[strings.ToUpper(strings.TrimSuffix(e.Name(), ".yaml"))] != want {
				t.Errorf("%s/testdata/%s has no rule %s", pack, e.Name(), want)
			}
		}
	}
}

// checkGolden checks a rule's case file: it names the rule, its cases have
// unique names, known verdicts and the rule's types, and at least one case
// passes and one fails.
func checkGolden(t *testing.T, r *packRule) {
	file := path.Join(r.pack, "testdata", strings.ToLower(r.ID)+".yaml")
	if _, err := fs.Stat(FS, file); err != nil {
		t.Errorf("rule %s has no golden cases: want %s", r.ID, file)
		return
	}
	var g goldenFile
	readYAML(t, file, &g)
	if g.Rule != r.ID {
		t.Errorf("%s: rule is %q, want %q", file, g.Rule, r.ID)
	}
	wants := map[string]int{}
	names := map[string]bool{}
	providers := map[string]bool{}
	for i, c := range g.Cases {
		where := fmt.Sprintf("%s: case %d (%s)", file, i+1, c.Name)
		if c.Name == "" || names[c.Name] {
			t.Errorf("%s: every case needs a unique name", where)
		}
		names[c.Name] = true
		if !slices.Contains(wantResults, c.Want) {
			t.Errorf("%s: want %q, want one of %s", where, c.Want, strings.Join(wantResults, ", "))
		}
		wants[c.Want]++
		providers[c.Resource.Provider] = true
		if c.Want != "skip" && !slices.Contains(r.Types, c.Resource.Type) {
			t.Errorf("%s: type %q is not one the rule applies to", where, c.Resource.Type)
		}
		if !slices.Contains(inventory.Providers, c.Resource.Provider) {
			t.Errorf("%s: provider %q, want one of %s", where, c.Resource.Provider, strings.Join(inventory.Providers, ", "))
		}
		if s, ok := inventory.Schemas[c.Resource.Type]; ok {
			checkAttrs(t, where, s, "", c.Resource.Attributes)
		}
	}
	// The product's promise: a rule holds in every cloud. Cases show it for
	// each major cloud (as pass, fail or skip where the cloud lacks the
	// setting); Kubernetes types are the same in every cloud.
	if !slices.ContainsFunc(r.Types, func(t string) bool { return strings.HasPrefix(t, "kubernetes.") }) {
		for _, p := range []string{"aws", "azure", "gcp", "otc"} {
			if !providers[p] {
				t.Errorf("%s: no case for provider %s", file, p)
			}
		}
	}
	if wants["pass"] == 0 || wants["fail"] == 0 {
		t.Errorf("%s: want at least one pass and one fail case, have %v", file, wants)
	}
}

// checkAttrs reports attribute names in a golden case that the type does not
// declare, so a typo cannot make a case pass by accident.
func checkAttrs(t *testing.T, where string, s *inventory.Schema, prefix string, attrs map[string]any) {
	for k, v := range attrs {
		p := prefix + k
		f, ok := s.Lookup(p)
		if !ok {
			t.Errorf("%s: %s has no attribute %s", where, s.Type, p)
			continue
		}
		switch f.Kind {
		case inventory.Object:
			if m, ok := v.(map[string]any); ok {
				checkAttrs(t, where, s, p+".", m)
			}
		case inventory.ObjectList:
			l, _ := v.([]any)
			for _, e := range l {
				m, _ := e.(map[string]any)
				for ek := range m {
					if !slices.ContainsFunc(f.Fields, func(ff *inventory.Field) bool { return ff.Name == ek }) {
						t.Errorf("%s: %s.%s has no attribute %s", where, s.Type, p, ek)
					}
				}
			}
		}
	}
}
