package store

import (
	"context"
	"database/sql"
	"time"

	"postern/internal/apperr"
	"postern/internal/model"
)

// AdminCount tells whether the first-run setup is still open.
func (s *Store) AdminCount(ctx context.Context) (int, error) {
	var n int
	err := s.read.QueryRowContext(ctx, "SELECT COUNT(*) FROM admins").Scan(&n)
	return n, mapErr(err, "model.Admin count")
}

// CreateFirstAdmin inserts an admin only while none exists, checked inside
// the write transaction so two concurrent setups cannot both succeed.
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
		a, err = insertAdmin(ctx, tx, email, passwordHash, s.now())
		return err
	})
	return a, mapErr(err, "model.Admin")
}

func insertAdmin(ctx context.Context, tx *sql.Tx, email, hash string, now time.Time) (model.Admin, error) {
	id, err := insertID(ctx, tx,
		"INSERT INTO admins (email, password_hash, created_at, password_changed_at) VALUES (?, ?, ?, ?)",
		email, hash, formatTime(now), formatTime(now))
	return model.Admin{ID: id, Email: email, PasswordHash: hash, CreatedAt: now, PasswordChangedAt: now}, err
}

// AdminByEmail looks an admin up case-insensitively.
func (s *Store) AdminByEmail(ctx context.Context, email string) (model.Admin, error) {
	return s.scanAdmin(ctx, "email = ?", email)
}

// Admin returns the admin with id.
func (s *Store) Admin(ctx context.Context, id int64) (model.Admin, error) {
	return s.scanAdmin(ctx, "id = ?", id)
}

func (s *Store) scanAdmin(ctx context.Context, where string, arg any) (model.Admin, error) {
	var a model.Admin
	var created, changed string
	err := s.read.QueryRowContext(ctx,
		"SELECT id, email, password_hash, created_at, password_changed_at FROM admins WHERE "+where, arg).
		Scan(&a.ID, &a.Email, &a.PasswordHash, &created, &changed)
	if err != nil {
		return model.Admin{}, mapErr(err, "model.Admin")
	}
	if a.CreatedAt, err = parseTime(created); err != nil {
		return model.Admin{}, err
	}
	a.PasswordChangedAt, err = parseTime(changed)
	return a, err
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
