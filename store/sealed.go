package store

import (
	"context"
	"database/sql"
	"fmt"

	"postern/internal/audit"
	"postern/internal/model"
	"postern/internal/secret"
)

// sealedColumns are every column that holds a value sealed by
// internal/secret, with the column that names its row (the Row of its
// secret.Location) and what else a rewrite of the value updates. A new
// sealed column is listed here, and the start-up key check, rotate-key and
// retire-key find its values.
var sealedColumns = []struct {
	table, column, key string
	bump               string // extra SET terms when the value is rewritten
}{
	{table: "integrations", column: "client_secret", key: "name", bump: ", version = version + 1"},
	{table: "integrations", column: "private_key", key: "name", bump: ", version = version + 1"},
	{table: "pending_certificates", column: "private_key", key: "name"},
	{table: "webhook_endpoints", column: "secret", key: "id"},
	{table: "admins", column: "mfa_secret", key: "id"},
	{table: "sign_in_providers", column: "client_secret", key: "name", bump: ", version = version + 1"},
}

// SealedValues lists every sealed value stored, in every sealed column.
func (s *Store) SealedValues(ctx context.Context) ([]secret.Stored, error) {
	var out []secret.Stored
	for _, c := range sealedColumns {
		vals, err := sealedIn(ctx, s.read, c.table, c.column, c.key)
		if err != nil {
			return nil, err
		}
		out = append(out, vals...)
	}
	return out, nil
}

func sealedIn(ctx context.Context, q querier, table, column, key string) ([]secret.Stored, error) {
	return collect(ctx, q, "Sealed values", fmt.Sprintf(`SELECT %s, %s FROM %s WHERE %s IS NOT NULL AND %s != '' ORDER BY %s`,
		key, column, table, column, column, key), nil, func(r scanner) (secret.Stored, error) {
		v := secret.Stored{Location: secret.Location{Table: table, Column: column}}
		return v, r.Scan(&v.Row, &v.Value)
	})
}

// Reseal replaces every sealed value with what reseal makes of it, and
// records entry(n) for the n values rewritten, in one transaction: either
// every value is rewritten or none.
func (s *Store) Reseal(ctx context.Context, reseal func(secret.Stored) (string, error), entry func(n int) audit.Entry) (int, error) {
	n := 0
	err := s.changeTx(ctx, model.ChangeIntegration, func(tx *sql.Tx) error {
		for _, c := range sealedColumns {
			vals, err := sealedIn(ctx, tx, c.table, c.column, c.key)
			if err != nil {
				return err
			}
			for _, v := range vals {
				next, err := reseal(v)
				if err != nil {
					return err
				}
				if _, err := tx.ExecContext(ctx, fmt.Sprintf("UPDATE %s SET %s = ?%s WHERE %s = ?", c.table, c.column, c.bump, c.key),
					next, v.Row); err != nil {
					return err
				}
				n++
			}
		}
		return appendAuditTx(ctx, tx, entry(n), s.now())
	})
	return n, mapErr(err, "Sealed values")
}
