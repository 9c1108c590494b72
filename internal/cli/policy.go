package cli

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/hoheit/hoheit/internal/rules"
)

func newPolicyCmd(d *Deps) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "policy",
		Short: "List, show, test and write rules",
		Long: `A rule is a YAML file: id, title, severity, the normalized types it applies to,
an optional CEL precondition, a CEL check over 'resource' (true = compliant),
framework mappings and remediation guidance. See docs/rules.md.

The built-in packs are baseline (hardened defaults), bsi-c5 (BSI C5:2020) and
gdpr (GDPR Art. 5, 25, 32 and Chapter V data residency).`,
	}
	cmd.AddCommand(newPolicyListCmd(d), newPolicyShowCmd(d), newPolicyTestCmd(d), newPolicyNewCmd(d))
	return cmd
}

func newPolicyListCmd(d *Deps) *cobra.Command {
	var sel ruleSelection
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the rules of the packs",
		Example: `  hoheit policy list
  hoheit policy list --framework bsi-c5
  hoheit policy list --pack none --rules ./our-rules --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			rs, err := sel.load(d)
			if err != nil {
				return err
			}
			if asJSON {
				enc := json.NewEncoder(d.Stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(rs)
			}
			tw := tabwriter.NewWriter(d.Stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tSEVERITY\tPACK\tTYPES\tFRAMEWORKS\tTITLE")
			for _, r := range rs {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", r.ID, r.Severity, r.Pack, strings.Join(r.Types, ","), frameworkList(r), r.Title)
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			fmt.Fprintf(d.Stdout, "\n%d rules\n", len(rs))
			return nil
		},
	}
	addSelectionFlags(cmd, &sel)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func newPolicyShowCmd(d *Deps) *cobra.Command {
	var sel ruleSelection
	cmd := &cobra.Command{
		Use:     "show RULE-ID",
		Short:   "Show one rule whole: check, frameworks, remediation",
		Example: `  hoheit policy show $(hoheit policy list --json | jq -r '.[0].id')`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			rs, err := sel.load(d)
			if err != nil {
				return err
			}
			for _, r := range rs {
				if strings.EqualFold(r.ID, args[0]) {
					out, err := rules.MarshalRule(r)
					if err != nil {
						return err
					}
					fmt.Fprintf(d.Stdout, "# %s (pack %s, %s:%d)\n%s", r.ID, r.Pack, r.File, r.Line, out)
					return nil
				}
			}
			return usageError("no rule %q; 'hoheit policy list' shows the ids", args[0])
		},
	}
	addSelectionFlags(cmd, &sel)
	return cmd
}

func newPolicyTestCmd(d *Deps) *cobra.Command {
	var sel ruleSelection
	var verbose bool
	cmd := &cobra.Command{
		Use:   "test [DIR...]",
		Short: "Run the rules' golden test cases",
		Long: `Test runs every case file (testdata/<rule-id>.yaml beside the rules) and
checks that each rule gives the wanted verdict (pass, fail, skip, unknown,
error) on each case's resource. Without DIR it tests the built-in packs;
with DIR it loads the rules in DIR and tests them with DIR/testdata.`,
		Example: `  hoheit policy test
  hoheit policy test ./our-rules -v`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				sel.custom = append(sel.custom, args...)
				if len(sel.packs) == 0 {
					sel.packs = []string{"none"}
				}
			}
			set, err := sel.compile(d)
			if err != nil {
				return err
			}
			var files []caseSource
			if len(args) == 0 {
				for _, p := range d.PackNames {
					if len(sel.packs) > 0 && !slices.Contains(sel.packs, p) {
						continue
					}
					files = append(files, caseFiles(d.Packs, path.Join(p, "testdata"), p)...)
				}
			}
			for _, dir := range args {
				files = append(files, caseFiles(os.DirFS(dir), "testdata", dir)...)
			}
			return runCases(d, set, files, verbose)
		},
	}
	addSelectionFlags(cmd, &sel)
	cmd.Flags().BoolVarP(&verbose, "verbose", "v", false, "print every case, not only failures")
	return cmd
}

type caseSource struct {
	fsys fs.FS
	path string
	show string
	err  error
}

func caseFiles(fsys fs.FS, dir, prefix string) []caseSource {
	var out []caseSource
	err := fs.WalkDir(fsys, dir, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !e.IsDir() && (strings.HasSuffix(p, ".yaml") || strings.HasSuffix(p, ".yml")) {
			out = append(out, caseSource{fsys: fsys, path: p, show: filepath.Join(prefix, strings.TrimPrefix(p, "."))})
		}
		return nil
	})
	if err != nil && !os.IsNotExist(err) {
		out = append(out, caseSource{show: filepath.Join(prefix, dir), err: err})
	}
	return out
}

func runCases(d *Deps, set *rules.Set, files []caseSource, verbose bool) error {
	passed, failed := 0, 0
	tested := map[string]bool{}
	for _, cf := range files {
		if cf.err != nil {
			fmt.Fprintf(d.Stdout, "FAIL %s: %v\n", cf.show, cf.err)
			failed++
			continue
		}
		data, err := fs.ReadFile(cf.fsys, cf.path)
		if err == nil {
			var c *rules.CaseFile
			if c, err = rules.ParseCases(cf.show, data); err == nil {
				tested[c.Rule] = true
				for _, r := range set.RunCases(c) {
					switch {
					case r.OK():
						passed++
						if verbose {
							fmt.Fprintf(d.Stdout, "ok   %s %q\n", r.Rule, r.Case)
						}
					case r.Problem != "":
						failed++
						fmt.Fprintf(d.Stdout, "FAIL %s:%d %s %q: %s\n", r.File, r.Line, r.Rule, r.Case, r.Problem)
					default:
						failed++
						fmt.Fprintf(d.Stdout, "FAIL %s:%d %s %q: want %s, got %s\n", r.File, r.Line, r.Rule, r.Case, r.Want, r.Got)
					}
				}
				continue
			}
		}
		failed++
		fmt.Fprintf(d.Stdout, "FAIL %v\n", err)
	}
	var untested []string
	for _, r := range set.Rules {
		if !tested[r.ID] {
			untested = append(untested, r.ID)
		}
	}
	if len(untested) > 0 {
		fmt.Fprintf(d.Stdout, "FAIL %d rules have no test cases: %s\n", len(untested), strings.Join(untested, ", "))
		failed += len(untested)
	}
	fmt.Fprintf(d.Stdout, "policy test: %d passed, %d failed\n", passed, failed)
	if failed > 0 {
		return &ExitError{Code: ExitFindings}
	}
	return nil
}
