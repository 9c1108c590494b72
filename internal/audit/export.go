package audit

import (
	"bufio"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"iter"
	"slices"
	"time"
)

// Kinds of line in an export.
const (
	KindEntry      = "entry"
	KindCheckpoint = "checkpoint"
)

// entryJSON and checkpointJSON fix the field order of an exported line.
type entryJSON struct {
	Kind      string            `json:"kind"`
	Seq       uint64            `json:"seq"`
	Time      string            `json:"time"`
	Type      string            `json:"type"`
	Node      string            `json:"node"`
	Class     string            `json:"class"`
	Actor     string            `json:"actor"`
	Reason    string            `json:"reason"`
	RequestID string            `json:"request_id"`
	Details   map[string]string `json:"details"`
	Prev      string            `json:"prev"`
	Hash      string            `json:"hash"`
}

type checkpointJSON struct {
	Kind      string `json:"kind"`
	Seq       uint64 `json:"seq"`
	Hash      string `json:"hash"`
	Time      string `json:"time"`
	KeyID     string `json:"key_id"`
	Signature string `json:"signature"`
}

// Export writes entries and checkpoints as JSON lines, one object per line
// with a "kind" of "entry" or "checkpoint". Entries are written in the order
// given (the store yields them by seq); each checkpoint follows the entry it
// signs. Verify reads this format. The first error from entries stops the
// export and is returned.
func Export(w io.Writer, entries iter.Seq2[Entry, error], checkpoints []Checkpoint) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	cps := slices.Clone(checkpoints)
	slices.SortStableFunc(cps, func(a, b Checkpoint) int {
		switch {
		case a.Seq < b.Seq:
			return -1
		case a.Seq > b.Seq:
			return 1
		}
		return 0
	})
	writeCheckpointsUpTo := func(seq uint64) error {
		for len(cps) > 0 && cps[0].Seq <= seq {
			if err := writeCheckpoint(enc, cps[0]); err != nil {
				return err
			}
			cps = cps[1:]
		}
		return nil
	}
	for e, err := range entries {
		if err != nil {
			return fmt.Errorf("exporting audit log: %w", err)
		}
		if e.Seq > 0 {
			if err := writeCheckpointsUpTo(e.Seq - 1); err != nil {
				return err
			}
		}
		if err := writeEntry(enc, e); err != nil {
			return err
		}
		if err := writeCheckpointsUpTo(e.Seq); err != nil {
			return err
		}
	}
	if err := writeCheckpointsUpTo(^uint64(0)); err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("exporting audit log: %w", err)
	}
	return nil
}

func writeEntry(enc *json.Encoder, e Entry) error {
	t, err := formatTime(e.Time)
	if err != nil {
		return fmt.Errorf("exporting audit entry seq %d: %w", e.Seq, err)
	}
	d := e.Details
	if d == nil {
		d = map[string]string{}
	}
	if err := enc.Encode(entryJSON{
		Kind: KindEntry, Seq: e.Seq, Time: t, Type: e.Type, Node: e.Node, Class: e.Class,
		Actor: e.Actor, Reason: e.Reason, RequestID: e.RequestID, Details: d,
		Prev: hex.EncodeToString(e.Prev), Hash: hex.EncodeToString(e.Hash),
	}); err != nil {
		return fmt.Errorf("exporting audit entry seq %d: %w", e.Seq, err)
	}
	return nil
}

func writeCheckpoint(enc *json.Encoder, c Checkpoint) error {
	t, err := formatTime(c.Time)
	if err != nil {
		return fmt.Errorf("exporting audit checkpoint at seq %d: %w", c.Seq, err)
	}
	if err := enc.Encode(checkpointJSON{
		Kind: KindCheckpoint, Seq: c.Seq, Hash: hex.EncodeToString(c.Hash), Time: t,
		KeyID: c.KeyID, Signature: hex.EncodeToString(c.Signature),
	}); err != nil {
		return fmt.Errorf("exporting audit checkpoint at seq %d: %w", c.Seq, err)
	}
	return nil
}

// formatTime writes t as RFC 3339 in UTC with up to nine fractional digits,
// which parses back to the same instant to the nanosecond.
func formatTime(t time.Time) (string, error) {
	t = t.UTC()
	if y := t.Year(); y < 0 || y > 9999 {
		return "", fmt.Errorf("time %v outside years 0-9999", y)
	}
	return t.Format(time.RFC3339Nano), nil
}
