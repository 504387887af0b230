package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"postern/internal/model"
)

// ApplyResult counts what an apply changed.
type ApplyResult struct {
	Seen, Added, Changed, Removed int
	activeSeen                    int // staged devices stored and active
}

// changedRow is what makes an upsert of a staged device a change;
// devices.* is the stored row.
const changedRow = `(devices.content_hash != excluded.content_hash OR devices.removed_at IS NOT NULL)`

// applyGuardedTx applies run's staged devices inside tx (applyTx), unless
// decide holds the listing: then nothing is applied, the devices it did not
// see are kept for AcceptHeldRun and the run comes back held. A verdict of
// RemovalAccept applies the run and marks the devices it did not see
// removed at once.
func (s *Store) applyGuardedTx(ctx context.Context, tx *sql.Tx, run model.SyncRun,
	decide func(model.Removal) model.RemovalVerdict, now time.Time) (model.SyncRun, error) {
	r, err := countStagedTx(ctx, tx, run.ID)
	if err != nil {
		return run, err
	}
	if r.Seen != run.Seen {
		return run, fmt.Errorf("apply: %d devices staged, %d found: the staging was lost", run.Seen, r.Seen)
	}
	v := model.RemovalVerdict{Verdict: model.RemovalApply}
	if decide != nil {
		rm, err := removalTx(ctx, tx, run, r)
		if err != nil {
			return run, err
		}
		if v = decide(rm); v.Verdict != model.RemovalApply {
			run.Missing, run.Active = rm.Missing, rm.Active
		}
	}
	if _, err := tx.ExecContext(ctx, "DELETE FROM sync_held_missing"); err != nil {
		return run, err
	}
	if v.Verdict == model.RemovalHold {
		run.Outcome, run.Error, run.ErrorCode = model.RunHeld, v.Note, ""
		return run, s.holdTx(ctx, tx, run.ID)
	}
	if r, err = s.applyTx(ctx, tx, run.ID, r, formatTime(now), v.Verdict == model.RemovalAccept); err != nil {
		return run, err
	}
	run.Seen, run.Added, run.Changed, run.Removed = r.Seen, r.Added, r.Changed, r.Removed
	if v.Verdict == model.RemovalAccept {
		run.AcceptedBy, run.AcceptedAt = v.By, &now
	}
	return run, nil
}

// applyTx moves a run's staged devices (counted in r) into devices inside
// tx: new devices are inserted, changed ones (by content hash) updated,
// devices missing from this run count a miss and are marked removed at the
// second consecutive miss, or at once with removeNow. Unchanged rows are
// not rewritten.
func (s *Store) applyTx(ctx context.Context, tx *sql.Tx, runID int64, r ApplyResult, ts string, removeNow bool) (ApplyResult, error) {
	rebuild, err := s.bulkIndexesTx(ctx, tx, r.Added)
	if err != nil {
		return r, err
	}
	if err := s.upsertStagedTx(ctx, tx, runID, ts); err != nil {
		return r, err
	}
	if rebuild != nil {
		// Tags first: syncTagsTx finds this run's rows by changed_run_id.
		if err := s.syncTagsTx(ctx, tx, runID); err != nil {
			return r, err
		}
		if err := rebuild(); err != nil {
			return r, err
		}
	}
	if r.Removed, err = countMissesTx(ctx, tx, runID, r.Seen, ts, removeNow); err != nil {
		return r, err
	}
	if rebuild == nil {
		if err := s.syncTagsTx(ctx, tx, runID); err != nil {
			return r, err
		}
	}
	return r, s.clearStagingTx(ctx, tx)
}

// countStagedTx counts the run's staged devices: seen, added (no stored
// row), changed (changedRow) and stored and active (for the mass-removal
// guard), in one pass over the staged rows.
func countStagedTx(ctx context.Context, tx *sql.Tx, runID int64) (ApplyResult, error) {
	var r ApplyResult
	err := tx.QueryRowContext(ctx, `SELECT COUNT(*), COUNT(*) FILTER (WHERE d.id IS NULL),
			COUNT(*) FILTER (WHERE d.content_hash != s.content_hash OR d.removed_at IS NOT NULL),
			COUNT(*) FILTER (WHERE d.id IS NOT NULL AND d.removed_at IS NULL)
		FROM staged_devices s LEFT JOIN devices d ON d.id = s.id WHERE s.run_id = ?`, runID).Scan(&r.Seen, &r.Added, &r.Changed, &r.activeSeen)
	return r, err
}

// bulkIndexesTx drops the secondary indexes when a run adds most of the
// table (a first sync): it inserts faster without them, and CREATE INDEX
// afterwards sorts once and writes full pages instead of updating every
// index row by row. On PostgreSQL the foreign keys into devices go too
// (pgDropForBulkTx). It returns the function that rebuilds them, or nil.
func (s *Store) bulkIndexesTx(ctx context.Context, tx *sql.Tx, added int) (func() error, error) {
	if added < bulkMinRows {
		return nil, nil
	}
	var stored int
	if err := tx.QueryRowContext(ctx, "SELECT COUNT(*) FROM devices").Scan(&stored); err != nil {
		return nil, err
	}
	if added <= stored {
		return nil, nil
	}
	if s.eng == postgresEngine {
		return pgDropForBulkTx(ctx, tx, "devices", "device_tags")
	}
	return dropIndexesTx(ctx, tx, "devices", "device_tags")
}

// upsertStagedTx writes the run's new and changed devices, and the whole
// machine of each into device_raw.
func (s *Store) upsertStagedTx(ctx context.Context, tx *sql.Tx, runID int64, ts string) error {
	if _, err := tx.ExecContext(ctx, `INSERT INTO devices (`+deviceColumns+`, first_synced_at, changed_at, changed_run_id, missed_runs, removed_at)
		SELECT `+deviceColumns+`, ?, ?, ?, 0, NULL FROM staged_devices WHERE run_id = ?`+s.eng.keyOrder("id")+`
		ON CONFLICT (id) DO UPDATE SET host = excluded.host, host_lower = excluded.host_lower,
			aad_device_id = excluded.aad_device_id, os_platform = excluded.os_platform, os_version = excluded.os_version,
			os_build = excluded.os_build, health_status = excluded.health_status, risk_score = excluded.risk_score,
			exposure_level = excluded.exposure_level, onboarding_status = excluded.onboarding_status,
			av_status = excluded.av_status, is_aad_joined = excluded.is_aad_joined, merged_into = excluded.merged_into,
			potential_duplicate = excluded.potential_duplicate, first_seen = excluded.first_seen,
			last_seen = excluded.last_seen, last_ip = excluded.last_ip, tags = excluded.tags,
			content_hash = excluded.content_hash, agent_version = excluded.agent_version,
			device_value = excluded.device_value, is_excluded = excluded.is_excluded,
			exclusion_reason = excluded.exclusion_reason, rbac_group = excluded.rbac_group,
			changed_at = CASE WHEN `+changedRow+` THEN excluded.changed_at ELSE devices.changed_at END,
			changed_run_id = CASE WHEN `+changedRow+` THEN excluded.changed_run_id ELSE devices.changed_run_id END,
			missed_runs = 0, removed_at = NULL
		WHERE `+changedRow+` OR devices.missed_runs > 0`,
		ts, ts, runID, runID); err != nil {
		return fmt.Errorf("upsert devices: %w", err)
	}
	// The whole machine, for the rows this run added or changed.
	if _, err := tx.ExecContext(ctx, `INSERT INTO device_raw (id, raw)
		SELECT s.id, s.raw FROM staged_devices s JOIN devices d ON d.id = s.id
		WHERE s.run_id = ? AND d.changed_run_id = ?`+s.eng.keyOrder("s.id")+`
		ON CONFLICT (id) DO UPDATE SET raw = excluded.raw`, runID, runID); err != nil {
		return fmt.Errorf("store raw machines: %w", err)
	}
	return nil
}

// countMissesTx counts a miss for every active device the run did not see
// (the upsert forgot the miss of one seen again) and marks removed those at
// their second (or at once, with removeNow); it returns how many it
// removed. Every staged device is now active, so when there are as many
// active devices as seen ones, none was missed (the usual case, and every
// first sync) and the scan is skipped.
func countMissesTx(ctx context.Context, tx *sql.Tx, runID int64, seen int, ts string, removeNow bool) (int, error) {
	var active, removed int
	if err := tx.QueryRowContext(ctx, "SELECT COUNT(*) FROM devices WHERE removed_at IS NULL").Scan(&active); err != nil {
		return 0, err
	}
	if active == seen {
		return 0, nil
	}
	if _, err := tx.ExecContext(ctx, `UPDATE devices SET missed_runs = missed_runs + 1,
			removed_at = CASE WHEN missed_runs + 1 >= 2 OR ? THEN ? ELSE NULL END
		WHERE removed_at IS NULL AND id NOT IN (SELECT id FROM staged_devices WHERE run_id = ?)`, removeNow, ts, runID); err != nil {
		return 0, err
	}
	err := tx.QueryRowContext(ctx, "SELECT COUNT(*) FROM devices WHERE removed_at = ?", ts).Scan(&removed)
	return removed, err
}
