package segment

import (
	"bytes"
	"fmt"
	"net/netip"

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
		p, err := ParseAddrOrPrefix(s)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

// ParseAddrOrPrefix reads an address (a host prefix) or a prefix (masked),
// as inventories and workload lists write them.
func ParseAddrOrPrefix(s string) (netip.Prefix, error) {
	if a, err := netip.ParseAddr(s); err == nil {
		return netip.PrefixFrom(a, a.BitLen()), nil
	}
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("address %q: want an address or a prefix", s)
	}
	return p.Masked(), nil
}

// ParseWorkloadAddress reads a workload's address or prefix, refusing what
// a node may not claim: wide ranges (they would pull its peers' traffic
// into the tunnel) and addresses that are no unicast host addresses. The
// agent checks its workloads file with it, the server what agents report.
func ParseWorkloadAddress(s string) (netip.Prefix, error) {
	p, err := ParseAddrOrPrefix(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	a := p.Addr()
	switch {
	case a.Zone() != "":
		return netip.Prefix{}, fmt.Errorf("address %q: no zones", s)
	case a.Is4In6():
		return netip.Prefix{}, fmt.Errorf("address %q: write IPv4 addresses as IPv4", s)
	case (a.Is4() && p.Bits() < 16) || (a.Is6() && p.Bits() < 48):
		return netip.Prefix{}, fmt.Errorf("address %q: at most a /16 (IPv4) or /48 (IPv6)", s)
	case a.IsUnspecified() || a.IsLoopback() || a.IsMulticast() || a.IsLinkLocalUnicast() || a.IsLinkLocalMulticast():
		return netip.Prefix{}, fmt.Errorf("address %q: not a unicast host address", s)
	}
	return p, nil
}
