package cli

import (
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/hoheit/hoheit/internal/collateral"
)

func newCollateralCmd(d *Deps) *cobra.Command {
	var cacheDir string
	cmd := &cobra.Command{
		Use:   "collateral",
		Short: "Manage the offline cache of AMD and Intel attestation collateral",
		Long: `SEV-SNP and TDX evidence is checked against collateral from AMD and Intel:
VCEK certificates and CRLs from AMD's key distribution service, TDX TCB info,
QE identity and CRLs from Intel's provisioning certification service. hoheit
never fetches them itself unless the server's configuration names a URL
explicitly: it reads them from a local cache directory that these commands
fill.

The air-gapped workflow:
  1. on a machine with internet access, fetch the URLs into a bundle:
       hoheit collateral fetch --url URL... --out bundle/
  2. carry bundle/ to the server and import it:
       hoheit collateral import bundle/
A refusal for missing collateral names the exact URL to fetch. TDX TCB info
and QE identity are renewed by Intel about monthly: import fresh ones before
they expire (hoheit collateral list shows when).

The default cache is ` + collateral.DefaultDir + `; --cache chooses another
(use the same directory as the server's configuration).`,
		Example: `  hoheit collateral fetch --out bundle/ \
    --url 'https://api.trustedservices.intel.com/tdx/certification/v4/tcb?fmspc=50806f000000' \
    --url https://api.trustedservices.intel.com/tdx/certification/v4/qe/identity
  hoheit collateral import bundle/
  hoheit collateral list --cache /srv/hoheit/collateral`,
	}
	cmd.PersistentFlags().StringVar(&cacheDir, "cache", collateral.DefaultDir, "the collateral cache `DIR`")
	cmd.AddCommand(newCollateralImportCmd(d, &cacheDir), newCollateralListCmd(d, &cacheDir), newCollateralFetchCmd(d))
	return cmd
}

func newCollateralImportCmd(d *Deps, cacheDir *string) *cobra.Command {
	return &cobra.Command{
		Use:   "import DIR",
		Short: "Import a collateral bundle (written by 'hoheit collateral fetch') into the cache",
		Long: `Import copies every URL of the bundle in DIR (a directory with an
index.json and one file per URL) into the cache. Each file must parse as
collateral (a certificate, a CRL or JSON such as TDX TCB info) and match
its SHA-256 in the index; if any does not, nothing is imported. An import
replaces what the cache held for the same URLs.`,
		Example: `  hoheit collateral import bundle/
  hoheit collateral import /media/usb/collateral-2025-06 --cache /srv/hoheit/collateral`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := collateral.Open(*cacheDir, nil)
			if err != nil {
				return err
			}
			n, err := c.Import(cmd.Context(), args[0])
			if err != nil {
				return usageError("%v", err)
			}
			fmt.Fprintf(d.Stdout, "imported %d collateral entries into %s\n", n, c.Dir())
			return nil
		},
	}
}

func newCollateralListCmd(d *Deps, cacheDir *string) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List the cached collateral and when each goes stale",
		Example: `  hoheit collateral list
  hoheit collateral list --cache /srv/hoheit/collateral`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := collateral.Open(*cacheDir, nil)
			if err != nil {
				return err
			}
			list, err := c.List()
			if err != nil {
				return err
			}
			if len(list) == 0 {
				fmt.Fprintf(d.Stdout, "the collateral cache %s is empty; fill it with 'hoheit collateral import DIR'\n", c.Dir())
				return nil
			}
			now := d.Now()
			tw := tabwriter.NewWriter(d.Stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "URL\tKIND\tNEXT UPDATE\tSIZE")
			for _, m := range list {
				next := "-"
				if !m.NextUpdate.IsZero() {
					next = m.NextUpdate.UTC().Format("2006-01-02")
					if now.After(m.NextUpdate) {
						next += " (stale)"
					}
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%d\n", m.URL, m.Kind, next, m.Size)
			}
			return tw.Flush()
		},
	}
}

func newCollateralFetchCmd(d *Deps) *cobra.Command {
	var urls []string
	var out string
	cmd := &cobra.Command{
		Use:   "fetch --url URL... --out DIR",
		Short: "Download collateral into a bundle, on a machine with internet access",
		Long: `Fetch downloads each --url over HTTPS and writes a bundle to --out (a new
or empty directory) for 'hoheit collateral import' on the air-gapped
machine. It is the only command that goes to the network, and only to the
URLs you name. A validator's refusal for missing collateral names the URL.

Common URLs:
  AMD SEV-SNP CRL:   https://kdsintf.amd.com/vcek/v1/{Milan,Genoa,Turin}/crl
  AMD VCEK:          https://kdsintf.amd.com/vcek/v1/PRODUCT/CHIPID?blSPL=..&teeSPL=..&snpSPL=..&ucodeSPL=..
  Intel TDX TCB:     https://api.trustedservices.intel.com/tdx/certification/v4/tcb?fmspc=FMSPC
  Intel QE identity: https://api.trustedservices.intel.com/tdx/certification/v4/qe/identity
  Intel PCK CRL:     https://api.trustedservices.intel.com/sgx/certification/v4/pckcrl?ca=platform&encoding=der
  Intel root CRL:    https://certificates.trustedservices.intel.com/IntelSGXRootCA.der`,
		Example: `  hoheit collateral fetch --out bundle/ --url https://kdsintf.amd.com/vcek/v1/Milan/crl
  hoheit collateral fetch --out bundle/ \
    --url https://api.trustedservices.intel.com/tdx/certification/v4/qe/identity \
    --url https://certificates.trustedservices.intel.com/IntelSGXRootCA.der`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if len(urls) == 0 {
				return usageError("name at least one --url to fetch")
			}
			if out == "" {
				return usageError("--out DIR is required: the directory to write the bundle to")
			}
			if err := collateral.Fetch(cmd.Context(), urls, out); err != nil {
				return err
			}
			fmt.Fprintf(d.Stdout, "wrote %d URLs to %s; import them with 'hoheit collateral import %s'\n", len(urls), out, out)
			return nil
		},
	}
	cmd.Flags().StringArrayVar(&urls, "url", nil, "an https `URL` to fetch (repeatable)")
	cmd.Flags().StringVar(&out, "out", "", "the bundle `DIR` to write (new or empty)")
	return cmd
}
