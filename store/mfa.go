package store

import (
	"context"
	"database/sql"

	"postern/internal/apperr"
	"postern/internal/audit"
	"postern/internal/model"
)

// AdminMFA returns admin id's second factor: the sealed secret (empty when
// none), whether enrolment is complete, the last accepted time step and how
// many recovery codes are left.
func (s *Store) AdminMFA(ctx context.Context, id int64) (model.AdminMFA, error) {
	var m model.AdminMFA
	var sealed, enabled sql.NullString
	err := s.read.QueryRowContext(ctx, `SELECT mfa_secret, mfa_enabled_at, mfa_last_step,
		(SELECT COUNT(*) FROM admin_recovery_codes WHERE admin_id = admins.id AND used_at IS NULL)
		FROM admins WHERE id = ?`, id).Scan(&sealed, &enabled, &m.LastStep, &m.RecoveryLeft)
	if err != nil {
		return model.AdminMFA{}, mapErr(err, "model.Admin")
	}
	m.Sealed, m.Enabled = sealed.String, enabled.Valid
	return m, nil
}

// errMFAEnabled refuses to start or finish an enrolment over one in use.
var errMFAEnabled = apperr.New(apperr.Conflict, "Two-factor authentication is already on for this account. Turn it off first to set it up again.")

// SetMFAPending stores a new sealed secret for admin id's enrolment, not
// in use until EnableMFA. An admin with two-factor on already is Conflict.
func (s *Store) SetMFAPending(ctx context.Context, id int64, sealed string) error {
	err := s.withTx(ctx, func(tx *sql.Tx) error {
		var enabled sql.NullString
		if err := tx.QueryRowContext(ctx, "SELECT mfa_enabled_at FROM admins WHERE id = ?", id).Scan(&enabled); err != nil {
			return err
		}
		if enabled.Valid {
			return errMFAEnabled
		}
		_, err := tx.ExecContext(ctx, "UPDATE admins SET mfa_secret = ?, mfa_last_step = 0 WHERE id = ?", sealed, id)
		return err
	})
	return mapErr(err, "model.Admin")
}

// EnableMFA completes admin id's enrolment: the pending secret, which must
// still be sealed (the value the code was checked against), is in use from
// now, step is the time step of the code that proved it, and codeHashes
// replace every recovery code. e is recorded in the same transaction.
func (s *Store) EnableMFA(ctx context.Context, id int64, sealed string, step int64, codeHashes [][]byte, e audit.Entry) error {
	err := s.withTx(ctx, func(tx *sql.Tx) error {
		var current, enabled sql.NullString
		var email string
		if err := tx.QueryRowContext(ctx, "SELECT email, mfa_secret, mfa_enabled_at FROM admins WHERE id = ?", id).
			Scan(&email, &current, &enabled); err != nil {
			return err
		}
		if enabled.Valid {
			return errMFAEnabled
		}
		if current.String != sealed || sealed == "" {
			return apperr.New(apperr.Conflict, "The setup was started again elsewhere. Scan the new QR code and enter a fresh code.")
		}
		if _, err := tx.ExecContext(ctx, "UPDATE admins SET mfa_enabled_at = ?, mfa_last_step = ? WHERE id = ?",
			formatTime(s.now()), step, id); err != nil {
			return err
		}
		if err := replaceRecoveryCodes(ctx, tx, id, codeHashes); err != nil {
			return err
		}
		e.Target = email
		return appendAuditTx(ctx, tx, e, s.now())
	})
	return mapErr(err, "model.Admin")
}

func replaceRecoveryCodes(ctx context.Context, tx *sql.Tx, id int64, codeHashes [][]byte) error {
	if _, err := tx.ExecContext(ctx, "DELETE FROM admin_recovery_codes WHERE admin_id = ?", id); err != nil {
		return err
	}
	for _, h := range codeHashes {
		if _, err := tx.ExecContext(ctx, "INSERT INTO admin_recovery_codes (admin_id, code_hash) VALUES (?, ?)", id, h); err != nil {
			return err
		}
	}
	return nil
}

// AcceptMFAStep records step as admin id's last accepted time step, only
// when it is later than the one stored (and two-factor is on): the update
// is the check, so two requests with the same code cannot both pass. It
// reports whether the step was accepted.
func (s *Store) AcceptMFAStep(ctx context.Context, id, step int64) (bool, error) {
	var ok bool
	err := s.withTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, "UPDATE admins SET mfa_last_step = ? WHERE id = ? AND mfa_enabled_at IS NOT NULL AND mfa_last_step < ?",
			step, id, step)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		ok = n == 1
		return err
	})
	return ok, mapErr(err, "model.Admin")
}

// UseRecoveryCode marks admin id's unused recovery code with codeHash used
// and records e, in one transaction; it reports whether there was such a
// code (a used or unknown one changes nothing and records nothing).
func (s *Store) UseRecoveryCode(ctx context.Context, id int64, codeHash []byte, e audit.Entry) (bool, error) {
	var ok bool
	err := s.withTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE admin_recovery_codes SET used_at = ?
			WHERE admin_id = ? AND code_hash = ? AND used_at IS NULL
			AND EXISTS (SELECT 1 FROM admins WHERE id = ? AND mfa_enabled_at IS NOT NULL)`,
			formatTime(s.now()), id, codeHash, id)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err != nil || n != 1 {
			return err
		}
		ok = true
		return appendAuditTx(ctx, tx, e, s.now())
	})
	return ok, mapErr(err, "model.Admin")
}

// ReplaceRecoveryCodes gives admin id (two-factor on) new recovery codes,
// the old ones no longer working, and records e.
func (s *Store) ReplaceRecoveryCodes(ctx context.Context, id int64, codeHashes [][]byte, e audit.Entry) error {
	err := s.withTx(ctx, func(tx *sql.Tx) error {
		var enabled sql.NullString
		if err := tx.QueryRowContext(ctx, "SELECT mfa_enabled_at FROM admins WHERE id = ?", id).Scan(&enabled); err != nil {
			return err
		}
		if !enabled.Valid {
			return apperr.New(apperr.Conflict, "Two-factor authentication is off for this account.")
		}
		if err := replaceRecoveryCodes(ctx, tx, id, codeHashes); err != nil {
			return err
		}
		return appendAuditTx(ctx, tx, e, s.now())
	})
	return mapErr(err, "model.Admin")
}

// ClearMFA turns the authenticator app off for admin id: the secret
// (pending or in use), the last step and every recovery code are removed,
// with every passkey too when passkeys is true (an Owner's reset), and e
// is recorded with the admin's email as its target, in one transaction.
// It returns the admin as they are now.
func (s *Store) ClearMFA(ctx context.Context, id int64, passkeys bool, e audit.Entry) (model.Admin, error) {
	var a model.Admin
	err := s.withTx(ctx, func(tx *sql.Tx) error {
		var err error
		if a, err = scanAdmin(tx.QueryRowContext(ctx, adminColumns+" WHERE id = ?", id)); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, "UPDATE admins SET mfa_secret = NULL, mfa_enabled_at = NULL, mfa_last_step = 0 WHERE id = ?", id); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, "DELETE FROM admin_recovery_codes WHERE admin_id = ?", id); err != nil {
			return err
		}
		if passkeys {
			if _, err := tx.ExecContext(ctx, "DELETE FROM admin_passkeys WHERE admin_id = ?", id); err != nil {
				return err
			}
			a.Passkeys = 0
		}
		a.MFAEnabledAt = nil
		e.Target = a.Email
		return appendAuditTx(ctx, tx, e, s.now())
	})
	return a, mapErr(err, "model.Admin")
}

// Setting returns the value of the console setting name, "" when unset.
func (s *Store) Setting(ctx context.Context, name string) (string, error) {
	var v string
	err := s.read.QueryRowContext(ctx, "SELECT value FROM settings WHERE name = ?", name).Scan(&v)
	if err == sql.ErrNoRows {
		return "", nil
	}
	return v, mapErr(err, "Setting")
}

// SetSetting sets the console setting name to value and records e, in one
// transaction.
func (s *Store) SetSetting(ctx context.Context, name, value string, e audit.Entry) error {
	err := s.withTx(ctx, func(tx *sql.Tx) error {
		now := formatTime(s.now())
		res, err := tx.ExecContext(ctx, "UPDATE settings SET value = ?, updated_at = ? WHERE name = ?", value, now, name)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			if _, err := tx.ExecContext(ctx, "INSERT INTO settings (name, value, updated_at) VALUES (?, ?, ?)", name, value, now); err != nil {
				return err
			}
		}
		return appendAuditTx(ctx, tx, e, s.now())
	})
	return mapErr(err, "Setting")
}
