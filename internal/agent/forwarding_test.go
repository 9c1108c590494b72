package agent

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/hoheit/hoheit/internal/api"
)

// TestCheckForwarding runs the check against a fake /proc/sys: it looks
// only at the families the workloads use, warns naming the sysctl, and
// changes a switch only when asked to.
func TestCheckForwarding(t *testing.T) {
	v4 := []api.Workload{{Name: "db", Addresses: []string{"10.200.1.10/32"}}}
	both := []api.Workload{{Name: "db", Addresses: []string{"10.200.1.10"}}, {Name: "web", Addresses: []string{"fd00:c8:1::10"}}}
	for _, tc := range []struct {
		name     string
		ws       []api.Workload
		ip4, ip6 string // current values; "" leaves the file out
		enable   bool
		off      []string
		warn     string
		after4   string
		after6   string
	}{
		{name: "on", ws: both, ip4: "1", ip6: "1", after4: "1", after6: "1"},
		{name: "IPv4 off", ws: both, ip4: "0", ip6: "1", off: []string{"net.ipv4.ip_forward"},
			warn: "sysctl -w net.ipv4.ip_forward=1", after4: "0", after6: "1"},
		{name: "IPv6 off, no IPv6 workloads", ws: v4, ip4: "1", ip6: "0", after4: "1", after6: "0"},
		{name: "both off", ws: both, ip4: "0", ip6: "0", off: []string{"net.ipv4.ip_forward", "net.ipv6.conf.all.forwarding"},
			warn: "net.ipv6.conf.all.forwarding=1", after4: "0", after6: "0"},
		{name: "enable", ws: both, ip4: "0", ip6: "0", enable: true, after4: "1", after6: "1"},
		{name: "unreadable", ws: v4, off: []string{"net.ipv4.ip_forward"}, warn: "cannot read"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			write := func(rel, v string) {
				if v == "" {
					return
				}
				p := filepath.Join(dir, rel)
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, []byte(v+"\n"), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			write("net/ipv4/ip_forward", tc.ip4)
			write("net/ipv6/conf/all/forwarding", tc.ip6)
			var logs bytes.Buffer
			off := checkForwarding(dir, tc.ws, tc.enable, slog.New(slog.NewTextHandler(&logs, nil)))
			if !slices.Equal(off, tc.off) {
				t.Errorf("off %v, want %v", off, tc.off)
			}
			if tc.warn != "" && !strings.Contains(logs.String(), tc.warn) {
				t.Errorf("log does not say %q:\n%s", tc.warn, logs.String())
			}
			if tc.warn == "" && strings.Contains(logs.String(), "level=WARN") {
				t.Errorf("unexpected warning:\n%s", logs.String())
			}
			for rel, want := range map[string]string{"net/ipv4/ip_forward": tc.after4, "net/ipv6/conf/all/forwarding": tc.after6} {
				if want == "" {
					continue
				}
				got, _ := os.ReadFile(filepath.Join(dir, rel))
				if strings.TrimSpace(string(got)) != want {
					t.Errorf("%s is %q afterwards, want %s", rel, got, want)
				}
			}
		})
	}
}
