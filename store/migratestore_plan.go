package store

import (
	"context"
	"database/sql"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"
)

// What migrate-store copies is found in the two catalogs, not listed: every
// table of the SQLite database, matched by name to PostgreSQL's, column by
// column. A table on one side only stops the copy, unless it is one of the
// few tables that exist on one engine by design.

// migrationsTable is each database's own bookkeeping: the target's is
// written by its own migrations, never copied.
const migrationsTable = "schema_migrations"

// pgOnlyTables are PostgreSQL's tables that have no counterpart in a
// SQLite database, with the reason. They are not copied.
var pgOnlyTables = map[string]string{
	"staged_devices": "the pages of the sync in progress: on SQLite a TEMP table of the writer connection (migration 0007), which no file holds",
}

// tablePlan is one table to copy.
type tablePlan struct {
	name     string
	columns  []columnPlan // in the SQLite table's order
	key      []string     // primary key columns, in key order; none: verified by count only
	sequence []string     // columns whose identity sequence follows the copied ids
}

// columnPlan is one column: its name and its PostgreSQL type
// (information_schema's data_type).
type columnPlan struct{ name, pgType string }

// ident is the table's name as an SQL identifier (both engines read it).
func (t tablePlan) ident() string { return pgx.Identifier{t.name}.Sanitize() }

// columnList is the table's columns, quoted, comma-separated.
func (t tablePlan) columnList() string {
	names := make([]string, len(t.columns))
	for i, c := range t.columns {
		names[i] = pgx.Identifier{c.name}.Sanitize()
	}
	return strings.Join(names, ", ")
}

// typeOf is the PostgreSQL type of the named column.
func (t tablePlan) typeOf(column string) string {
	for _, c := range t.columns {
		if c.name == column {
			return c.pgType
		}
	}
	return ""
}

// planCopy lists the tables to copy, parents before the tables whose
// foreign keys point at them, after checking that both schemas have the
// same tables and columns.
func planCopy(ctx context.Context, stx *sql.Tx, tx pgx.Tx) ([]tablePlan, error) {
	srcTables, err := sqliteTables(ctx, stx)
	if err != nil {
		return nil, err
	}
	dstTables, err := pgTables(ctx, tx)
	if err != nil {
		return nil, err
	}
	for _, name := range srcTables {
		if !slices.Contains(dstTables, name) {
			return nil, fmt.Errorf("the SQLite table %s has no counterpart in PostgreSQL's schema (a migration differs between the engines)", name)
		}
	}
	for _, name := range dstTables {
		if !slices.Contains(srcTables, name) {
			return nil, fmt.Errorf("the PostgreSQL table %s has no counterpart in the SQLite database (a table of another application, or a migration that differs between the engines): copy into a database of Postern's own", name)
		}
	}
	byName := map[string]tablePlan{}
	for _, name := range srcTables {
		t, err := planTable(ctx, stx, tx, name)
		if err != nil {
			return nil, err
		}
		byName[name] = t
	}
	order, err := parentsFirst(ctx, tx, srcTables)
	if err != nil {
		return nil, err
	}
	plan := make([]tablePlan, len(order))
	for i, name := range order {
		plan[i] = byName[name]
	}
	return plan, nil
}

// sqliteTables lists the SQLite database's tables, but SQLite's own and
// the migrations'.
func sqliteTables(ctx context.Context, stx *sql.Tx) ([]string, error) {
	rows, err := stx.QueryContext(ctx, `SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite\_%' ESCAPE '\' AND name != ? ORDER BY name`, migrationsTable)
	if err != nil {
		return nil, fmt.Errorf("list the SQLite tables: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			return nil, err
		}
		out = append(out, name)
	}
	return out, rows.Err()
}

// pgTables lists the tables of the target's schema, but the migrations'
// and pgOnlyTables.
func pgTables(ctx context.Context, tx pgx.Tx) ([]string, error) {
	rows, err := tx.Query(ctx, `SELECT table_name FROM information_schema.tables
		WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' AND table_name != $1 ORDER BY table_name`, migrationsTable)
	if err != nil {
		return nil, fmt.Errorf("list the PostgreSQL tables: %w", err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("list the PostgreSQL tables: %w", err)
	}
	return slices.DeleteFunc(names, func(n string) bool { _, ok := pgOnlyTables[n]; return ok }), nil
}

// planTable reads one table's columns on both sides, its primary key
// (SQLite's) and its identity columns (PostgreSQL's).
func planTable(ctx context.Context, stx *sql.Tx, tx pgx.Tx, name string) (tablePlan, error) {
	t := tablePlan{name: name}
	rows, err := tx.Query(ctx, `SELECT column_name, data_type, is_identity = 'YES' OR COALESCE(column_default LIKE 'nextval(%', false)
		FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = $1`, name)
	if err != nil {
		return t, err
	}
	pgTypes, sequenced := map[string]string{}, map[string]bool{}
	var col, typ string
	var seq bool
	if _, err := pgx.ForEachRow(rows, []any{&col, &typ, &seq}, func() error {
		pgTypes[col], sequenced[col] = typ, seq
		return nil
	}); err != nil {
		return t, err
	}
	srows, err := stx.QueryContext(ctx, "SELECT name, pk FROM pragma_table_info(?) ORDER BY cid", name)
	if err != nil {
		return t, err
	}
	defer srows.Close()
	keyAt := map[int]string{}
	for srows.Next() {
		var pk int
		if err := srows.Scan(&col, &pk); err != nil {
			return t, err
		}
		typ, ok := pgTypes[col]
		if !ok {
			return t, fmt.Errorf("the SQLite column %s.%s has no counterpart in PostgreSQL's schema", name, col)
		}
		if !convertible(typ) {
			return t, fmt.Errorf("the PostgreSQL column %s.%s has type %s, which migrate-store does not convert to", name, col, typ)
		}
		delete(pgTypes, col)
		t.columns = append(t.columns, columnPlan{col, typ})
		if pk > 0 {
			keyAt[pk] = col
		}
		if sequenced[col] {
			t.sequence = append(t.sequence, col)
		}
	}
	if err := srows.Err(); err != nil {
		return t, err
	}
	if len(pgTypes) > 0 {
		extra := slices.Sorted(maps.Keys(pgTypes))
		return t, fmt.Errorf("the PostgreSQL column %s.%s has no counterpart in the SQLite database", name, extra[0])
	}
	for i := 1; i <= len(keyAt); i++ {
		t.key = append(t.key, keyAt[i])
	}
	return t, nil
}

// parentsFirst orders tables so that a table comes after every table its
// foreign keys (PostgreSQL's, which check each copied row) point at.
func parentsFirst(ctx context.Context, tx pgx.Tx, tables []string) ([]string, error) {
	rows, err := tx.Query(ctx, `SELECT child.relname::text, parent.relname::text FROM pg_constraint c
		JOIN pg_class child ON child.oid = c.conrelid JOIN pg_class parent ON parent.oid = c.confrelid
		WHERE c.contype = 'f' AND c.connamespace = current_schema()::text::regnamespace`)
	if err != nil {
		return nil, fmt.Errorf("read the foreign keys: %w", err)
	}
	parents := map[string][]string{}
	var child, parent string
	if _, err := pgx.ForEachRow(rows, []any{&child, &parent}, func() error {
		if child != parent {
			parents[child] = append(parents[child], parent)
		}
		return nil
	}); err != nil {
		return nil, fmt.Errorf("read the foreign keys: %w", err)
	}
	var out []string
	placed := map[string]bool{}
	for len(out) < len(tables) {
		progress := false
		for _, t := range tables { // sorted: a stable order
			if placed[t] || slices.ContainsFunc(parents[t], func(p string) bool { return !placed[p] && slices.Contains(tables, p) }) {
				continue
			}
			out, placed[t], progress = append(out, t), true, true
		}
		if !progress {
			return nil, fmt.Errorf("the foreign keys between the tables form a cycle; migrate-store cannot order the copy")
		}
	}
	return out, nil
}
