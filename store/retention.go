package store

import (
	"context"
	"database/sql"
	"time"
)

// Each prune deletes at most batch rows older than the cutoff, the oldest
// first, found through the table's index on its time: a short transaction
// that holds the writer for milliseconds, whatever the table's size. Fewer
// than batch rows deleted means none older is left, and the caller stops.

// PruneAudit deletes up to batch audit entries recorded before cutoff and
// returns how many it deleted. The audit log refuses every other delete.
func (s *Store) PruneAudit(ctx context.Context, cutoff time.Time, batch int) (int, error) {
	var n int64
	err := s.withTx(ctx, func(tx *sql.Tx) error {
		before := formatTime(cutoff)
		if _, err := tx.ExecContext(ctx, "INSERT INTO audit_prune (before) VALUES (?)", before); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM audit_log WHERE id IN
			(SELECT id FROM audit_log WHERE at < ? ORDER BY at LIMIT ?)`, before, batch)
		if err != nil {
			return err
		}
		if n, err = res.RowsAffected(); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, "DELETE FROM audit_prune")
		return err
	})
	return int(n), mapErr(err, "Audit log")
}

// PruneHistory deletes up to batch posture history rows recorded before
// cutoff, then the causes older than cutoff that no row points at any more,
// and returns how many history rows it deleted.
func (s *Store) PruneHistory(ctx context.Context, cutoff time.Time, batch int) (int, error) {
	var n int64
	err := s.withTx(ctx, func(tx *sql.Tx) error {
		before := formatTime(cutoff)
		res, err := tx.ExecContext(ctx, `DELETE FROM posture_history WHERE id IN
			(SELECT id FROM posture_history WHERE at < ? ORDER BY at LIMIT ?)`, before, batch)
		if err != nil {
			return err
		}
		if n, err = res.RowsAffected(); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM posture_causes WHERE id IN (SELECT id FROM posture_causes
			WHERE at < ? AND NOT EXISTS (SELECT 1 FROM posture_history h WHERE h.cause_id = posture_causes.id)
			ORDER BY id LIMIT ?)`, before, batch)
		return err
	})
	return int(n), mapErr(err, "Posture history")
}
