package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/hoheit/hoheit/internal/api"
)

func newNodeCmd(d *Deps) *cobra.Command {
	c := &cobra.Command{
		Use:   "node",
		Short: "List, inspect and revoke the nodes that joined the control plane",
		Long: `Nodes join the control plane with 'hoheit agent'. These commands show what
the server knows of them and revoke them. They need an API token of role
admin or operator (revoke), or auditor (list, show).

Examples:
  export HOHEIT_SERVER=https://cp.example:8443 HOHEIT_CA=ca.pem HOHEIT_TOKEN_FILE=admin.token
  hoheit node list
  hoheit node show web-1
  hoheit node show web-1 --claims > web-1.claims.json   # then: hoheit refvalues measure
  hoheit node revoke web-1 --reason "host decommissioned"
  hoheit node reset web-1 --reason "rebuilt on new hardware"`,
	}
	c.AddCommand(newNodeListCmd(d), newNodeShowCmd(d), newNodeRevokeCmd(d), newNodeResetCmd(d))
	return c
}

func newNodeListCmd(d *Deps) *cobra.Command {
	var f apiFlags
	var asJSON bool
	c := &cobra.Command{
		Use:   "list",
		Short: "List nodes with status, class and last attestation",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cl, err := f.client(true)
			if err != nil {
				return err
			}
			var ns []api.Node
			if err := cl.do(cmd.Context(), http.MethodGet, api.PathNodes, nil, &ns); err != nil {
				return err
			}
			if asJSON {
				return writeIndented(d, ns)
			}
			tw := tabwriter.NewWriter(d.Stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NODE\tCLASS\tVARIANT\tSTATUS\tLAST ATTESTED\tCERT EXPIRES")
			for _, n := range ns {
				variant := n.Variant
				if n.Insecure {
					variant += " (INSECURE)"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", n.ID, n.Class, variant, n.Status, ago(d, n.LastAttestedAt), n.CertNotAfter.UTC().Format(time.RFC3339))
			}
			return tw.Flush()
		},
	}
	f.register(c)
	c.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return c
}

func newNodeShowCmd(d *Deps) *cobra.Command {
	var f apiFlags
	var claims bool
	c := &cobra.Command{
		Use:   "show NODE",
		Short: "Show one node, or with --claims its verified measurements",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := f.client(true)
			if err != nil {
				return err
			}
			var n api.Node
			if err := cl.do(cmd.Context(), http.MethodGet, api.PathNodes+"/"+url.PathEscape(args[0]), nil, &n); err != nil {
				return err
			}
			if claims {
				var buf bytes.Buffer
				if err := json.Indent(&buf, n.Claims, "", "  "); err != nil {
					return fmt.Errorf("node %s has no readable claims: %w", n.ID, err)
				}
				buf.WriteByte('\n')
				_, err := d.Stdout.Write(buf.Bytes())
				return err
			}
			return writeIndented(d, n)
		},
	}
	f.register(c)
	c.Flags().BoolVar(&claims, "claims", false, "print only the verified claims (input of 'hoheit refvalues measure')")
	return c
}

func newNodeRevokeCmd(d *Deps) *cobra.Command {
	var f apiFlags
	var reason string
	c := &cobra.Command{
		Use:   "revoke NODE --reason TEXT",
		Short: "Revoke a node: its certificate is revoked and it gets no more keys",
		Long: `Revoke a node. Its certificate goes on the CRL at once, every further key
request is refused, and it may not join again until an admin deletes it.
The reason is recorded in the audit log.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if reason == "" {
				return usageError("--reason is required: it goes into the audit log")
			}
			cl, err := f.client(true)
			if err != nil {
				return err
			}
			var n api.Node
			if err := cl.do(cmd.Context(), http.MethodPost, api.PathNodes+"/"+url.PathEscape(args[0])+"/revoke", api.RevokeRequest{Reason: reason}, &n); err != nil {
				return err
			}
			fmt.Fprintf(d.Stdout, "node %s revoked (certificate %s)\n", n.ID, n.CertSerial)
			return nil
		},
	}
	f.register(c)
	c.Flags().StringVar(&reason, "reason", "", "why (recorded in the audit log)")
	return c
}

func newNodeResetCmd(d *Deps) *cobra.Command {
	var f apiFlags
	var reason string
	c := &cobra.Command{
		Use:   "reset NODE --reason TEXT",
		Short: "Let a revoked node, or a node on new hardware, join again (after it attests)",
		Long: `Reset a node: it becomes quarantined (no certificate, no keys) and its
binding to its hardware (TPM EK, SEV-SNP chip) is cleared. The next join with
valid evidence brings it back and binds it to the hardware it then proves.
Use it for a revoked node that was rebuilt, or a VM that moved to another
host. Needs an admin token; the reason goes into the audit log.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if reason == "" {
				return usageError("--reason is required: it goes into the audit log")
			}
			cl, err := f.client(true)
			if err != nil {
				return err
			}
			var n api.Node
			if err := cl.do(cmd.Context(), http.MethodPost, api.PathNodes+"/"+url.PathEscape(args[0])+"/reset", api.RevokeRequest{Reason: reason}, &n); err != nil {
				return err
			}
			fmt.Fprintf(d.Stdout, "node %s reset: %s until it attests again\n", n.ID, n.Status)
			return nil
		},
	}
	f.register(c)
	c.Flags().StringVar(&reason, "reason", "", "why (recorded in the audit log)")
	return c
}

func writeIndented(d *Deps, v any) error {
	enc := json.NewEncoder(d.Stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func ago(d *Deps, t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return d.Now().Sub(t).Round(time.Second).String() + " ago"
}
