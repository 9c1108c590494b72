package cli

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hoheit/hoheit/internal/segment"
)

var updateGolden = flag.Bool("update", false, "rewrite golden files under testdata/")

const (
	segData    = "testdata/segment"
	segExample = "../../examples/segment"
)

// TestSegmentCommands runs each `hoheit segment` case and compares exit
// code, stdout, stderr and any -o file with testdata/segment/NAME.golden
// (go test -run TestSegmentCommands -update rewrites them).
func TestSegmentCommands(t *testing.T) {
	shop := segExample + "/shop.yaml"
	inv := segExample + "/inventory.yaml"
	cases := []struct {
		name string
		args []string
		code int
		// out names the -o file; its content goes into the golden file.
		out string
	}{
		{name: "test-ok", args: []string{"test", shop}},
		{name: "test-fail", args: []string{"test", segData + "/failing.yaml"}, code: ExitFindings},
		{name: "test-broken", args: []string{"test", segData + "/broken.yaml"}, code: ExitFindings},
		{name: "test-notests", args: []string{"test", segData + "/notests.yaml"}},
		{name: "test-missing-file", args: []string{"test", segData + "/nonexistent.yaml"}, code: ExitUsage},
		{name: "test-no-args", args: []string{"test"}, code: ExitUsage},

		{name: "compile-all", args: []string{"compile", shop, "--inventory", inv}},
		{name: "compile-node", args: []string{"compile", shop, "--inventory", inv, "--node", "dc-berlin-db", "--node", "ops-1"}},
		{name: "compile-unknown-node", args: []string{"compile", shop, "--inventory", inv, "--node", "nope"}, code: ExitUsage},
		{name: "compile-no-inventory", args: []string{"compile", shop}, code: ExitUsage},
		{name: "compile-failing-tests", args: []string{"compile", segData + "/failing.yaml", "--inventory", inv, "--node", "dc-berlin-db"}},

		{name: "export-networkpolicy", args: []string{"export", shop, "--format", "networkpolicy",
			"--namespace", "web=shop", "--namespace", "pricelist=shop", "--namespace", "billing=shop", "--namespace", "monitoring=ops"}},
		{name: "export-cilium-map", args: []string{"export", shop, "--format", "cilium", "--namespace-map", segData + "/namespaces.yaml", "-o", "out.yaml"}, out: "out.yaml"},
		{name: "export-ranges", args: []string{"export", segData + "/notests.yaml", "--format", "networkpolicy", "--namespace", "web=a", "--namespace", "pricelist=b"}},
		{name: "export-no-namespace", args: []string{"export", shop, "--format", "cilium"}, code: ExitUsage},
		{name: "export-both-namespace-flags", args: []string{"export", shop, "--format", "cilium", "--namespace", "web=shop", "--namespace-map", segData + "/namespaces.yaml"}, code: ExitUsage},
		{name: "export-bad-format", args: []string{"export", shop, "--format", "calico", "--namespace", "web=shop"}, code: ExitUsage},
		{name: "export-no-format", args: []string{"export", shop, "--namespace", "web=shop"}, code: ExitUsage},
		{name: "export-bad-namespace", args: []string{"export", shop, "--format", "cilium", "--namespace", "web=Shop_1"}, code: ExitUsage},
		{name: "export-bad-namespace-flag", args: []string{"export", shop, "--format", "cilium", "--namespace", "web"}, code: ExitUsage},
		{name: "export-unknown-identity", args: []string{"export", shop, "--format", "cilium", "--namespace", "webshop=shop"}, code: ExitFindings},

		{name: "propose", args: []string{"propose", segData + "/flows.json"}},
		{name: "propose-base", args: []string{"propose", segData + "/flows.json", "--base", shop, "-o", "proposed.yaml"}, out: "proposed.yaml"},
		{name: "propose-label-mode", args: []string{"propose", segData + "/flows.json", "--identity-label", "k8s-app", "--mode", "monitor"}},
		{name: "propose-mode-with-base", args: []string{"propose", segData + "/flows.json", "--base", shop, "--mode", "monitor"}, code: ExitUsage},
		{name: "propose-bad-mode", args: []string{"propose", segData + "/flows.json", "--mode", "enforce"}, code: ExitUsage},
		{name: "propose-not-json", args: []string{"propose", shop}, code: ExitFindings},
		{name: "propose-unknown-field", args: []string{"propose", segData + "/flows-unknown-field.json"}, code: ExitFindings},
		{name: "propose-bad-name", args: []string{"propose", segData + "/flows-bad-name.json"}, code: ExitFindings},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			args := append([]string{"segment"}, tc.args...)
			for i, a := range args {
				if a == tc.out && tc.out != "" {
					args[i] = filepath.Join(dir, a)
				}
			}
			got := execute(t, nil, "", false, args...)
			if got.code != tc.code {
				t.Errorf("exit %d, want %d\nstdout: %s\nstderr: %s", got.code, tc.code, got.stdout, got.stderr)
			}
			var b strings.Builder
			b.WriteString("$ hoheit " + strings.Join(append([]string{"segment"}, tc.args...), " ") + "\n")
			b.WriteString("exit " + strconv.Itoa(got.code) + "\n")
			b.WriteString("-- stdout --\n" + got.stdout)
			b.WriteString("-- stderr --\n" + strings.ReplaceAll(got.stderr, dir+string(filepath.Separator), ""))
			if tc.out != "" {
				data, err := os.ReadFile(filepath.Join(dir, tc.out))
				if err != nil {
					t.Fatalf("the -o file: %v", err)
				}
				b.WriteString("-- " + tc.out + " --\n" + string(data))
			}
			golden := filepath.Join(segData, tc.name+".golden")
			if *updateGolden {
				if err := os.WriteFile(golden, []byte(b.String()), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if b.String() != string(want) {
				t.Errorf("output differs from %s (run with -update to accept):\n--- got\n%s\n--- want\n%s", golden, b.String(), want)
			}
		})
	}
}

// TestSegmentProposeRoundTrip checks that propose reads what the server's
// GET /v1/segment/flows writes (encoding/json of []segment.FlowRecord), and
// that what it writes parses, passes its tests and allows the learned flows.
func TestSegmentProposeRoundTrip(t *testing.T) {
	at := time.Date(2026, 11, 2, 8, 0, 0, 0, time.UTC)
	flows := []segment.FlowRecord{
		{FlowKey: segment.FlowKey{Src: "web", Dst: "pricelist", Proto: segment.TCP, Port: 8080, Verdict: segment.AllowUnlisted}, Node: "n1", Count: 5, FirstSeen: at, LastSeen: at.Add(time.Hour)},
		{FlowKey: segment.FlowKey{Src: "web", Dst: "dns", Proto: segment.UDP, Port: 53, Verdict: segment.AllowUnlisted}, Node: "n1", Count: 9, FirstSeen: at, LastSeen: at},
		{FlowKey: segment.FlowKey{Src: "web", Dst: "pricelist", Proto: segment.ICMP, Verdict: segment.Allow}, Node: "n2", Count: 1, FirstSeen: at, LastSeen: at},
	}
	data, err := json.Marshal(flows)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	in, out := filepath.Join(dir, "flows.json"), filepath.Join(dir, "proposed.yaml")
	write(t, in, string(data))
	if got := execute(t, nil, "", false, "segment", "propose", in, "-o", out); got.code != ExitOK {
		t.Fatalf("propose: exit %d: %s", got.code, got.stderr)
	}
	// stdin works too.
	if got := execute(t, nil, string(data), false, "segment", "propose", "-"); got.code != ExitOK || !strings.Contains(got.stdout, "web-to-dns-udp") {
		t.Fatalf("propose -: exit %d: %s %s", got.code, got.stdout, got.stderr)
	}
	text, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	p, err := segment.ParsePolicy(text)
	if err != nil {
		t.Fatalf("the proposal does not parse: %v\n%s", err, text)
	}
	for _, f := range flows {
		if p.Evaluate(map[string]string{"app": f.Src}, map[string]string{"app": f.Dst}, f.Proto, f.Port) == nil {
			t.Errorf("the proposal does not allow the learned flow %s", f)
		}
	}
	if p.Evaluate(map[string]string{"app": "pricelist"}, map[string]string{"app": "web"}, segment.TCP, 8080) != nil {
		t.Error("the proposal allows the reverse of a learned flow")
	}
	if got := execute(t, nil, "", false, "segment", "test", out); got.code != ExitOK {
		t.Fatalf("test of the proposal: exit %d: %s %s", got.code, got.stdout, got.stderr)
	}
}

// FuzzSegmentPropose feeds arbitrary flow exports to `segment propose`'s
// reader: it must never panic, and every export it accepts must give a
// proposal that parses back. Identity names are kept to 29 bytes: rule
// names are "SRC-to-DST[-udp]" and segment.Propose does not shorten them
// below the 63-byte name limit.
func FuzzSegmentPropose(f *testing.F) {
	for _, file := range []string{"flows.json", "flows-bad-name.json", "flows-unknown-field.json"} {
		data, err := os.ReadFile(filepath.Join(segData, file))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		flows, err := decodeFlows(data)
		if err != nil {
			return
		}
		for _, r := range flows {
			if len(r.Src) > 29 || len(r.Dst) > 29 {
				return
			}
		}
		for _, mode := range []segment.Mode{segment.Learn, segment.Protect} {
			out, err := segment.Propose(flows, segment.ProposeOptions{Mode: mode}).Format()
			if err != nil {
				t.Fatalf("Format: %v", err)
			}
			if _, err := segment.ParsePolicy(out); err != nil {
				t.Fatalf("the proposal does not parse: %v\n%s", err, out)
			}
		}
	})
}
