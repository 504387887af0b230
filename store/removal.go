package store

import (
	"context"
	"database/sql"
	"fmt"

	"postern/internal/apperr"
	"postern/internal/audit"
	"postern/internal/model"
)

// maxHeldLookback bounds how far back removalTx counts held runs: the
// guard only needs to know whether the last few were held.
const maxHeldLookback = 10

// removalTx measures a listing for the mass-removal guard: the active
// devices it did not return, of how many, and how many runs just before
// it were held and not accepted.
func removalTx(ctx context.Context, tx *sql.Tx, run model.SyncRun, r ApplyResult) (model.Removal, error) {
	var rm model.Removal
	if err := tx.QueryRowContext(ctx, "SELECT COUNT(*) FROM devices WHERE removed_at IS NULL").Scan(&rm.Active); err != nil {
		return rm, err
	}
	rm.Missing = rm.Active - r.activeSeen
	if rm.Missing == 0 {
		return rm, nil
	}
	rows, err := tx.QueryContext(ctx, `SELECT outcome, accepted_by FROM sync_runs
		WHERE integration = ? AND id < ? AND outcome IN (?, ?) ORDER BY id DESC LIMIT ?`,
		run.Integration, run.ID, model.RunSuccess, model.RunHeld, maxHeldLookback)
	if err != nil {
		return rm, err
	}
	defer rows.Close()
	for rows.Next() {
		var outcome, by string
		if err := rows.Scan(&outcome, &by); err != nil {
			return rm, err
		}
		if outcome != model.RunHeld || by != "" {
			break
		}
		rm.HeldBefore++
	}
	return rm, rows.Err()
}

// holdTx keeps the active devices that held run runID did not see, for
// AcceptHeldRun, and drops the run's staging: nothing else is applied.
func (s *Store) holdTx(ctx context.Context, tx *sql.Tx, runID int64) error {
	if _, err := tx.ExecContext(ctx, `INSERT INTO sync_held_missing (run_id, device_id)
		SELECT ?, d.id FROM devices d WHERE d.removed_at IS NULL
		AND NOT EXISTS (SELECT 1 FROM staged_devices s WHERE s.run_id = ? AND s.id = d.id)`, runID, runID); err != nil {
		return fmt.Errorf("keep the devices a held run did not see: %w", err)
	}
	return s.clearStagingTx(ctx, tx)
}

// AcceptHeldRun applies the removal that held run id stood for: the active
// devices it did not see are marked removed, the run records who accepted
// it and how many it removed, and entry(run) is the audit entry, all in one
// transaction. Only the latest listing may be accepted: a run that is not
// held, already accepted, or followed by a later successful or held run is
// refused as a conflict.
func (s *Store) AcceptHeldRun(ctx context.Context, id int64, by string, entry func(model.SyncRun) audit.Entry) (model.SyncRun, error) {
	var run model.SyncRun
	err := s.changeTx(ctx, model.ChangeSnapshot, func(tx *sql.Tx) error {
		var err error
		if run, err = scanRun(tx.QueryRowContext(ctx, "SELECT "+runColumns+" FROM sync_runs WHERE id = ?", id)); err != nil {
			return err
		}
		if err := acceptableTx(ctx, tx, run); err != nil {
			return err
		}
		now := s.now()
		ts := formatTime(now)
		res, err := tx.ExecContext(ctx, `UPDATE devices SET missed_runs = CASE WHEN missed_runs > 2 THEN missed_runs ELSE 2 END, removed_at = ?
			WHERE removed_at IS NULL AND id IN (SELECT device_id FROM sync_held_missing WHERE run_id = ?)`, ts, id)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return err
		}
		run.Removed, run.AcceptedBy, run.AcceptedAt = int(n), by, &now
		if _, err := tx.ExecContext(ctx, "UPDATE sync_runs SET removed = ?, accepted_by = ?, accepted_at = ? WHERE id = ?",
			run.Removed, by, ts, id); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, "DELETE FROM sync_held_missing"); err != nil {
			return err
		}
		return appendAuditTx(ctx, tx, entry(run), now)
	})
	return run, mapErr(err, "Sync run")
}

// acceptableTx refuses to accept run unless it is the latest listing and
// still held.
func acceptableTx(ctx context.Context, tx *sql.Tx, run model.SyncRun) error {
	switch {
	case run.Outcome != model.RunHeld:
		return apperr.New(apperr.Conflict, "Sync run #%d was not held, so there is no removal to accept.", run.ID)
	case run.AcceptedBy != "":
		return apperr.New(apperr.Conflict, "The removal of sync run #%d was already accepted by %s.", run.ID, run.AcceptedBy)
	}
	var later int
	if err := tx.QueryRowContext(ctx, "SELECT COUNT(*) FROM sync_runs WHERE integration = ? AND id > ? AND outcome IN (?, ?)",
		run.Integration, run.ID, model.RunSuccess, model.RunHeld).Scan(&later); err != nil {
		return err
	}
	if later > 0 {
		return apperr.New(apperr.Conflict, "A later sync replaced sync run #%d, so its removal can no longer be accepted. Accept the latest held run instead, if there is one.", run.ID)
	}
	return nil
}
