package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"postern/internal/actor"
	"postern/internal/apperr"
	"postern/internal/audit"
	"postern/internal/model"
)

const signInColumns = `name, tenant_id, client_id, client_secret, cloud, role_map, auto_provision, local_sign_in,
	configured_by, updated_at, version`

// SignInProvider returns Sign in with Microsoft's settings, or NotFound
// while it is not configured.
func (s *Store) SignInProvider(ctx context.Context) (model.SignInProvider, error) {
	return scanSignIn(s.read.QueryRowContext(ctx, "SELECT "+signInColumns+" FROM sign_in_providers WHERE name = ?", model.SignInEntra))
}

func scanSignIn(r scanner) (model.SignInProvider, error) {
	var p model.SignInProvider
	var roleMap, updated string
	if err := r.Scan(&p.Name, &p.TenantID, &p.ClientID, &p.ClientSecret, &p.Cloud, &roleMap, &p.AutoProvision,
		&p.LocalSignIn, &p.ConfiguredBy, &updated, &p.Version); err != nil {
		return model.SignInProvider{}, mapErr(err, "Sign in with Microsoft")
	}
	if err := json.Unmarshal([]byte(roleMap), &p.RoleMap); err != nil {
		return model.SignInProvider{}, fmt.Errorf("store: sign-in role map: %w", err)
	}
	var err error
	p.UpdatedAt, err = parseTime(updated)
	return p, err
}

// SaveSignInProvider stores p with its audit entry, in one transaction,
// provided the stored row is still at version (0: none is stored); a
// change made since the caller read it is a Conflict and writes nothing.
// LocalSignIn is kept as stored (SetLocalSignIn changes it).
func (s *Store) SaveSignInProvider(ctx context.Context, p model.SignInProvider, version int64, e audit.Entry) error {
	roleMap, err := json.Marshal(p.RoleMap)
	if err != nil {
		return err
	}
	err = s.withTx(ctx, func(tx *sql.Tx) error {
		var stored int64
		err := tx.QueryRowContext(ctx, "SELECT version FROM sign_in_providers WHERE name = ?", model.SignInEntra).Scan(&stored)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		if stored != version {
			return apperr.New(apperr.Conflict, "The sign-in settings changed since this page was loaded. Reload it and try again.")
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO sign_in_providers (name, tenant_id, client_id, client_secret, cloud,
			role_map, auto_provision, configured_by, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (name) DO UPDATE SET tenant_id = excluded.tenant_id, client_id = excluded.client_id,
				client_secret = excluded.client_secret, cloud = excluded.cloud, role_map = excluded.role_map,
				auto_provision = excluded.auto_provision, configured_by = excluded.configured_by,
				updated_at = excluded.updated_at, version = sign_in_providers.version + 1`,
			model.SignInEntra, p.TenantID, p.ClientID, p.ClientSecret, p.Cloud, string(roleMap), p.AutoProvision,
			p.ConfiguredBy, formatTime(s.now())); err != nil {
			return err
		}
		return appendAuditTx(ctx, tx, e, s.now())
	})
	return mapErr(err, "Sign in with Microsoft")
}

// SetLocalSignIn turns password sign-in on or off and records e, in one
// transaction. Turning it off needs a configured provider (NotFound
// otherwise) and an enabled Owner of its tenant who has signed in with
// Microsoft (a Conflict otherwise), both read in the transaction; turning
// it on with no provider stored is a no-op that is still recorded.
func (s *Store) SetLocalSignIn(ctx context.Context, enabled bool, e audit.Entry) error {
	err := s.withTx(ctx, func(tx *sql.Tx) error {
		if !enabled {
			var tenant string
			if err := tx.QueryRowContext(ctx, "SELECT tenant_id FROM sign_in_providers WHERE name = ?", model.SignInEntra).Scan(&tenant); err != nil {
				return err
			}
			var n int
			if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM admins WHERE role = ? AND disabled_at IS NULL
				AND entra_tenant_id = ? AND sso_sign_in_at IS NOT NULL`, string(actor.Owner), tenant).Scan(&n); err != nil {
				return err
			}
			if n == 0 {
				return ErrNoSSOOwner
			}
		}
		if _, err := tx.ExecContext(ctx, "UPDATE sign_in_providers SET local_sign_in = ?, version = version + 1 WHERE name = ?",
			enabled, model.SignInEntra); err != nil {
			return err
		}
		return appendAuditTx(ctx, tx, e, s.now())
	})
	return mapErr(err, "Sign in with Microsoft")
}

// ErrNoSSOOwner refuses turning password sign-in off before an Owner has
// signed in with Microsoft: nobody could sign in to turn it back on.
var ErrNoSSOOwner = apperr.New(apperr.Conflict,
	"An Owner must sign in with Microsoft first: otherwise nobody could sign in once passwords are off.")

// AdminByEntra returns the admin keyed by an Entra tenant and object id.
func (s *Store) AdminByEntra(ctx context.Context, tid, oid string) (model.Admin, error) {
	return scanAdmin(s.read.QueryRowContext(ctx, adminColumns+" WHERE entra_tenant_id = ? AND entra_object_id = ?", tid, oid))
}

// CreateEntraAdmin inserts an admin who signs in with Microsoft as tid
// and oid (no password: the empty hash matches none), with role, and
// records e, in one transaction. email is shown only; when another admin
// has it already, the account is named fallback instead (no fallback: a
// Conflict). A (tid, oid) that is an admin already is a Conflict.
func (s *Store) CreateEntraAdmin(ctx context.Context, email, fallback, tid, oid string, role actor.Role, e audit.Entry) (model.Admin, error) {
	var a model.Admin
	err := s.withTx(ctx, func(tx *sql.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, "SELECT COUNT(*) FROM admins WHERE LOWER(email) = LOWER(?)", email).Scan(&n); err != nil {
			return err
		}
		if n > 0 && fallback == "" {
			return apperr.New(apperr.Conflict, "An admin with this email already exists.")
		}
		if n > 0 || email == "" {
			email = fallback
		}
		now := s.now()
		id, err := insertID(ctx, tx, `INSERT INTO admins (email, password_hash, role, created_at, password_changed_at,
			entra_tenant_id, entra_object_id) VALUES (?, '', ?, ?, ?, ?, ?)`,
			email, string(role), formatTime(now), formatTime(now), tid, oid)
		if err != nil {
			return err
		}
		a = model.Admin{ID: id, Email: email, Role: role, CreatedAt: now, PasswordChangedAt: now, EntraTenantID: tid, EntraObjectID: oid}
		e.Target = email
		return appendAuditTx(ctx, tx, e, s.now())
	})
	return a, mapErr(err, "model.Admin")
}

// RecordEntraSignIn notes a sign-in with Microsoft of admin id, gives the
// admin role (the role Entra maps them to now) and records e, in one
// transaction. A disabled admin is Forbidden; a change that would leave no
// enabled Owner is ErrLastOwner; both write nothing.
func (s *Store) RecordEntraSignIn(ctx context.Context, id int64, role actor.Role, e audit.Entry) (model.Admin, error) {
	var a model.Admin
	err := s.withTx(ctx, func(tx *sql.Tx) error {
		var err error
		if a, err = scanAdmin(tx.QueryRowContext(ctx, adminColumns+" WHERE id = ?", id)); err != nil {
			return err
		}
		if !a.Enabled() {
			return ErrAdminDisabled
		}
		if err := keepAnOwner(ctx, tx, a, role == actor.Owner); err != nil {
			return err
		}
		now := s.now()
		if _, err := tx.ExecContext(ctx, "UPDATE admins SET role = ?, last_sign_in_at = ?, sso_sign_in_at = ? WHERE id = ?",
			string(role), formatTime(now), formatTime(now), id); err != nil {
			return err
		}
		a.Role, a.LastSignInAt, a.SSOSignInAt = role, &now, &now
		e.Target = a.Email
		return appendAuditTx(ctx, tx, e, now)
	})
	return a, mapErr(err, "model.Admin")
}

// ErrAdminDisabled refuses a sign-in of a disabled admin.
var ErrAdminDisabled = apperr.New(apperr.Forbidden, "This admin account is disabled. Ask an Owner to enable it.")
