//go:build integration

package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/hoheit/hoheit/internal/agent"
	"github.com/hoheit/hoheit/internal/api"
	"github.com/hoheit/hoheit/internal/attest/insecure"
	"github.com/hoheit/hoheit/internal/audit"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// hoheitBinary builds the binary once per test run.
func hoheitBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "hoheit-bin-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "hoheit")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// devServer is `hoheit server --dev` as a separate process.
type devServer struct {
	t      *testing.T
	cmd    *exec.Cmd
	dir    string
	addr   string
	stderr *bytes.Buffer
	exited chan struct{}
	caPEM  []byte
	token  string
	client *http.Client
}

func startDevServer(t *testing.T, dir string) *devServer {
	t.Helper()
	s := &devServer{t: t, dir: dir, addr: freeAddr(t), stderr: &bytes.Buffer{}, exited: make(chan struct{})}
	s.cmd = exec.Command(hoheitBinary(t), "server", "--dev", "--data-dir", dir, "--listen", s.addr, "--log-level", "warn")
	s.cmd.Stderr = &syncWriter{w: s.stderr}
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { s.cmd.Wait(); close(s.exited) }()
	t.Cleanup(func() { s.cmd.Process.Kill(); <-s.exited })
	deadline := time.Now().Add(30 * time.Second)
	for {
		select {
		case <-s.exited:
			t.Fatalf("server exited: %s", s.stderr)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("server did not come up: %s", s.stderr)
		}
		if pemBytes, err := os.ReadFile(filepath.Join(dir, "ca.pem")); err == nil {
			pool := x509.NewCertPool()
			if pool.AppendCertsFromPEM(pemBytes) {
				c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
				if resp, err := c.Get("https://" + s.addr + api.PathHealth); err == nil {
					resp.Body.Close()
					s.caPEM, s.client = pemBytes, c
					break
				}
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	tok, err := os.ReadFile(filepath.Join(dir, "admin.token"))
	if err != nil {
		t.Fatal(err)
	}
	s.token = strings.TrimSpace(string(tok))
	return s
}

func (s *devServer) url() string { return "https://" + s.addr }

func (s *devServer) get(path string) []byte {
	s.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, s.url()+path, nil)
	req.Header.Set("Authorization", "Bearer "+s.token)
	resp, err := s.client.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		s.t.Fatalf("GET %s: %d %s", path, resp.StatusCode, b)
	}
	return b
}

type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (w *syncWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.w.Write(p)
}

// TestServerKilledMidStream: the server is SIGKILLed while agents join. Every
// join an agent saw succeed has its join and key-release entries in the
// audit log after restart, and the log verifies.
func TestServerKilledMidStream(t *testing.T) {
	dir := t.TempDir()
	srv := startDevServer(t, dir)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var (
		mu     sync.Mutex
		joined []string
		n      atomic.Int64
		wg     sync.WaitGroup
	)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; ctx.Err() == nil; i++ {
				id := fmt.Sprintf("n-%d-%d", w, i)
				a, err := agent.New(agent.Config{Server: srv.url(), CA: srv.caPEM, NodeID: id, Class: "dev", Issuer: insecure.Issuer{}, Log: log, Timeout: 5 * time.Second})
				if err != nil {
					t.Error(err)
					return
				}
				err = a.Join(ctx)
				a.Close()
				if err != nil {
					return // the server died
				}
				if _, ok := a.Key(api.PurposeDisk); ok {
					t.Error("keys survived Close")
				}
				mu.Lock()
				joined = append(joined, id)
				mu.Unlock()
				n.Add(1)
			}
		}(w)
	}
	for n.Load() < 150 {
		select {
		case <-srv.exited:
			t.Fatalf("server exited early: %s", srv.stderr)
		case <-time.After(10 * time.Millisecond):
		}
	}
	if err := srv.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-srv.exited
	cancel()
	wg.Wait()
	t.Logf("%d joins acknowledged before SIGKILL", len(joined))

	again := startDevServer(t, dir)
	export := again.get(api.PathAudit)
	pub, err := audit.ParsePublicKey(again.get(api.PathAuditKey))
	if err != nil {
		t.Fatal(err)
	}
	sum, err := audit.Verify(bytes.NewReader(export), pub)
	if err != nil {
		t.Fatalf("audit log after SIGKILL does not verify: %v", err)
	}
	seen := map[string]map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(export))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		for _, typ := range []string{"join", "key-release"} {
			if strings.Contains(line, `"type":"`+typ+`"`) {
				i := strings.Index(line, `"node":"`)
				node := line[i+8:]
				node = node[:strings.IndexByte(node, '"')]
				if seen[node] == nil {
					seen[node] = map[string]bool{}
				}
				seen[node][typ] = true
			}
		}
	}
	for _, id := range joined {
		if !seen[id]["join"] || !seen[id]["key-release"] {
			t.Errorf("node %s received keys but the audit log has join=%v key-release=%v", id, seen[id]["join"], seen[id]["key-release"])
		}
	}
	t.Logf("audit log: %d entries, intact", sum.Entries)

	// The same through the commands: verify passes, one changed byte fails.
	dir2 := t.TempDir()
	exportFile, keyFile := filepath.Join(dir2, "audit.jsonl"), filepath.Join(dir2, "audit.pub")
	os.WriteFile(keyFile, again.get(api.PathAuditKey), 0o600)
	os.WriteFile(exportFile, export, 0o600)
	verify := func() (int, string) {
		cmd := exec.Command(hoheitBinary(t), "audit", "verify", exportFile, "--key", keyFile)
		out, _ := cmd.CombinedOutput()
		return cmd.ProcessState.ExitCode(), string(out)
	}
	if code, out := verify(); code != 0 || !strings.Contains(out, "intact") {
		t.Fatalf("audit verify of an intact export: exit %d: %s", code, out)
	}
	tampered := bytes.Replace(export, []byte(`"node":"`+joined[len(joined)/2]+`"`), []byte(`"node":"someone-else"`), 1)
	os.WriteFile(exportFile, tampered, 0o600)
	if code, out := verify(); code != 1 || !strings.Contains(out, "NOT intact") {
		t.Fatalf("audit verify of a changed export: exit %d: %s", code, out)
	}
}

// TestAgentFormatsAndUnlocksLUKS runs the agent commands against a dev
// server: the released disk key formats a LUKS2 image and opens it; another
// node's key does not.
func TestAgentFormatsAndUnlocksLUKS(t *testing.T) {
	dir := t.TempDir()
	srv := startDevServer(t, filepath.Join(dir, "server"))
	img := filepath.Join(dir, "volume.img")
	if err := os.WriteFile(img, make([]byte, 20<<20), 0o600); err != nil {
		t.Fatal(err)
	}
	caFile := filepath.Join(dir, "server", "ca.pem")
	agentCmd := func(verb, node string, extra ...string) (int, string) {
		args := append([]string{"agent", verb, "--device", img, "--server", srv.url(), "--ca", caFile, "--class", "dev", "--attestation", "insecure", "--name", node, "--log-level", "warn"}, extra...)
		cmd := exec.Command(hoheitBinary(t), args...)
		out, _ := cmd.CombinedOutput()
		return cmd.ProcessState.ExitCode(), string(out)
	}
	if code, out := agentCmd("format", "db-1"); code != 0 {
		t.Fatalf("format: exit %d: %s", code, out)
	}
	if code, out := agentCmd("unlock", "db-1", "--test-only"); code != 0 || !strings.Contains(out, "opens") {
		t.Fatalf("unlock with the node's own key: exit %d: %s", code, out)
	}
	if code, out := agentCmd("unlock", "db-2", "--test-only"); code == 0 || !strings.Contains(out, "no key slot") {
		t.Fatalf("another node's key opened the volume: exit %d: %s", code, out)
	}
}
