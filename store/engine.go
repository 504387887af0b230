package store

import (
	"strconv"
	"strings"
)

// Postern's store runs on two SQL engines: the embedded SQLite (the
// default) and PostgreSQL (--database-url, for several replicas). There is
// one store, not one per engine: almost every statement is the same text on
// both, written with ? placeholders (the PostgreSQL connection rewrites
// them to $n, once per distinct text: rebind.go). An engine holds the few
// spellings that differ, chosen once at Open, so that a statement that
// needs one reads s.eng.x where it differs and nothing changes for SQLite.
type engine struct {
	name string // "sqlite" or "postgres", for messages

	// noLimit is the LIMIT argument that means "all rows".
	noLimit any
	// emptyBlob is the literal of an empty byte string.
	emptyBlob string
	// indexed is the hint that makes SQLite's planner read a covering
	// index it would not pick by itself; PostgreSQL plans without hints.
	indexed func(index string) string
	// contains is the condition that column contains the bound argument.
	contains func(column string) string
	// jsonValues is a FROM item that yields the elements of the JSON array
	// in column as rows with a text column "value", named alias.
	jsonValues func(column, alias string) string
	// jsonArrayHasID is the condition that the JSON array in column has an
	// object whose "id" is the bound integer.
	jsonArrayHasID func(column string) string
	// insertOrFail prefixes a multi-row INSERT whose failure fails its
	// transaction anyway: SQLite's OR FAIL spares it the statement journal
	// (the pages the statement changed, copied aside so that a row failing
	// halfway could undo the rows before it), which costs a batch of the
	// decision log a seventh of its time. PostgreSQL has no such journal.
	insertOrFail string
	// insertIgnore prefixes an INSERT that skips rows that would break a
	// unique constraint; ignoreSuffix ends it.
	insertIgnore, ignoreSuffix string
	// like is the case-insensitive (for ASCII, at least) LIKE.
	like string
	// crossJoin is an inner join that keeps its tables in the order
	// written (SQLite's CROSS JOIN); PostgreSQL picks the order itself.
	crossJoin string
	// recursiveLimit caps a recursive query inside its recursive term
	// (SQLite) or not at all (PostgreSQL, whose outer LIMIT stops it).
	recursiveLimit func(n int) string
	// keyOrder orders an INSERT … SELECT by the target's key: SQLite's
	// tables are B-trees on it, which fill faster in order. PostgreSQL's
	// heap has no order, and sorting wide rows costs more than it saves.
	keyOrder func(column string) string
}

var sqliteEngine = &engine{
	name:       "sqlite",
	noLimit:    -1,
	emptyBlob:  "x''",
	indexed:    func(index string) string { return " INDEXED BY " + index },
	contains:   func(column string) string { return "instr(" + column + ", ?) > 0" },
	jsonValues: func(column, alias string) string { return "json_each(" + column + ") " + alias },
	jsonArrayHasID: func(column string) string {
		return "EXISTS (SELECT 1 FROM json_each(" + column + ") WHERE json_extract(json_each.value, '$.id') = ?)"
	},
	insertIgnore:   "INSERT OR IGNORE INTO",
	insertOrFail:   "INSERT OR FAIL INTO",
	like:           "LIKE",
	crossJoin:      "CROSS JOIN",
	recursiveLimit: func(n int) string { return " LIMIT " + strconv.Itoa(n) },
	keyOrder:       func(column string) string { return " ORDER BY " + column },
}

var postgresEngine = &engine{
	name:      "postgres",
	noLimit:   nil, // LIMIT NULL
	emptyBlob: `'\x'::bytea`,
	indexed:   func(string) string { return "" },
	contains:  func(column string) string { return "strpos(" + column + ", ?) > 0" },
	jsonValues: func(column, alias string) string {
		return "jsonb_array_elements_text(" + column + "::jsonb) AS " + alias + "(value)"
	},
	jsonArrayHasID: func(column string) string {
		return "EXISTS (SELECT 1 FROM jsonb_array_elements(" + column + "::jsonb) AS c(value) WHERE (c.value->>'id')::bigint = ?)"
	},
	insertIgnore:   "INSERT INTO",
	insertOrFail:   "INSERT INTO",
	like:           "ILIKE",
	crossJoin:      "JOIN",
	ignoreSuffix:   " ON CONFLICT DO NOTHING",
	recursiveLimit: func(int) string { return "" },
	keyOrder:       func(string) string { return "" },
}

// replaceRows is an INSERT of rows rows of columns into table that
// replaces a row with the same key: SQLite's INSERT OR REPLACE,
// PostgreSQL's ON CONFLICT (key) DO UPDATE of every other column.
func (e *engine) replaceRows(table, columns, key string, rows int) string {
	n := len(strings.Split(columns, ","))
	row := "(?" + strings.Repeat(", ?", n-1) + ")"
	values := row + strings.Repeat(", "+row, rows-1)
	if e == sqliteEngine {
		return "INSERT OR REPLACE INTO " + table + " (" + columns + ") VALUES " + values
	}
	keys := map[string]bool{}
	for _, k := range strings.Split(key, ",") {
		keys[strings.TrimSpace(k)] = true
	}
	var set []string
	for _, c := range strings.Split(columns, ",") {
		if c = strings.TrimSpace(c); !keys[c] {
			set = append(set, c+" = excluded."+c)
		}
	}
	return "INSERT INTO " + table + " (" + columns + ") VALUES " + values +
		" ON CONFLICT (" + key + ") DO UPDATE SET " + strings.Join(set, ", ")
}
