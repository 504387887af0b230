package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"postern/internal/audit"
	"postern/internal/model"
)

// StartRun records a run in progress and clears staging left by any other.
func (s *Store) StartRun(ctx context.Context, integration, trigger string) (model.SyncRun, error) {
	run := model.SyncRun{Integration: integration, Trigger: trigger, Replica: s.replica, StartedAt: s.now(), Outcome: model.RunRunning}
	err := s.withTx(ctx, func(tx *sql.Tx) error {
		if err := s.clearStagingTx(ctx, tx); err != nil {
			return err
		}
		var err error
		run.ID, err = insertID(ctx, tx, "INSERT INTO sync_runs (integration, trigger, replica, started_at, outcome) VALUES (?, ?, ?, ?, ?)",
			integration, trigger, s.replica, formatTime(run.StartedAt), model.RunRunning)
		return err
	})
	return run, mapErr(err, "Sync run")
}

// MarkInterrupted closes runs that a crash or kill left "running"; it runs
// at start, before any new run.
func (s *Store) MarkInterrupted(ctx context.Context) (int64, error) {
	var n int64
	err := s.withTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE sync_runs SET outcome = ?, finished_at = ?,
			error = 'Postern stopped before this run finished; the previous device data was kept.'
			WHERE outcome = ?`, model.RunInterrupted, formatTime(s.now()), model.RunRunning)
		if err != nil {
			return err
		}
		n, _ = res.RowsAffected()
		return s.clearStagingTx(ctx, tx)
	})
	return n, mapErr(err, "Sync runs")
}

// FinishRun applies a successful run's staged devices, records the run and
// its audit entry, all in one transaction: either everything or nothing.
// Every listing is applied; FinishGuardedRun is the same behind the
// mass-removal guard.
func (s *Store) FinishRun(ctx context.Context, run model.SyncRun, entry audit.Entry) (model.SyncRun, error) {
	return s.FinishGuardedRun(ctx, run, model.RunGuard{Audit: func(model.SyncRun) []audit.Entry { return []audit.Entry{entry} }})
}

// FinishGuardedRun applies a successful run's staged devices, records the
// run and its audit entries, all in one transaction: either everything or
// nothing. For a successful run, run.Seen is how many devices the caller
// staged; an apply that finds another number (the writer connection, and
// with it the staging table, was replaced mid-run) fails rather than count
// the missing devices as gone. A listing that g.Decide holds applies
// nothing: the run is recorded as held, with the devices it did not see,
// for an admin to accept (AcceptHeldRun).
//
// The commit of a large apply would also copy the whole WAL into the
// database file (SQLite's automatic checkpoint) before anyone can see the
// new devices. FinishGuardedRun skips that for its own commit, so the
// caller can publish first and then call Checkpoint; otherwise the next
// write does it.
func (s *Store) FinishGuardedRun(ctx context.Context, run model.SyncRun, g model.RunGuard) (model.SyncRun, error) {
	err := s.changeTx(ctx, model.ChangeSnapshot, func(tx *sql.Tx) error {
		now := s.now()
		run.FinishedAt = &now
		if run.Outcome == model.RunSuccess {
			if err := s.noAutoCheckpointTx(ctx, tx); err != nil {
				return err
			}
			if err := s.stagingTx(ctx, tx); err != nil {
				return err
			}
			var err error
			if run, err = s.applyGuardedTx(ctx, tx, run, g.Decide, now); err != nil {
				return err
			}
		} else if err := s.clearStagingTx(ctx, tx); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE sync_runs SET finished_at = ?, outcome = ?, pages = ?, seen = ?,
			added = ?, changed = ?, removed = ?, throttled_waits = ?, error = ?, error_code = ?,
			missing = ?, active = ?, accepted_by = ?, accepted_at = ?, unreadable = ?, note = ? WHERE id = ?`,
			formatTime(now), run.Outcome, run.Pages, run.Seen, run.Added, run.Changed, run.Removed,
			run.ThrottledWaits, run.Error, run.ErrorCode, run.Missing, run.Active, run.AcceptedBy,
			timeOrNil(run.AcceptedAt), run.Unreadable, run.Note, run.ID); err != nil {
			return err
		}
		for _, e := range g.Audit(run) {
			e.At = now
			if err := appendAuditTx(ctx, tx, e, now); err != nil {
				return err
			}
		}
		return s.emitRunTx(ctx, tx, run, now)
	})
	if err != nil {
		return run, mapErr(errors.Join(err, s.autoCheckpoint(ctx)), "Sync run")
	}
	// Committed: the run stands whatever happens next. Should turning the
	// automatic checkpoints back on fail (a context ended just now), the
	// WAL only grows until Checkpoint, which the worker calls after
	// publishing and which turns them back on too.
	_ = s.autoCheckpoint(context.WithoutCancel(ctx))
	return run, nil
}

// walAutoCheckpoint is SQLite's default threshold, in pages.
const walAutoCheckpoint = 1000

// Checkpoint copies what the WAL holds into the database file, without
// waiting for readers. PostgreSQL checkpoints by itself: nothing to do.
func (s *Store) Checkpoint(ctx context.Context) error {
	if s.eng != sqliteEngine {
		return nil
	}
	if err := s.autoCheckpoint(ctx); err != nil {
		return mapErr(err, "Checkpoint")
	}
	_, err := s.write.ExecContext(ctx, "PRAGMA wal_checkpoint(PASSIVE)")
	return mapErr(err, "Checkpoint")
}

// noAutoCheckpointTx turns SQLite's automatic checkpoint off for tx's
// commit (autoCheckpoint turns it back on).
func (s *Store) noAutoCheckpointTx(ctx context.Context, tx *sql.Tx) error {
	if s.eng != sqliteEngine {
		return nil
	}
	_, err := tx.ExecContext(ctx, "PRAGMA wal_autocheckpoint = 0")
	return err
}

// autoCheckpoint turns the automatic checkpoint back on, on the writer
// connection, outside any transaction.
func (s *Store) autoCheckpoint(ctx context.Context) error {
	if s.eng != sqliteEngine {
		return nil
	}
	_, err := s.write.ExecContext(ctx, fmt.Sprintf("PRAGMA wal_autocheckpoint = %d", walAutoCheckpoint))
	return err
}

const runColumns = `id, integration, trigger, replica, started_at, finished_at, outcome, pages, seen, added, changed, removed,
	throttled_waits, error, error_code, missing, active, accepted_by, accepted_at, unreadable, note`

func scanRun(r scanner) (model.SyncRun, error) {
	var run model.SyncRun
	var started string
	var finished, accepted sql.NullString
	err := r.Scan(&run.ID, &run.Integration, &run.Trigger, &run.Replica, &started, &finished, &run.Outcome, &run.Pages, &run.Seen,
		&run.Added, &run.Changed, &run.Removed, &run.ThrottledWaits, &run.Error, &run.ErrorCode,
		&run.Missing, &run.Active, &run.AcceptedBy, &accepted, &run.Unreadable, &run.Note)
	if err != nil {
		return run, err
	}
	if run.AcceptedAt, err = nullTime(accepted); err != nil {
		return run, err
	}
	if run.StartedAt, err = parseTime(started); err != nil {
		return run, err
	}
	if finished.Valid {
		t, err := parseTime(finished.String)
		if err != nil {
			return run, err
		}
		run.FinishedAt = &t
	}
	return run, nil
}

// SyncRuns returns runs newest first and the total.
func (s *Store) SyncRuns(ctx context.Context, limit, offset int) ([]model.SyncRun, int, error) {
	var total int
	if err := s.read.QueryRowContext(ctx, "SELECT COUNT(*) FROM sync_runs").Scan(&total); err != nil {
		return nil, 0, mapErr(err, "Sync runs")
	}
	out, err := collect(ctx, s.read, "Sync runs", "SELECT "+runColumns+" FROM sync_runs ORDER BY id DESC LIMIT ? OFFSET ?",
		[]any{limit, offset}, scanRun)
	return out, total, err
}

// LastRun returns the newest run of integration with one of outcomes (all
// outcomes when none are given), or NotFound.
func (s *Store) LastRun(ctx context.Context, integration string, outcomes ...string) (model.SyncRun, error) {
	q := "SELECT " + runColumns + " FROM sync_runs WHERE integration = ?"
	args := []any{integration}
	if len(outcomes) > 0 {
		q += " AND outcome IN (?" + strings.Repeat(", ?", len(outcomes)-1) + ")"
		for _, o := range outcomes {
			args = append(args, o)
		}
	}
	run, err := scanRun(s.read.QueryRowContext(ctx, q+" ORDER BY id DESC LIMIT 1", args...))
	return run, mapErr(err, "Sync run")
}

// RunTotals sums the runs by outcome and their throttled waits.
func (s *Store) RunTotals(ctx context.Context) (model.RunTotals, error) {
	t := model.RunTotals{ByOutcome: map[string]int{}}
	err := eachRow(ctx, s.read, "Sync runs", "SELECT outcome, COUNT(*), COALESCE(SUM(throttled_waits), 0) FROM sync_runs GROUP BY outcome",
		nil, func(r scanner) error {
			var outcome string
			var n, waits int
			if err := r.Scan(&outcome, &n, &waits); err != nil {
				return err
			}
			t.ByOutcome[outcome] = n
			t.ThrottledWaits += waits
			return nil
		})
	return t, err
}
