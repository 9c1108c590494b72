package mesh

import (
	"net/netip"
	"slices"
)

// meshRoutes returns the prefixes the host must route into the mesh device
// for cfg: every peer's allowed IP that the on-link prefixes of the node's
// own addresses do not cover. Peers' mesh addresses lie inside the mesh
// prefix and need no route of their own; what is left are the networks
// behind peers (their workloads, such as a container bridge). The result
// is masked, sorted and without duplicates.
//
// refused are prefixes that would pull the tunnel into itself and are not
// routed: a prefix of length 0 (a default route would take the WireGuard
// packets and the control plane's connection too) and any prefix that
// contains one of the peers' endpoints.
func meshRoutes(cfg Config) (routes, refused []netip.Prefix) {
	onLink := make([]netip.Prefix, 0, len(cfg.Addresses))
	for _, a := range cfg.Addresses {
		onLink = append(onLink, a.Masked())
	}
	var endpoints []netip.Addr
	for _, p := range cfg.Peers {
		for _, e := range p.Endpoints {
			endpoints = append(endpoints, e.Addr().Unmap())
		}
	}
	covered := func(p netip.Prefix) bool {
		for _, o := range onLink {
			if o.Addr().Is4() == p.Addr().Is4() && o.Bits() <= p.Bits() && o.Contains(p.Addr()) {
				return true
			}
		}
		return false
	}
	for _, peer := range cfg.Peers {
		for _, p := range peer.AllowedIPs {
			p = p.Masked()
			if !p.IsValid() || covered(p) {
				continue
			}
			if p.Bits() == 0 || slices.ContainsFunc(endpoints, p.Contains) {
				refused = append(refused, p)
				continue
			}
			routes = append(routes, p)
		}
	}
	return sortPrefixes(routes), sortPrefixes(refused)
}

func sortPrefixes(ps []netip.Prefix) []netip.Prefix {
	slices.SortFunc(ps, netip.Prefix.Compare)
	return slices.Compact(ps)
}

// familiesWithout returns the prefixes of routes whose address family has
// no address in addrs: the node routes them into the mesh but sends from
// no mesh address of that family, so peers drop what it sends there.
func familiesWithout(routes, addrs []netip.Prefix) []netip.Prefix {
	has4 := slices.ContainsFunc(addrs, func(a netip.Prefix) bool { return a.Addr().Is4() })
	has6 := slices.ContainsFunc(addrs, func(a netip.Prefix) bool { return a.Addr().Is6() })
	var out []netip.Prefix
	for _, r := range routes {
		if (r.Addr().Is4() && !has4) || (r.Addr().Is6() && !has6) {
			out = append(out, r)
		}
	}
	return out
}
