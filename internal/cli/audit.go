package cli

import (
	"fmt"
	"net/http"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/hoheit/hoheit/internal/api"
	"github.com/hoheit/hoheit/internal/audit"
)

func newAuditCmd(d *Deps) *cobra.Command {
	c := &cobra.Command{
		Use:   "audit",
		Short: "Export the control plane's audit log and verify an export",
		Long: `The control plane records every join, key release, refusal (with its
reason), revocation and reference value change in an append-only,
hash-chained log, with checkpoints signed by the server's audit key
(docs/audit.md).

Examples:
  hoheit audit export --server https://cp:8443 --ca ca.pem --token-file auditor.token > audit.jsonl
  hoheit audit key --server https://cp:8443 --ca ca.pem > audit.pub
  hoheit audit verify audit.jsonl --key audit.pub`,
	}
	c.AddCommand(newAuditExportCmd(d), newAuditKeyCmd(d), newAuditVerifyCmd(d))
	return c
}

func newAuditExportCmd(d *Deps) *cobra.Command {
	var f apiFlags
	var out string
	c := &cobra.Command{
		Use:   "export",
		Short: "Write the whole audit log as JSON lines, ending at a freshly signed checkpoint",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cl, err := f.client(true)
			if err != nil {
				return err
			}
			w, closeOut, err := openOutput(d, out)
			if err != nil {
				return err
			}
			if err := cl.do(cmd.Context(), http.MethodGet, api.PathAudit, nil, w); err != nil {
				closeOut()
				return err
			}
			return closeOut()
		},
	}
	f.register(c)
	c.Flags().StringVarP(&out, "output", "o", "", "write to FILE instead of stdout")
	return c
}

func newAuditKeyCmd(d *Deps) *cobra.Command {
	var f apiFlags
	c := &cobra.Command{
		Use:   "key",
		Short: "Print the server's audit public key (PEM); compare it with one you trust",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cl, err := f.client(false)
			if err != nil {
				return err
			}
			return cl.do(cmd.Context(), http.MethodGet, api.PathAuditKey, nil, d.Stdout)
		},
	}
	f.register(c)
	return c
}

func newAuditVerifyCmd(d *Deps) *cobra.Command {
	var keyFile string
	c := &cobra.Command{
		Use:   "verify FILE --key PUB",
		Short: "Check an export: no entry changed, removed, inserted or reordered",
		Long: `Verify an audit export offline. Every entry must hash to the value the next
one names, sequence numbers must be contiguous, and a checkpoint signed by
the audit key must cover the last entry. Any changed, removed, inserted or
reordered entry, and any entry after the last checkpoint, fails with the
sequence number where the chain breaks. Exit 0 when the log is intact, 1 when
it is not, 2 on bad usage. FILE may be - for stdin.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if keyFile == "" {
				return usageError("--key is required: the audit public key (PEM), e.g. from 'hoheit audit key'")
			}
			pemBytes, err := os.ReadFile(keyFile)
			if err != nil {
				return usageError("--key: %v", err)
			}
			pub, err := audit.ParsePublicKey(pemBytes)
			if err != nil {
				return usageError("--key %s: %v", keyFile, err)
			}
			in := d.Stdin
			if args[0] != "-" {
				f, err := os.Open(args[0])
				if err != nil {
					return usageError("%v", err)
				}
				defer f.Close()
				in = f
			}
			sum, err := audit.Verify(in, pub)
			if err != nil {
				return &ExitError{Code: ExitFindings, Err: fmt.Errorf("%s: audit log NOT intact: %w", args[0], err)}
			}
			fmt.Fprintf(d.Stdout, "%s: intact: %d entries, %d checkpoints, head %d, last checkpoint signed %s\n",
				args[0], sum.Entries, sum.Checkpoints, sum.Head.Seq, sum.LastCheckpoint.Time.UTC().Format(time.RFC3339))
			fmt.Fprintln(d.Stdout, "A log cut back to an older checkpoint also verifies: compare head and time with your previous export.")
			return nil
		},
	}
	c.Flags().StringVar(&keyFile, "key", "", "the audit public key, PEM")
	return c
}
