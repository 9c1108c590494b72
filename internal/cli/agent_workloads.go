package cli

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/hoheit/hoheit/internal/agent"
	"github.com/hoheit/hoheit/internal/api"
)

// readWorkloads reads 'hoheit agent --workloads FILE'.
func readWorkloads(path string) ([]api.Workload, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("--workloads: %w", err)
	}
	ws, err := agent.ParseWorkloads(data)
	if err != nil {
		return nil, fmt.Errorf("--workloads %s: %w", path, err)
	}
	return ws, nil
}

// watchWorkloads re-reads the workloads file on SIGHUP and reports it,
// until ctx ends. A file that does not parse, or that the server refuses,
// is logged; the server keeps the last accepted list.
func watchWorkloads(ctx context.Context, a *agent.Agent, path string, log *slog.Logger) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
		}
		ws, err := readWorkloads(path)
		if err != nil {
			log.Error("workloads not reloaded", "err", err)
			continue
		}
		if err := a.SetWorkloads(ctx, ws); err != nil {
			log.Error("workloads not accepted", "err", err)
			continue
		}
		log.Info("workloads reloaded", "file", path, "workloads", len(ws))
	}
}
