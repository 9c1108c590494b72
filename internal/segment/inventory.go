package segment

import (
	"bytes"
	"fmt"
	"net/netip"
	"strings"

	"go.yaml.in/yaml/v3"
)

type rawInventory struct {
	Nodes []struct {
		ID        string            `yaml:"id"`
		Labels    map[string]string `yaml:"labels"`
		Addresses []string          `yaml:"addresses"`
	} `yaml:"nodes"`
	Workloads []struct {
		Name      string            `yaml:"name"`
		Node      string            `yaml:"node"`
		Labels    map[string]string `yaml:"labels"`
		Addresses []string          `yaml:"addresses"`
	} `yaml:"workloads"`
}

// ParseInventory reads an inventory file (examples/segment/inventory.yaml):
// nodes with id, labels and mesh addresses, workloads with name, node,
// labels and addresses. Addresses are prefixes or single addresses.
func ParseInventory(data []byte) (Inventory, error) {
	var raw rawInventory
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&raw); err != nil {
		return Inventory{}, yamlErr(err)
	}
	var inv Inventory
	for _, n := range raw.Nodes {
		addrs, err := parseAddrs(n.Addresses)
		if err != nil {
			return Inventory{}, fmt.Errorf("node %q: %w", n.ID, err)
		}
		inv.Nodes = append(inv.Nodes, Node{ID: NodeID(n.ID), Labels: n.Labels, Addresses: addrs})
	}
	for _, w := range raw.Workloads {
		addrs, err := parseAddrs(w.Addresses)
		if err != nil {
			return Inventory{}, fmt.Errorf("workload %q: %w", w.Name, err)
		}
		inv.Workloads = append(inv.Workloads, Workload{Name: w.Name, Node: NodeID(w.Node), Labels: w.Labels, Addresses: addrs})
	}
	return inv, nil
}

func parseAddrs(in []string) ([]netip.Prefix, error) {
	out := make([]netip.Prefix, 0, len(in))
	for _, s := range in {
		if strings.Contains(s, "/") {
			p, err := netip.ParsePrefix(s)
			if err != nil {
				return nil, err
			}
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(s)
		if err != nil {
			return nil, err
		}
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, nil
}
