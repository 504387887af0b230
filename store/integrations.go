package store

import (
	"context"
	"database/sql"
	"time"

	"postern/internal/apperr"
	"postern/internal/audit"
	"postern/internal/model"
)

const integrationColumns = `name, tenant_id, client_id, client_secret, secret_expires_on, cloud, region, enabled,
	last_error, last_error_code, last_error_at, configured_by, configured_at, updated_at, version, outage_grace_hours,
	credential, certificate, private_key`

// Integration returns the named integration or apperr.NotFound.
func (s *Store) Integration(ctx context.Context, name string) (model.Integration, error) {
	row := s.read.QueryRowContext(ctx, "SELECT "+integrationColumns+" FROM integrations WHERE name = ?", name)
	in, err := scanIntegration(row)
	return in, mapErr(err, "model.Integration")
}

// Integrations returns every integration (for the secret self-check).
func (s *Store) Integrations(ctx context.Context) ([]model.Integration, error) {
	return queryIntegrations(ctx, s.read)
}

func queryIntegrations(ctx context.Context, q querier) ([]model.Integration, error) {
	return collect(ctx, q, "Integrations", "SELECT "+integrationColumns+" FROM integrations ORDER BY name", nil, scanIntegration)
}

func scanIntegration(r scanner) (model.Integration, error) {
	var in model.Integration
	var expires, errAt sql.NullString
	var configured, updated string
	err := r.Scan(&in.Name, &in.TenantID, &in.ClientID, &in.ClientSecret, &expires, &in.Cloud, &in.Region, &in.Enabled,
		&in.LastError, &in.LastErrorCode, &errAt, &in.ConfiguredBy, &configured, &updated, &in.Version, &in.OutageGraceHours,
		&in.Credential, &in.Certificate, &in.PrivateKey)
	if err != nil {
		return model.Integration{}, err
	}
	if expires.Valid {
		t, err := time.Parse(time.DateOnly, expires.String)
		if err != nil {
			return model.Integration{}, err
		}
		in.SecretExpiresOn = &t
	}
	if errAt.Valid {
		t, err := parseTime(errAt.String)
		if err != nil {
			return model.Integration{}, err
		}
		in.LastErrorAt = &t
	}
	if in.ConfiguredAt, err = parseTime(configured); err != nil {
		return model.Integration{}, err
	}
	in.UpdatedAt, err = parseTime(updated)
	return in, err
}

// SaveIntegration stores in with its audit entry, in one transaction,
// provided the stored row is still at version (0: none is stored): a change
// someone else made since the caller read it is a Conflict, and nothing is
// written.
func (s *Store) SaveIntegration(ctx context.Context, in model.Integration, version int64, e audit.Entry) error {
	return s.changeTx(ctx, model.ChangeIntegration, func(tx *sql.Tx) error {
		latest, err := integrationTx(ctx, tx, in.Name)
		switch {
		case err == nil && latest.Version != version, apperr.Is(err, apperr.NotFound) && version != 0:
			return apperr.New(apperr.Conflict, "The integration changed since it was read.")
		case err != nil && !apperr.Is(err, apperr.NotFound):
			return err
		}
		if err := saveIntegrationTx(ctx, tx, in); err != nil {
			return err
		}
		return appendAuditTx(ctx, tx, e, s.now())
	})
}

// UpdateIntegration applies change to the stored integration name and
// stores it with its audit entry, in one transaction; NotFound when there
// is none.
func (s *Store) UpdateIntegration(ctx context.Context, name string, change func(*model.Integration), e audit.Entry) error {
	return s.changeTx(ctx, model.ChangeIntegration, func(tx *sql.Tx) error {
		in, err := integrationTx(ctx, tx, name)
		if err != nil {
			return err
		}
		change(&in)
		if err := saveIntegrationTx(ctx, tx, in); err != nil {
			return err
		}
		return appendAuditTx(ctx, tx, e, s.now())
	})
}

// saveIntegrationTx inserts or replaces an integration inside tx; the
// stored version goes up by one.
func saveIntegrationTx(ctx context.Context, tx *sql.Tx, in model.Integration) error {
	var expires, errAt any
	if in.SecretExpiresOn != nil {
		expires = in.SecretExpiresOn.Format(time.DateOnly)
	}
	if in.LastErrorAt != nil {
		errAt = formatTime(*in.LastErrorAt)
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO integrations (`+integrationColumns+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?, ?, ?)
		ON CONFLICT (name) DO UPDATE SET tenant_id = excluded.tenant_id, client_id = excluded.client_id,
			client_secret = excluded.client_secret, secret_expires_on = excluded.secret_expires_on,
			cloud = excluded.cloud, region = excluded.region, enabled = excluded.enabled,
			last_error = excluded.last_error, last_error_code = excluded.last_error_code,
			last_error_at = excluded.last_error_at, configured_by = excluded.configured_by,
			configured_at = excluded.configured_at, updated_at = excluded.updated_at,
			outage_grace_hours = excluded.outage_grace_hours, credential = excluded.credential,
			certificate = excluded.certificate, private_key = excluded.private_key, version = integrations.version + 1`,
		in.Name, in.TenantID, in.ClientID, in.ClientSecret, expires, in.Cloud, in.Region, in.Enabled,
		in.LastError, in.LastErrorCode, errAt, in.ConfiguredBy, formatTime(in.ConfiguredAt), formatTime(in.UpdatedAt),
		in.OutageGraceHours, in.Credential, in.Certificate, in.PrivateKey)
	if err != nil || in.Certificate == "" {
		return err
	}
	// The generated certificate now in use is no longer pending.
	_, err = tx.ExecContext(ctx, "DELETE FROM pending_certificates WHERE name = ? AND certificate = ?", in.Name, in.Certificate)
	return err
}

// integrationTx reads an integration inside a write transaction.
func integrationTx(ctx context.Context, tx *sql.Tx, name string) (model.Integration, error) {
	row := tx.QueryRowContext(ctx, "SELECT "+integrationColumns+" FROM integrations WHERE name = ?", name)
	in, err := scanIntegration(row)
	return in, mapErr(err, "model.Integration")
}
