package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
)

// PostgreSQL's own advice for a bulk load ("Populating a Database" in its
// manual) is to drop the indexes and the foreign keys of the tables being
// filled and to create them again afterwards: each CREATE INDEX sorts
// once, and each ADD FOREIGN KEY checks every row in one join, where the
// load would otherwise update every index and fire the foreign key's
// trigger row by row (at 100,000 new devices, most of an apply's time).
// The statements are made by the catalog itself (pg_get_indexdef,
// pg_get_constraintdef), so the rebuilt schema is the migrated one. All of
// it runs inside the apply's transaction: a failure rolls the drops back
// with everything else.
//
// The drops lock devices and device_tags until the commit, so readers of
// those tables (the console's device pages, on every replica) wait for
// the apply; the enforcement API answers from memory and does not. It is
// taken only when a run adds more devices than are stored, a first sync.

// pgBulkDefinitionsSQL lists, for the tables named by $1, the statements
// that drop and those that recreate their secondary indexes (primary keys
// and unique indexes stay) and the foreign keys that point into them.
const pgBulkDefinitionsSQL = `
	SELECT 1, format('DROP INDEX %s', i.indexrelid::regclass), pg_get_indexdef(i.indexrelid)
	FROM pg_index i
	WHERE i.indrelid = ANY (?::regclass[]) AND NOT i.indisprimary AND NOT i.indisunique
	UNION ALL
	SELECT 2, format('ALTER TABLE %s DROP CONSTRAINT %I', c.conrelid::regclass, c.conname),
		format('ALTER TABLE %s ADD CONSTRAINT %I %s', c.conrelid::regclass, c.conname, pg_get_constraintdef(c.oid))
	FROM pg_constraint c
	WHERE c.contype = 'f' AND c.confrelid = ANY (?::regclass[])
	ORDER BY 1, 2`

// pgDropForBulkTx drops the secondary indexes of tables and the foreign
// keys into them, and returns the function that adds them back. The
// indexes come back before the foreign keys, whose check they may serve.
func pgDropForBulkTx(ctx context.Context, tx *sql.Tx, tables ...string) (func() error, error) {
	names := "{" + strings.Join(tables, ",") + "}"
	rows, err := tx.QueryContext(ctx, pgBulkDefinitionsSQL, names, names)
	if err != nil {
		return nil, err
	}
	var drops, creates []string
	for rows.Next() {
		var kind int
		var drop, create string
		if err := rows.Scan(&kind, &drop, &create); err != nil {
			rows.Close()
			return nil, err
		}
		drops, creates = append(drops, drop), append(creates, create)
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return nil, err
	}
	for _, drop := range drops {
		if _, err := tx.ExecContext(ctx, drop); err != nil {
			return nil, fmt.Errorf("%s: %w", drop, err)
		}
	}
	return func() error {
		for _, create := range creates {
			if _, err := tx.ExecContext(ctx, create); err != nil {
				return fmt.Errorf("%s: %w", create, err)
			}
		}
		return nil
	}, nil
}
