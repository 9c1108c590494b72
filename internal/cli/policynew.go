package cli

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/hoheit/hoheit/internal/inventory"
	"github.com/hoheit/hoheit/internal/rules"
)

type newFlags struct {
	id, title, description, severity, check, precondition, guidance, dir, provider string
	types, frameworks                                                              []string
	force                                                                          bool
}

var ruleID = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9._-]*$`)

func newPolicyNewCmd(d *Deps) *cobra.Command {
	f := &newFlags{}
	cmd := &cobra.Command{
		Use:   "new",
		Short: "Write a new rule and its test cases (asks, or takes flags)",
		Long: `New writes a rule file and its golden test cases. On a terminal it asks for
what the flags do not give; in scripts, give every field as a flag.

The check is type-checked against the normalized model as you type it: a
misspelt attribute is reported with the closest real one. New then searches
for one compliant and one non-compliant resource and writes them as the
rule's test cases, so 'hoheit policy test DIR' passes from the start; edit
them to make the cases tell your story.`,
		Example: `  hoheit policy new
  hoheit policy new --dir our-rules --id ORG-001 --title "Buckets use our KMS keys" \
    --severity high --type object_storage.bucket \
    --check 'resource.encryption.at_rest.key_manager in ["customer", "external"]' \
    --framework bsi-c5=CRY-03 --framework "gdpr=Art. 32(1)(a)"`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runPolicyNew(d, f) },
	}
	fl := cmd.Flags()
	fl.StringVar(&f.id, "id", "", "rule id, e.g. ORG-STORAGE-001")
	fl.StringVar(&f.title, "title", "", "one line saying what compliant means")
	fl.StringVar(&f.description, "description", "", "why it matters")
	fl.StringVar(&f.severity, "severity", "", "low, medium, high or critical")
	fl.StringSliceVar(&f.types, "type", nil, "normalized types it applies to (repeatable)")
	fl.StringVar(&f.precondition, "precondition", "", "CEL: which resources the rule is for (optional)")
	fl.StringVar(&f.check, "check", "", "CEL over resource: true means compliant")
	fl.StringArrayVar(&f.frameworks, "framework", nil, "FRAMEWORK=CONTROL[,CONTROL], e.g. bsi-c5=CRY-03 (repeatable)")
	fl.StringVar(&f.guidance, "guidance", "", "how to fix a failure")
	fl.StringVar(&f.dir, "dir", "rules", "directory to write the rule into")
	fl.StringVar(&f.provider, "provider", "aws", "provider of the sample resources in the test cases")
	fl.BoolVar(&f.force, "force", false, "overwrite existing files")
	return cmd
}

// prompter asks for missing values on a terminal.
type prompter struct {
	d  *Deps
	in *bufio.Scanner
}

func (p *prompter) ask(question, def string) (string, error) {
	if def != "" {
		fmt.Fprintf(p.d.Stderr, "%s [%s]: ", question, def)
	} else {
		fmt.Fprintf(p.d.Stderr, "%s: ", question)
	}
	if !p.in.Scan() {
		if err := p.in.Err(); err != nil {
			return "", err
		}
		return "", errors.New("input ended")
	}
	v := strings.TrimSpace(p.in.Text())
	if v == "" {
		v = def
	}
	return v, nil
}

func runPolicyNew(d *Deps, f *newFlags) error {
	interactive := d.IsTerminal(d.Stdin)
	var p *prompter
	if interactive {
		p = &prompter{d: d, in: bufio.NewScanner(d.Stdin)}
	} else {
		var missing []string
		for name, v := range map[string]string{"--id": f.id, "--title": f.title, "--severity": f.severity, "--check": f.check} {
			if v == "" {
				missing = append(missing, name)
			}
		}
		if len(f.types) == 0 {
			missing = append(missing, "--type")
		}
		if len(missing) > 0 {
			return usageError("not a terminal, so every field must be a flag; missing %s", strings.Join(sorted(missing), ", "))
		}
	}
	comp, err := rules.NewCompiler(0)
	if err != nil {
		return err
	}
	ask := func(cur *string, q, def string, valid func(string) error) error {
		for {
			if *cur == "" && p != nil {
				v, err := p.ask(q, def)
				if err != nil {
					return usageError("%s: %v", q, err)
				}
				*cur = v
			}
			err := valid(*cur)
			if err == nil {
				return nil
			}
			if p == nil {
				return usageError("%v", err)
			}
			fmt.Fprintf(d.Stderr, "  %v\n", err)
			*cur = ""
		}
	}
	if err := ask(&f.id, "Rule id (e.g. ORG-STORAGE-001)", "", func(s string) error {
		if !ruleID.MatchString(s) {
			return fmt.Errorf("rule id %q: use letters, digits, '.', '_' and '-', starting with a letter", s)
		}
		return nil
	}); err != nil {
		return err
	}
	if err := ask(&f.title, "Title (what compliant means)", "", nonEmpty("title")); err != nil {
		return err
	}
	if err := ask(&f.severity, "Severity (low, medium, high, critical)", "high", func(s string) error {
		_, err := rules.ParseSeverity(s)
		return err
	}); err != nil {
		return err
	}
	typeList := strings.Join(f.types, ",")
	if err := ask(&typeList, "Types, comma-separated ("+strings.Join(inventory.TypeNames(), ", ")+")", "", func(s string) error {
		for _, t := range splitList(s) {
			if _, ok := inventory.Schemas[t]; !ok {
				return fmt.Errorf("unknown type %q; the normalized types are %s", t, strings.Join(inventory.TypeNames(), ", "))
			}
		}
		if len(splitList(s)) == 0 {
			return errors.New("name at least one type")
		}
		return nil
	}); err != nil {
		return err
	}
	f.types = splitList(typeList)
	sev, _ := rules.ParseSeverity(f.severity)
	rule := &rules.Rule{ID: f.id, Title: f.title, Description: f.description, Severity: sev, Types: f.types,
		Precondition: f.precondition, Remediation: rules.Remediation{Guidance: f.guidance}}
	var pass, fail *rules.Sample
	if err := ask(&f.check, "Check, CEL over resource (true = compliant), e.g. resource.encryption.at_rest.enabled", "", func(s string) error {
		rule.Check = s
		var err error
		pass, fail, err = comp.SampleCases(rule, f.types[0])
		if err != nil {
			return err
		}
		for _, t := range f.types[1:] {
			if _, _, err := comp.SampleCases(rule, t); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		return err
	}
	if p != nil && len(f.frameworks) == 0 {
		for _, fw := range []struct{ name, q string }{{"bsi-c5", "BSI C5:2020 criteria, comma-separated (e.g. CRY-03), optional"}, {"gdpr", "GDPR articles, comma-separated (e.g. Art. 32(1)(a)), optional"}} {
			v, err := p.ask(fw.q, "")
			if err != nil {
				return usageError("%v", err)
			}
			if v != "" {
				f.frameworks = append(f.frameworks, fw.name+"="+v)
			}
		}
	}
	rule.Frameworks = map[string][]string{}
	for _, fw := range f.frameworks {
		name, controls, ok := strings.Cut(fw, "=")
		if !ok || name == "" || controls == "" {
			return usageError("--framework %q: write FRAMEWORK=CONTROL[,CONTROL], e.g. bsi-c5=CRY-03", fw)
		}
		rule.Frameworks[name] = append(rule.Frameworks[name], splitList(controls)...)
	}
	if len(rule.Frameworks) == 0 {
		rule.Frameworks = nil
	}

	ruleYAML, err := rules.MarshalRule(rule)
	if err != nil {
		return err
	}
	provider := f.provider
	if strings.HasPrefix(f.types[0], "kubernetes.") {
		provider = "kubernetes"
	}
	caseYAML, err := rules.CaseYAML(rule.ID, f.types[0], provider, pass, fail)
	if err != nil {
		return usageError("%v: no small combination of attribute values makes the check pass or fail; check the expression", err)
	}
	name := strings.ToLower(rule.ID) + ".yaml"
	rulePath := filepath.Join(f.dir, name)
	casePath := filepath.Join(f.dir, "testdata", name)
	for _, pth := range []string{rulePath, casePath} {
		if _, err := os.Stat(pth); err == nil && !f.force {
			return usageError("%s exists; use --force to overwrite it", pth)
		}
	}
	if err := os.MkdirAll(filepath.Join(f.dir, "testdata"), 0o755); err != nil {
		return fmt.Errorf("creating %s: %w", f.dir, err)
	}
	if err := os.WriteFile(rulePath, ruleYAML, 0o644); err != nil {
		return fmt.Errorf("writing the rule: %w", err)
	}
	if err := os.WriteFile(casePath, caseYAML, 0o644); err != nil {
		return fmt.Errorf("writing the test cases: %w", err)
	}
	fmt.Fprintf(d.Stdout, "wrote %s\nwrote %s", rulePath, casePath)
	switch {
	case pass == nil:
		fmt.Fprint(d.Stdout, " (no compliant sample found: add a passing case by hand)")
	case fail == nil:
		fmt.Fprint(d.Stdout, " (no non-compliant sample found: add a failing case by hand)")
	}
	fmt.Fprintf(d.Stdout, "\ntest it:  hoheit policy test %s\nuse it:   hoheit scan PATH --rules %s\n", f.dir, f.dir)
	return nil
}

func nonEmpty(what string) func(string) error {
	return func(s string) error {
		if strings.TrimSpace(s) == "" {
			return fmt.Errorf("%s must not be empty", what)
		}
		return nil
	}
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func sorted(s []string) []string {
	slices.Sort(s)
	return s
}
