package cli

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"go.yaml.in/yaml/v3"

	"github.com/hoheit/hoheit/internal/segment"
)

// maxFlowsBytes bounds what `segment propose` reads: a flow export is one
// record per (source, destination, protocol, port, verdict), far below this.
const maxFlowsBytes = 256 << 20

func newSegmentCmd(d *Deps) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "segment",
		Short: "Test, preview, learn and export microsegmentation policies",
		Long: `A segmentation policy (YAML, docs/segmentation.md) names identities by labels
of nodes and workloads and allows flows between them; inside the mesh
everything else is denied.

On files, without a server:
  hoheit segment test shop.yaml                       run the policy's tests section
  hoheit segment compile shop.yaml --inventory inv.yaml
                                                      what each node would receive
  hoheit segment propose flows.json --base shop.yaml -o proposed.yaml
                                                      a policy learned from flows
  hoheit segment export shop.yaml --format networkpolicy --namespace web=shop
                                                      Kubernetes policies for clusters
Against the control plane (--server, --token-file):
  hoheit segment apply shop.yaml                      test, then apply and push to nodes
  hoheit segment flows --json > flows.json            the flows the nodes recorded
  hoheit segment alerts                               flows outside the policy

The usual path: run a segment in learn mode, fetch its flows, propose a
policy, review it, add tests, test it, apply it, then move the segment to
monitor and finally protect.`,
	}
	cmd.AddCommand(newSegmentTestCmd(d), newSegmentCompileCmd(d), newSegmentExportCmd(d), newSegmentProposeCmd(d),
		newSegmentApplyCmd(d), newSegmentFlowsCmd(d), newSegmentAlertsCmd(d))
	return cmd
}

func newSegmentTestCmd(d *Deps) *cobra.Command {
	var invFile string
	cmd := &cobra.Command{
		Use:   "test POLICY [--inventory INVENTORY]",
		Short: "Run a policy's tests section: exit 0 when every test passes, 1 when one fails",
		Long: `Test checks the policy file and evaluates every flow of its tests section
("web -> customer-db:5432 deny") against its rules, as the server does before
it applies a policy. Each failing test is printed with its line, what it
expected and what the policy does, and the rule that allowed the flow when a
deny was expected. A policy whose tests fail is refused by the server.

Each identity is tested through a representative: an endpoint with exactly
the labels its selector requires. Real endpoints carry more labels, which may
let another rule reach them; with --inventory (the server does this with its
nodes and workloads) every deny test is also checked on each pair of real
endpoints, and a failure names the pair.`,
		Example: `  hoheit segment test examples/segment/shop.yaml
  hoheit segment test examples/segment/shop.yaml --inventory examples/segment/inventory.yaml
  hoheit segment test proposed.yaml && echo "ready for review"`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			file := args[0]
			p, err := readSegmentPolicy(d, file)
			if err != nil {
				return err
			}
			failures := p.RunTests()
			if invFile != "" {
				data, err := readInputFile(d, invFile, maxPolicyInputBytes)
				if err != nil {
					return err
				}
				inv, err := segment.ParseInventory(data)
				if err != nil {
					return &ExitError{Code: ExitFindings, Err: fmt.Errorf("%s: %w", invFile, err)}
				}
				failures = p.RunTestsOn(inv)
			}
			for _, f := range failures {
				fmt.Fprintf(d.Stdout, "FAIL %s: %s\n", file, f.Error())
			}
			if len(failures) > 0 {
				return &ExitError{Code: ExitFindings, Err: fmt.Errorf("%s: %d of %d tests fail", file, len(failures), len(p.Tests))}
			}
			if len(p.Tests) == 0 {
				fmt.Fprintf(d.Stdout, "ok: %s is valid, but has no tests: add a tests section (\"web -> customer-db:5432 deny\")\n", file)
				return nil
			}
			fmt.Fprintf(d.Stdout, "ok: %s: %d tests pass\n", file, len(p.Tests))
			return nil
		},
	}
	cmd.Flags().StringVar(&invFile, "inventory", "", "also check the deny tests on every pair of real endpoints of this inventory `FILE`")
	return cmd
}

func newSegmentCompileCmd(d *Deps) *cobra.Command {
	var invFile string
	var nodes []string
	cmd := &cobra.Command{
		Use:   "compile POLICY --inventory INVENTORY",
		Short: "Show the rule set each node would receive",
		Long: `Compile compiles the policy against an inventory file (nodes with id,
labels and mesh addresses; workloads with name, node, labels and addresses;
examples/segment/inventory.yaml) the way the server does, and prints each
node's rule set: its local endpoints and their modes, its inbound and
outbound allow rules, and the peers those rules reference. A node receives
nothing else about the mesh. A warning goes to stderr when the policy's tests
fail (the server would refuse it).`,
		Example: `  hoheit segment compile examples/segment/shop.yaml --inventory examples/segment/inventory.yaml
  hoheit segment compile shop.yaml --inventory inv.yaml --node dc-berlin-db`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if invFile == "" {
				return usageError("--inventory FILE is required (the nodes and workloads to compile for)")
			}
			p, err := readSegmentPolicy(d, args[0])
			if err != nil {
				return err
			}
			data, err := readInputFile(d, invFile, maxPolicyInputBytes)
			if err != nil {
				return err
			}
			inv, err := segment.ParseInventory(data)
			if err != nil {
				return &ExitError{Code: ExitFindings, Err: fmt.Errorf("%s: %w", invFile, err)}
			}
			warnFailingTests(d, args[0], p)
			sets, err := segment.Compile(p, inv)
			if err != nil {
				return &ExitError{Code: ExitFindings, Err: fmt.Errorf("compiling %s against %s: %w", args[0], invFile, err)}
			}
			ids := make([]string, 0, len(sets))
			for id := range sets {
				ids = append(ids, string(id))
			}
			slices.Sort(ids)
			if len(nodes) > 0 {
				for _, n := range nodes {
					if _, ok := sets[segment.NodeID(n)]; !ok {
						return usageError("node %q is not in %s (nodes: %s)", n, invFile, strings.Join(ids, ", "))
					}
				}
				ids = nodes
			}
			for i, id := range ids {
				if i > 0 {
					fmt.Fprintln(d.Stdout)
				}
				fmt.Fprint(d.Stdout, sets[segment.NodeID(id)].Format())
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&invFile, "inventory", "", "the inventory `FILE` (YAML: nodes and workloads)")
	cmd.Flags().StringArrayVar(&nodes, "node", nil, "print only the rule set of node `ID` (repeatable)")
	return cmd
}

// Export formats.
const (
	exportNetworkPolicy = "networkpolicy"
	exportCilium        = "cilium"
)

// namespaceRE is a Kubernetes namespace name (an RFC 1123 label).
var namespaceRE = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$`)

func newSegmentExportCmd(d *Deps) *cobra.Command {
	var format, nsFile, output string
	var nsFlags []string
	cmd := &cobra.Command{
		Use:   "export POLICY --format networkpolicy|cilium --namespace IDENTITY=NAMESPACE ...",
		Short: "Write Kubernetes NetworkPolicy or CiliumNetworkPolicy from a policy",
		Long: `Export writes, from the same policy the mesh enforces, one Kubernetes
NetworkPolicy (networking.k8s.io/v1) or CiliumNetworkPolicy (cilium.io/v2)
per identity that runs in a cluster, ready for kubectl apply. Each denies
everything else in both directions.

Say which identities run in the cluster, and in which namespace, with
--namespace IDENTITY=NAMESPACE (repeatable) or --namespace-map FILE (YAML or
JSON: {web: shop, pricelist: shop}). Rules whose other side is outside the
cluster are left out and listed in the header comment: the mesh enforces
them. The identity's labels become the pod selector, so the pods must carry
them. NetworkPolicy cannot express ICMP; Cilium can. Modes are not exported:
the output always enforces.`,
		Example: `  hoheit segment export examples/segment/shop.yaml --format networkpolicy \
      --namespace web=shop --namespace pricelist=shop -o shop-netpol.yaml
  hoheit segment export shop.yaml --format cilium --namespace-map namespaces.yaml | kubectl apply -f -`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var export func(*segment.Policy, segment.NamespaceMap) ([]byte, error)
			switch format {
			case exportNetworkPolicy:
				export = segment.ExportNetworkPolicy
			case exportCilium:
				export = segment.ExportCilium
			case "":
				return usageError("--format is required: %s or %s", exportNetworkPolicy, exportCilium)
			default:
				return usageError("--format %q is not one of %s, %s", format, exportNetworkPolicy, exportCilium)
			}
			ns, err := readNamespaceMap(d, nsFile, nsFlags)
			if err != nil {
				return err
			}
			p, err := readSegmentPolicy(d, args[0])
			if err != nil {
				return err
			}
			warnFailingTests(d, args[0], p)
			out, err := export(p, ns)
			if err != nil {
				return &ExitError{Code: ExitFindings, Err: fmt.Errorf("exporting %s: %w", args[0], err)}
			}
			return writeOutput(d, output, out)
		},
	}
	cmd.Flags().StringVar(&format, "format", "", "output format: networkpolicy or cilium")
	cmd.Flags().StringVar(&nsFile, "namespace-map", "", "`FILE` mapping identities to namespaces (YAML or JSON object)")
	cmd.Flags().StringArrayVar(&nsFlags, "namespace", nil, "place identity in a namespace: `IDENTITY=NAMESPACE` (repeatable)")
	cmd.Flags().StringVarP(&output, "output", "o", "", "write to `FILE` instead of stdout")
	return cmd
}

// readNamespaceMap builds the export's namespace map from --namespace-map or
// --namespace flags (not both), and checks the namespace names.
func readNamespaceMap(d *Deps, file string, flags []string) (segment.NamespaceMap, error) {
	if file != "" && len(flags) > 0 {
		return nil, usageError("use --namespace-map or --namespace, not both")
	}
	ns := segment.NamespaceMap{}
	switch {
	case file != "":
		data, err := readInputFile(d, file, maxPolicyInputBytes)
		if err != nil {
			return nil, err
		}
		var m map[string]string
		dec := yaml.NewDecoder(bytes.NewReader(data)) // YAML reads JSON too
		if err := dec.Decode(&m); err != nil && !errors.Is(err, io.EOF) {
			return nil, usageError("%s: want a map of identity to namespace ({web: shop}): %v", file, err)
		}
		for k, v := range m {
			ns[k] = v
		}
	case len(flags) > 0:
		for _, f := range flags {
			id, n, ok := strings.Cut(f, "=")
			if !ok || id == "" || n == "" {
				return nil, usageError("--namespace %q: want IDENTITY=NAMESPACE, e.g. web=shop", f)
			}
			if prev, dup := ns[id]; dup && prev != n {
				return nil, usageError("--namespace: identity %q placed in both %q and %q", id, prev, n)
			}
			ns[id] = n
		}
	}
	if len(ns) == 0 {
		return nil, usageError("say which identities run in the cluster: --namespace IDENTITY=NAMESPACE (repeatable) or --namespace-map FILE")
	}
	for id, n := range ns {
		if !namespaceRE.MatchString(n) {
			return nil, usageError("identity %q: %q is not a valid Kubernetes namespace (lower-case letters, digits and '-', at most 63)", id, n)
		}
	}
	return ns, nil
}

func newSegmentProposeCmd(d *Deps) *cobra.Command {
	var base, label, mode, output string
	cmd := &cobra.Command{
		Use:   "propose FLOWS.json",
		Short: "Propose a policy from learned flows, ready to review",
		Long: `Propose turns flow records, as the server exports them
('hoheit segment flows --json', GET /v1/segment/flows: a JSON array of records with source and destination
identity, protocol, port, verdict, count, first and last seen), into a policy:
the --base policy (if given) plus one rule per source, destination and
protocol seen but not yet allowed, each with a comment saying how often and
when it was seen. Endpoint names the base does not define become identities
selecting the --identity-label label (web -> {app: web}). Dropped flows and
endpoints without a name are not allowed but listed at the top for review.

Review the proposal, add tests, run 'hoheit segment test', then apply it.
FLOWS.json may be - for stdin.`,
		Example: `  hoheit segment flows --json > flows.json
  hoheit segment propose flows.json --base shop.yaml -o proposed.yaml
  hoheit segment flows --json | hoheit segment propose - --base shop.yaml
  hoheit segment propose flows.json --identity-label k8s-app --mode monitor`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts := segment.ProposeOptions{IdentityLabel: label}
			if mode != "" {
				if base != "" {
					return usageError("--mode applies only without --base (the proposal keeps the base policy's modes)")
				}
				m, err := segment.ParseMode(mode)
				if err != nil {
					return usageError("--mode: %v", err)
				}
				opts.Mode = m
			}
			if label == "" {
				return usageError("--identity-label must not be empty")
			}
			data, err := readInputFile(d, args[0], maxFlowsBytes)
			if err != nil {
				return err
			}
			flows, err := decodeFlows(data)
			if err != nil {
				return &ExitError{Code: ExitFindings, Err: fmt.Errorf("%s: %w", args[0], err)}
			}
			if base != "" {
				if opts.Base, err = readSegmentPolicy(d, base); err != nil {
					return err
				}
			}
			p := segment.Propose(flows, opts)
			out, err := p.Format()
			if err != nil {
				return fmt.Errorf("writing the proposal: %w", err)
			}
			if _, err := segment.ParsePolicy(out); err != nil {
				// Propose and Format promise a policy ParsePolicy reads back.
				return &ExitError{Code: ExitFindings, Err: fmt.Errorf("the proposed policy does not parse (a bug, please report it): %w", err)}
			}
			if err := writeOutput(d, output, out); err != nil {
				return err
			}
			if output != "" && output != "-" {
				fmt.Fprintf(d.Stderr, "wrote %s from %d flow records: review it, then 'hoheit segment test %s'\n", output, len(flows), output)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&base, "base", "", "the policy in force `FILE`: its identities, segments, rules and tests are kept")
	cmd.Flags().StringVar(&label, "identity-label", "app", "label `KEY` that selects a new identity by its name")
	cmd.Flags().StringVar(&mode, "mode", "", "mode of a policy proposed without --base: learn (default), monitor or protect")
	cmd.Flags().StringVarP(&output, "output", "o", "", "write to `FILE` instead of stdout")
	return cmd
}

// decodeFlows reads a JSON array of segment.FlowRecord, strictly.
func decodeFlows(data []byte) ([]segment.FlowRecord, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var flows []segment.FlowRecord
	if err := dec.Decode(&flows); err != nil {
		return nil, fmt.Errorf("want a JSON array of flow records (GET /v1/segment/flows): %w", err)
	}
	if dec.More() {
		return nil, errors.New("trailing data after the JSON array of flow records")
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("trailing data after the JSON array of flow records")
	}
	for i, r := range flows {
		if err := checkFlow(r); err != nil {
			return nil, fmt.Errorf("flow record %d (%s -> %s): %w", i, r.Src, r.Dst, err)
		}
	}
	return flows, nil
}

// identityNameRE is a policy name (segment.ParsePolicy's rule): what a
// proposed identity may be called.
var identityNameRE = regexp.MustCompile(`^[a-z0-9]([a-z0-9._-]{0,61}[a-z0-9])?$`)

// checkFlow refuses a record that cannot come from a hoheit filter, so
// that a proposal is never built from garbage.
func checkFlow(r segment.FlowRecord) error {
	for _, name := range []string{r.Src, r.Dst} {
		if name != "" && !identityNameRE.MatchString(name) {
			return fmt.Errorf("%q is not an identity name (lower-case letters, digits, '.', '_', '-')", name)
		}
	}
	switch r.Proto {
	case segment.TCP, segment.UDP:
		if r.Port == 0 {
			return fmt.Errorf("%s port 0", r.Proto)
		}
	case segment.ICMP:
	default:
		return fmt.Errorf("protocol %d is not tcp (6), udp (17) or icmp (1)", r.Proto)
	}
	if r.Verdict > segment.AllowUnlisted {
		return fmt.Errorf("verdict %d is not drop (0), allow (1) or unlisted (2)", r.Verdict)
	}
	return nil
}

// maxPolicyInputBytes bounds policy, inventory and namespace-map files.
const maxPolicyInputBytes = 64 << 20

// readInputFile reads a file, or stdin for "-", up to limit bytes.
func readInputFile(d *Deps, path string, limit int64) ([]byte, error) {
	var r io.Reader
	if path == "-" {
		if d.Stdin == nil {
			return nil, usageError("no stdin to read")
		}
		r = d.Stdin
	} else {
		f, err := os.Open(path)
		if err != nil {
			return nil, usageError("%v", err)
		}
		defer f.Close()
		r = f
	}
	data, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, usageError("reading %s: %v", path, err)
	}
	if int64(len(data)) > limit {
		return nil, usageError("%s is larger than %d bytes", path, limit)
	}
	return data, nil
}

// readSegmentPolicy reads and parses a policy file; a policy that does not
// parse is exit 1 with the parser's line-numbered message.
func readSegmentPolicy(d *Deps, path string) (*segment.Policy, error) {
	data, err := readInputFile(d, path, maxPolicyInputBytes)
	if err != nil {
		return nil, err
	}
	p, err := segment.ParsePolicy(data)
	if err != nil {
		return nil, &ExitError{Code: ExitFindings, Err: fmt.Errorf("%s: %w", path, err)}
	}
	return p, nil
}

// warnFailingTests tells, on stderr, that the server would refuse p.
func warnFailingTests(d *Deps, path string, p *segment.Policy) {
	if n := len(p.RunTests()); n > 0 {
		fmt.Fprintf(d.Stderr, "warning: %d of %d tests of %s fail; the server refuses it (see 'hoheit segment test %s')\n", n, len(p.Tests), path, path)
	}
}

// writeOutput writes data to the file named by -o, or stdout for "" and "-".
// The data is complete before the file is created, so a failure leaves no
// half-written output.
func writeOutput(d *Deps, path string, data []byte) error {
	if path == "" || path == "-" {
		_, err := d.Stdout.Write(data)
		return err
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		return usageError("cannot write the output: %v", err)
	}
	return nil
}
