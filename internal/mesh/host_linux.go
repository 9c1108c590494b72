package mesh

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"slices"
	"strings"

	"github.com/mdlayher/genetlink"
	"golang.org/x/sys/unix"
)

func probeHost() hostCaps {
	return hostCaps{kernelWireGuard: kernelHasWireGuard(), tunUsable: tunUsable()}
}

// kernelHasWireGuard asks generic netlink for the "wireguard" family, which
// exists exactly when the module is loaded (or built in).
func kernelHasWireGuard() bool {
	c, err := genetlink.Dial(nil)
	if err != nil {
		return false
	}
	defer c.Close()
	_, err = c.GetFamily("wireguard")
	return err == nil
}

func tunUsable() bool {
	if _, err := os.Stat("/dev/net/tun"); err != nil {
		return false
	}
	return hasNetAdmin()
}

// hasNetAdmin reads the effective capability set of this process.
func hasNetAdmin() bool {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return false
	}
	return data[unix.CAP_NET_ADMIN/32].Effective&(1<<(unix.CAP_NET_ADMIN%32)) != 0
}

// syncRoutes moves the routes hoheit keeps into interface ifname from old
// (the prefixes it routed there before) to new, with ip(8) in the main
// table: routes in old but not in new are deleted, those in new but not in
// old are added. It returns the prefixes hoheit routes into ifname
// afterwards, as far as it got when it also returns an error; pass that as
// old next time.
//
// Routes hoheit did not add are never changed or deleted: a prefix that
// the host already routes elsewhere (a local container bridge with the
// same prefix, say) is an error and stays as it is, and one the host
// already routes into ifname is used but not taken over (nor deleted
// later). That is why this adds rather than replaces.
func syncRoutes(ctx context.Context, ifname string, old, new []netip.Prefix) ([]netip.Prefix, error) {
	var errs []error
	routed := make([]netip.Prefix, 0, len(new))
	for _, p := range old {
		if slices.Contains(new, p) {
			routed = append(routed, p)
			continue
		}
		if err := delRoute(ctx, ifname, p); err != nil {
			errs = append(errs, err)
			routed = append(routed, p)
		}
	}
	for _, p := range new {
		if slices.Contains(old, p) {
			continue
		}
		added, err := addRoute(ctx, ifname, p)
		if err != nil {
			errs = append(errs, err)
		}
		if added {
			routed = append(routed, p)
		}
	}
	return sortPrefixes(routed), errors.Join(errs...)
}

// addRoute routes p into ifname. added is false when the route existed
// already (into ifname: fine, but not hoheit's to remove later).
func addRoute(ctx context.Context, ifname string, p netip.Prefix) (added bool, err error) {
	out, err := exec.CommandContext(ctx, "ip", "route", "add", p.String(), "dev", ifname).CombinedOutput()
	if err == nil {
		return true, nil
	}
	if !strings.Contains(string(out), "File exists") {
		return false, fmt.Errorf("mesh: ip route add %s dev %s: %v: %s", p, ifname, err, strings.TrimSpace(string(out)))
	}
	fam := "-4"
	if p.Addr().Is6() {
		fam = "-6"
	}
	shown, serr := exec.CommandContext(ctx, "ip", fam, "-o", "route", "show", "exact", p.String()).CombinedOutput()
	if serr != nil {
		return false, fmt.Errorf("mesh: ip route show exact %s: %v: %s", p, serr, strings.TrimSpace(string(shown)))
	}
	for _, line := range strings.Split(strings.TrimSpace(string(shown)), "\n") {
		f := strings.Fields(line)
		if i := slices.Index(f, "dev"); i >= 0 && i+1 < len(f) && f[i+1] == ifname {
			return false, nil
		}
	}
	return false, fmt.Errorf("mesh: %s is already routed on this host (%s), not into %s: hoheit leaves that route alone, so traffic to %s does not enter the mesh; remove the route or the workload that claims %s",
		p, strings.TrimSpace(string(shown)), ifname, p, p)
}

// delRoute removes the route of p into ifname; one already gone is fine.
func delRoute(ctx context.Context, ifname string, p netip.Prefix) error {
	out, err := exec.CommandContext(ctx, "ip", "route", "del", p.String(), "dev", ifname).CombinedOutput()
	if err != nil && !strings.Contains(string(out), "No such process") && !strings.Contains(string(out), "Cannot find device") {
		return fmt.Errorf("mesh: ip route del %s dev %s: %v: %s", p, ifname, err, strings.TrimSpace(string(out)))
	}
	return nil
}
