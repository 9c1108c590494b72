// Package cli holds hoheit's cobra commands: each turns flags into calls on
// the packages below and writes the result. It holds no scanning logic.
// Only cmd/hoheit imports it.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/hoheit/hoheit/internal/inventory"
	"github.com/hoheit/hoheit/internal/rules"
)

// Exit codes.
const (
	ExitOK       = 0
	ExitFindings = 1
	ExitUsage    = 2
)

// ReadOptions limit what a scan reads.
type ReadOptions struct {
	MaxInputSize int64
	// MaxDepth is the deepest nesting of objects and lists an input may have.
	MaxDepth int
	// Stdin is read for the path "-".
	Stdin io.Reader
	// Mapped, if set, is told how many bytes of mapped input files become
	// resident and leave again (source.Options.Mapped).
	Mapped func(delta int64)
	// KeepNative, if set, says which normalized types keep their native
	// attributes (source.Options.KeepNative).
	KeepNative func(typ string) bool
}

// ReportOptions are passed to the report writer.
type ReportOptions struct {
	Color       bool
	ToolVersion string
	Now         time.Time
	// ShowUnsupported lists unmodelled types in the table, not only their count.
	ShowUnsupported bool
}

// Deps are what the commands need from the rest of hoheit; main wires the
// real ones, tests may wire others.
type Deps struct {
	// ReadEstate reads files, directories and "-" into an estate.
	ReadEstate func(ctx context.Context, paths []string, opts ReadOptions) (*inventory.Estate, error)
	// WriteReport renders a result in one of Formats.
	WriteReport func(ctx context.Context, w io.Writer, format string, res *rules.Result, opts ReportOptions) error
	Formats     []string
	// Packs holds the embedded rule packs, one folder each, named in PackNames.
	Packs     fs.FS
	PackNames []string
	Version   string
	Stdin     io.Reader
	Stdout    io.Writer
	Stderr    io.Writer
	// IsTerminal reports whether a file descriptor is a terminal.
	IsTerminal func(f any) bool
	// Now is the clock, time.Now unless set.
	Now func() time.Time
}

// ExitError carries an exit code out of a command. Its message, if any, has
// already been printed or is printed by Execute.
type ExitError struct {
	Code int
	Err  error
}

func (e *ExitError) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("exit %d", e.Code)
	}
	return e.Err.Error()
}

func (e *ExitError) Unwrap() error { return e.Err }

func usageError(format string, a ...any) error {
	return &ExitError{Code: ExitUsage, Err: fmt.Errorf(format, a...)}
}

// New builds the command tree.
func New(d Deps) *cobra.Command {
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.IsTerminal == nil {
		d.IsTerminal = func(any) bool { return false }
	}
	root := &cobra.Command{
		Use:   "hoheit",
		Short: "Keep data sovereign across clouds: one set of rules for every tenant",
		Long: `hoheit checks one set of central policies (BSI C5:2020, GDPR, a hardened
baseline) against every cloud at once: Terraform plans and state for AWS,
Azure, Google Cloud, OpenStack and Open Telekom Cloud, Kubernetes manifests,
and snapshots of live tenants. A rule is written once against hoheit's
normalized model (docs/model.md) and holds in every cloud.

Start here:
  hoheit scan examples/estate                  scan the bundled multi-cloud example
  hoheit scan plan.json --format sarif -o hoheit.sarif
  hoheit inventory plan.json                   see what the rules see
  hoheit policy list --framework bsi-c5        the checks and their C5 criteria
  hoheit policy new                            write your own rule, with test cases

Everything works offline: the rule packs are built in, nothing calls home.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetIn(d.Stdin)
	root.SetOut(d.Stdout)
	root.SetErr(d.Stderr)
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return &ExitError{Code: ExitUsage, Err: fmt.Errorf("%w\nRun '%s --help' for usage", err, c.CommandPath())}
	})
	root.AddCommand(newScanCmd(&d), newInventoryCmd(&d), newPolicyCmd(&d), newVersionCmd(&d),
		newRefvaluesCmd(&d), newCollateralCmd(&d), newNodeCmd(&d), newTokenCmd(&d),
		newServerCmd(&d), newAgentCmd(&d), newAuditCmd(&d), newSegmentCmd(&d))
	return root
}

// Execute runs the CLI and returns the process exit code. Errors are printed
// to stderr as one plain message, never a stack trace.
func Execute(ctx context.Context, d Deps, args []string) int {
	root := New(d)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return ExitOK
	}
	var ee *ExitError
	if errors.As(err, &ee) {
		if ee.Err != nil {
			fmt.Fprintf(d.Stderr, "hoheit: %v\n", ee.Err)
		}
		return ee.Code
	}
	fmt.Fprintf(d.Stderr, "hoheit: %v\n", err)
	if errors.Is(err, context.Canceled) {
		return 130
	}
	// Cobra's own usage errors (unknown command, wrong arg count) end here.
	return ExitUsage
}

// openOutput returns the writer for --output, or stdout.
func openOutput(d *Deps, path string) (io.Writer, func() error, error) {
	if path == "" || path == "-" {
		return d.Stdout, func() error { return nil }, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, nil, usageError("cannot write the report: %v", err)
	}
	return f, f.Close, nil
}
