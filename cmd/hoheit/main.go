// Command hoheit keeps data sovereign across clouds: it checks one set of
// central policies against every cloud tenant, Terraform plan and Kubernetes
// manifest. main only wires the packages together; see internal/cli.
package main

import (
	"context"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
	"time"

	"golang.org/x/term"

	"github.com/hoheit/hoheit/internal/cli"
	"github.com/hoheit/hoheit/internal/inventory"
	"github.com/hoheit/hoheit/internal/report"
	"github.com/hoheit/hoheit/internal/rules"
	"github.com/hoheit/hoheit/internal/source"
	"github.com/hoheit/hoheit/policies"
)

// version is set at release builds with -ldflags "-X main.version=v1.2.3".
var version = ""

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Execute(ctx, deps(), os.Args[1:])
	stop()
	os.Exit(code)
}

func deps() cli.Deps {
	return cli.Deps{
		ReadEstate: func(ctx context.Context, paths []string, o cli.ReadOptions) (*inventory.Estate, error) {
			return source.Read(ctx, paths, source.Options{MaxInputSize: o.MaxInputSize, MaxDepth: o.MaxDepth, Stdin: o.Stdin, Mapped: o.Mapped, KeepNative: o.KeepNative})
		},
		WriteReport: func(ctx context.Context, w io.Writer, format string, res *rules.Result, o cli.ReportOptions) error {
			return report.Write(ctx, w, format, res, report.Options{Color: o.Color, ToolVersion: o.ToolVersion, ShowUnsupported: o.ShowUnsupported, Now: func() time.Time { return o.Now }})
		},
		Formats:   report.Formats,
		Packs:     policies.FS,
		PackNames: policies.Packs,
		Version:   buildVersion(),
		Stdin:     os.Stdin,
		Stdout:    os.Stdout,
		Stderr:    os.Stderr,
		IsTerminal: func(f any) bool {
			file, ok := f.(*os.File)
			return ok && term.IsTerminal(int(file.Fd()))
		},
	}
}

func buildVersion() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}
