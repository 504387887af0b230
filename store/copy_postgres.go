package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// copyFunc copies rows into table's columns with PostgreSQL's COPY (binary),
// inside the transaction it was given with, and returns how many it wrote.
type copyFunc func(table string, columns []string, rows pgx.CopyFromSource) (int64, error)

// withCopyTx is withTx on PostgreSQL on a connection of its own, so that
// fn can also COPY in the same transaction: database/sql has no COPY, and
// pgx's connection under the transaction's is reached through it. COPY
// writes rows at a fraction of the cost of INSERTs (no statement to parse
// or plan per batch, binary values), which a sync's staging of every page
// is made of.
func (s *Store) withCopyTx(ctx context.Context, fn func(tx *sql.Tx, copyFrom copyFunc) error) error {
	conn, err := s.write.Conn(ctx)
	if err != nil {
		return fmt.Errorf("store: begin: %w", err)
	}
	defer conn.Close()
	return s.writeTx(ctx, conn, func(tx *sql.Tx) error {
		return fn(tx, func(table string, columns []string, rows pgx.CopyFromSource) (int64, error) {
			var n int64
			err := conn.Raw(func(dc any) error {
				rc, ok := dc.(*rebindConn)
				if !ok {
					return fmt.Errorf("store: a PostgreSQL connection of type %T", dc)
				}
				var err error
				n, err = rc.Conn.Conn().CopyFrom(ctx, pgx.Identifier{table}, columns, rows)
				return err
			})
			return n, err
		})
	})
}

// isUniqueViolation reports whether err is PostgreSQL's refusal of a
// duplicate key.
func isUniqueViolation(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == pgUniqueViolation
}
