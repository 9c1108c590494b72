package audit

import (
	"bufio"
	"bytes"
	"crypto"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"
)

// MaxLineSize bounds one line of an export; longer lines are refused.
const MaxLineSize = 1 << 20

// Problems Verify reports, as VerifyError.Problem. docs/audit.md says what
// each means for an auditor.
const (
	ProblemMalformed    = "malformed"     // a line is not a valid entry or checkpoint
	ProblemChanged      = "changed"       // an entry's content does not match its hash
	ProblemChainBroken  = "chain-broken"  // an entry's prev is not the hash of the entry before it
	ProblemRemoved      = "removed"       // sequence numbers are missing
	ProblemInserted     = "inserted"      // a sequence number appears twice
	ProblemReordered    = "reordered"     // entries are out of sequence order
	ProblemTruncated    = "truncated"     // a checkpoint signs an entry past the end of the file
	ProblemMismatch     = "mismatch"      // a checkpoint signs a different entry than the one in the file
	ProblemBadSignature = "bad-signature" // a checkpoint by the given key does not verify
	ProblemWrongKey     = "wrong-key"     // no checkpoint is signed by the given key
	ProblemUncovered    = "uncovered"     // entries after the last checkpoint signed by the key
	ProblemEmpty        = "empty"         // no entries at all
)

// VerifyError is the first problem Verify found.
type VerifyError struct {
	// Problem is one of the Problem constants.
	Problem string
	// Seq is the sequence number concerned (0 if none).
	Seq uint64
	// Line is the line of the export concerned (0 if none), from 1.
	Line int
	// Detail says what was found, in words.
	Detail string
}

func (e *VerifyError) Error() string {
	var b strings.Builder
	b.WriteString("audit log ")
	b.WriteString(e.Problem)
	if e.Line > 0 {
		fmt.Fprintf(&b, " at line %d", e.Line)
	}
	if e.Seq > 0 {
		fmt.Fprintf(&b, " (seq %d)", e.Seq)
	}
	b.WriteString(": ")
	b.WriteString(e.Detail)
	return b.String()
}

// Summary describes a verified export.
type Summary struct {
	// Entries is the number of entries (seq 1 to Head.Seq).
	Entries int
	// Checkpoints is the number of checkpoints verified with the given key.
	Checkpoints int
	// Head is the last entry.
	Head Entry
	// LastCheckpoint is the verified checkpoint with the highest seq (the one
	// covering Head). Its Time says how fresh the export is: a log cut back to
	// an older checkpoint verifies, so compare it with what you expect.
	LastCheckpoint Checkpoint
	// OtherKeys counts checkpoints signed by other keys (for instance before
	// a key rotation); they are not verified.
	OtherKeys int
}

// entryLink is what Verify keeps of each entry after checking its hash.
type entryLink struct {
	seq  uint64
	line int
	prev []byte
	hash []byte
}

type checkpointAt struct {
	Checkpoint
	line int
}

// Verify reads an export (see Export) and checks that it is the complete,
// unaltered chain from seq 1 to its head, and that a checkpoint signed by pub
// covers the head. It returns a *VerifyError naming the first problem: a
// changed, removed, inserted or reordered entry, a log truncated after a
// checkpoint, a bad checkpoint signature, or a wrong key.
//
// It keeps about 100 bytes per entry in memory.
func Verify(r io.Reader, pub crypto.PublicKey) (Summary, error) {
	keyID, err := KeyID(pub)
	if err != nil {
		return Summary{}, err
	}
	var (
		links       []entryLink
		checkpoints []checkpointAt
		head        Entry
		firstBad    *VerifyError
	)
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), MaxLineSize)
	line := 0
	for sc.Scan() {
		line++
		kind, obj, err := parseLine(sc.Bytes())
		if err != nil {
			return Summary{}, firstOr(firstBad, &VerifyError{Problem: ProblemMalformed, Line: line, Detail: err.Error()})
		}
		switch kind {
		case KindEntry:
			e, err := parseEntry(obj)
			if err != nil {
				return Summary{}, firstOr(firstBad, &VerifyError{Problem: ProblemMalformed, Line: line, Detail: err.Error()})
			}
			if firstBad == nil && !bytes.Equal(EntryHash(e.Seq, e.Prev, e.Record), e.Hash) {
				firstBad = &VerifyError{Problem: ProblemChanged, Seq: e.Seq, Line: line,
					Detail: "the entry's content does not match its hash: the entry was changed after it was written"}
			}
			links = append(links, entryLink{seq: e.Seq, line: line, prev: e.Prev, hash: e.Hash})
			if e.Seq >= head.Seq {
				head = e
			}
		case KindCheckpoint:
			c, err := parseCheckpoint(obj)
			if err != nil {
				return Summary{}, firstOr(firstBad, &VerifyError{Problem: ProblemMalformed, Line: line, Detail: err.Error()})
			}
			checkpoints = append(checkpoints, checkpointAt{c, line})
		}
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return Summary{}, &VerifyError{Problem: ProblemMalformed, Line: line + 1, Detail: fmt.Sprintf("line longer than %d bytes", MaxLineSize)}
		}
		return Summary{}, fmt.Errorf("reading audit export: %w", err)
	}
	if firstBad != nil {
		return Summary{}, firstBad
	}
	if len(links) == 0 {
		return Summary{}, &VerifyError{Problem: ProblemEmpty, Detail: "the export holds no entries"}
	}
	if err := checkOrder(links); err != nil {
		return Summary{}, err
	}
	// From here links[i].seq == i+1.
	for i, l := range links {
		var want []byte
		if i > 0 {
			want = links[i-1].hash
		}
		if !bytes.Equal(l.prev, want) {
			detail := fmt.Sprintf("its prev hash is not the hash of entry %d: entry %d was changed and re-hashed, or this entry was inserted or replaced", l.seq-1, l.seq-1)
			if i == 0 {
				detail = "the first entry must have an empty prev hash: entries before it were removed, or it was replaced"
			}
			return Summary{}, &VerifyError{Problem: ProblemChainBroken, Seq: l.seq, Line: l.line, Detail: detail}
		}
	}

	s := Summary{Entries: len(links), Head: head}
	var verified []checkpointAt
	otherKeys := map[string]bool{}
	for _, c := range checkpoints {
		if c.KeyID != keyID {
			s.OtherKeys++
			otherKeys[c.KeyID] = true
			continue
		}
		if err := verifyCheckpointSignature(c.Checkpoint, pub); err != nil {
			return Summary{}, &VerifyError{Problem: ProblemBadSignature, Seq: c.Seq, Line: c.line,
				Detail: "the checkpoint's signature does not verify with the given key: the checkpoint was changed or forged"}
		}
		if c.Seq > head.Seq {
			return Summary{}, &VerifyError{Problem: ProblemTruncated, Seq: c.Seq, Line: c.line,
				Detail: fmt.Sprintf("the checkpoint signs entry %d but the export ends at entry %d: entries %d to %d were removed", c.Seq, head.Seq, head.Seq+1, c.Seq)}
		}
		if c.Seq == 0 || !bytes.Equal(links[c.Seq-1].hash, c.Hash) {
			return Summary{}, &VerifyError{Problem: ProblemMismatch, Seq: c.Seq, Line: c.line,
				Detail: fmt.Sprintf("entry %d is not the entry the server signed: entries up to %d were changed, inserted, removed or reordered and the chain re-hashed", c.Seq, c.Seq)}
		}
		verified = append(verified, c)
	}
	if len(verified) == 0 {
		if len(otherKeys) > 0 {
			ids := make([]string, 0, len(otherKeys))
			for id := range otherKeys {
				ids = append(ids, id)
			}
			slices.Sort(ids)
			return Summary{}, &VerifyError{Problem: ProblemWrongKey,
				Detail: fmt.Sprintf("no checkpoint is signed by the given key (key id %s); the checkpoints are signed by %s: is this the server's audit key?", keyID, strings.Join(ids, ", "))}
		}
		return Summary{}, &VerifyError{Problem: ProblemUncovered, Seq: head.Seq,
			Detail: "the export holds no checkpoint: nothing proves the server wrote these entries"}
	}
	last := verified[0]
	for _, c := range verified[1:] {
		if c.Seq > last.Seq || (c.Seq == last.Seq && c.Time.After(last.Time)) {
			last = c
		}
	}
	if last.Seq < head.Seq {
		return Summary{}, &VerifyError{Problem: ProblemUncovered, Seq: last.Seq + 1, Line: links[last.Seq].line,
			Detail: fmt.Sprintf("entries %d to %d follow the last signed checkpoint (seq %d) and are not covered by a signature: they may have been added", last.Seq+1, head.Seq, last.Seq)}
	}
	s.Checkpoints = len(verified)
	s.LastCheckpoint = last.Checkpoint
	return s, nil
}

// firstOr returns the problem found earlier in the file, if any.
func firstOr(earlier, e *VerifyError) *VerifyError {
	if earlier != nil {
		return earlier
	}
	return e
}

// checkOrder checks that the entries are seq 1, 2, 3, ... in file order and
// names the first way in which they are not.
func checkOrder(links []entryLink) error {
	seen := make(map[uint64]int, len(links)) // seq -> line
	var maxSeq uint64
	for _, l := range links {
		if first, dup := seen[l.seq]; dup {
			return &VerifyError{Problem: ProblemInserted, Seq: l.seq, Line: l.line,
				Detail: fmt.Sprintf("sequence number %d appears twice (lines %d and %d): an entry was inserted or duplicated", l.seq, first, l.line)}
		}
		seen[l.seq] = l.line
		maxSeq = max(maxSeq, l.seq)
	}
	// Missing numbers up to the highest one: entries removed.
	if maxSeq != uint64(len(links)) {
		var missing uint64
		for s := uint64(1); s <= maxSeq; s++ {
			if _, ok := seen[s]; !ok {
				missing = s
				break
			}
		}
		end := missing
		for end+1 <= maxSeq {
			if _, ok := seen[end+1]; ok {
				break
			}
			end++
		}
		what := fmt.Sprintf("entry %d is missing", missing)
		if end > missing {
			what = fmt.Sprintf("entries %d to %d are missing", missing, end)
		}
		return &VerifyError{Problem: ProblemRemoved, Seq: missing, Detail: what + ": removed from the log"}
	}
	for i, l := range links {
		if l.seq != uint64(i+1) {
			return &VerifyError{Problem: ProblemReordered, Seq: l.seq, Line: l.line,
				Detail: fmt.Sprintf("entry %d stands where entry %d belongs: entries were reordered", l.seq, i+1)}
		}
	}
	return nil
}

// parseLine reads one JSON object strictly: no duplicate or unknown-case
// keys, nothing after the object, and a "kind" field.
func parseLine(line []byte) (string, map[string]json.RawMessage, error) {
	obj, err := parseObject(line)
	if err != nil {
		return "", nil, err
	}
	raw, ok := obj["kind"]
	if !ok {
		return "", nil, errors.New(`line has no "kind"`)
	}
	kind, err := jsonString(raw)
	if err != nil {
		return "", nil, fmt.Errorf(`"kind": %w`, err)
	}
	if kind != KindEntry && kind != KindCheckpoint {
		return "", nil, fmt.Errorf(`unknown "kind" %q (want "entry" or "checkpoint")`, kind)
	}
	return kind, obj, nil
}

// parseObject decodes a JSON object into its raw members, refusing duplicate
// keys: two readers of the same line must not see different values.
func parseObject(data []byte) (map[string]json.RawMessage, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	tok, err := dec.Token()
	if err != nil {
		return nil, fmt.Errorf("not JSON: %w", err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, errors.New("not a JSON object")
	}
	obj := map[string]json.RawMessage{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("not JSON: %w", err)
		}
		key, ok := tok.(string)
		if !ok {
			return nil, errors.New("not JSON: object key is not a string")
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, fmt.Errorf("not JSON: %w", err)
		}
		if _, dup := obj[key]; dup {
			return nil, fmt.Errorf("key %q appears twice", key)
		}
		obj[key] = v
	}
	if _, err := dec.Token(); err != nil { // the closing '}'
		return nil, fmt.Errorf("not JSON: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("data after the JSON object")
	}
	return obj, nil
}

// fields reads the members of obj into the destinations, refusing any member
// not listed and any listed member that is missing.
type fieldSpec struct {
	name string
	read func(json.RawMessage) error
}

func readFields(obj map[string]json.RawMessage, specs []fieldSpec) error {
	for _, f := range specs {
		raw, ok := obj[f.name]
		if !ok {
			return fmt.Errorf("missing %q", f.name)
		}
		if err := f.read(raw); err != nil {
			return fmt.Errorf("%q: %w", f.name, err)
		}
	}
	if len(obj) != len(specs) {
		for k := range obj {
			if !slices.ContainsFunc(specs, func(f fieldSpec) bool { return f.name == k }) {
				return fmt.Errorf("unknown field %q", k)
			}
		}
	}
	return nil
}

func parseEntry(obj map[string]json.RawMessage) (Entry, error) {
	var e Entry
	err := readFields(obj, []fieldSpec{
		{"kind", func(json.RawMessage) error { return nil }},
		{"seq", seqField(&e.Seq)},
		{"time", timeField(&e.Time)},
		{"type", stringField(&e.Type)},
		{"node", stringField(&e.Node)},
		{"class", stringField(&e.Class)},
		{"actor", stringField(&e.Actor)},
		{"reason", stringField(&e.Reason)},
		{"request_id", stringField(&e.RequestID)},
		{"details", detailsField(&e.Details)},
		{"prev", hashField(&e.Prev, true)},
		{"hash", hashField(&e.Hash, false)},
	})
	if err != nil {
		return Entry{}, fmt.Errorf("entry: %w", err)
	}
	return e, nil
}

func parseCheckpoint(obj map[string]json.RawMessage) (Checkpoint, error) {
	var c Checkpoint
	err := readFields(obj, []fieldSpec{
		{"kind", func(json.RawMessage) error { return nil }},
		{"seq", seqField(&c.Seq)},
		{"hash", hashField(&c.Hash, false)},
		{"time", timeField(&c.Time)},
		{"key_id", stringField(&c.KeyID)},
		{"signature", hexField(&c.Signature)},
	})
	if err != nil {
		return Checkpoint{}, fmt.Errorf("checkpoint: %w", err)
	}
	return c, nil
}

func jsonString(raw json.RawMessage) (string, error) {
	if len(raw) == 0 || raw[0] != '"' {
		return "", errors.New("not a string")
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", err
	}
	return s, nil
}

func stringField(dst *string) func(json.RawMessage) error {
	return func(raw json.RawMessage) (err error) {
		*dst, err = jsonString(raw)
		return err
	}
}

func seqField(dst *uint64) func(json.RawMessage) error {
	return func(raw json.RawMessage) error {
		s := string(raw)
		if s == "" || s[0] < '1' || s[0] > '9' {
			return errors.New("not a positive integer")
		}
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			return errors.New("not a positive integer")
		}
		*dst = v
		return nil
	}
}

func timeField(dst *time.Time) func(json.RawMessage) error {
	return func(raw json.RawMessage) error {
		s, err := jsonString(raw)
		if err != nil {
			return err
		}
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return errors.New("not an RFC 3339 time")
		}
		*dst = t.UTC()
		return nil
	}
}

func hexField(dst *[]byte) func(json.RawMessage) error {
	return func(raw json.RawMessage) error {
		s, err := jsonString(raw)
		if err != nil {
			return err
		}
		b, err := hex.DecodeString(s)
		if err != nil {
			return errors.New("not hexadecimal")
		}
		*dst = b
		return nil
	}
}

func hashField(dst *[]byte, emptyOK bool) func(json.RawMessage) error {
	return func(raw json.RawMessage) error {
		if err := hexField(dst)(raw); err != nil {
			return err
		}
		if len(*dst) == 0 && emptyOK {
			*dst = nil
			return nil
		}
		if len(*dst) != 32 {
			return errors.New("not a 32-byte SHA-256 hash")
		}
		return nil
	}
}

func detailsField(dst *map[string]string) func(json.RawMessage) error {
	return func(raw json.RawMessage) error {
		obj, err := parseObject(raw)
		if err != nil {
			return err
		}
		if len(obj) == 0 {
			*dst = nil
			return nil
		}
		m := make(map[string]string, len(obj))
		for k, v := range obj {
			s, err := jsonString(v)
			if err != nil {
				return fmt.Errorf("%q: %w", k, err)
			}
			m[k] = s
		}
		*dst = m
		return nil
	}
}
