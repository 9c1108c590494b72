-- 0001: the initial schema of hoheit's control plane.
-- Times are Unix nanoseconds (INTEGER, NULL when unset); audit times are
-- seconds and nanoseconds, exactly as they enter the entry hash.

CREATE TABLE nodes (
	id                   TEXT PRIMARY KEY,
	class                TEXT NOT NULL,
	variant              TEXT NOT NULL,
	insecure             INTEGER NOT NULL CHECK (insecure IN (0, 1)),
	hardware_id          TEXT NOT NULL,
	status               TEXT NOT NULL CHECK (status IN ('active', 'quarantined', 'revoked')),
	hpke_public_key      BLOB NOT NULL,
	cert_public_key      BLOB NOT NULL,
	wireguard_public_key BLOB NOT NULL,
	cert_serial          TEXT NOT NULL,
	cert_not_after       INTEGER,
	claims               BLOB NOT NULL,
	joined_at            INTEGER,
	last_attested_at     INTEGER,
	status_reason        TEXT NOT NULL,
	mesh_address         TEXT NOT NULL
) STRICT;

CREATE TABLE tokens (
	id         TEXT PRIMARY KEY,
	name       TEXT NOT NULL UNIQUE,
	role       TEXT NOT NULL CHECK (role IN ('admin', 'operator', 'auditor')),
	hash       BLOB NOT NULL UNIQUE CHECK (length(hash) = 32),
	created_at INTEGER
) STRICT;

CREATE TABLE revoked_certs (
	serial     TEXT PRIMARY KEY,
	node_id    TEXT NOT NULL,
	revoked_at INTEGER,
	reason     TEXT NOT NULL
) STRICT;

CREATE TABLE audit_entries (
	seq        INTEGER PRIMARY KEY CHECK (seq > 0),
	time_s     INTEGER NOT NULL,
	time_ns    INTEGER NOT NULL,
	type       TEXT NOT NULL,
	node       TEXT NOT NULL,
	class      TEXT NOT NULL,
	actor      TEXT NOT NULL,
	reason     TEXT NOT NULL,
	request_id TEXT NOT NULL,
	details    TEXT NOT NULL,
	prev       BLOB NOT NULL,
	hash       BLOB NOT NULL CHECK (length(hash) = 32)
) STRICT;

-- The audit log is append-only and contiguous, whatever the code above does.
CREATE TRIGGER audit_entries_contiguous BEFORE INSERT ON audit_entries
WHEN NEW.seq <> coalesce((SELECT max(seq) FROM audit_entries), 0) + 1
BEGIN SELECT RAISE(ABORT, 'audit log: sequence numbers must be contiguous'); END;
CREATE TRIGGER audit_entries_no_update BEFORE UPDATE ON audit_entries
BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;
CREATE TRIGGER audit_entries_no_delete BEFORE DELETE ON audit_entries
BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;

CREATE TABLE audit_checkpoints (
	id        INTEGER PRIMARY KEY,
	seq       INTEGER NOT NULL REFERENCES audit_entries (seq),
	hash      BLOB NOT NULL,
	time_s    INTEGER NOT NULL,
	time_ns   INTEGER NOT NULL,
	key_id    TEXT NOT NULL,
	signature BLOB NOT NULL
) STRICT;
CREATE INDEX audit_checkpoints_seq ON audit_checkpoints (seq);
CREATE TRIGGER audit_checkpoints_no_update BEFORE UPDATE ON audit_checkpoints
BEGIN SELECT RAISE(ABORT, 'audit checkpoints are append-only'); END;
CREATE TRIGGER audit_checkpoints_no_delete BEFORE DELETE ON audit_checkpoints
BEGIN SELECT RAISE(ABORT, 'audit checkpoints are append-only'); END;

CREATE TABLE meta (
	key   TEXT PRIMARY KEY,
	value BLOB NOT NULL
) STRICT;
