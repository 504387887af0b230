package store

import (
	"context"
	"database/sql"
	"strings"
	"time"

	"postern/internal/audit"
	"postern/internal/model"
)

// CreateAPIToken stores a new token and its audit entry together. A name
// already used by an active token is a Conflict.
func (s *Store) CreateAPIToken(ctx context.Context, t model.APIToken, entry audit.Entry) (model.APIToken, error) {
	err := s.changeTx(ctx, model.ChangeTokens, func(tx *sql.Tx) error {
		t.CreatedAt = s.now()
		if t.IdentitySource == "" {
			t.IdentitySource = model.IdentityHeaders
		}
		if len(t.Scopes) == 0 {
			t.Scopes = model.LegacyTokenScopes
		}
		var err error
		if t.ID, err = insertID(ctx, tx, `INSERT INTO api_tokens (name, prefix, token_hash, created_at, created_by, identity_source, scopes, expires_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, t.Name, t.Prefix, t.Hash, formatTime(t.CreatedAt), t.CreatedBy, t.IdentitySource,
			strings.Join(t.Scopes, " "), timeOrNil(t.ExpiresAt)); err != nil {
			return err
		}
		return appendAuditTx(ctx, tx, entry, t.CreatedAt)
	})
	return t, mapErr(err, "An API token with this name")
}

// APITokens lists every token, newest first, revoked ones included.
func (s *Store) APITokens(ctx context.Context) ([]model.APIToken, error) {
	return collect(ctx, s.read, "API tokens", `SELECT id, name, prefix, token_hash, created_at, created_by, last_used_at, revoked_at, identity_source,
		scopes, expires_at FROM api_tokens ORDER BY id DESC`, nil, scanAPIToken)
}

func scanAPIToken(r scanner) (model.APIToken, error) {
	var t model.APIToken
	var created string
	var used, revoked, expires sql.NullString
	var scopes string
	err := r.Scan(&t.ID, &t.Name, &t.Prefix, &t.Hash, &created, &t.CreatedBy, &used, &revoked, &t.IdentitySource, &scopes, &expires)
	t.Scopes = strings.Fields(scopes)
	if err == nil {
		t.CreatedAt, err = parseTime(created)
	}
	if err == nil {
		t.LastUsedAt, err = nullTime(used)
	}
	if err == nil {
		t.RevokedAt, err = nullTime(revoked)
	}
	if err == nil {
		t.ExpiresAt, err = nullTime(expires)
	}
	return t, err
}

// RevokeAPIToken marks a token revoked; revoking twice is NotFound.
func (s *Store) RevokeAPIToken(ctx context.Context, id int64, entry audit.Entry) (model.APIToken, error) {
	var t model.APIToken
	err := s.changeTx(ctx, model.ChangeTokens, func(tx *sql.Tx) error {
		now := s.now()
		if err := tx.QueryRowContext(ctx, "SELECT name, prefix FROM api_tokens WHERE id = ? AND revoked_at IS NULL", id).
			Scan(&t.Name, &t.Prefix); err != nil {
			return err
		}
		t.ID = id
		if _, err := tx.ExecContext(ctx, "UPDATE api_tokens SET revoked_at = ? WHERE id = ?", formatTime(now), id); err != nil {
			return err
		}
		entry.Target = t.Name + " (" + t.Prefix + "…)"
		return appendAuditTx(ctx, tx, entry, now)
	})
	return t, mapErr(err, "API token")
}

// TouchAPITokens records last use for several tokens at once; it is called
// in batches, off the request path.
func (s *Store) TouchAPITokens(ctx context.Context, used map[int64]time.Time) error {
	if len(used) == 0 {
		return nil
	}
	return mapErr(s.withTx(ctx, func(tx *sql.Tx) error {
		for id, at := range used {
			if _, err := tx.ExecContext(ctx, "UPDATE api_tokens SET last_used_at = ? WHERE id = ?", formatTime(at), id); err != nil {
				return err
			}
		}
		return nil
	}), "API tokens")
}
