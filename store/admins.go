package store

import (
	"context"
	"database/sql"
	"time"

	"postern/internal/actor"
	"postern/internal/apperr"
	"postern/internal/audit"
	"postern/internal/model"
)

// AdminCount tells whether the first-run setup is still open.
func (s *Store) AdminCount(ctx context.Context) (int, error) {
	var n int
	err := s.read.QueryRowContext(ctx, "SELECT COUNT(*) FROM admins").Scan(&n)
	return n, mapErr(err, "model.Admin count")
}

// CreateFirstAdmin inserts an Owner only while no admin exists, checked
// inside the write transaction so two concurrent setups cannot both succeed.
func (s *Store) CreateFirstAdmin(ctx context.Context, email, passwordHash string) (model.Admin, error) {
	var a model.Admin
	err := s.withTx(ctx, func(tx *sql.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, "SELECT COUNT(*) FROM admins").Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return apperr.New(apperr.Conflict, "An admin account already exists.")
		}
		var err error
		a, err = insertAdmin(ctx, tx, email, passwordHash, actor.Owner, s.now())
		return err
	})
	return a, mapErr(err, "model.Admin")
}

// CreateAdmin inserts an admin with role and records e in the same
// transaction. An email in use is Conflict.
func (s *Store) CreateAdmin(ctx context.Context, email, passwordHash string, role actor.Role, e audit.Entry) (model.Admin, error) {
	var a model.Admin
	err := s.withTx(ctx, func(tx *sql.Tx) error {
		var err error
		if a, err = insertAdmin(ctx, tx, email, passwordHash, role, s.now()); err != nil {
			return err
		}
		e.Target = email
		return appendAuditTx(ctx, tx, e, s.now())
	})
	return a, mapErr(err, "model.Admin")
}

func insertAdmin(ctx context.Context, tx *sql.Tx, email, hash string, role actor.Role, now time.Time) (model.Admin, error) {
	id, err := insertID(ctx, tx,
		"INSERT INTO admins (email, password_hash, role, created_at, password_changed_at) VALUES (?, ?, ?, ?, ?)",
		email, hash, string(role), formatTime(now), formatTime(now))
	return model.Admin{ID: id, Email: email, PasswordHash: hash, Role: role, CreatedAt: now, PasswordChangedAt: now}, err
}

// AdminByEmail looks an admin up case-insensitively.
func (s *Store) AdminByEmail(ctx context.Context, email string) (model.Admin, error) {
	return scanAdmin(s.read.QueryRowContext(ctx, adminColumns+" WHERE email = ?", email))
}

// Admin returns the admin with id.
func (s *Store) Admin(ctx context.Context, id int64) (model.Admin, error) {
	return scanAdmin(s.read.QueryRowContext(ctx, adminColumns+" WHERE id = ?", id))
}

// Admins lists every admin by email.
func (s *Store) Admins(ctx context.Context) ([]model.Admin, error) {
	return collect(ctx, s.read, "model.Admin", adminColumns+" ORDER BY email", nil, scanAdmin)
}

const adminColumns = "SELECT id, email, password_hash, role, created_at, password_changed_at, disabled_at, last_sign_in_at, " +
	"COALESCE(entra_tenant_id, ''), COALESCE(entra_object_id, ''), sso_sign_in_at, mfa_enabled_at, " +
	"(SELECT COUNT(*) FROM admin_passkeys WHERE admin_passkeys.admin_id = admins.id) FROM admins"

func scanAdmin(r scanner) (model.Admin, error) {
	var a model.Admin
	var role, created, changed string
	var disabled, signIn, ssoSignIn, mfa sql.NullString
	if err := r.Scan(&a.ID, &a.Email, &a.PasswordHash, &role, &created, &changed, &disabled, &signIn,
		&a.EntraTenantID, &a.EntraObjectID, &ssoSignIn, &mfa, &a.Passkeys); err != nil {
		return model.Admin{}, mapErr(err, "model.Admin")
	}
	a.Role = actor.Role(role)
	var err error
	if a.CreatedAt, err = parseTime(created); err != nil {
		return model.Admin{}, err
	}
	if a.PasswordChangedAt, err = parseTime(changed); err != nil {
		return model.Admin{}, err
	}
	if a.DisabledAt, err = nullTime(disabled); err != nil {
		return model.Admin{}, err
	}
	if a.LastSignInAt, err = nullTime(signIn); err != nil {
		return model.Admin{}, err
	}
	if a.SSOSignInAt, err = nullTime(ssoSignIn); err != nil {
		return model.Admin{}, err
	}
	a.MFAEnabledAt, err = nullTime(mfa)
	return a, err
}

// RecordSignIn notes when an admin last signed in.
func (s *Store) RecordSignIn(ctx context.Context, id int64) error {
	err := s.withTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, "UPDATE admins SET last_sign_in_at = ? WHERE id = ?", formatTime(s.now()), id)
		return err
	})
	return mapErr(err, "model.Admin")
}

// ErrLastOwner refuses a change that would leave no enabled Owner.
var ErrLastOwner = apperr.New(apperr.Conflict, "This is the last enabled Owner. Make another admin an Owner first.")

// AdminChange is one change UpdateAdmin makes: a new role, or disabled
// (true) or enabled (false); nil fields stay as they are.
type AdminChange struct {
	Role     *actor.Role
	Disabled *bool
}

// UpdateAdmin changes admin id and records e, in one transaction. A change
// that would leave no enabled Owner is ErrLastOwner: the count is read in
// the write transaction, so two concurrent demotions cannot both succeed.
// Disabling ends the admin's sessions at once.
func (s *Store) UpdateAdmin(ctx context.Context, id int64, ch AdminChange, e audit.Entry) (model.Admin, error) {
	var a model.Admin
	err := s.withTx(ctx, func(tx *sql.Tx) error {
		var err error
		if a, err = scanAdmin(tx.QueryRowContext(ctx, adminColumns+" WHERE id = ?", id)); err != nil {
			return err
		}
		e.Target = a.Email
		next := a
		if ch.Role != nil {
			next.Role = *ch.Role
		}
		if ch.Disabled != nil {
			next.DisabledAt = nil
			if *ch.Disabled {
				now := s.now()
				next.DisabledAt = &now
				if a.DisabledAt != nil {
					next.DisabledAt = a.DisabledAt
				}
			}
		}
		if err := keepAnOwner(ctx, tx, a, next.Role == actor.Owner && next.Enabled()); err != nil {
			return err
		}
		var disabled any
		if next.DisabledAt != nil {
			disabled = formatTime(*next.DisabledAt)
		}
		if _, err := tx.ExecContext(ctx, "UPDATE admins SET role = ?, disabled_at = ? WHERE id = ?",
			string(next.Role), disabled, id); err != nil {
			return err
		}
		if !next.Enabled() {
			if _, err := tx.ExecContext(ctx, "DELETE FROM sessions WHERE admin_id = ?", id); err != nil {
				return err
			}
		}
		a = next
		return appendAuditTx(ctx, tx, e, s.now())
	})
	return a, mapErr(err, "model.Admin")
}

// DeleteAdmin removes admin id and their sessions and records e, in one
// transaction; the last enabled Owner is ErrLastOwner.
func (s *Store) DeleteAdmin(ctx context.Context, id int64, e audit.Entry) (model.Admin, error) {
	var a model.Admin
	err := s.withTx(ctx, func(tx *sql.Tx) error {
		var err error
		if a, err = scanAdmin(tx.QueryRowContext(ctx, adminColumns+" WHERE id = ?", id)); err != nil {
			return err
		}
		if err := keepAnOwner(ctx, tx, a, false); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, "DELETE FROM sessions WHERE admin_id = ?", id); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, "DELETE FROM admins WHERE id = ?", id); err != nil {
			return err
		}
		e.Target = a.Email
		return appendAuditTx(ctx, tx, e, s.now())
	})
	return a, mapErr(err, "model.Admin")
}

// keepAnOwner refuses a change of a (an enabled Owner now) that leaves it
// no enabled Owner (stillOwner false) when no other enabled Owner exists.
func keepAnOwner(ctx context.Context, tx *sql.Tx, a model.Admin, stillOwner bool) error {
	if a.Role != actor.Owner || !a.Enabled() || stillOwner {
		return nil
	}
	var others int
	if err := tx.QueryRowContext(ctx, "SELECT COUNT(*) FROM admins WHERE role = ? AND disabled_at IS NULL AND id <> ?",
		string(actor.Owner), a.ID).Scan(&others); err != nil {
		return err
	}
	if others == 0 {
		return ErrLastOwner
	}
	return nil
}

// SetPassword replaces an admin's password hash and ends every session of
// that admin, so a changed password locks out whoever held the old one.
func (s *Store) SetPassword(ctx context.Context, adminID int64, hash string) error {
	err := s.withTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, "UPDATE admins SET password_hash = ?, password_changed_at = ? WHERE id = ?",
			hash, formatTime(s.now()), adminID)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return sql.ErrNoRows
		}
		_, err = tx.ExecContext(ctx, "DELETE FROM sessions WHERE admin_id = ?", adminID)
		return err
	})
	return mapErr(err, "model.Admin")
}

// SetAdminRole gives admin id role (UpdateAdmin).
func (s *Store) SetAdminRole(ctx context.Context, id int64, role actor.Role, e audit.Entry) (model.Admin, error) {
	return s.UpdateAdmin(ctx, id, AdminChange{Role: &role}, e)
}

// SetAdminDisabled disables or enables admin id (UpdateAdmin).
func (s *Store) SetAdminDisabled(ctx context.Context, id int64, disabled bool, e audit.Entry) (model.Admin, error) {
	return s.UpdateAdmin(ctx, id, AdminChange{Disabled: &disabled}, e)
}
