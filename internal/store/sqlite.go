package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"runtime"
	"strings"
	"sync/atomic"
	"time"

	"github.com/hoheit/hoheit/internal/audit"

	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// The SQLite settings, and why:
//
//   - journal_mode=WAL: readers never block the writer nor the writer them,
//     and a commit is one append to the write-ahead log.
//   - synchronous=NORMAL: in WAL mode a commit is written to the log (a
//     write(2) into the OS page cache) before COMMIT returns, but fsync runs
//     only at WAL checkpoints. A crash or SIGKILL of the process loses no
//     committed transaction; a power loss or kernel crash may lose the last
//     transactions committed before it (never corrupt the database). Use
//     SQLiteOptions{Synchronous: "FULL"} to fsync every commit.
//   - one writer connection, transactions begun IMMEDIATE: writes are
//     serialized in the process (FIFO), the write lock is taken at BEGIN so a
//     transaction never fails on lock upgrade, and busy_timeout covers another
//     process holding the file.
//   - a pool of query_only reader connections for View.
//   - wal_autocheckpoint=0 on the writer, and a background goroutine that
//     runs PASSIVE checkpoints on its own connection: otherwise the commit
//     that crosses the WAL threshold would copy pages and fsync while every
//     other write waits, the worst of the p99 latency.
const (
	busyTimeout      = 10 * time.Second
	writerTxLock     = "immediate"
	defaultSynchrony = "NORMAL"
)

// SQLiteOptions tune OpenSQLiteWith. The zero value gives OpenSQLite's
// defaults.
type SQLiteOptions struct {
	// Synchronous is SQLite's synchronous setting: "NORMAL" (default;
	// durable against a process crash, see above) or "FULL" (an fsync per
	// commit; durable against power loss, slower).
	Synchronous string
	// Readers is the size of the reader pool (default: 2 x GOMAXPROCS, at
	// least 4).
	Readers int
}

// sqliteStore is Store on SQLite.
type sqliteStore struct {
	path   string
	w      *sql.DB       // one connection, BEGIN IMMEDIATE
	r      *sql.DB       // readers, query_only
	wsem   chan struct{} // serializes Update in FIFO order, honours ctx
	wstmts stmts
	rstmts stmts

	ckpt       *sql.DB       // one connection for WAL checkpoints
	commits    atomic.Int64  // commits so far
	wake       chan struct{} // ckptFrames more commits happened (buffered 1)
	stopCkpt   chan struct{}
	ckptDone   chan struct{}
	ckptEvery  time.Duration
	ckptFrames int // commits between checkpoints
}

var _ Store = (*sqliteStore)(nil)

// OpenSQLite opens (creating it if needed) the SQLite database at path and
// brings its schema to this binary's version. It refuses, with
// ErrSchemaTooNew, a database written by a newer hoheit.
func OpenSQLite(ctx context.Context, path string) (Store, error) {
	return OpenSQLiteWith(ctx, path, SQLiteOptions{})
}

// OpenSQLiteWith is OpenSQLite with options.
func OpenSQLiteWith(ctx context.Context, path string, opts SQLiteOptions) (Store, error) {
	if path == "" || strings.ContainsAny(path, "?#") || strings.HasPrefix(path, "file:") || path == ":memory:" {
		return nil, fmt.Errorf("opening database %q: want a plain file path", path)
	}
	syncMode := strings.ToUpper(opts.Synchronous)
	switch syncMode {
	case "":
		syncMode = defaultSynchrony
	case "NORMAL", "FULL", "EXTRA":
	default:
		return nil, fmt.Errorf("opening database %s: synchronous must be NORMAL or FULL, not %q", path, opts.Synchronous)
	}
	// The database holds token hashes and node state: readable by the
	// server's user only. SQLite gives the -wal and -shm files the same mode.
	if f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600); err == nil {
		f.Close()
	} else if !errors.Is(err, fs.ErrExist) {
		return nil, fmt.Errorf("creating database %s: %w", path, err)
	}
	readers := opts.Readers
	if readers <= 0 {
		readers = max(4, 2*runtime.GOMAXPROCS(0))
	}

	common := url.Values{}
	common.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", busyTimeout.Milliseconds()))
	common.Add("_pragma", "foreign_keys(1)")
	common.Add("_pragma", "synchronous("+syncMode+")")

	wq := url.Values{}
	for k, v := range common {
		wq[k] = append([]string(nil), v...)
	}
	wq.Add("_pragma", "journal_mode(WAL)")
	wq.Add("_pragma", "wal_autocheckpoint(0)")
	wq.Set("_txlock", writerTxLock)
	w, err := sql.Open("sqlite", path+"?"+wq.Encode())
	if err != nil {
		return nil, fmt.Errorf("opening database %s: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)
	s := &sqliteStore{path: path, w: w, wsem: make(chan struct{}, 1)}
	fail := func(err error) (Store, error) {
		s.Close()
		return nil, err
	}
	var mode string
	if err := w.QueryRowContext(ctx, `PRAGMA journal_mode`).Scan(&mode); err != nil {
		return fail(fmt.Errorf("opening database %s: %w", path, err))
	}
	if !strings.EqualFold(mode, "wal") {
		return fail(fmt.Errorf("opening database %s: journal mode is %q, want WAL (is it on a file system without shared memory?)", path, mode))
	}
	ms, err := loadMigrations(sqliteMigrations, "migrations/sqlite")
	if err != nil {
		return fail(fmt.Errorf("opening database %s: %w", path, err))
	}
	if err := migrate(ctx, w, ms); err != nil {
		return fail(fmt.Errorf("opening database %s: %w", path, err))
	}

	rq := common
	rq.Add("_pragma", "query_only(1)")
	r, err := sql.Open("sqlite", path+"?"+rq.Encode())
	if err != nil {
		return fail(fmt.Errorf("opening database %s: %w", path, err))
	}
	r.SetMaxOpenConns(readers)
	r.SetMaxIdleConns(readers)
	r.SetConnMaxLifetime(0)
	r.SetConnMaxIdleTime(0)
	s.r = r

	cq := common
	cq.Del("_pragma")
	cq.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", busyTimeout.Milliseconds()))
	cq.Add("_pragma", "synchronous("+syncMode+")")
	ck, err := sql.Open("sqlite", path+"?"+cq.Encode())
	if err != nil {
		return fail(fmt.Errorf("opening database %s: %w", path, err))
	}
	ck.SetMaxOpenConns(1)
	ck.SetMaxIdleConns(1)
	ck.SetConnMaxLifetime(0)
	ck.SetConnMaxIdleTime(0)
	s.ckpt = ck

	if s.wstmts, err = prepare(ctx, w, allQueries); err != nil {
		return fail(fmt.Errorf("opening database %s: %w", path, err))
	}
	if s.rstmts, err = prepare(ctx, r, readQueries); err != nil {
		return fail(fmt.Errorf("opening database %s: %w", path, err))
	}
	s.wake = make(chan struct{}, 1)
	s.stopCkpt = make(chan struct{})
	s.ckptDone = make(chan struct{})
	s.ckptEvery = time.Second
	s.ckptFrames = 500
	go s.checkpointLoop()
	return s, nil
}

// checkpointLoop copies the WAL back into the database file every
// ckptFrames commits or every ckptEvery, whichever comes first, outside the
// commit path. PASSIVE never waits for the writer or readers; whatever it
// cannot copy now it copies next time.
func (s *sqliteStore) checkpointLoop() {
	defer close(s.ckptDone)
	tick := time.NewTicker(s.ckptEvery)
	defer tick.Stop()
	var done int64 // commits covered by the last checkpoint
	for {
		select {
		case <-s.stopCkpt:
			return
		case <-s.wake:
		case <-tick.C:
		}
		n := s.commits.Load()
		if n == done {
			continue
		}
		done = n
		// An error here (say, busy) is retried on the next round; the WAL
		// keeps every commit meanwhile, so nothing is lost.
		s.ckpt.Exec(`PRAGMA wal_checkpoint(PASSIVE)`)
	}
}

// Update implements Store.
func (s *sqliteStore) Update(ctx context.Context, fn func(Tx) error) (err error) {
	select {
	case s.wsem <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-s.wsem }()
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("beginning write transaction: %w", err)
	}
	done := false
	defer func() {
		if !done {
			tx.Rollback() // fn panicked
		}
	}()
	if err := fn(&sqliteTx{tx: tx, stmts: &s.wstmts}); err != nil {
		done = true
		tx.Rollback()
		return err
	}
	done = true
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("committing write transaction: %w", err)
	}
	if s.commits.Add(1)%int64(s.ckptFrames) == 0 {
		select {
		case s.wake <- struct{}{}:
		default:
		}
	}
	return nil
}

// View implements Store.
func (s *sqliteStore) View(ctx context.Context, fn func(ReadTx) error) error {
	tx, err := s.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return fmt.Errorf("beginning read transaction: %w", err)
	}
	defer tx.Rollback()
	return fn(&sqliteTx{tx: tx, stmts: &s.rstmts})
}

// Close implements Store.
func (s *sqliteStore) Close() error {
	if s.stopCkpt != nil {
		close(s.stopCkpt)
		<-s.ckptDone
		s.stopCkpt = nil
	}
	var errs []error
	for _, st := range [][]*sql.Stmt{s.rstmts[:], s.wstmts[:]} {
		for _, p := range st {
			if p != nil {
				errs = append(errs, p.Close())
			}
		}
	}
	if s.r != nil {
		errs = append(errs, s.r.Close())
	}
	if s.ckpt != nil {
		errs = append(errs, s.ckpt.Close())
	}
	errs = append(errs, s.w.Close())
	return errors.Join(errs...)
}

// sqliteTx implements Tx on a write transaction and ReadTx on a read one.
type sqliteTx struct {
	tx    *sql.Tx
	stmts *stmts
}

func (t *sqliteTx) stmt(ctx context.Context, q query) *sql.Stmt {
	return t.tx.StmtContext(ctx, t.stmts[q])
}

func (t *sqliteTx) Node(ctx context.Context, id string) (Node, error) {
	n, err := scanNode(t.stmt(ctx, qNode).QueryRowContext(ctx, id))
	if errors.Is(err, sql.ErrNoRows) {
		return Node{}, fmt.Errorf("node %q: %w", id, ErrNotFound)
	}
	if err != nil {
		return Node{}, fmt.Errorf("reading node %q: %w", id, err)
	}
	return n, nil
}

func (t *sqliteTx) Nodes(ctx context.Context) ([]Node, error) {
	rows, err := t.stmt(ctx, qNodes).QueryContext(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading nodes: %w", err)
	}
	defer rows.Close()
	var out []Node
	for rows.Next() {
		n, err := scanNode(rows)
		if err != nil {
			return nil, fmt.Errorf("reading nodes: %w", err)
		}
		out = append(out, n)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading nodes: %w", err)
	}
	return out, nil
}

func (t *sqliteTx) PutNode(ctx context.Context, n Node) error {
	notAfter, err1 := nanos(n.CertNotAfter)
	joined, err2 := nanos(n.JoinedAt)
	attested, err3 := nanos(n.LastAttestedAt)
	if err := errors.Join(err1, err2, err3); err != nil {
		return fmt.Errorf("storing node %q: %w", n.ID, err)
	}
	if n.ID == "" {
		return errors.New("storing node: empty id")
	}
	_, err := t.stmt(ctx, qPutNode).ExecContext(ctx,
		n.ID, n.Class, n.Variant, n.Insecure, n.HardwareID, n.Status,
		blob(n.HPKEPublicKey), blob(n.CertPublicKey), blob(n.WireGuardPublicKey),
		n.CertSerial, notAfter, blob(n.Claims), joined, attested, n.StatusReason, n.MeshAddress, blob(n.Mesh))
	if err != nil {
		return fmt.Errorf("storing node %q: %w", n.ID, err)
	}
	return nil
}

func (t *sqliteTx) TokenByHash(ctx context.Context, hash []byte) (Token, error) {
	tok, err := scanToken(t.stmt(ctx, qTokenByHash).QueryRowContext(ctx, blob(hash)))
	if errors.Is(err, sql.ErrNoRows) {
		return Token{}, fmt.Errorf("token: %w", ErrNotFound)
	}
	if err != nil {
		return Token{}, fmt.Errorf("reading token: %w", err)
	}
	return tok, nil
}

func (t *sqliteTx) Tokens(ctx context.Context) ([]Token, error) {
	rows, err := t.stmt(ctx, qTokens).QueryContext(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading tokens: %w", err)
	}
	defer rows.Close()
	var out []Token
	for rows.Next() {
		tok, err := scanToken(rows)
		if err != nil {
			return nil, fmt.Errorf("reading tokens: %w", err)
		}
		out = append(out, tok)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading tokens: %w", err)
	}
	return out, nil
}

func (t *sqliteTx) PutToken(ctx context.Context, tok Token) error {
	created, err := nanos(tok.CreatedAt)
	if err != nil {
		return fmt.Errorf("storing token %q: %w", tok.Name, err)
	}
	if tok.ID == "" {
		return fmt.Errorf("storing token %q: empty id", tok.Name)
	}
	if _, err := t.stmt(ctx, qPutToken).ExecContext(ctx, tok.ID, tok.Name, tok.Role, blob(tok.Hash), created); err != nil {
		return fmt.Errorf("storing token %q: %w", tok.Name, err)
	}
	return nil
}

func (t *sqliteTx) DeleteToken(ctx context.Context, id string) error {
	res, err := t.stmt(ctx, qDeleteToken).ExecContext(ctx, id)
	if err != nil {
		return fmt.Errorf("deleting token %q: %w", id, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("deleting token %q: %w", id, err)
	} else if n == 0 {
		return fmt.Errorf("token %q: %w", id, ErrNotFound)
	}
	return nil
}

func (t *sqliteTx) RevokedCerts(ctx context.Context) ([]RevokedCert, error) {
	rows, err := t.stmt(ctx, qRevokedCerts).QueryContext(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading revoked certificates: %w", err)
	}
	defer rows.Close()
	var out []RevokedCert
	for rows.Next() {
		var c RevokedCert
		var at sql.NullInt64
		if err := rows.Scan(&c.Serial, &c.NodeID, &at, &c.Reason); err != nil {
			return nil, fmt.Errorf("reading revoked certificates: %w", err)
		}
		c.RevokedAt = fromNanos(at)
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading revoked certificates: %w", err)
	}
	return out, nil
}

func (t *sqliteTx) RevokeCert(ctx context.Context, c RevokedCert) error {
	at, err := nanos(c.RevokedAt)
	if err != nil {
		return fmt.Errorf("revoking certificate %q: %w", c.Serial, err)
	}
	if c.Serial == "" {
		return errors.New("revoking certificate: empty serial")
	}
	if _, err := t.stmt(ctx, qRevokeCert).ExecContext(ctx, c.Serial, c.NodeID, at, c.Reason); err != nil {
		return fmt.Errorf("revoking certificate %q: %w", c.Serial, err)
	}
	return nil
}

func (t *sqliteTx) AuditHead(ctx context.Context) (*audit.Entry, error) {
	e, err := scanEntry(t.stmt(ctx, qAuditHead).QueryRowContext(ctx))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading audit head: %w", err)
	}
	return &e, nil
}

func (t *sqliteTx) AuditEntries(ctx context.Context, fromSeq uint64, limit int) ([]audit.Entry, error) {
	if limit <= 0 {
		limit = -1 // SQLite: no limit
	}
	rows, err := t.stmt(ctx, qAuditEntries).QueryContext(ctx, int64(min(fromSeq, 1<<63-1)), limit)
	if err != nil {
		return nil, fmt.Errorf("reading audit entries: %w", err)
	}
	defer rows.Close()
	var out []audit.Entry
	for rows.Next() {
		e, err := scanEntry(rows)
		if err != nil {
			return nil, fmt.Errorf("reading audit entries: %w", err)
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading audit entries: %w", err)
	}
	return out, nil
}

func (t *sqliteTx) Append(ctx context.Context, r audit.Record) (audit.Entry, error) {
	var prev *audit.Entry
	var seq int64
	var hash []byte
	switch err := t.stmt(ctx, qAuditHeadLink).QueryRowContext(ctx).Scan(&seq, &hash); {
	case errors.Is(err, sql.ErrNoRows):
	case err != nil:
		return audit.Entry{}, fmt.Errorf("appending audit entry: reading head: %w", err)
	default:
		prev = &audit.Entry{Seq: uint64(seq), Hash: hash}
	}
	if r.Time.IsZero() {
		r.Time = time.Now()
	}
	e := audit.Next(prev, r)
	details := []byte("{}")
	if len(e.Details) > 0 {
		var err error
		if details, err = json.Marshal(e.Details); err != nil {
			return audit.Entry{}, fmt.Errorf("appending audit entry: %w", err)
		}
	}
	_, err := t.stmt(ctx, qAppend).ExecContext(ctx, int64(e.Seq), e.Time.Unix(), e.Time.Nanosecond(),
		e.Type, e.Node, e.Class, e.Actor, e.Reason, e.RequestID, string(details), blob(e.Prev), e.Hash)
	if err != nil {
		return audit.Entry{}, fmt.Errorf("appending audit entry %d: %w", e.Seq, err)
	}
	return e, nil
}

func (t *sqliteTx) Checkpoints(ctx context.Context) ([]audit.Checkpoint, error) {
	rows, err := t.stmt(ctx, qCheckpoints).QueryContext(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading audit checkpoints: %w", err)
	}
	defer rows.Close()
	var out []audit.Checkpoint
	for rows.Next() {
		var c audit.Checkpoint
		var seq, sec, nsec int64
		if err := rows.Scan(&seq, &c.Hash, &sec, &nsec, &c.KeyID, &c.Signature); err != nil {
			return nil, fmt.Errorf("reading audit checkpoints: %w", err)
		}
		c.Seq = uint64(seq)
		c.Time = time.Unix(sec, nsec).UTC()
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading audit checkpoints: %w", err)
	}
	return out, nil
}

func (t *sqliteTx) PutCheckpoint(ctx context.Context, c audit.Checkpoint) error {
	var hash []byte
	err := t.stmt(ctx, qAuditHashAt).QueryRowContext(ctx, int64(min(c.Seq, 1<<63-1))).Scan(&hash)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("storing audit checkpoint: no entry with seq %d", c.Seq)
	}
	if err != nil {
		return fmt.Errorf("storing audit checkpoint: %w", err)
	}
	if string(hash) != string(c.Hash) {
		return fmt.Errorf("storing audit checkpoint: its hash is not that of entry %d", c.Seq)
	}
	t0 := c.Time.UTC()
	if _, err := t.stmt(ctx, qPutCheckpoint).ExecContext(ctx, int64(c.Seq), c.Hash, t0.Unix(), t0.Nanosecond(), c.KeyID, blob(c.Signature)); err != nil {
		return fmt.Errorf("storing audit checkpoint: %w", err)
	}
	return nil
}

func (t *sqliteTx) Meta(ctx context.Context, key string) ([]byte, error) {
	var v []byte
	err := t.stmt(ctx, qMeta).QueryRowContext(ctx, key).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("meta %q: %w", key, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("reading meta %q: %w", key, err)
	}
	return v, nil
}

func (t *sqliteTx) SetMeta(ctx context.Context, key string, value []byte) error {
	if _, err := t.stmt(ctx, qSetMeta).ExecContext(ctx, key, blob(value)); err != nil {
		return fmt.Errorf("storing meta %q: %w", key, err)
	}
	return nil
}

// scanner is *sql.Row or *sql.Rows.
type scanner interface{ Scan(...any) error }

func scanNode(s scanner) (Node, error) {
	var n Node
	var notAfter, joined, attested sql.NullInt64
	err := s.Scan(&n.ID, &n.Class, &n.Variant, &n.Insecure, &n.HardwareID, &n.Status,
		&n.HPKEPublicKey, &n.CertPublicKey, &n.WireGuardPublicKey,
		&n.CertSerial, &notAfter, &n.Claims, &joined, &attested, &n.StatusReason, &n.MeshAddress, &n.Mesh)
	if err != nil {
		return Node{}, err
	}
	n.CertNotAfter, n.JoinedAt, n.LastAttestedAt = fromNanos(notAfter), fromNanos(joined), fromNanos(attested)
	n.HPKEPublicKey, n.CertPublicKey, n.WireGuardPublicKey, n.Claims, n.Mesh =
		unblob(n.HPKEPublicKey), unblob(n.CertPublicKey), unblob(n.WireGuardPublicKey), unblob(n.Claims), unblob(n.Mesh)
	return n, nil
}

func scanToken(s scanner) (Token, error) {
	var t Token
	var created sql.NullInt64
	if err := s.Scan(&t.ID, &t.Name, &t.Role, &t.Hash, &created); err != nil {
		return Token{}, err
	}
	t.CreatedAt = fromNanos(created)
	return t, nil
}

func scanEntry(s scanner) (audit.Entry, error) {
	var e audit.Entry
	var seq, sec, nsec int64
	var details string
	err := s.Scan(&seq, &sec, &nsec, &e.Type, &e.Node, &e.Class, &e.Actor, &e.Reason, &e.RequestID, &details, &e.Prev, &e.Hash)
	if err != nil {
		return audit.Entry{}, err
	}
	e.Seq = uint64(seq)
	e.Time = time.Unix(sec, nsec).UTC()
	e.Prev = unblob(e.Prev)
	if details != "{}" {
		if err := json.Unmarshal([]byte(details), &e.Details); err != nil {
			return audit.Entry{}, fmt.Errorf("audit entry %d: details: %w", e.Seq, err)
		}
		if len(e.Details) == 0 {
			e.Details = nil
		}
	}
	return e, nil
}

// nanos stores a time as Unix nanoseconds, the zero time as NULL.
func nanos(t time.Time) (any, error) {
	if t.IsZero() {
		return nil, nil
	}
	if y := t.Year(); y < 1678 || y > 2261 {
		return nil, fmt.Errorf("time %v outside the years 1678-2261", t)
	}
	return t.UnixNano(), nil
}

func fromNanos(v sql.NullInt64) time.Time {
	if !v.Valid {
		return time.Time{}
	}
	return time.Unix(0, v.Int64).UTC()
}

// blob keeps nil byte slices from becoming NULL in NOT NULL columns.
func blob(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

// unblob returns empty blobs as nil, as they went in.
func unblob(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return b
}
