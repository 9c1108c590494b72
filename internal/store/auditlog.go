package store

import (
	"context"
	"crypto"
	"fmt"
	"io"
	"time"

	"github.com/hoheit/hoheit/internal/audit"
)

// exportPage is how many entries ExportAudit reads at a time.
const exportPage = 1000

// SignAuditHead signs a checkpoint over the audit log's current head with the
// server's audit key and stores it. It signs outside the write transaction
// (an HSM may be slow) and stores the checkpoint afterwards; the log is
// append-only, so the head it signed stays in the chain. It returns false if
// the log is empty (nothing to sign).
func SignAuditHead(ctx context.Context, s Store, signer crypto.Signer, now time.Time) (audit.Checkpoint, bool, error) {
	var head *audit.Entry
	if err := s.View(ctx, func(tx ReadTx) (err error) {
		head, err = tx.AuditHead(ctx)
		return err
	}); err != nil {
		return audit.Checkpoint{}, false, err
	}
	if head == nil {
		return audit.Checkpoint{}, false, nil
	}
	c, err := audit.SignCheckpoint(*head, signer, now)
	if err != nil {
		return audit.Checkpoint{}, false, err
	}
	if err := s.Update(ctx, func(tx Tx) error { return tx.PutCheckpoint(ctx, c) }); err != nil {
		return audit.Checkpoint{}, false, err
	}
	return c, true, nil
}

// ExportAudit writes the whole audit log, from seq 1 to the head of one
// snapshot, with every checkpoint up to that head, as audit.Export's JSON
// lines. For an export that `hoheit audit verify` accepts, sign the head first
// (SignAuditHead): verification requires a checkpoint covering the head.
func ExportAudit(ctx context.Context, s Store, w io.Writer) error {
	return s.View(ctx, func(tx ReadTx) error {
		head, err := tx.AuditHead(ctx)
		if err != nil {
			return err
		}
		if head == nil {
			return audit.Export(w, func(func(audit.Entry, error) bool) {}, nil)
		}
		all, err := tx.Checkpoints(ctx)
		if err != nil {
			return err
		}
		var cps []audit.Checkpoint
		for _, c := range all {
			if c.Seq <= head.Seq {
				cps = append(cps, c)
			}
		}
		entries := func(yield func(audit.Entry, error) bool) {
			next := uint64(1)
			for next <= head.Seq {
				page, err := tx.AuditEntries(ctx, next, exportPage)
				if err == nil && len(page) == 0 {
					err = fmt.Errorf("audit entry %d missing from the database", next)
				}
				if err != nil {
					yield(audit.Entry{}, err)
					return
				}
				for _, e := range page {
					if e.Seq > head.Seq {
						return
					}
					if !yield(e, nil) {
						return
					}
					next = e.Seq + 1
				}
			}
		}
		return audit.Export(w, entries, cps)
	})
}
