package store

import (
	"context"
	"database/sql"
	"strings"
)

// querier runs a query: the read pool, the writer or a transaction.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// scanner is a row: *sql.Row or *sql.Rows.
type scanner interface{ Scan(...any) error }

// eachRow runs query on q and calls fn with every row, in order. Errors
// are mapped as mapErr maps them, named by what.
func eachRow(ctx context.Context, q querier, what, query string, args []any, fn func(scanner) error) error {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return mapErr(err, what)
	}
	defer rows.Close()
	for rows.Next() {
		if err := fn(rows); err != nil {
			return mapErr(err, what)
		}
	}
	return mapErr(rows.Err(), what)
}

// collect runs query on q and returns what scan makes of each row.
func collect[T any](ctx context.Context, q querier, what, query string, args []any, scan func(scanner) (T, error)) ([]T, error) {
	var out []T
	err := eachRow(ctx, q, what, query, args, func(r scanner) error {
		v, err := scan(r)
		out = append(out, v)
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// scanString reads a row of one text column.
func scanString(r scanner) (string, error) {
	var s string
	return s, r.Scan(&s)
}

// whereAll is the WHERE clause of conds, all of them ("" for none).
func whereAll(conds []string) string {
	if len(conds) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(conds, " AND ")
}

// limit is the LIMIT argument of a page of n rows (all when n <= 0).
func (s *Store) limit(n int) any {
	if n <= 0 {
		return s.eng.noLimit
	}
	return n
}
