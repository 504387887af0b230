package store

import (
	"context"
	"database/sql"

	"postern/internal/audit"
	"postern/internal/model"
)

// PendingCertificate returns the generated certificate waiting to be used by
// integration name, or apperr.NotFound.
func (s *Store) PendingCertificate(ctx context.Context, name string) (model.PendingCertificate, error) {
	var p model.PendingCertificate
	var created string
	err := s.read.QueryRowContext(ctx, `SELECT name, certificate, private_key, created_by, created_at
		FROM pending_certificates WHERE name = ?`, name).Scan(&p.Name, &p.Certificate, &p.PrivateKey, &p.CreatedBy, &created)
	if err != nil {
		return model.PendingCertificate{}, mapErr(err, "Pending certificate")
	}
	p.CreatedAt, err = parseTime(created)
	return p, err
}

// SavePendingCertificate stores p, replacing an earlier pending one of the
// same integration, with its audit entry, in one transaction.
func (s *Store) SavePendingCertificate(ctx context.Context, p model.PendingCertificate, e audit.Entry) error {
	return s.withTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO pending_certificates (name, certificate, private_key, created_by, created_at)
			VALUES (?, ?, ?, ?, ?)
			ON CONFLICT (name) DO UPDATE SET certificate = excluded.certificate, private_key = excluded.private_key,
				created_by = excluded.created_by, created_at = excluded.created_at`,
			p.Name, p.Certificate, p.PrivateKey, p.CreatedBy, formatTime(p.CreatedAt))
		if err != nil {
			return err
		}
		return appendAuditTx(ctx, tx, e, s.now())
	})
}
