package store

import (
	"context"
	"database/sql"

	"postern/internal/audit"
	"postern/internal/model"
	"postern/internal/webhook/events"
)

const checkColumns = `id, name, description, data_source, mode, enabled, when_unavailable, spec,
	created_at, created_by, updated_at, updated_by`

func scanCheck(r scanner) (model.PostureCheck, error) {
	var c model.PostureCheck
	var created, updated string
	err := r.Scan(&c.ID, &c.Name, &c.Description, &c.DataSource, &c.Mode, &c.Enabled, &c.WhenUnavailable, &c.Spec,
		&created, &c.CreatedBy, &updated, &c.UpdatedBy)
	if err != nil {
		return c, err
	}
	if c.CreatedAt, err = parseTime(created); err != nil {
		return c, err
	}
	c.UpdatedAt, err = parseTime(updated)
	return c, err
}

// PostureChecks lists every check by name.
func (s *Store) PostureChecks(ctx context.Context) ([]model.PostureCheck, error) {
	return collect(ctx, s.read, "Posture checks", "SELECT "+checkColumns+" FROM posture_checks ORDER BY name COLLATE NOCASE", nil, scanCheck)
}

// PostureCheck returns one check or NotFound.
func (s *Store) PostureCheck(ctx context.Context, id int64) (model.PostureCheck, error) {
	c, err := scanCheck(s.read.QueryRowContext(ctx, "SELECT "+checkColumns+" FROM posture_checks WHERE id = ?", id))
	return c, mapErr(err, "Posture check")
}

// SavePostureCheck creates (ID 0) or updates a check with its audit entry. A
// name in use by another check is a Conflict.
func (s *Store) SavePostureCheck(ctx context.Context, c model.PostureCheck, by string, entry audit.Entry) (model.PostureCheck, error) {
	created := c.ID == 0
	err := s.changeTx(ctx, model.ChangePolicy, func(tx *sql.Tx) error {
		now := s.now()
		c.UpdatedAt, c.UpdatedBy = now, by
		if c.ID == 0 {
			c.CreatedAt, c.CreatedBy = now, by
			var err error
			if c.ID, err = insertID(ctx, tx, `INSERT INTO posture_checks (name, description, data_source, mode, enabled,
				when_unavailable, spec, created_at, created_by, updated_at, updated_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
				c.Name, c.Description, c.DataSource, c.Mode, c.Enabled, c.WhenUnavailable, c.Spec,
				formatTime(now), by, formatTime(now), by); err != nil {
				return err
			}
		} else {
			res, err := tx.ExecContext(ctx, `UPDATE posture_checks SET name = ?, description = ?, data_source = ?, mode = ?,
				enabled = ?, when_unavailable = ?, spec = ?, updated_at = ?, updated_by = ? WHERE id = ?`,
				c.Name, c.Description, c.DataSource, c.Mode, c.Enabled, c.WhenUnavailable, c.Spec, formatTime(now), by, c.ID)
			if err != nil {
				return err
			}
			if n, _ := res.RowsAffected(); n == 0 {
				return sql.ErrNoRows
			}
		}
		entry.Target = c.Name
		if err := appendAuditTx(ctx, tx, entry, now); err != nil {
			return err
		}
		return s.emitCheckTx(ctx, tx, c, created, by, now)
	})
	return c, mapErr(err, "A posture check with this name")
}

// DeletePostureCheck removes a check and its exceptions; its history stays.
func (s *Store) DeletePostureCheck(ctx context.Context, id int64, entry audit.Entry) (model.PostureCheck, error) {
	var c model.PostureCheck
	err := s.changeTx(ctx, model.ChangePolicy, func(tx *sql.Tx) error {
		var err error
		if c, err = scanCheck(tx.QueryRowContext(ctx, "SELECT "+checkColumns+" FROM posture_checks WHERE id = ?", id)); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, "DELETE FROM posture_checks WHERE id = ?", id); err != nil {
			return err
		}
		entry.Target = c.Name
		now := s.now()
		if err := appendAuditTx(ctx, tx, entry, now); err != nil {
			return err
		}
		return s.emitTx(ctx, tx, events.PostureCheckChanged, func() []model.WebhookEvent {
			return []model.WebhookEvent{events.CheckEvent(c, "deleted", entry.Actor, now)}
		})
	})
	return c, mapErr(err, "Posture check")
}

// Exceptions lists exceptions, newest first.
func (s *Store) Exceptions(ctx context.Context, f model.ExceptionFilter) ([]model.Exception, error) {
	q := `SELECT id, device_id, COALESCE(check_id, 0), reason, expires_at, created_by, created_at, revoked_at,
		COALESCE(revoked_by, '') FROM posture_exceptions WHERE 1 = 1`
	var args []any
	if f.DeviceID != "" {
		q += " AND device_id = ?"
		args = append(args, f.DeviceID)
	}
	if f.CheckID != 0 {
		q += " AND (check_id = ? OR check_id IS NULL)"
		args = append(args, f.CheckID)
	}
	if !f.ActiveAt.IsZero() {
		q += " AND revoked_at IS NULL AND expires_at > ?"
		args = append(args, formatTime(f.ActiveAt))
	}
	return collect(ctx, s.read, "Exceptions", q+" ORDER BY id DESC", args, scanException)
}

func scanException(r scanner) (model.Exception, error) {
	var e model.Exception
	var expires, created string
	var revoked sql.NullString
	err := r.Scan(&e.ID, &e.DeviceID, &e.CheckID, &e.Reason, &expires, &e.CreatedBy, &created, &revoked, &e.RevokedBy)
	if err == nil {
		e.ExpiresAt, err = parseTime(expires)
	}
	if err == nil {
		e.CreatedAt, err = parseTime(created)
	}
	if err == nil {
		e.RevokedAt, err = nullTime(revoked)
	}
	return e, err
}

// CreateException stores an exception with its audit entry.
func (s *Store) CreateException(ctx context.Context, e model.Exception, entry audit.Entry) (model.Exception, error) {
	err := s.changeTx(ctx, model.ChangePolicy, func(tx *sql.Tx) error {
		e.CreatedAt = s.now()
		var check any
		if e.CheckID != 0 {
			check = e.CheckID
		}
		var err error
		if e.ID, err = insertID(ctx, tx, `INSERT INTO posture_exceptions (device_id, check_id, reason, expires_at, created_by, created_at)
			VALUES (?, ?, ?, ?, ?, ?)`, e.DeviceID, check, e.Reason, formatTime(e.ExpiresAt), e.CreatedBy, formatTime(e.CreatedAt)); err != nil {
			return err
		}
		return appendAuditTx(ctx, tx, entry, e.CreatedAt)
	})
	return e, mapErr(err, "Exception")
}

// RevokeException ends exception id of device deviceID early; one of
// another device, or already revoked, is NotFound.
func (s *Store) RevokeException(ctx context.Context, deviceID string, id int64, by string, entry audit.Entry) error {
	return mapErr(s.changeTx(ctx, model.ChangePolicy, func(tx *sql.Tx) error {
		now := s.now()
		res, err := tx.ExecContext(ctx, `UPDATE posture_exceptions SET revoked_at = ?, revoked_by = ?
			WHERE id = ? AND device_id = ? AND revoked_at IS NULL`, formatTime(now), by, id, deviceID)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return sql.ErrNoRows
		}
		return appendAuditTx(ctx, tx, entry, now)
	}), "Exception")
}
