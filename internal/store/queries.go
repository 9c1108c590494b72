package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
)

// query names a prepared statement.
type query int

const (
	qNode query = iota
	qNodes
	qTokenByHash
	qTokens
	qRevokedCerts
	qAuditHead
	qAuditHeadLink
	qAuditHashAt
	qAuditEntries
	qCheckpoints
	qMeta
	qFlows
	qFlowCount
	qAlerts
	// Writes from here on.
	qPutNode
	qPutToken
	qDeleteToken
	qRevokeCert
	qAppend
	qPutCheckpoint
	qSetMeta
	qMergeFlow
	qInsertFlow
	qAddAlert
	qPruneAlertsKeep
	qPruneAlertsAge
	numQueries
)

const (
	nodeColumns  = `id, class, variant, insecure, hardware_id, status, hpke_public_key, cert_public_key, wireguard_public_key, cert_serial, cert_not_after, claims, joined_at, last_attested_at, status_reason, mesh_address, mesh`
	entryColumns = `seq, time_s, time_ns, type, node, class, actor, reason, request_id, details, prev, hash`
	flowKey      = `src, dst, src_addr, dst_addr, proto, port, verdict`
	flowColumns  = flowKey + `, node, count, first_seen, last_seen`
	alertColumns = `id, time, received_at, node, mode, reason, src, dst, src_addr, dst_addr, proto, port, verdict, pkt_src, pkt_dst, src_port, dst_port, direction`
	maxCount     = `9223372036854775807`
)

var querySQL = [numQueries]string{
	qNode:          `SELECT ` + nodeColumns + ` FROM nodes WHERE id = ?`,
	qNodes:         `SELECT ` + nodeColumns + ` FROM nodes ORDER BY id`,
	qTokenByHash:   `SELECT id, name, role, hash, created_at FROM tokens WHERE hash = ?`,
	qTokens:        `SELECT id, name, role, hash, created_at FROM tokens ORDER BY name`,
	qRevokedCerts:  `SELECT serial, node_id, revoked_at, reason FROM revoked_certs ORDER BY revoked_at, serial`,
	qAuditHead:     `SELECT ` + entryColumns + ` FROM audit_entries ORDER BY seq DESC LIMIT 1`,
	qAuditHeadLink: `SELECT seq, hash FROM audit_entries ORDER BY seq DESC LIMIT 1`,
	qAuditHashAt:   `SELECT hash FROM audit_entries WHERE seq = ?`,
	qAuditEntries:  `SELECT ` + entryColumns + ` FROM audit_entries WHERE seq >= ? ORDER BY seq LIMIT ?`,
	qCheckpoints:   `SELECT seq, hash, time_s, time_ns, key_id, signature FROM audit_checkpoints ORDER BY seq, id`,
	qMeta:          `SELECT value FROM meta WHERE key = ?`,
	qFlows:         `SELECT ` + flowColumns + ` FROM segment_flows ORDER BY ` + flowKey,
	qFlowCount:     `SELECT count(*) FROM segment_flows`,
	qAlerts:        `SELECT * FROM (SELECT ` + alertColumns + ` FROM segment_alerts ORDER BY id DESC LIMIT ?) ORDER BY id`,

	qPutNode: `INSERT INTO nodes (` + nodeColumns + `) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET class = excluded.class, variant = excluded.variant, insecure = excluded.insecure,
		hardware_id = excluded.hardware_id, status = excluded.status, hpke_public_key = excluded.hpke_public_key,
		cert_public_key = excluded.cert_public_key, wireguard_public_key = excluded.wireguard_public_key,
		cert_serial = excluded.cert_serial, cert_not_after = excluded.cert_not_after, claims = excluded.claims,
		joined_at = excluded.joined_at, last_attested_at = excluded.last_attested_at,
		status_reason = excluded.status_reason, mesh_address = excluded.mesh_address, mesh = excluded.mesh`,
	qPutToken: `INSERT INTO tokens (id, name, role, hash, created_at) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET name = excluded.name, role = excluded.role, hash = excluded.hash, created_at = excluded.created_at`,
	qDeleteToken:   `DELETE FROM tokens WHERE id = ?`,
	qRevokeCert:    `INSERT INTO revoked_certs (serial, node_id, revoked_at, reason) VALUES (?, ?, ?, ?) ON CONFLICT (serial) DO NOTHING`,
	qAppend:        `INSERT INTO audit_entries (` + entryColumns + `) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
	qPutCheckpoint: `INSERT INTO audit_checkpoints (seq, hash, time_s, time_ns, key_id, signature) VALUES (?, ?, ?, ?, ?, ?)`,
	qSetMeta:       `INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value`,
	// ?1 count, ?2 first seen, ?3 last seen, then the key.
	qMergeFlow: `UPDATE segment_flows SET
		count = CASE WHEN count > ` + maxCount + ` - ?1 THEN ` + maxCount + ` ELSE count + ?1 END,
		first_seen = min(first_seen, ?2), last_seen = max(last_seen, ?3)
		WHERE src = ?4 AND dst = ?5 AND src_addr = ?6 AND dst_addr = ?7 AND proto = ?8 AND port = ?9 AND verdict = ?10`,
	qInsertFlow: `INSERT INTO segment_flows (` + flowColumns + `) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
	qAddAlert: `INSERT INTO segment_alerts (` + strings.TrimPrefix(alertColumns, "id, ") + `)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
	// The newest ?1 alerts stay; an index walk of ?1 entries finds the
	// first to go.
	qPruneAlertsKeep: `DELETE FROM segment_alerts WHERE id <= (SELECT id FROM segment_alerts ORDER BY id DESC LIMIT 1 OFFSET ?)`,
	qPruneAlertsAge:  `DELETE FROM segment_alerts WHERE received_at < ?`,
}

// stmts holds the prepared statements of one connection pool.
type stmts [numQueries]*sql.Stmt

const (
	allQueries  = numQueries
	readQueries = qPutNode
)

// prepare prepares the first n queries on db.
func prepare(ctx context.Context, db *sql.DB, n query) (stmts, error) {
	var s stmts
	for q := range n {
		p, err := db.PrepareContext(ctx, querySQL[q])
		if err != nil {
			for _, p := range s[:q] {
				p.Close()
			}
			return stmts{}, fmt.Errorf("preparing %q: %w", querySQL[q], err)
		}
		s[q] = p
	}
	return s, nil
}
