package store

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hoheit/hoheit/internal/audit"
)

// Environment of the child process TestCrashDurability starts.
const (
	crashEnvDB    = "HOHEIT_STORE_CRASH_DB"
	crashEnvRound = "HOHEIT_STORE_CRASH_ROUND"
)

// TestCrashDurability runs a stream of joins (node upsert + audit append, one
// transaction each) from several goroutines in a child process, kills it with
// SIGKILL mid-stream, and checks on reopening that every join whose Update had
// returned is there, that no node exists without its audit entry, and that
// the chain verifies. Three rounds on the same database: each recovers from
// the crash before.
func TestCrashDurability(t *testing.T) {
	if path := os.Getenv(crashEnvDB); path != "" {
		crashChild(path, os.Getenv(crashEnvRound))
		return
	}
	path := filepath.Join(t.TempDir(), "hoheit.db")
	acked := map[string]bool{}
	for round := range 3 {
		ids := runAndKill(t, path, round, 200+100*round)
		for _, id := range ids {
			acked[id] = true
		}
		checkAfterCrash(t, path, acked)
	}
}

// crashChild joins nodes until it is killed, printing "ack ID" after each
// Update has returned. It stops by itself after a minute or 100,000 joins.
func crashChild(path, round string) {
	ctx := context.Background()
	s, err := OpenSQLite(ctx, path)
	if err != nil {
		fmt.Println("error", err)
		os.Exit(2)
	}
	deadline := time.Now().Add(time.Minute)
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := 0; i < 25000 && time.Now().Before(deadline); i++ {
				id := fmt.Sprintf("r%s-w%d-%d", round, w, i)
				if err := join(ctx, s, id); err != nil {
					fmt.Println("error", err)
					os.Exit(2)
				}
				os.Stdout.WriteString("ack " + id + "\n") // one write(2): whole lines
			}
		})
	}
	wg.Wait()
	os.Exit(3) // never killed: the parent reports it
}

// runAndKill starts the child, kills it after it acknowledged n joins, and
// returns every join it acknowledged.
func runAndKill(t *testing.T, path string, round, n int) []string {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashDurability$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashEnvDB+"="+path, fmt.Sprintf("%s=%d", crashEnvRound, round))
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	timer := time.AfterFunc(2*time.Minute, func() { cmd.Process.Kill() }) // never hang the suite
	defer timer.Stop()
	var ids []string
	killed := false
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		line := sc.Text()
		id, ok := strings.CutPrefix(line, "ack ")
		if !ok {
			if strings.HasPrefix(line, "error") {
				t.Errorf("child: %s", line)
			}
			continue
		}
		ids = append(ids, id)
		if len(ids) == n && !killed {
			if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			killed = true
		}
	}
	err = cmd.Wait()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("child ended with %v, want killed by SIGKILL (acknowledged %d joins)", err, len(ids))
	}
	if len(ids) < n {
		t.Fatalf("child acknowledged %d joins, want at least %d", len(ids), n)
	}
	t.Logf("round %d: killed after %d acknowledged joins (%d acknowledged in all)", round, n, len(ids))
	return ids
}

func checkAfterCrash(t *testing.T, path string, acked map[string]bool) {
	t.Helper()
	ctx := context.Background()
	s, err := OpenSQLite(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var integrity string
	if err := s.(*sqliteStore).w.QueryRow(`PRAGMA integrity_check`).Scan(&integrity); err != nil || integrity != "ok" {
		t.Fatalf("integrity_check = %q, %v", integrity, err)
	}
	err = s.View(ctx, func(tx ReadTx) error {
		nodes, err := tx.Nodes(ctx)
		if err != nil {
			return err
		}
		entries, err := tx.AuditEntries(ctx, 1, 0)
		if err != nil {
			return err
		}
		joined := map[string]bool{}
		for i, e := range entries {
			if e.Seq != uint64(i+1) {
				return fmt.Errorf("entry %d has seq %d", i+1, e.Seq)
			}
			if e.Type == audit.TypeJoin {
				joined[e.Node] = true
			}
		}
		present := map[string]bool{}
		for _, n := range nodes {
			present[n.ID] = true
			if !joined[n.ID] {
				t.Errorf("node %s exists without its audit entry", n.ID)
			}
		}
		for id := range acked {
			if !present[id] || !joined[id] {
				t.Errorf("join %s returned before the kill but is lost (node %v, audit %v)", id, present[id], joined[id])
			}
		}
		if len(nodes) != len(joined) {
			t.Errorf("%d nodes but %d join entries", len(nodes), len(joined))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	verifyLog(t, s)
}
