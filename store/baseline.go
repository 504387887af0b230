package store

import (
	"context"
	"database/sql"
	"encoding/base64"
	"errors"
	"strings"

	"postern/internal/model"
)

// RecordVerdicts records a whole-fleet pass in one transaction: each
// cause's changes (history, cause, audit summary and webhook events, as
// AppendHistory), the verdicts as they now stand (base, when its Data is
// set) and the end of the pending causes done, which the pass has filed.
// A crash leaves either all of it or none, so the next start compares with
// exactly what was last recorded: a change is recorded once.
func (s *Store) RecordVerdicts(ctx context.Context, changes []model.CauseChanges, base model.VerdictBaseline, done []int64) error {
	return mapErr(s.withTx(ctx, func(tx *sql.Tx) error {
		for _, ch := range changes {
			if len(ch.Entries) == 0 {
				continue
			}
			if _, err := s.appendHistoryTx(ctx, tx, ch.Cause, ch.Entries, ch.Summary); err != nil {
				return err
			}
		}
		if base.Data != nil {
			if _, err := tx.ExecContext(ctx, `INSERT INTO posture_baseline (id, at, run_id, stale, data) VALUES (1, ?, ?, ?, ?)
				ON CONFLICT (id) DO UPDATE SET at = excluded.at, run_id = excluded.run_id, stale = excluded.stale, data = excluded.data`,
				formatTime(base.At), base.RunID, base.Stale, base64.StdEncoding.EncodeToString(base.Data)); err != nil {
				return err
			}
		}
		if len(done) > 0 {
			args := make([]any, len(done))
			for i, id := range done {
				args[i] = id
			}
			if _, err := tx.ExecContext(ctx, "DELETE FROM posture_pending_causes WHERE id IN (?"+
				strings.Repeat(", ?", len(done)-1)+")", args...); err != nil {
				return err
			}
		}
		return nil
	}), "Posture history")
}

// VerdictBaseline returns the verdicts last recorded, and false when none
// were (a new database).
func (s *Store) VerdictBaseline(ctx context.Context) (model.VerdictBaseline, bool, error) {
	var b model.VerdictBaseline
	var at, data string
	err := s.read.QueryRowContext(ctx, "SELECT at, run_id, stale, data FROM posture_baseline WHERE id = 1").
		Scan(&at, &b.RunID, &b.Stale, &data)
	if errors.Is(err, sql.ErrNoRows) {
		return b, false, nil
	}
	if err == nil {
		b.At, err = parseTime(at)
	}
	if err == nil {
		b.Data, err = base64.StdEncoding.DecodeString(data)
	}
	return b, err == nil, mapErr(err, "Posture history")
}

// AddPendingCause keeps a cause named by its owner until the pass that
// files its changes (RecordVerdicts) ends it, so that a restart in between
// still knows it; it returns the cause's id there.
func (s *Store) AddPendingCause(ctx context.Context, p model.PendingCause) (int64, error) {
	var id int64
	err := s.withTx(ctx, func(tx *sql.Tx) error {
		return tx.QueryRowContext(ctx, `INSERT INTO posture_pending_causes (kind, ref, label, actor, at, check_id, device_id)
			VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id`, p.Cause.Kind, p.Cause.Ref, p.Cause.Label, p.Cause.Actor,
			formatTime(p.Cause.At), p.CheckID, p.DeviceID).Scan(&id)
	})
	return id, mapErr(err, "Posture history")
}

// PendingCauses returns the causes named and not yet filed, oldest first.
func (s *Store) PendingCauses(ctx context.Context) ([]model.PendingCause, error) {
	return collect(ctx, s.read, "Posture history", `SELECT id, kind, ref, label, actor, at, check_id, device_id
		FROM posture_pending_causes ORDER BY id`, nil, func(r scanner) (model.PendingCause, error) {
		var p model.PendingCause
		var at string
		if err := r.Scan(&p.ID, &p.Cause.Kind, &p.Cause.Ref, &p.Cause.Label, &p.Cause.Actor, &at, &p.CheckID, &p.DeviceID); err != nil {
			return p, err
		}
		var err error
		p.Cause.At, err = parseTime(at)
		return p, err
	})
}
