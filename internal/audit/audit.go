// Package audit is hoheit's tamper-evident audit log: records of every join,
// key release, refusal, revocation and reference-value change, chained by
// SHA-256 (each entry holds the hash of the one before it) and covered by
// checkpoints that the server signs with its audit key. It defines the entry
// format and its hash, signs checkpoints, exports the log as JSON lines and
// verifies such an export offline with the audit public key.
//
// The package holds no state: internal/store keeps the chain in the same
// database transaction as the action it records, and calls Next to build
// each entry. The server signs checkpoints and exports; the CLI verifies.
// The exact encoding is documented in docs/audit.md so that an auditor can
// re-implement Verify without this code.
package audit

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// Record types. The list is open: the server may record other types, and
// verification does not depend on them.
const (
	TypeJoin              = "join"
	TypeKeyRelease        = "key-release"
	TypeRefusal           = "refusal"
	TypeRevocation        = "revocation"
	TypeQuarantine        = "quarantine"
	TypeRefValuesChange   = "refvalues-change"
	TypeRefValuesRejected = "refvalues-rejected"
	TypeTokenCreated      = "token-created"
	TypeTokenDeleted      = "token-deleted"
)

// Record is what happened, as the server describes it. It must never hold a
// secret, a key or evidence bytes: public key fingerprints, certificate
// serials, measurement names and reasons are fine.
type Record struct {
	// Time is when the action happened; stored in UTC at nanosecond precision.
	Time time.Time
	// Type is one of the Type constants (join, key-release, refusal, ...).
	Type string
	// Node is the node the action concerns, if any.
	Node string
	// Class is the node class, if any.
	Class string
	// Actor is who caused it: "node:<id>", "token:<name>" or "server".
	Actor string
	// Reason is the refusal or revocation reason (an attest.Reason* value
	// for attestation refusals).
	Reason string
	// RequestID ties the entry to the API request that caused it.
	RequestID string
	// Details holds further key/value facts. Never secrets.
	Details map[string]string
}

// Entry is one link of the chain: a record with its sequence number, the
// hash of the previous entry and its own hash.
type Entry struct {
	// Seq numbers entries contiguously from 1.
	Seq uint64
	Record
	// Prev is the Hash of entry Seq-1; empty for the first entry.
	Prev []byte
	// Hash is EntryHash(Seq, Prev, Record).
	Hash []byte
}

// entryLabel separates entry hashes from every other hash hoheit computes.
const entryLabel = "hoheit audit entry v1"

// Next returns the entry that follows prev (nil for the first entry) and
// records r. It normalizes r the way it is stored and exported (time in UTC
// without a monotonic reading, strings made valid UTF-8, empty details as
// nil) so that the hash survives a round trip through the database and JSON.
func Next(prev *Entry, r Record) Entry {
	r = normalize(r)
	e := Entry{Seq: 1, Record: r}
	if prev != nil {
		e.Seq = prev.Seq + 1
		e.Prev = bytes.Clone(prev.Hash)
	}
	e.Hash = EntryHash(e.Seq, e.Prev, e.Record)
	return e
}

func normalize(r Record) Record {
	r.Time = r.Time.UTC().Round(0)
	for _, s := range []*string{&r.Type, &r.Node, &r.Class, &r.Actor, &r.Reason, &r.RequestID} {
		*s = validUTF8(*s)
	}
	if len(r.Details) == 0 {
		r.Details = nil
	} else {
		d := make(map[string]string, len(r.Details))
		for k, v := range r.Details {
			d[validUTF8(k)] = validUTF8(v)
		}
		r.Details = d
	}
	return r
}

func validUTF8(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}

// EntryHash is SHA-256 over the canonical encoding of an entry, documented in
// docs/audit.md:
//
//	str("hoheit audit entry v1") || u64(seq) || bytes(prev) ||
//	i64(unix seconds) || u32(nanoseconds) ||
//	str(type) || str(node) || str(class) || str(actor) || str(reason) || str(request id) ||
//	u32(number of details) || for each detail, keys sorted by byte value: str(key) || str(value)
//
// where integers are big-endian and str/bytes are a u32 big-endian length
// followed by the bytes. The length prefixes make the encoding unambiguous.
func EntryHash(seq uint64, prev []byte, r Record) []byte {
	var b encoder
	b.str(entryLabel)
	b.u64(seq)
	b.bytes(prev)
	b.time(r.Time)
	b.str(r.Type)
	b.str(r.Node)
	b.str(r.Class)
	b.str(r.Actor)
	b.str(r.Reason)
	b.str(r.RequestID)
	keys := make([]string, 0, len(r.Details))
	for k := range r.Details {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	b.u32(uint32(len(keys)))
	for _, k := range keys {
		b.str(k)
		b.str(r.Details[k])
	}
	sum := sha256.Sum256(b.buf)
	return sum[:]
}

// encoder builds the length-prefixed encodings that entry hashes and
// checkpoint signatures are computed over.
type encoder struct{ buf []byte }

func (e *encoder) u32(v uint32) { e.buf = binary.BigEndian.AppendUint32(e.buf, v) }
func (e *encoder) u64(v uint64) { e.buf = binary.BigEndian.AppendUint64(e.buf, v) }
func (e *encoder) bytes(p []byte) {
	e.u32(uint32(len(p)))
	e.buf = append(e.buf, p...)
}
func (e *encoder) str(s string) {
	e.u32(uint32(len(s)))
	e.buf = append(e.buf, s...)
}
func (e *encoder) time(t time.Time) {
	e.u64(uint64(t.Unix()))
	e.u32(uint32(t.Nanosecond()))
}
