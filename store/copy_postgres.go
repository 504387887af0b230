package store

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// copyFunc copies rows into table's columns with PostgreSQL's COPY (binary),
// inside the transaction it was given with.
type copyFunc func(table string, columns []string, rows pgx.CopyFromSource) error

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
		return fn(tx, func(table string, columns []string, rows pgx.CopyFromSource) error {
			return conn.Raw(func(dc any) error {
				rc, ok := dc.(*rebindConn)
				if !ok {
					return fmt.Errorf("store: a PostgreSQL connection of type %T", dc)
				}
				_, err := rc.Conn.Conn().CopyFrom(ctx, pgx.Identifier{table}, columns, rows)
				return err
			})
		})
	})
}
