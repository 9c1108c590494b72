package cli

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/hoheit/hoheit/internal/server"
)

func newServerCmd(d *Deps) *cobra.Command {
	var (
		configPath string
		checkOnly  bool
		dev        bool
		devIPv4    string
		listen     string
		dataDir    string
		logLevel   string
	)
	c := &cobra.Command{
		Use:   "server (--config FILE | --dev)",
		Short: "Run the control plane: verify attestation, release keys, keep the audit log",
		Long: `Run hoheit's control plane. Nodes ('hoheit agent') prove their state by
remote attestation (TPM, AMD SEV-SNP, Intel TDX); the server checks the
evidence against the data owner's signed reference values, and only then
issues the node's certificate and releases its keys, derived from the master
key (a file or an HSM) and sealed post-quantum (ML-KEM-768 + X25519) to the
node. Every join, key release, refusal and revocation goes into a hash-chained,
signed audit log in the same transaction.

  --config FILE     run with a configuration (examples/server.yaml explains
                    every setting)
  --check-config    only validate the configuration, then exit
  --dev             start at once, with no hardware and no setup: SQLite in a
                    temp directory, a file master key, the insecure variant
                    allowed. For trying hoheit out; never for production.

On first start the server writes a bootstrap admin token to
DATA_DIR/admin.token and the CA certificate agents must trust to
DATA_DIR/ca.pem. See docs/api.md for the HTTP API.

Examples:
  hoheit server --dev
  hoheit server --config /etc/hoheit/server.yaml --check-config
  hoheit server --config /etc/hoheit/server.yaml`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log, err := newLogger(d, logLevel)
			if err != nil {
				return err
			}
			switch {
			case dev && configPath != "":
				return usageError("--dev and --config exclude each other")
			case dev:
				if checkOnly {
					return usageError("--check-config needs --config")
				}
				return runDevServer(cmd.Context(), d, log, listen, dataDir, devIPv4)
			case configPath == "":
				return usageError("give --config FILE (see examples/server.yaml), or --dev to try hoheit out")
			case devIPv4 != "":
				return usageError("--mesh-ipv4 goes with --dev; with --config set mesh.ipv4_prefix")
			}
			cfg, err := server.LoadConfig(configPath)
			if err != nil {
				return &ExitError{Code: ExitUsage, Err: err}
			}
			if listen != "" {
				cfg.Listen = listen
			}
			if checkOnly {
				notes, err := cfg.Inspect()
				if err != nil {
					return &ExitError{Code: ExitUsage, Err: fmt.Errorf("%s: %w", configPath, err)}
				}
				fmt.Fprintf(d.Stdout, "%s: configuration is valid (variants: %s; keys: %s)\n", configPath, strings.Join(cfg.Attestation.Allow, ", "), cfg.Keys.Backend)
				for _, n := range notes {
					fmt.Fprintln(d.Stdout, "  "+n)
				}
				return nil
			}
			return runServer(cmd.Context(), d, log, cfg, false)
		},
	}
	c.Flags().StringVar(&configPath, "config", "", "configuration file (YAML)")
	c.Flags().BoolVar(&checkOnly, "check-config", false, "validate the configuration and exit")
	c.Flags().BoolVar(&dev, "dev", false, "development mode: no hardware, no setup, insecure attestation allowed")
	c.Flags().StringVar(&listen, "listen", "", "address to listen on (overrides the config; --dev default 127.0.0.1:8443)")
	c.Flags().StringVar(&dataDir, "data-dir", "", "with --dev: keep state here instead of a new temp directory")
	c.Flags().StringVar(&devIPv4, "mesh-ipv4", "", "with --dev: also give mesh nodes IPv4 addresses from this `PREFIX` (e.g. 100.80.0.0/16; mesh.ipv4_prefix in a config)")
	c.Flags().StringVar(&logLevel, "log-level", "info", "debug, info, warn or error")
	return c
}

func newLogger(d *Deps, level string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, usageError("--log-level %q: want debug, info, warn or error", level)
	}
	return slog.New(slog.NewTextHandler(d.Stderr, &slog.HandlerOptions{Level: l})), nil
}

func runDevServer(ctx context.Context, d *Deps, log *slog.Logger, listen, dataDir, ipv4 string) error {
	if listen == "" {
		listen = "127.0.0.1:8443"
	}
	if dataDir == "" {
		dir, err := os.MkdirTemp("", "hoheit-dev-")
		if err != nil {
			return err
		}
		dataDir = dir
	} else if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return err
	}
	cfg, err := server.DevConfig(dataDir, listen)
	if err != nil {
		return err
	}
	if ipv4 != "" {
		cfg.Mesh.IPv4Prefix = ipv4
		if err := cfg.Validate(); err != nil {
			return usageError("--mesh-ipv4: %v", err)
		}
	}
	return runServer(ctx, d, log, cfg, true)
}

const devBanner = `
  ***********************************************************************
  *  hoheit server --dev: DEVELOPMENT MODE. NOT FOR PRODUCTION.         *
  *  - the INSECURE attestation variant is allowed: nodes join without  *
  *    hardware proof, and are marked insecure everywhere               *
  *  - the master key is a file in a temp directory, its passphrase     *
  *    next to it                                                       *
  *  - state lives in %-51s*
  ***********************************************************************
`

func runServer(ctx context.Context, d *Deps, log *slog.Logger, cfg *server.Config, dev bool) error {
	if dev {
		fmt.Fprintf(d.Stderr, devBanner, shorten(cfg.DataDir, 51))
	}
	srv, err := server.Open(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer srv.Close()
	secret, err := srv.EnsureAdminToken(ctx)
	if err != nil {
		return err
	}
	tokenFile := filepath.Join(cfg.DataDir, "admin.token")
	if secret != "" {
		if err := os.WriteFile(tokenFile, []byte(secret+"\n"), 0o600); err != nil {
			return fmt.Errorf("writing the bootstrap admin token: %w", err)
		}
		log.Warn("bootstrap admin token created; keep it safe, create personal tokens, then delete it", "file", tokenFile)
	}
	tlsConf, err := srv.TLSConfig(cfg.Hosts)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", cfg.Listen, err)
	}
	go srv.WatchRefValues(ctx)
	log.Info("hoheit server listening", "addr", "https://"+ln.Addr().String(), "ca", srv.CAFile, "variants", strings.Join(cfg.Attestation.Allow, ","), "keys", cfg.Keys.Backend)
	if dev {
		fmt.Fprintf(d.Stderr, "\nTry it:\n  hoheit agent --server https://%s --ca %s --class dev --attestation insecure\n  HOHEIT_TOKEN_FILE=%s hoheit node list --server https://%s --ca %s\n\n",
			ln.Addr(), srv.CAFile, tokenFile, ln.Addr(), srv.CAFile)
	}
	return srv.Serve(ctx, ln, tlsConf)
}

func shorten(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n+1:]
}
