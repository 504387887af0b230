package store

import (
	"context"
	"database/sql"

	"postern/internal/apperr"
	"postern/internal/audit"
	"postern/internal/model"
)

// PasskeyHandle returns admin id's WebAuthn user handle, storing fresh as
// it when they have none yet: every passkey of one admin carries the same
// handle, and two requests racing for the first keep the one stored first.
func (s *Store) PasskeyHandle(ctx context.Context, id int64, fresh []byte) ([]byte, error) {
	var h []byte
	err := s.withTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, "UPDATE admins SET passkey_handle = ? WHERE id = ? AND passkey_handle IS NULL", fresh, id); err != nil {
			return err
		}
		return tx.QueryRowContext(ctx, "SELECT passkey_handle FROM admins WHERE id = ?", id).Scan(&h)
	})
	return h, mapErr(err, "model.Admin")
}

const passkeyColumns = "SELECT id, admin_id, name, rp_id, credential_id, credential, created_at, last_used_at FROM admin_passkeys"

func scanPasskey(r scanner) (model.Passkey, error) {
	var p model.Passkey
	var cred, created string
	var used sql.NullString
	if err := r.Scan(&p.ID, &p.AdminID, &p.Name, &p.RPID, &p.CredentialID, &cred, &created, &used); err != nil {
		return model.Passkey{}, mapErr(err, "Passkey")
	}
	p.Credential = []byte(cred)
	var err error
	if p.CreatedAt, err = parseTime(created); err != nil {
		return model.Passkey{}, err
	}
	p.LastUsedAt, err = nullTime(used)
	return p, err
}

// Passkeys lists admin id's passkeys, oldest first.
func (s *Store) Passkeys(ctx context.Context, id int64) ([]model.Passkey, error) {
	return collect(ctx, s.read, "Passkey", passkeyColumns+" WHERE admin_id = ? ORDER BY created_at, id", []any{id}, scanPasskey)
}

// errPasskeyTaken refuses a credential already registered (the same
// authenticator's credential offered twice, or a replayed registration).
var errPasskeyTaken = apperr.New(apperr.Conflict, "This passkey is already registered. Use another authenticator, or remove the old one first.")

// AddPasskey stores p for its admin and records e (its target the
// admin's email), in one transaction, and returns p with its id. A
// credential already registered for the same relying party is Conflict.
func (s *Store) AddPasskey(ctx context.Context, p model.Passkey, e audit.Entry) (model.Passkey, error) {
	p.CreatedAt = s.now().UTC()
	err := s.withTx(ctx, func(tx *sql.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, "SELECT COUNT(*) FROM admin_passkeys WHERE rp_id = ? AND credential_id = ?",
			p.RPID, p.CredentialID).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return errPasskeyTaken
		}
		if err := tx.QueryRowContext(ctx, `INSERT INTO admin_passkeys (admin_id, name, rp_id, credential_id, credential, created_at)
			VALUES (?, ?, ?, ?, ?, ?) RETURNING id`, p.AdminID, p.Name, p.RPID, p.CredentialID, string(p.Credential),
			formatTime(p.CreatedAt)).Scan(&p.ID); err != nil {
			return err
		}
		return appendAuditTx(ctx, tx, e, s.now())
	})
	if apperr.Is(err, apperr.Conflict) {
		return model.Passkey{}, errPasskeyTaken
	}
	return p, mapErr(err, "Passkey")
}

// DeletePasskey removes admin adminID's passkey id and records e, in one
// transaction, and returns what was removed. A passkey of another admin
// is NotFound, like one that does not exist: nothing changes.
func (s *Store) DeletePasskey(ctx context.Context, adminID, id int64, e audit.Entry) (model.Passkey, error) {
	var p model.Passkey
	err := s.withTx(ctx, func(tx *sql.Tx) error {
		var err error
		if p, err = scanPasskey(tx.QueryRowContext(ctx, passkeyColumns+" WHERE id = ? AND admin_id = ?", id, adminID)); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, "DELETE FROM admin_passkeys WHERE id = ? AND admin_id = ?", id, adminID); err != nil {
			return err
		}
		e.Detail = "passkey “" + p.Name + "” removed"
		return appendAuditTx(ctx, tx, e, s.now())
	})
	return p, mapErr(err, "Passkey")
}

// UsePasskey records a sign-in with admin adminID's passkey id: its
// updated credential record (sign count, flags), the time, and
// challengeHash, the challenge it signed. The update is the check: a
// challenge the passkey signed last time is refused, so one assertion
// cannot sign in twice even from two requests at once. It reports
// whether the sign-in was recorded.
func (s *Store) UsePasskey(ctx context.Context, adminID, id int64, credential, challengeHash []byte) (bool, error) {
	var ok bool
	err := s.withTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE admin_passkeys SET credential = ?, last_used_at = ?, last_challenge = ?
			WHERE id = ? AND admin_id = ? AND (last_challenge IS NULL OR last_challenge <> ?)`,
			string(credential), formatTime(s.now()), challengeHash, id, adminID, challengeHash)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		ok = n == 1
		return err
	})
	return ok, mapErr(err, "Passkey")
}

// FlagPasskey stores admin adminID's passkey id's credential record as
// the check left it (its clone warning set), without recording a use.
func (s *Store) FlagPasskey(ctx context.Context, adminID, id int64, credential []byte) error {
	err := s.withTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, "UPDATE admin_passkeys SET credential = ? WHERE id = ? AND admin_id = ?", string(credential), id, adminID)
		return err
	})
	return mapErr(err, "Passkey")
}
