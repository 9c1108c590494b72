package cli

import "github.com/spf13/cobra"

// placeholder: replaced by the collateral commands.
func newCollateralCmd(d *Deps) *cobra.Command {
	return &cobra.Command{Use: "collateral", Short: "collateral (not yet implemented)", Hidden: true}
}
