package store

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// copyTable streams every row of t from SQLite into PostgreSQL with COPY,
// each value converted to its column's type.
func copyTable(ctx context.Context, stx *sql.Tx, tx pgx.Tx, t tablePlan) (TableCopy, error) {
	rows, err := stx.QueryContext(ctx, "SELECT "+t.columnList()+" FROM "+t.ident())
	if err != nil {
		return TableCopy{}, fmt.Errorf("read %s: %w", t.name, err)
	}
	defer rows.Close()
	src := newRowSource(rows, t)
	names := make([]string, len(t.columns))
	for i, c := range t.columns {
		names[i] = c.name
	}
	n, err := tx.CopyFrom(ctx, pgx.Identifier{t.name}, names, src)
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == pgUniqueViolation {
		return TableCopy{}, fmt.Errorf("copy %s: two of its rows are one row on PostgreSQL (%s): a case-insensitive column (COLLATE nocase) ignores the case of every letter there, of A to Z only in SQLite, so two values that differ only in the case of a letter such as É and é collide: %w",
			t.name, pe.ConstraintName, err)
	}
	if err != nil {
		return TableCopy{}, fmt.Errorf("copy %s: %w", t.name, err)
	}
	return TableCopy{Name: t.name, Rows: n}, nil
}

// rowSource is pgx's CopyFromSource over a SQLite query.
type rowSource struct {
	rows      *sql.Rows
	t         tablePlan
	vals, out []any
	ptrs      []any
	n         int64
	err       error
}

func newRowSource(rows *sql.Rows, t tablePlan) *rowSource {
	r := &rowSource{rows: rows, t: t, vals: make([]any, len(t.columns)), out: make([]any, len(t.columns))}
	for i := range r.vals {
		r.ptrs = append(r.ptrs, &r.vals[i])
	}
	return r
}

func (r *rowSource) Next() bool {
	if !r.rows.Next() {
		r.err = r.rows.Err()
		return false
	}
	if r.err = r.rows.Scan(r.ptrs...); r.err != nil {
		return false
	}
	r.n++
	return true
}

func (r *rowSource) Values() ([]any, error) {
	for i, c := range r.t.columns {
		v, err := pgValue(r.vals[i], c.pgType)
		if err != nil {
			return nil, fmt.Errorf("%s.%s, row %d: %w", r.t.name, c.name, r.n, err)
		}
		r.out[i] = v
	}
	return r.out, nil
}

func (r *rowSource) Err() error { return r.err }

// convertible reports whether pgValue converts to the PostgreSQL type.
func convertible(pgType string) bool {
	switch pgType {
	case "boolean", "smallint", "integer", "bigint", "text", "character varying", "bytea":
		return true
	}
	return false
}

// pgValue converts v, as SQLite returns it (nil, int64, float64, string or
// []byte), to the Go value of PostgreSQL type pgType, or says why it
// cannot. Values are never opened or reformatted: times stay the text they
// are stored as, sealed secrets the exact bytes.
func pgValue(v any, pgType string) (any, error) {
	if v == nil {
		return nil, nil
	}
	switch pgType {
	case "boolean":
		switch x := v.(type) {
		case int64:
			if x == 0 || x == 1 {
				return x == 1, nil
			}
		case bool:
			return x, nil
		}
	case "smallint", "integer", "bigint":
		if x, ok := v.(int64); ok {
			return x, nil
		}
	case "text", "character varying":
		var s string
		switch x := v.(type) {
		case string:
			s = x
		case []byte:
			s = string(x)
		default:
			return nil, fmt.Errorf("a %T is not text", v)
		}
		if !utf8.ValidString(s) || strings.IndexByte(s, 0) >= 0 {
			return nil, fmt.Errorf("the text is not valid UTF-8 or holds a NUL byte, which PostgreSQL's text refuses")
		}
		return s, nil
	case "bytea":
		switch x := v.(type) {
		case []byte:
			return x, nil
		case string:
			return []byte(x), nil
		}
	}
	return nil, fmt.Errorf("a %T (%v) does not convert to %s", v, shortValue(v), pgType)
}

// shortValue is v for an error message: numbers and booleans only, never
// text or bytes (they may be secrets or hashes).
func shortValue(v any) string {
	switch v.(type) {
	case int64, float64, bool:
		return fmt.Sprint(v)
	}
	return "value not shown"
}

// resetSequences sets each identity sequence past the largest id copied,
// so that the next row inserted gets a new id.
func resetSequences(ctx context.Context, tx pgx.Tx, plan []tablePlan) error {
	for _, t := range plan {
		for _, c := range t.sequence {
			col := pgx.Identifier{c}.Sanitize()
			if _, err := tx.Exec(ctx, "SELECT setval(pg_get_serial_sequence($1, $2), COALESCE(MAX("+col+"), 0) + 1, false) FROM "+t.ident(),
				t.ident(), c); err != nil {
				return fmt.Errorf("reset the sequence of %s.%s: %w", t.name, c, err)
			}
		}
	}
	return nil
}

// randomSamples is how many rows of a table, besides its first and its
// last, verifyTable compares value by value.
const randomSamples = 8

// verifyTable checks that t has as many rows on both sides as were copied,
// then compares a sample of rows value by value: the first and the last
// in key order and some at random. It returns how many rows it compared.
func verifyTable(ctx context.Context, stx *sql.Tx, tx pgx.Tx, t tablePlan, copied int64) (int, error) {
	var srcN, dstN int64
	if err := stx.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+t.ident()).Scan(&srcN); err != nil {
		return 0, err
	}
	if err := tx.QueryRow(ctx, "SELECT COUNT(*) FROM "+t.ident()).Scan(&dstN); err != nil {
		return 0, err
	}
	if srcN != copied || dstN != srcN {
		return 0, fmt.Errorf("verify %s: %d rows in SQLite, %d copied, %d in PostgreSQL", t.name, srcN, copied, dstN)
	}
	if len(t.key) == 0 || srcN == 0 {
		return 0, nil
	}
	keys := make([]string, len(t.key))
	for i, k := range t.key {
		keys[i] = pgx.Identifier{k}.Sanitize()
	}
	keyList := strings.Join(keys, ", ")
	srcWhere, dstWhere := make([]string, len(keys)), make([]string, len(keys))
	for i, k := range keys {
		srcWhere[i], dstWhere[i] = k+" = ?", fmt.Sprintf("%s = $%d", k, i+1)
	}
	sel := "SELECT " + t.columnList() + " FROM " + t.ident() + " WHERE "
	offsets := sampleOffsets(srcN)
	for _, off := range offsets {
		key := make([]any, len(keys))
		if err := scanAny(stx.QueryRowContext(ctx, "SELECT "+keyList+" FROM "+t.ident()+" ORDER BY "+keyList+" LIMIT 1 OFFSET ?", off), key); err != nil {
			return 0, fmt.Errorf("verify %s: %w", t.name, err)
		}
		want := make([]any, len(t.columns))
		if err := scanAny(stx.QueryRowContext(ctx, sel+strings.Join(srcWhere, " AND "), key...), want); err != nil {
			return 0, fmt.Errorf("verify %s: %w", t.name, err)
		}
		pgKey := make([]any, len(key))
		for i, k := range key {
			pgKey[i], _ = pgValue(k, t.typeOf(t.key[i])) // converted once already
		}
		got, err := pgRow(ctx, tx, sel+strings.Join(dstWhere, " AND "), pgKey)
		if err != nil {
			return 0, fmt.Errorf("verify %s: the row at position %d (in key order) of %d: %w", t.name, off+1, srcN, err)
		}
		for i, c := range t.columns {
			w, _ := pgValue(want[i], c.pgType)
			if !sameValue(w, got[i]) {
				return 0, fmt.Errorf("verify %s: the row at position %d (in key order) differs in column %s", t.name, off+1, c.name)
			}
		}
	}
	return len(offsets), nil
}

// sampleOffsets are the positions compared in a table of n rows: the
// first, the last and up to randomSamples others, each once, in order.
func sampleOffsets(n int64) []int64 {
	seen := map[int64]bool{0: true, n - 1: true}
	for i := 0; i < randomSamples && int64(len(seen)) < n; i++ {
		seen[rand.Int64N(n)] = true
	}
	out := make([]int64, 0, len(seen))
	for off := range seen {
		out = append(out, off)
	}
	slices.Sort(out)
	return out
}

// scanAny scans one row into dst, value by value as the driver gives them.
func scanAny(row *sql.Row, dst []any) error {
	ptrs := make([]any, len(dst))
	for i := range dst {
		ptrs[i] = &dst[i]
	}
	return row.Scan(ptrs...)
}

// pgRow reads the one row query finds, as pgx decodes its values.
func pgRow(ctx context.Context, tx pgx.Tx, query string, args []any) ([]any, error) {
	rows, err := tx.Query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return nil, err
		}
		return nil, fmt.Errorf("missing in PostgreSQL")
	}
	return rows.Values()
}

// sameValue compares a converted SQLite value with what PostgreSQL
// returned, integers of any width alike.
func sameValue(want, got any) bool {
	switch g := got.(type) {
	case int16:
		got = int64(g)
	case int32:
		got = int64(g)
	case []byte:
		w, ok := want.([]byte)
		return ok && bytes.Equal(w, g)
	}
	if _, ok := want.([]byte); ok {
		return false
	}
	return want == got
}
