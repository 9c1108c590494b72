package agent

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"slices"

	"go.yaml.in/yaml/v3"

	"github.com/hoheit/hoheit/internal/api"
)

// ParseWorkloads reads a workloads file (hoheit agent --workloads): a YAML
// list of workloads the node routes, each with a name, labels and
// addresses (prefixes or single addresses), e.g.
//
//   - name: billing-0
//     labels: {app: billing}
//     addresses: [10.88.0.5/32]
//
// The server checks the addresses against every other node's.
func ParseWorkloads(data []byte) ([]api.Workload, error) {
	var ws []api.Workload
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&ws); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("workloads: %w", err)
	}
	names := map[string]bool{}
	for i, w := range ws {
		if w.Name == "" {
			return nil, fmt.Errorf("workloads: entry %d has no name", i+1)
		}
		if names[w.Name] {
			return nil, fmt.Errorf("workloads: %q listed twice", w.Name)
		}
		names[w.Name] = true
		if len(w.Addresses) == 0 {
			return nil, fmt.Errorf("workloads: %q has no addresses", w.Name)
		}
		for _, a := range w.Addresses {
			if _, err := netip.ParsePrefix(a); err == nil {
				continue
			}
			if _, err := netip.ParseAddr(a); err != nil {
				return nil, fmt.Errorf("workloads: %q: %q is no address or prefix", w.Name, a)
			}
		}
	}
	if ws == nil {
		ws = []api.Workload{}
	}
	return ws, nil
}

// SetWorkloads replaces the workloads the node reports, and reports them
// now when the node has joined (otherwise after it joins). The server's
// refusal (an address another node holds, ...) is returned.
func (a *Agent) SetWorkloads(ctx context.Context, ws []api.Workload) error {
	a.mu.Lock()
	a.workloads = slices.Clone(ws)
	if a.workloads == nil {
		a.workloads = []api.Workload{}
	}
	joined := a.cert != nil
	a.mu.Unlock()
	if !joined {
		return nil
	}
	return a.reportWorkloads(ctx)
}

// reportWorkloads sends the node's workloads, if it has any configured.
func (a *Agent) reportWorkloads(ctx context.Context) error {
	a.mu.RLock()
	ws := a.workloads
	a.mu.RUnlock()
	if ws == nil {
		return nil
	}
	if err := a.call(ctx, http.MethodPut, api.PathMeshWorkloads, api.WorkloadsRequest{Workloads: ws}, nil); err != nil {
		return fmt.Errorf("reporting workloads: %w", err)
	}
	return nil
}
