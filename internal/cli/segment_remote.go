package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/hoheit/hoheit/internal/api"
	"github.com/hoheit/hoheit/internal/segment"
)

// The segment commands that talk to the control plane.

func newSegmentApplyCmd(d *Deps) *cobra.Command {
	var f apiFlags
	c := &cobra.Command{
		Use:   "apply POLICY",
		Short: "Apply a segmentation policy on the control plane (refused when its tests fail)",
		Long: `Apply a segmentation policy. The server runs the policy's tests section
first and refuses the policy when one fails, saying which test and which rule
allowed what. Applied, the policy is compiled into per-node rule sets and
pushed at once to every node whose rules or peers changed. Needs an admin
token.

Example:
  hoheit segment apply examples/segment/shop.yaml --server https://cp:8443 --ca ca.pem --token-file admin.token`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			data, err := os.ReadFile(args[0])
			if err != nil {
				return usageError("%v", err)
			}
			cl, err := f.client(true)
			if err != nil {
				return err
			}
			req, err := http.NewRequestWithContext(cmd.Context(), http.MethodPut, cl.base+api.PathSegPolicy, bytes.NewReader(data))
			if err != nil {
				return err
			}
			req.Header.Set("Content-Type", "application/yaml")
			req.Header.Set("Authorization", "Bearer "+cl.token)
			resp, err := cl.http.Do(req)
			if err != nil {
				return fmt.Errorf("calling the control plane: %w", err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
			var res api.SegmentPolicyResult
			switch resp.StatusCode {
			case http.StatusOK:
				json.Unmarshal(body, &res)
				fmt.Fprintf(d.Stdout, "%s: applied; compiled for %d nodes\n", args[0], res.Nodes)
				return nil
			case http.StatusUnprocessableEntity:
				json.Unmarshal(body, &res)
				for _, f := range res.Failures {
					fmt.Fprintln(d.Stdout, "FAIL "+f)
				}
				return &ExitError{Code: ExitFindings, Err: fmt.Errorf("%s: %d test(s) failed; the policy was not applied", args[0], len(res.Failures))}
			}
			var e api.Error
			if json.Unmarshal(body, &e) == nil && e.Error.Reason != "" {
				return fmt.Errorf("%s: %s", e.Error.Reason, e.Error.Detail)
			}
			return fmt.Errorf("PUT %s: %s", api.PathSegPolicy, resp.Status)
		},
	}
	f.register(c)
	return c
}

func newSegmentFlowsCmd(d *Deps) *cobra.Command {
	var f apiFlags
	var asJSON bool
	c := &cobra.Command{
		Use:   "flows",
		Short: "The flows the nodes recorded: source, destination, protocol, port, verdict, counts",
		Long: `Print the flow records the nodes shipped, aggregated per source identity,
destination identity, protocol, port and verdict, with counts and first and
last seen. --json writes them for 'hoheit segment propose'.

Examples:
  hoheit segment flows --server https://cp:8443 --ca ca.pem --token-file auditor.token
  hoheit segment flows --json ... > flows.json && hoheit segment propose flows.json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cl, err := f.client(true)
			if err != nil {
				return err
			}
			var recs []segment.FlowRecord
			if err := cl.do(cmd.Context(), http.MethodGet, api.PathSegFlows, nil, &recs); err != nil {
				return err
			}
			if asJSON {
				return writeIndented(d, recs)
			}
			tw := tabwriter.NewWriter(d.Stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NODE\tSOURCE\tDESTINATION\tPROTO\tPORT\tVERDICT\tCOUNT\tLAST SEEN")
			for _, r := range recs {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\t%d\t%s\n", r.Node, flowEnd(r.Src, r.SrcAddr.String()), flowEnd(r.Dst, r.DstAddr.String()),
					r.Proto, r.Port, r.Verdict, r.Count, r.LastSeen.UTC().Format(time.RFC3339))
			}
			return tw.Flush()
		},
	}
	f.register(c)
	c.Flags().BoolVar(&asJSON, "json", false, "print JSON (input of 'hoheit segment propose')")
	return c
}

func newSegmentAlertsCmd(d *Deps) *cobra.Command {
	var f apiFlags
	var limit int
	c := &cobra.Command{
		Use:   "alerts",
		Short: "Flows outside the policy: dropped (protect) or let through and reported (monitor)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cl, err := f.client(true)
			if err != nil {
				return err
			}
			if limit < 0 {
				return usageError("--limit must be 0 (every alert kept) or more")
			}
			path := api.PathSegAlerts
			if limit > 0 {
				path += "?limit=" + strconv.Itoa(limit)
			}
			var alerts []segment.Alert
			if err := cl.do(cmd.Context(), http.MethodGet, path, nil, &alerts); err != nil {
				return err
			}
			tw := tabwriter.NewWriter(d.Stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "TIME\tNODE\tSOURCE\tDESTINATION\tPROTO\tPORT\tVERDICT")
			for _, a := range alerts {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%s\n", a.Time.UTC().Format(time.RFC3339), a.Node,
					flowEnd(a.Flow.Src, a.Src.String()), flowEnd(a.Flow.Dst, a.Dst.String()), a.Flow.Proto, a.Flow.Port, a.Flow.Verdict)
			}
			return tw.Flush()
		},
	}
	f.register(c)
	c.Flags().IntVar(&limit, "limit", 0, "only the newest `N` alerts (default: every alert the server keeps)")
	return c
}

// flowEnd prefers an identity name over an address.
func flowEnd(identity, addr string) string {
	if strings.TrimSpace(identity) != "" {
		return identity
	}
	return addr
}
