package store

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/hoheit/hoheit/internal/audit"
)

func openTest(t testing.TB, path string) Store {
	t.Helper()
	s, err := OpenSQLite(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// rawDB opens the file without the store, as an attacker or a newer binary
// would.
func rawDB(t testing.TB, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", path+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func schemaVersion(t testing.TB, path string) int {
	t.Helper()
	var v int
	if err := rawDB(t, path).QueryRow(`SELECT max(version) FROM schema_version`).Scan(&v); err != nil {
		t.Fatal(err)
	}
	return v
}

func testNode(id string) Node {
	now := time.Date(2026, 3, 1, 10, 0, 0, 42, time.UTC)
	return Node{
		ID: id, Class: "web", Variant: "tpm", HardwareID: "hw-" + id, Status: NodeActive,
		HPKEPublicKey: []byte{1, 2, 3}, CertPublicKey: []byte{4, 5}, WireGuardPublicKey: bytes.Repeat([]byte{6}, 32),
		CertSerial: "serial-" + id, CertNotAfter: now.Add(24 * time.Hour), Claims: []byte(`{"pcrs":{"7":"ab"}}`),
		JoinedAt: now, LastAttestedAt: now, MeshAddress: "fd00::1",
	}
}

func joinRecord(id string) audit.Record {
	return audit.Record{Type: audit.TypeJoin, Node: id, Class: "web", Actor: "node:" + id, RequestID: "req-" + id,
		Details: map[string]string{"variant": "tpm", "cert_serial": "serial-" + id}}
}

func join(ctx context.Context, s Store, id string) error {
	return s.Update(ctx, func(tx Tx) error {
		if err := tx.PutNode(ctx, testNode(id)); err != nil {
			return err
		}
		_, err := tx.Append(ctx, joinRecord(id))
		return err
	})
}

func auditKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// verifyLog signs the head, exports the log and verifies the export.
func verifyLog(t testing.TB, s Store) audit.Summary {
	t.Helper()
	ctx := context.Background()
	key := auditKey(t)
	if _, ok, err := SignAuditHead(ctx, s, key, time.Now()); err != nil || !ok {
		t.Fatalf("SignAuditHead = %v, %v", ok, err)
	}
	var buf bytes.Buffer
	if err := ExportAudit(ctx, s, &buf); err != nil {
		t.Fatal(err)
	}
	sum, err := audit.Verify(&buf, key.Public())
	if err != nil {
		t.Fatalf("exported log does not verify: %v", err)
	}
	return sum
}

func TestMigrations(t *testing.T) {
	ms, err := loadMigrations(sqliteMigrations, "migrations/sqlite")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	cases := []struct {
		name    string
		prepare func(t *testing.T, path string) // before the Open under test
		wantErr error
	}{
		{name: "empty database", prepare: func(*testing.T, string) {}},
		{name: "reopen is idempotent", prepare: func(t *testing.T, path string) {
			s, err := OpenSQLite(ctx, path)
			if err != nil {
				t.Fatal(err)
			}
			if err := join(ctx, s, "n-1"); err != nil {
				t.Fatal(err)
			}
			s.Close()
		}},
		{name: "newer schema refused", wantErr: ErrSchemaTooNew, prepare: func(t *testing.T, path string) {
			s, err := OpenSQLite(ctx, path)
			if err != nil {
				t.Fatal(err)
			}
			s.Close()
			if _, err := rawDB(t, path).Exec(`INSERT INTO schema_version (version, applied_at) VALUES (?, 0)`, len(ms)+1); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "hoheit.db")
			tc.prepare(t, path)
			s, err := OpenSQLite(ctx, path)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("OpenSQLite = %v, want %v", err, tc.wantErr)
				}
				if !strings.Contains(err.Error(), "newer hoheit") {
					t.Errorf("error %q does not say what to do", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if v := schemaVersion(t, path); v != len(ms) {
				t.Errorf("schema version %d, want %d", v, len(ms))
			}
			var n int
			if err := rawDB(t, path).QueryRow(`SELECT count(*) FROM schema_version`).Scan(&n); err != nil || n != len(ms) {
				t.Errorf("schema_version has %d rows (%v), want %d: a migration ran twice", n, err, len(ms))
			}
		})
	}
}

func TestLoadMigrationsRefusesBadSets(t *testing.T) {
	cases := map[string]fstest.MapFS{
		"gap":      {"m/0001_a.sql": {}, "m/0003_c.sql": {}},
		"bad name": {"m/first.sql": {}},
		"not sql":  {"m/0001_a.txt": {}},
	}
	for name, fsys := range cases {
		t.Run(name, func(t *testing.T) {
			if _, err := loadMigrations(fsys, "m"); err == nil {
				t.Fatal("loadMigrations accepted a bad set")
			}
		})
	}
}

func TestSQLiteSettings(t *testing.T) {
	s := openTest(t, filepath.Join(t.TempDir(), "hoheit.db")).(*sqliteStore)
	cases := []struct {
		db     *sql.DB
		pragma string
		want   string
	}{
		{s.w, "journal_mode", "wal"},
		{s.w, "synchronous", "1"}, // NORMAL
		{s.w, "busy_timeout", "10000"},
		{s.w, "foreign_keys", "1"},
		{s.r, "query_only", "1"},
		{s.r, "busy_timeout", "10000"},
	}
	for _, tc := range cases {
		var got string
		if err := tc.db.QueryRow("PRAGMA " + tc.pragma).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got != tc.want {
			t.Errorf("PRAGMA %s = %s, want %s", tc.pragma, got, tc.want)
		}
	}
}

func TestRoundTrip(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, filepath.Join(t.TempDir(), "hoheit.db"))
	n := testNode("n-1")
	n.Insecure = true
	bare := Node{ID: "n-0", Status: NodeQuarantined, StatusReason: "re-attestation-missed"}
	tok := Token{ID: "t-1", Name: "ops", Role: RoleOperator, Hash: bytes.Repeat([]byte{9}, 32), CreatedAt: time.Unix(100, 5).UTC()}
	rc := RevokedCert{Serial: "s-1", NodeID: "n-1", RevokedAt: time.Unix(200, 0).UTC(), Reason: "node-revoked"}
	if err := s.Update(ctx, func(tx Tx) error {
		return errors.Join(tx.PutNode(ctx, n), tx.PutNode(ctx, bare), tx.PutToken(ctx, tok), tx.RevokeCert(ctx, rc),
			tx.RevokeCert(ctx, RevokedCert{Serial: "s-1", NodeID: "other", Reason: "again"}),
			tx.SetMeta(ctx, "refvalues/web", []byte("v1")))
	}); err != nil {
		t.Fatal(err)
	}
	err := s.View(ctx, func(tx ReadTx) error {
		got, err := tx.Node(ctx, "n-1")
		if err != nil || !reflect.DeepEqual(got, n) {
			t.Errorf("Node = %+v, %v\nwant %+v", got, err, n)
		}
		nodes, err := tx.Nodes(ctx)
		if err != nil || !reflect.DeepEqual(nodes, []Node{bare, n}) {
			t.Errorf("Nodes = %+v, %v", nodes, err)
		}
		gotTok, err := tx.TokenByHash(ctx, tok.Hash)
		if err != nil || !reflect.DeepEqual(gotTok, tok) {
			t.Errorf("TokenByHash = %+v, %v", gotTok, err)
		}
		rcs, err := tx.RevokedCerts(ctx)
		if err != nil || !reflect.DeepEqual(rcs, []RevokedCert{rc}) {
			t.Errorf("RevokedCerts = %+v, %v", rcs, err)
		}
		if v, err := tx.Meta(ctx, "refvalues/web"); err != nil || string(v) != "v1" {
			t.Errorf("Meta = %q, %v", v, err)
		}
		if h, err := tx.AuditHead(ctx); err != nil || h != nil {
			t.Errorf("AuditHead of an empty log = %v, %v", h, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	notFound := []struct {
		name string
		fn   func(Tx) error
	}{
		{"node", func(tx Tx) error { _, err := tx.Node(ctx, "nope"); return err }},
		{"token", func(tx Tx) error { _, err := tx.TokenByHash(ctx, make([]byte, 32)); return err }},
		{"meta", func(tx Tx) error { _, err := tx.Meta(ctx, "nope"); return err }},
		{"delete token", func(tx Tx) error { return tx.DeleteToken(ctx, "nope") }},
	}
	for _, tc := range notFound {
		t.Run("not found/"+tc.name, func(t *testing.T) {
			if err := s.Update(ctx, tc.fn); !errors.Is(err, ErrNotFound) {
				t.Fatalf("got %v, want ErrNotFound", err)
			}
		})
	}
	if err := s.Update(ctx, func(tx Tx) error { return tx.DeleteToken(ctx, "t-1") }); err != nil {
		t.Fatal(err)
	}
	if err := s.Update(ctx, func(tx Tx) error {
		return tx.PutToken(ctx, Token{ID: "t-2", Name: "x", Role: "root", Hash: make([]byte, 32)})
	}); err == nil {
		t.Error("PutToken accepted an unknown role")
	}
}

func TestRollbackLeavesNothing(t *testing.T) {
	ctx := context.Background()
	errBoom := errors.New("boom")
	cases := []struct {
		name string
		run  func(s Store) error
	}{
		{"function returns an error", func(s Store) error {
			return s.Update(ctx, func(tx Tx) error {
				if err := tx.PutNode(ctx, testNode("n-1")); err != nil {
					return err
				}
				if _, err := tx.Append(ctx, joinRecord("n-1")); err != nil {
					return err
				}
				return errBoom
			})
		}},
		{"function panics", func(s Store) (err error) {
			defer func() {
				if recover() != nil {
					err = errBoom
				}
			}()
			return s.Update(ctx, func(tx Tx) error {
				tx.PutNode(ctx, testNode("n-1"))
				tx.Append(ctx, joinRecord("n-1"))
				panic("boom")
			})
		}},
		{"context cancelled", func(s Store) error {
			cctx, cancel := context.WithCancel(ctx)
			return s.Update(cctx, func(tx Tx) error {
				tx.PutNode(cctx, testNode("n-1"))
				tx.Append(cctx, joinRecord("n-1"))
				cancel()
				return nil
			})
		}},
		{"later statement fails", func(s Store) error {
			return s.Update(ctx, func(tx Tx) error {
				tx.PutNode(ctx, testNode("n-1"))
				tx.Append(ctx, joinRecord("n-1"))
				return tx.PutToken(ctx, Token{ID: "t", Name: "x", Role: "nope", Hash: make([]byte, 32)})
			})
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := openTest(t, filepath.Join(t.TempDir(), "hoheit.db"))
			if err := tc.run(s); err == nil {
				t.Fatal("Update succeeded")
			}
			err := s.View(ctx, func(tx ReadTx) error {
				if _, err := tx.Node(ctx, "n-1"); !errors.Is(err, ErrNotFound) {
					t.Errorf("node after rollback: %v", err)
				}
				if h, err := tx.AuditHead(ctx); h != nil || err != nil {
					t.Errorf("audit head after rollback: %+v, %v", h, err)
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			// The store still works and the chain starts at 1.
			var e audit.Entry
			if err := s.Update(ctx, func(tx Tx) (err error) { e, err = tx.Append(ctx, joinRecord("n-2")); return err }); err != nil {
				t.Fatal(err)
			}
			if e.Seq != 1 || e.Prev != nil {
				t.Errorf("first entry after rollback: seq %d prev %x", e.Seq, e.Prev)
			}
		})
	}
}

func TestAuditTablesAreAppendOnly(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "hoheit.db")
	s := openTest(t, path)
	for i := range 3 {
		if err := join(ctx, s, fmt.Sprint("n-", i)); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := SignAuditHead(ctx, s, auditKey(t), time.Now()); err != nil {
		t.Fatal(err)
	}
	db := rawDB(t, path)
	for _, stmt := range []string{
		`UPDATE audit_entries SET node = 'x' WHERE seq = 2`,
		`DELETE FROM audit_entries WHERE seq = 3`,
		`INSERT INTO audit_entries SELECT seq + 5, time_s, time_ns, type, node, class, actor, reason, request_id, details, prev, hash FROM audit_entries WHERE seq = 3`,
		`UPDATE audit_checkpoints SET seq = 1`,
		`DELETE FROM audit_checkpoints`,
	} {
		if _, err := db.Exec(stmt); err == nil {
			t.Errorf("%s succeeded", stmt)
		}
	}
	// PutCheckpoint refuses a checkpoint that does not match the entry.
	err := s.Update(ctx, func(tx Tx) error {
		return tx.PutCheckpoint(ctx, audit.Checkpoint{Seq: 2, Hash: make([]byte, 32), KeyID: "k"})
	})
	if err == nil {
		t.Error("PutCheckpoint accepted a hash that is not the entry's")
	}
}

func TestAppendChainsInsideOneTransaction(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, filepath.Join(t.TempDir(), "hoheit.db"))
	var got []audit.Entry
	err := s.Update(ctx, func(tx Tx) error {
		for _, typ := range []string{audit.TypeJoin, audit.TypeKeyRelease, audit.TypeKeyRelease} {
			e, err := tx.Append(ctx, audit.Record{Type: typ, Node: "n-1"})
			if err != nil {
				return err
			}
			got = append(got, e)
		}
		head, err := tx.AuditHead(ctx)
		if err != nil || head == nil || head.Seq != 3 {
			return fmt.Errorf("head inside the transaction = %+v, %v", head, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var stored []audit.Entry
	if err := s.View(ctx, func(tx ReadTx) (err error) { stored, err = tx.AuditEntries(ctx, 1, 0); return err }); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(stored, got) {
		t.Errorf("stored entries differ from those Append returned:\n%+v\n%+v", stored, got)
	}
	if got[0].Time.IsZero() || !bytes.Equal(got[1].Prev, got[0].Hash) || !bytes.Equal(got[2].Prev, got[1].Hash) {
		t.Errorf("entries not chained: %+v", got)
	}
}

func TestConcurrentUpdatesGiveOneChain(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, filepath.Join(t.TempDir(), "hoheit.db"))
	const workers, each = 16, 25
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				id := fmt.Sprintf("n-%d-%d", w, i)
				err := s.Update(ctx, func(tx Tx) error {
					if err := tx.PutNode(ctx, testNode(id)); err != nil {
						return err
					}
					if _, err := tx.Append(ctx, joinRecord(id)); err != nil {
						return err
					}
					_, err := tx.Append(ctx, audit.Record{Type: audit.TypeKeyRelease, Node: id})
					return err
				})
				if err != nil {
					errs <- err
					return
				}
				// Readers run alongside the writer.
				if err := s.View(ctx, func(tx ReadTx) error { _, err := tx.Node(ctx, id); return err }); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	sum := verifyLog(t, s)
	if sum.Entries != 2*workers*each {
		t.Errorf("%d entries, want %d", sum.Entries, 2*workers*each)
	}
	// Each join's key release follows it directly: transactions did not interleave.
	var entries []audit.Entry
	if err := s.View(ctx, func(tx ReadTx) (err error) { entries, err = tx.AuditEntries(ctx, 1, 0); return err }); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < len(entries); i += 2 {
		if entries[i].Type != audit.TypeJoin || entries[i+1].Type != audit.TypeKeyRelease || entries[i].Node != entries[i+1].Node {
			t.Fatalf("entries %d and %d are not one transaction's: %+v %+v", i+1, i+2, entries[i].Record, entries[i+1].Record)
		}
	}
}

func TestExportEmptyLog(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, filepath.Join(t.TempDir(), "hoheit.db"))
	if _, ok, err := SignAuditHead(ctx, s, auditKey(t), time.Now()); ok || err != nil {
		t.Errorf("SignAuditHead on an empty log = %v, %v", ok, err)
	}
	var buf bytes.Buffer
	if err := ExportAudit(ctx, s, &buf); err != nil || buf.Len() != 0 {
		t.Errorf("ExportAudit of an empty log = %q, %v", buf.String(), err)
	}
}

func TestWALIsCheckpointedInTheBackground(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "hoheit.db")
	s := openTest(t, path)
	size := func() int64 {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		return fi.Size()
	}
	before := size()
	for i := range s.(*sqliteStore).ckptFrames {
		if err := join(ctx, s, fmt.Sprint("n-", i)); err != nil {
			t.Fatal(err)
		}
	}
	// The writer never checkpoints (wal_autocheckpoint=0): only the
	// background checkpointer moves pages into the database file.
	for deadline := time.Now().Add(20 * time.Second); size() <= before; {
		if time.Now().After(deadline) {
			t.Fatalf("database file still %d bytes: no WAL checkpoint ran", size())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestDatabaseFilesArePrivate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "hoheit.db")
	s := openTest(t, path)
	if err := join(context.Background(), s, "n-1"); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm()&0o077 != 0 {
			t.Errorf("%s has mode %v, want no access for group and others", filepath.Base(p), fi.Mode().Perm())
		}
	}
}
