// Package store keeps the control plane's state: nodes, API tokens, revoked
// certificates, the audit chain and its checkpoints, segmentation flow
// records and alerts, and small settings. The
// server imports it; so does the CLI for offline commands.
//
// Every state change happens in one write transaction (Store.Update), and the
// audit entry that records it is appended in the same transaction (Tx.Append),
// so an action and its audit entry persist together or not at all. The audit
// chain's head is read from the database inside that transaction; nothing of
// it is cached in memory, so nothing can diverge after a crash.
//
// The Store interface is what the server uses; OpenSQLite is the default
// implementation (modernc.org/sqlite, pure Go). A PostgreSQL implementation can
// follow behind the same interface: it must serialize Append the way SQLite's
// single writer does (for instance with SELECT ... FOR UPDATE on the head).
package store

import (
	"context"
	"errors"
	"net/netip"
	"time"

	"github.com/hoheit/hoheit/internal/audit"
)

// ErrNotFound is returned when a node, token or meta key does not exist.
var ErrNotFound = errors.New("store: not found")

// ErrSchemaTooNew is returned by Open when the database was written by a newer
// hoheit whose schema this binary does not know.
var ErrSchemaTooNew = errors.New("store: database schema is newer than this binary")

// Node statuses.
const (
	NodeActive      = "active"
	NodeQuarantined = "quarantined"
	NodeRevoked     = "revoked"
)

// Token roles.
const (
	RoleAdmin    = "admin"
	RoleOperator = "operator"
	RoleAuditor  = "auditor"
)

// Node is a node that joined (or tried to keep its membership).
type Node struct {
	ID, Class, Variant string
	// Insecure marks a node joined with the insecure attestation variant.
	Insecure   bool
	HardwareID string
	// Status is NodeActive, NodeQuarantined or NodeRevoked.
	Status string
	// Public keys bound in the node's evidence.
	HPKEPublicKey, CertPublicKey, WireGuardPublicKey []byte
	CertSerial                                       string
	CertNotAfter                                     time.Time
	// Claims is the JSON of the attestation claims of the last attestation.
	Claims                   []byte
	JoinedAt, LastAttestedAt time.Time
	// StatusReason says why a node is quarantined or revoked.
	StatusReason string
	// MeshAddress is the node's mesh address(es), comma-separated.
	MeshAddress string
	// Mesh is the node's mesh membership as JSON (labels, endpoints), as
	// the server defines it.
	Mesh []byte
}

// Token is an API token. Only the SHA-256 of the secret is stored.
type Token struct {
	ID, Name string
	// Role is RoleAdmin, RoleOperator or RoleAuditor.
	Role      string
	Hash      []byte
	CreatedAt time.Time
}

// RevokedCert is a node certificate revoked before its expiry.
type RevokedCert struct {
	Serial    string
	NodeID    string
	RevokedAt time.Time
	Reason    string
}

// FlowKey identifies an aggregated segmentation flow (segment.FlowKey in
// the store's terms). Src and Dst are identity names; where one is empty
// the endpoint had no identity and SrcAddr or DstAddr holds its address.
type FlowKey struct {
	Src, Dst         string
	SrcAddr, DstAddr netip.Addr
	// Proto is the protocol (segment.Proto), Port the destination port,
	// Verdict the filter's verdict (segment.Verdict).
	Proto   uint8
	Port    uint16
	Verdict uint8
}

// Flow counts the connections of one FlowKey over every node's shipments.
type Flow struct {
	FlowKey
	// Node is the node that recorded the key first.
	Node                string
	Count               uint64
	FirstSeen, LastSeen time.Time
}

// Alert is a flow outside the segmentation policy (segment.Alert in the
// store's terms), with the reason and the time the server received it.
type Alert struct {
	// ID is assigned by AddAlert, increasing.
	ID int64
	// Time is when the node saw the flow; ReceivedAt when the server
	// stored it (retention counts from it).
	Time, ReceivedAt time.Time
	Node             string
	// Mode is the segment's mode (segment.Mode).
	Mode   uint8
	Reason string
	Flow   FlowKey
	// The packet that raised it.
	Src, Dst         netip.Addr
	SrcPort, DstPort uint16
	// Direction is segment.Direction.
	Direction uint8
}

// ReadTx reads a consistent snapshot.
type ReadTx interface {
	// Node returns the node with id, or ErrNotFound.
	Node(ctx context.Context, id string) (Node, error)
	// Nodes returns every node, ordered by id.
	Nodes(ctx context.Context) ([]Node, error)
	// TokenByHash returns the token whose secret hashes to hash, or ErrNotFound.
	TokenByHash(ctx context.Context, hash []byte) (Token, error)
	// Tokens returns every token, ordered by name.
	Tokens(ctx context.Context) ([]Token, error)
	// RevokedCerts returns every revoked certificate, ordered by revocation time.
	RevokedCerts(ctx context.Context) ([]RevokedCert, error)
	// AuditHead returns the last audit entry, or nil if the log is empty.
	AuditHead(ctx context.Context) (*audit.Entry, error)
	// AuditEntries returns up to limit entries from fromSeq on, by seq
	// (limit <= 0: all of them).
	AuditEntries(ctx context.Context, fromSeq uint64, limit int) ([]audit.Entry, error)
	// Checkpoints returns every audit checkpoint, by seq.
	Checkpoints(ctx context.Context) ([]audit.Checkpoint, error)
	// Meta returns the value stored under key, or ErrNotFound.
	Meta(ctx context.Context, key string) ([]byte, error)
	// Flows returns every aggregated flow, ordered by key.
	Flows(ctx context.Context) ([]Flow, error)
	// FlowCount returns the number of flow keys stored.
	FlowCount(ctx context.Context) (int, error)
	// Alerts returns the newest limit alerts kept (every one if limit <=
	// 0), oldest (lowest id) first.
	Alerts(ctx context.Context, limit int) ([]Alert, error)
}

// Tx is a write transaction. Everything done through it, audit entries
// included, persists together when the Update function returns nil, and not
// at all otherwise.
type Tx interface {
	ReadTx
	// PutNode inserts or replaces the node with n.ID.
	PutNode(ctx context.Context, n Node) error
	// PutToken inserts or replaces the token with t.ID. Names and hashes are
	// unique.
	PutToken(ctx context.Context, t Token) error
	// DeleteToken removes a token; ErrNotFound if there is none with id.
	DeleteToken(ctx context.Context, id string) error
	// RevokeCert records a revoked certificate; revoking it again keeps the
	// first record.
	RevokeCert(ctx context.Context, c RevokedCert) error
	// Append chains r onto the audit log's head inside this transaction and
	// returns the new entry. A zero r.Time is set to the current time.
	Append(ctx context.Context, r audit.Record) (audit.Entry, error)
	// PutCheckpoint stores a signed checkpoint. It refuses one whose hash is
	// not that of the entry at its seq.
	PutCheckpoint(ctx context.Context, c audit.Checkpoint) error
	// SetMeta stores value under key.
	SetMeta(ctx context.Context, key string, value []byte) error
	// MergeFlow adds f's count to the stored flow of f's key and widens
	// its first and last seen; the stored node is kept. It reports false,
	// and writes nothing, when no flow of that key is stored. Counts
	// saturate at 2^63-1.
	MergeFlow(ctx context.Context, f Flow) (found bool, err error)
	// InsertFlow stores a flow whose key is not stored yet.
	InsertFlow(ctx context.Context, f Flow) error
	// AddAlert stores an alert and returns its id.
	AddAlert(ctx context.Context, a Alert) (int64, error)
	// PruneAlerts deletes all but the newest keep alerts (keep <= 0: no
	// limit by count) and every alert received before receivedBefore
	// (zero: no limit by age), and returns how many it deleted.
	PruneAlerts(ctx context.Context, keep int, receivedBefore time.Time) (int64, error)
}

// Store is the control plane's database.
type Store interface {
	// Update runs fn in one write transaction and commits it when fn returns
	// nil. When fn returns an error (or panics, or ctx ends), the transaction
	// is rolled back and nothing of it persists, audit entries included.
	// Update returns only after the commit is durable against a crash of the
	// process. Write transactions run one at a time; do not call Update or
	// View from inside fn.
	Update(ctx context.Context, fn func(Tx) error) error
	// View runs fn in a read-only transaction on a consistent snapshot. Views
	// run concurrently with each other and with Update.
	View(ctx context.Context, fn func(ReadTx) error) error
	// Close closes the database.
	Close() error
}
