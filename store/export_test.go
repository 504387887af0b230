package store

import (
	"context"
	"database/sql"
)

// DBs exposes the writer and reader pools so tests can inspect every pooled
// connection's pragmas.
func (s *Store) DBs() (w, r *sql.DB) { return s.write, s.read }

// StagingDDL is stagingDDL, for the store's own tests.
var StagingDDL = stagingDDL

// DeviceSortTerm is the ORDER BY term of a device sort key.
func DeviceSortTerm(key string) string { return deviceSorts[key] }

// AppendAuditTx is appendAuditTx, for the store's transaction tests.
var AppendAuditTx = appendAuditTx

// WithTx is withTx, for the store's transaction tests.
func (s *Store) WithTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	return s.withTx(ctx, fn)
}
