package cli

import (
	"context"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/hoheit/hoheit/internal/agent"
	"github.com/hoheit/hoheit/internal/api"
	"github.com/hoheit/hoheit/internal/attest"
	"github.com/hoheit/hoheit/internal/attest/insecure"
	"github.com/hoheit/hoheit/internal/attest/snp"
	"github.com/hoheit/hoheit/internal/attest/tdx"
	"github.com/hoheit/hoheit/internal/attest/tpm"
	"github.com/hoheit/hoheit/internal/luks"
	"github.com/hoheit/hoheit/internal/mesh"
	"github.com/hoheit/hoheit/internal/segment/nft"
)

// agentFlags are the flags every agent command shares: where to join and
// how to prove the node's state.
type agentFlags struct {
	server, caFile, class, variant, name, tpmDev, eventLog, logLevel string

	meshDatapath string
	enforce      string
	meshPort     uint16
	meshIf       string
	nflogGroup   uint16
	labels       []string
	endpoints    []string
	workloads    string
	forwarding   bool
}

func (f *agentFlags) register(c *cobra.Command) {
	fl := c.Flags()
	fl.StringVar(&f.server, "server", os.Getenv("HOHEIT_SERVER"), "control plane URL, https://HOST:PORT (env HOHEIT_SERVER)")
	fl.StringVar(&f.caFile, "ca", os.Getenv("HOHEIT_CA"), "the control plane's CA certificate, PEM (env HOHEIT_CA)")
	fl.StringVar(&f.class, "class", "", "node class: names the reference values the node is checked against")
	fl.StringVar(&f.variant, "attestation", "", "tpm, sev-snp, tdx or insecure (development only)")
	fl.StringVar(&f.name, "name", "", "node id (default: the host name, lower-cased)")
	fl.StringVar(&f.tpmDev, "tpm", "/dev/tpmrm0", "with --attestation tpm: the TPM device, or tcp://HOST:PORT of a swtpm")
	fl.StringVar(&f.eventLog, "event-log", "/sys/kernel/security/tpm0/binary_bios_measurements", "with --attestation tpm: the TCG event log")
	fl.StringVar(&f.logLevel, "log-level", "info", "debug, info, warn or error")
}

// registerMesh adds the mesh flags (only 'hoheit agent' runs the mesh).
func (f *agentFlags) registerMesh(c *cobra.Command) {
	fl := c.Flags()
	fl.StringVar(&f.meshDatapath, "mesh", "", "bring up the WireGuard mesh: auto, tun, kernel or netstack (default: no mesh)")
	fl.Uint16Var(&f.meshPort, "mesh-port", 51820, "UDP port of the node's WireGuard device")
	fl.Uint16Var(&f.nflogGroup, "nflog-group", nft.DefaultLogGroup, "with --enforce nftables: the NFLOG `GROUP` the table logs first packets to (must be free on the host)")
	fl.StringVar(&f.meshIf, "mesh-interface", agent.DefaultInterface, "`NAME` of the mesh's host interface (tun and kernel datapaths); with kernel it may already exist, run by wireguard-go or boringtun")
	fl.StringVar(&f.enforce, "enforce", "", "where segmentation is enforced: userspace or nftables (default: nftables with --mesh kernel, else userspace; see below)")
	fl.StringArrayVar(&f.labels, "label", nil, "a label for the segmentation policy, KEY=VALUE (repeat: --label app=web --label cloud=aws)")
	fl.StringArrayVar(&f.endpoints, "endpoint", nil, "IP:PORT where peers reach this node's WireGuard device (repeat for several paths)")
	fl.StringVar(&f.workloads, "workloads", "", "YAML list of the workloads this node routes (name, labels, addresses), reported to the server; re-read on SIGHUP")
	fl.BoolVar(&f.forwarding, "enable-forwarding", false, "with --workloads: turn on the kernel's IP forwarding (net.ipv4.ip_forward, net.ipv6.conf.all.forwarding) for the families of the workloads; without it the agent only warns when it is off")
}

func (f *agentFlags) meshConfig() (*agent.MeshConfig, error) {
	if f.meshDatapath == "" {
		return nil, nil
	}
	dp, err := mesh.ParseDatapath(f.meshDatapath)
	if err != nil {
		return nil, usageError("--mesh: %v", err)
	}
	enforce := agent.Enforcement(f.enforce)
	switch enforce {
	case "":
	case agent.EnforceUserspace:
		if dp == mesh.Kernel {
			return nil, usageError("--enforce userspace does not work with --mesh kernel: no packet passes through the agent there; use --enforce nftables (the default with kernel)")
		}
	case agent.EnforceNftables:
		if dp != mesh.TUN && dp != mesh.Kernel {
			return nil, usageError("--enforce nftables needs --mesh tun or kernel: the kernel's firewall sees mesh traffic only on a host interface (netstack has none, auto may pick it)")
		}
	default:
		return nil, usageError("--enforce %q: want userspace or nftables", f.enforce)
	}
	labels := map[string]string{}
	for _, l := range f.labels {
		k, v, ok := strings.Cut(l, "=")
		if !ok || k == "" {
			return nil, usageError("--label %q: want KEY=VALUE", l)
		}
		labels[k] = v
	}
	if !validIfName(f.meshIf) {
		return nil, usageError("--mesh-interface %q: an interface name is 1-15 characters, without '/', ':' or white space", f.meshIf)
	}
	return &agent.MeshConfig{Datapath: dp, ListenPort: f.meshPort, Interface: f.meshIf, NFLOGGroup: f.nflogGroup, Labels: labels, Endpoints: f.endpoints, Enforce: enforce, EnableForwarding: f.forwarding}, nil
}

const agentLong = `Join the control plane as this node. The agent makes its key pairs itself (an
HPKE key for secrets, a certificate key, a WireGuard key; the private keys
never leave the process), proves the node's state with evidence that binds
the server's nonce and those public keys into the hardware report, and
receives its certificate and its keys, sealed to it. It keeps them in memory
only and re-attests on the server's schedule; a failed or missed
re-attestation quarantines the node.

Attestation variants:
  tpm        TPM 2.0 quote + TCG event log (--tpm /dev/tpmrm0 or tcp://HOST:PORT)
  sev-snp    AMD SEV-SNP report (/dev/sev-guest or configfs-tsm)
  tdx        Intel TDX quote (configfs-tsm)
  insecure   no hardware proof; only a server in --dev mode (or configured
             to allow it) accepts it, and marks the node insecure

Mesh datapaths (--mesh):
  auto       kernel if the kernel has WireGuard, else tun with CAP_NET_ADMIN,
             else netstack
  kernel     the kernel's WireGuard (interface hoheit0, configured with
             wgctrl), or an existing WireGuard interface named hoheit0 run by
             wireguard-go or boringtun; enforcement with nftables
  tun        a TUN device hoheit0 with wireguard-go inside the agent
  netstack   wireguard-go with a userspace TCP/IP stack: no privileges, no
             host interface (development and tests)

Segmentation enforcement (--enforce), with --mesh:
  userspace  the default (but not with kernel): the agent checks the packets
             between WireGuard and the local stack (about 105 ns for a
             packet of an established connection with a 1,000-rule policy,
             once per connection and batch); re-checks established
             connections when the rules change
  nftables   --mesh tun or kernel (the default with kernel, which has no other
             way): the rules go into the kernel as a table of their
             own (inet hoheit, verdict maps, conntrack); established traffic
             never leaves the kernel, the agent sees only the first packet of
             each connection (NFLOG) to record flows and raise alerts; a
             rule change re-checks established connections there too (a
             generation in ct mark). Needs CAP_NET_ADMIN and nf_tables; see
             docs/segmentation.md

Examples:
  hoheit agent --server https://cp.example:8443 --ca ca.pem --class web --attestation tpm
  hoheit agent --server https://127.0.0.1:8443 --ca /tmp/hoheit-dev-1/ca.pem --class dev --attestation insecure
  hoheit agent ... --mesh auto --label app=web --label env=prod --endpoint 203.0.113.7:51820
                                              # also join the encrypted, segmented mesh
  hoheit agent ... --mesh tun --enforce nftables --label app=db   # enforce in the kernel
  hoheit agent ... --mesh kernel --label app=db   # kernel WireGuard (or wireguard-go on hoheit0)
  hoheit agent ... --mesh tun --label site=dc-berlin --workloads /etc/hoheit/workloads.yaml
                                              # report the containers this node routes
                                              # (needs IP forwarding: --enable-forwarding)
  hoheit agent format --device /dev/vdb ...   # make a LUKS2 volume with the node's disk key
  hoheit agent unlock --device /dev/vdb ...   # open it with the released key`

func newAgentCmd(d *Deps) *cobra.Command {
	var f agentFlags
	c := &cobra.Command{
		Use:   "agent --server URL --ca FILE --class NAME --attestation VARIANT",
		Short: "Run the node agent: attest, join, keep the node's keys, re-attest",
		Long:  agentLong,
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			a, log, closeIssuer, err := f.agent(cmd.Context(), d)
			if err != nil {
				return err
			}
			defer closeIssuer()
			defer a.Close()
			log.Info("joining", "server", f.server, "node", f.name, "class", f.class, "attestation", f.variant)
			if f.workloads != "" {
				go watchWorkloads(cmd.Context(), a, f.workloads, log)
			}
			return a.Run(cmd.Context())
		},
	}
	f.register(c)
	f.registerMesh(c)
	c.AddCommand(newAgentDiskCmd(d, "format"), newAgentDiskCmd(d, "unlock"), newAgentAKCmd(d))
	return c
}

func newAgentAKCmd(d *Deps) *cobra.Command {
	var f agentFlags
	c := &cobra.Command{
		Use:   "ak [--tpm DEV]",
		Short: "Print this TPM's attestation key (PEM), to register it in advance on the server",
		Long: `Print the public attestation key (AK) of this node's TPM as PEM. The agent
creates the AK on first use and keeps it persistent in the TPM, so it stays
the same until the TPM is cleared. Put the file into the server's
attestation.tpm.registered_aks directory to trust this TPM without an EK
certificate chain.

Example:
  hoheit agent ak --tpm /dev/tpmrm0 > /etc/hoheit/registered-aks/$(hostname).pem`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			iss, err := tpm.Open(cmd.Context(), tpm.IssuerConfig{Device: f.tpmDev, EventLogPath: f.eventLog})
			if err != nil {
				return fmt.Errorf("opening the TPM %s: %w", f.tpmDev, err)
			}
			defer iss.Close()
			der, err := iss.AKPublic()
			if err != nil {
				return err
			}
			return pem.Encode(d.Stdout, &pem.Block{Type: "PUBLIC KEY", Bytes: der})
		},
	}
	c.Flags().StringVar(&f.tpmDev, "tpm", "/dev/tpmrm0", "the TPM device, or tcp://HOST:PORT of a swtpm")
	c.Flags().StringVar(&f.eventLog, "event-log", "/sys/kernel/security/tpm0/binary_bios_measurements", "the TCG event log")
	return c
}

func newAgentDiskCmd(d *Deps, verb string) *cobra.Command {
	var f agentFlags
	var device, mapping string
	var testOnly bool
	short := map[string]string{
		"format": "Make DEVICE a LUKS2 volume opened by this node's disk key",
		"unlock": "Open the LUKS2 volume DEVICE with this node's disk key",
	}[verb]
	c := &cobra.Command{
		Use:   verb + " --device DEV [join flags]",
		Short: short,
		Long: short + `.

The agent attests and joins (the same flags as 'hoheit agent'), receives the
node's disk key sealed to it, and passes it to cryptsetup on stdin; the key is
never written to a file or a command line. A node that re-joins with valid
evidence receives the same disk key, so its volume opens again after a reboot;
a node whose evidence does not match the reference values receives nothing.

Examples:
  hoheit agent format --device /dev/vdb --server https://cp:8443 --ca ca.pem --class db --attestation tpm
  hoheit agent unlock --device /dev/vdb --mapping data --server ... 
  hoheit agent unlock --device volume.img --test-only ...   # check the key opens it, map nothing`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if device == "" {
				return usageError("--device is required")
			}
			if verb == "unlock" && !testOnly && mapping == "" {
				return usageError("--mapping NAME is required (the volume appears as /dev/mapper/NAME), or --test-only")
			}
			ctx := cmd.Context()
			a, log, closeIssuer, err := f.agent(ctx, d)
			if err != nil {
				return err
			}
			defer closeIssuer()
			defer a.Close()
			if err := a.Join(ctx); err != nil {
				return err
			}
			key, ok := a.Key(api.PurposeDisk)
			if !ok {
				return errors.New("the server released no disk key")
			}
			defer clear(key)
			var cs luks.Cryptsetup
			switch {
			case verb == "format":
				err = cs.Format(ctx, device, key)
			case testOnly:
				err = cs.Test(ctx, device, key)
			default:
				err = cs.Open(ctx, device, mapping, key)
			}
			if err != nil {
				return err
			}
			log.Info("done", "action", verb, "device", device, "test_only", testOnly)
			fmt.Fprintf(d.Stdout, "%s: %s with the disk key of node %s\n", device, map[bool]string{true: "opens", false: verb + "ed"}[testOnly], f.name)
			return nil
		},
	}
	f.register(c)
	c.Flags().StringVar(&device, "device", "", "block device or image file")
	if verb == "unlock" {
		c.Flags().StringVar(&mapping, "mapping", "", "device-mapper name: the volume appears as /dev/mapper/NAME")
		c.Flags().BoolVar(&testOnly, "test-only", false, "only check that the key opens the volume (cryptsetup --test-passphrase)")
	}
	return c
}

// agent builds an agent from the flags.
func (f *agentFlags) agent(ctx context.Context, d *Deps) (*agent.Agent, *slog.Logger, func(), error) {
	log, err := newLogger(d, f.logLevel)
	if err != nil {
		return nil, nil, nil, err
	}
	var missing []string
	for _, m := range []struct{ flag, v string }{{"--server", f.server}, {"--ca", f.caFile}, {"--class", f.class}, {"--attestation", f.variant}} {
		if m.v == "" {
			missing = append(missing, m.flag)
		}
	}
	if len(missing) > 0 {
		return nil, nil, nil, usageError("missing %s (see 'hoheit agent --help')", strings.Join(missing, ", "))
	}
	if f.name == "" {
		h, err := os.Hostname()
		if err != nil {
			return nil, nil, nil, usageError("--name is required: the host name is unknown (%v)", err)
		}
		f.name = strings.ToLower(h)
	}
	ca, err := os.ReadFile(f.caFile)
	if err != nil {
		return nil, nil, nil, usageError("--ca: %v", err)
	}
	iss, closeIssuer, err := f.issuer(ctx)
	if err != nil {
		return nil, nil, nil, err
	}
	mc, err := f.meshConfig()
	if err != nil {
		closeIssuer()
		return nil, nil, nil, err
	}
	cfg := agent.Config{Server: f.server, CA: ca, NodeID: f.name, Class: f.class, Issuer: iss, Log: log, Mesh: mc}
	if f.forwarding && f.workloads == "" {
		closeIssuer()
		return nil, nil, nil, usageError("--enable-forwarding needs --workloads")
	}
	if f.workloads != "" {
		if mc == nil {
			closeIssuer()
			return nil, nil, nil, usageError("--workloads needs --mesh")
		}
		if cfg.Workloads, err = readWorkloads(f.workloads); err != nil {
			closeIssuer()
			return nil, nil, nil, usageError("%v", err)
		}
	}
	a, err := agent.New(cfg)
	if err != nil {
		closeIssuer()
		return nil, nil, nil, usageError("%v", err)
	}
	return a, log, closeIssuer, nil
}

func (f *agentFlags) issuer(ctx context.Context) (attest.Issuer, func(), error) {
	nop := func() {}
	switch f.variant {
	case attest.VariantInsecure:
		return insecure.Issuer{}, nop, nil
	case attest.VariantTPM:
		iss, err := tpm.Open(ctx, tpm.IssuerConfig{Device: f.tpmDev, EventLogPath: f.eventLog})
		if err != nil {
			return nil, nil, fmt.Errorf("opening the TPM %s: %w", f.tpmDev, err)
		}
		return iss, func() { iss.Close() }, nil
	case attest.VariantSNP:
		iss, err := snp.OpenIssuer()
		if err != nil {
			return nil, nil, fmt.Errorf("opening the SEV-SNP guest device: %w", err)
		}
		return iss, nop, nil
	case attest.VariantTDX:
		iss, err := tdx.OpenIssuer()
		if err != nil {
			return nil, nil, fmt.Errorf("opening the TDX guest device: %w", err)
		}
		return iss, nop, nil
	}
	return nil, nil, usageError("--attestation %q: want tpm, sev-snp, tdx or insecure", f.variant)
}

// validIfName reports whether Linux accepts name as an interface name.
func validIfName(name string) bool {
	if name == "" || len(name) > 15 || name == "." || name == ".." {
		return false
	}
	return !strings.ContainsAny(name, "/: \t\n")
}
