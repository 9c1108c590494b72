package cli

import (
	"fmt"
	"net/http"
	"net/url"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/hoheit/hoheit/internal/api"
)

func newTokenCmd(d *Deps) *cobra.Command {
	c := &cobra.Command{
		Use:   "token",
		Short: "Create, list and delete API tokens (roles admin, operator, auditor)",
		Long: `API tokens authenticate people and tools at the control plane. The server
stores only their SHA-256 hash; the secret is shown once, at creation.

Roles:
  admin     everything, including tokens
  operator  list, show and revoke nodes
  auditor   list and show nodes, export the audit log

Examples:
  hoheit token create --name audit-team --role auditor > auditor.token
  hoheit token list
  hoheit token delete 3f2a9c0d1e4b5a69`,
	}
	c.AddCommand(newTokenCreateCmd(d), newTokenListCmd(d), newTokenDeleteCmd(d))
	return c
}

func newTokenCreateCmd(d *Deps) *cobra.Command {
	var f apiFlags
	var name, role string
	c := &cobra.Command{
		Use:   "create --name NAME --role ROLE",
		Short: "Create a token and print its secret (once)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cl, err := f.client(true)
			if err != nil {
				return err
			}
			var t api.Token
			if err := cl.do(cmd.Context(), http.MethodPost, api.PathTokens, api.TokenRequest{Name: name, Role: role}, &t); err != nil {
				return err
			}
			fmt.Fprintln(d.Stdout, t.Secret)
			fmt.Fprintf(d.Stderr, "token %s (%s, role %s) created; the secret above is not shown again\n", t.ID, t.Name, t.Role)
			return nil
		},
	}
	f.register(c)
	c.Flags().StringVar(&name, "name", "", "who or what uses the token")
	c.Flags().StringVar(&role, "role", api.RoleAuditor, "admin, operator or auditor")
	return c
}

func newTokenListCmd(d *Deps) *cobra.Command {
	var f apiFlags
	c := &cobra.Command{
		Use:   "list",
		Short: "List tokens (never their secrets)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cl, err := f.client(true)
			if err != nil {
				return err
			}
			var ts []api.Token
			if err := cl.do(cmd.Context(), http.MethodGet, api.PathTokens, nil, &ts); err != nil {
				return err
			}
			tw := tabwriter.NewWriter(d.Stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tNAME\tROLE\tCREATED")
			for _, t := range ts {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", t.ID, t.Name, t.Role, t.CreatedAt.UTC().Format(time.RFC3339))
			}
			return tw.Flush()
		},
	}
	f.register(c)
	return c
}

func newTokenDeleteCmd(d *Deps) *cobra.Command {
	var f apiFlags
	c := &cobra.Command{
		Use:   "delete ID",
		Short: "Delete a token; it stops working at once",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := f.client(true)
			if err != nil {
				return err
			}
			if err := cl.do(cmd.Context(), http.MethodDelete, api.PathTokens+"/"+url.PathEscape(args[0]), nil, nil); err != nil {
				return err
			}
			fmt.Fprintf(d.Stdout, "token %s deleted\n", args[0])
			return nil
		},
	}
	f.register(c)
	return c
}
