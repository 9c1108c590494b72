package cli

import "github.com/spf13/cobra"

// placeholder: replaced by the refvalues commands.
func newRefvaluesCmd(d *Deps) *cobra.Command {
	return &cobra.Command{Use: "refvalues", Short: "refvalues (not yet implemented)", Hidden: true}
}
