package mesh

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
)

func TestPick(t *testing.T) {
	all := hostCaps{kernelWireGuard: true, tunUsable: true}
	tunOnly := hostCaps{tunUsable: true}
	none := hostCaps{}
	tests := []struct {
		want   Datapath
		filter bool
		host   hostCaps
		got    Datapath
		err    bool
	}{
		{Auto, false, all, Kernel, false},
		{Auto, true, all, TUN, false},
		{"", false, tunOnly, TUN, false},
		{Auto, false, none, Netstack, false},
		{Kernel, false, tunOnly, Kernel, false}, // openKernel decides: an existing interface, or the module
		{Kernel, true, all, "", true},
		{TUN, false, none, "", true},
		{TUN, false, all, TUN, false},
		{Netstack, false, all, Netstack, false},
		{"ebpf", false, all, "", true},
	}
	for _, tt := range tests {
		got, err := pick(tt.want, tt.filter, tt.host)
		if got != tt.got || (err != nil) != tt.err {
			t.Errorf("pick(%q, filter=%v, %+v) = %q, %v; want %q, err=%v", tt.want, tt.filter, tt.host, got, err, tt.got, tt.err)
		}
		if err != nil && tt.want != "ebpf" && !errors.Is(err, ErrUnavailable) {
			t.Errorf("pick(%q): error %v is not ErrUnavailable", tt.want, err)
		}
	}
}

func TestPickHere(t *testing.T) {
	// Kernel is decided when the device opens (TestOpenKernelNoInterface).
	if d, err := Pick(Kernel); err != nil || d != Kernel {
		t.Fatal(d, err)
	}
	if d, err := Pick(Netstack); err != nil || d != Netstack {
		t.Fatal(d, err)
	}
}

func TestConfigValidate(t *testing.T) {
	var self, k1, k2, psk Key
	self[0], k1[0], k2[0], psk[0] = 1, 2, 3, 9
	pfx := netip.MustParsePrefix
	ok := Peer{PublicKey: k1, PresharedKey: psk, AllowedIPs: []netip.Prefix{pfx("fd00::2/128")}}
	tests := []struct {
		name string
		cfg  Config
		err  string
	}{
		{"valid", Config{Addresses: []netip.Prefix{pfx("fd00::1/64")}, Peers: []Peer{ok}}, ""},
		{"no public key", Config{Peers: []Peer{{PresharedKey: psk}}}, "no public key"},
		{"self", Config{Peers: []Peer{{PublicKey: self, PresharedKey: psk}}}, "this node"},
		{"twice", Config{Peers: []Peer{ok, ok}}, "twice"},
		{"no psk", Config{Peers: []Peer{{PublicKey: k1}}}, "pre-shared"},
		{"overlap", Config{Peers: []Peer{ok, {PublicKey: k2, PresharedKey: psk, AllowedIPs: []netip.Prefix{pfx("fd00::/64")}}}}, "overlaps"},
		{"bad endpoint", Config{Peers: []Peer{{PublicKey: k1, PresharedKey: psk, Endpoints: []netip.AddrPort{netip.MustParseAddrPort("127.0.0.1:0")}}}}, "endpoint"},
		{"bad address", Config{Addresses: []netip.Prefix{{}}}, "address"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.validate(self)
			if tt.err == "" && err != nil || tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)) {
				t.Fatalf("validate: %v, want %q", err, tt.err)
			}
		})
	}
}

func TestKeys(t *testing.T) {
	priv := newKey(t)
	pub, err := PublicKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	back, err := ParseKey(pub.String())
	if err != nil || back != pub {
		t.Fatal(back, err)
	}
	if _, err := ParseKey("short"); err == nil {
		t.Fatal("short key parsed")
	}
	if _, err := PublicKey(priv[:31]); err == nil {
		t.Fatal("31-byte private key accepted")
	}
	d, err := OpenNetstack(Options{PrivateKey: priv, Addresses: []netip.Prefix{netip.MustParsePrefix("fd00::1/64")}})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if d.PublicKey() != pub {
		t.Fatal("device public key differs from crypto/ecdh's")
	}
	if err := d.Apply(t.Context(), Config{Addresses: []netip.Prefix{netip.MustParsePrefix("fd00::2/64")}}); !errors.Is(err, ErrAddressChange) {
		t.Fatalf("netstack address change: %v", err)
	}
}
