package agent

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/hoheit/hoheit/internal/api"
	"github.com/hoheit/hoheit/internal/segment"
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
			// The server's rules, so that a mistake shows here, at once.
			if _, err := segment.ParseWorkloadAddress(a); err != nil {
				return nil, fmt.Errorf("workloads: %q: %w", w.Name, err)
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
	meshUp := a.dev != nil
	a.mu.Unlock()
	if meshUp {
		a.checkForwarding()
	}
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

// checkForwarding checks, once the mesh is up, that the kernel forwards
// the address families of the node's workloads (see checkForwarding).
func (a *Agent) checkForwarding() {
	ws := a.workloadList()
	if len(ws) == 0 || a.cfg.Mesh == nil {
		return
	}
	checkForwarding("/proc/sys", ws, a.cfg.Mesh.EnableForwarding, a.cfg.Log)
}

// forwardingSysctl is the kernel switch that lets the node forward
// packets of one address family.
type forwardingSysctl struct {
	name string // as sysctl(8) names it
	path string // under /proc/sys
}

// forwardingSysctls returns the switches of the address families the
// workloads use.
func forwardingSysctls(ws []api.Workload) []forwardingSysctl {
	var v4, v6 bool
	for _, w := range ws {
		for _, s := range w.Addresses {
			p, err := segment.ParseAddrOrPrefix(s)
			if err != nil {
				continue
			}
			if p.Addr().Is4() {
				v4 = true
			} else {
				v6 = true
			}
		}
	}
	var out []forwardingSysctl
	if v4 {
		out = append(out, forwardingSysctl{"net.ipv4.ip_forward", "net/ipv4/ip_forward"})
	}
	if v6 {
		out = append(out, forwardingSysctl{"net.ipv6.conf.all.forwarding", "net/ipv6/conf/all/forwarding"})
	}
	return out
}

// checkForwarding makes sure the kernel (procSys is its /proc/sys)
// forwards every address family the workloads use: packets between the
// mesh device and a workload's network (a container bridge, ...) cross
// the host's routing, which passes them on only with IP forwarding on.
// With enable it turns forwarding on; without, it changes nothing and
// logs a warning naming the sysctl. It returns the switches left off.
func checkForwarding(procSys string, ws []api.Workload, enable bool, log *slog.Logger) []string {
	var off []string
	for _, sc := range forwardingSysctls(ws) {
		path := filepath.Join(procSys, sc.path)
		v, err := os.ReadFile(path)
		if err == nil && strings.TrimSpace(string(v)) == "1" {
			continue
		}
		if err != nil {
			log.Warn("cannot read whether the kernel forwards packets to this node's workloads", "sysctl", sc.name, "err", err)
			off = append(off, sc.name)
			continue
		}
		if enable {
			if err := os.WriteFile(path, []byte("1\n"), 0o644); err != nil {
				log.Error("turning IP forwarding on for this node's workloads (--enable-forwarding)", "sysctl", sc.name, "err", err)
				off = append(off, sc.name)
				continue
			}
			log.Info("turned IP forwarding on for this node's workloads (--enable-forwarding)", "sysctl", sc.name)
			continue
		}
		log.Warn("IP forwarding is off: peers cannot reach this node's workloads through the mesh; turn it on with sysctl -w "+sc.name+"=1 (and persist it in /etc/sysctl.d), or start the agent with --enable-forwarding",
			"sysctl", sc.name)
		off = append(off, sc.name)
	}
	return off
}

// workloadList returns the workloads configured (nil: none).
func (a *Agent) workloadList() []api.Workload {
	a.mu.RLock()
	defer a.mu.RUnlock()
	return a.workloads
}
