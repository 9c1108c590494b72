//go:build linux

package mesh

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"testing"
)

// TestOpenKernelNoInterface: without the WireGuard module and without an
// existing WireGuard interface of the name, the kernel datapath is
// unavailable, and the error says what to do. No root needed. The module
// is pinned absent, so the test means the same on a kernel that has it
// (where TestKernelInNamespaces also checks that Open creates the link).
func TestOpenKernelNoInterface(t *testing.T) {
	defer func(f func() bool) { kernelModule = f }(kernelModule)
	kernelModule = func() bool { return false }
	_, err := Open(context.Background(), Options{Datapath: Kernel, PrivateKey: newKey(t),
		InterfaceName: "hoheit-nx0", Addresses: []netip.Prefix{netip.MustParsePrefix("fd99::1/64")}})
	if !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Open(kernel) = %v, want ErrUnavailable", err)
	}
	if !strings.Contains(err.Error(), "wireguard-go") {
		t.Errorf("error does not say how to provide an interface: %v", err)
	}
}
