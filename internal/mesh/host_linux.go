package mesh

import (
	"os"

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
