package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"postern/internal/config"
	"postern/store"
)

// migrateStoreUsage is the command's synopsis, for its errors.
const migrateStoreUsage = "usage: postern migrate-store [--from FILE] [--to postgres://…]  (--to defaults to POSTERN_DATABASE_URL)"

// migrateStoreCommand copies a stopped SQLite installation into an empty
// PostgreSQL database (store.MigrateStore) and prints what it copied. It
// reads no master key: sealed secrets are copied as they are.
func migrateStoreCommand(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	dataDir := getenv(config.EnvName("data-dir"))
	if dataDir == "" {
		dataDir = "./data"
	}
	fs := flag.NewFlagSet("postern migrate-store", flag.ContinueOnError)
	fs.SetOutput(stdout)
	from := fs.String("from", filepath.Join(dataDir, "postern.db"), "the SQLite database to copy (default: postern.db in POSTERN_DATA_DIR or ./data)")
	to := fs.String("to", "", "the empty PostgreSQL database to copy into, postgres://… (default: POSTERN_DATABASE_URL, which keeps the password out of the process list)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return errors.New(migrateStoreUsage)
	}
	target := *to
	if target == "" {
		target = getenv(config.EnvName("database-url"))
	}
	if target == "" {
		return errors.New(migrateStoreUsage + ": give the PostgreSQL database to copy into")
	}
	rep, err := store.MigrateStore(ctx, *from, target)
	if err != nil {
		return err
	}
	printMigrateReport(stdout, rep)
	return nil
}

// printMigrateReport prints what was copied, a table a line by name.
func printMigrateReport(w io.Writer, rep store.MigrateReport) {
	fmt.Fprintf(w, "Copied %s (schema version %d) into %s in %s, in one transaction.\n",
		rep.From, rep.SchemaVersion, rep.To, rep.Elapsed.Round(time.Millisecond))
	tables := slices.SortedFunc(slices.Values(rep.Tables), func(a, b store.TableCopy) int { return strings.Compare(a.Name, b.Name) })
	width := len("table")
	for _, t := range tables {
		width = max(width, len(t.Name))
	}
	fmt.Fprintf(w, "  %-*s %12s %9s\n", width, "table", "rows", "compared")
	var rows int64
	compared := 0
	for _, t := range tables {
		fmt.Fprintf(w, "  %-*s %12d %9d\n", width, t.Name, t.Rows, t.Sampled)
		rows += t.Rows
		compared += t.Sampled
	}
	fmt.Fprintf(w, "Verified before the commit: every table has as many rows in PostgreSQL as in SQLite (%d rows in %d tables), and %d sampled rows are equal value by value.\n",
		rows, len(tables), compared)
	fmt.Fprintln(w, "The SQLite database was only read: keep it, unchanged, until Postern on PostgreSQL has served you well.")
	fmt.Fprintln(w, "Sealed secrets were copied as they are: start Postern with --database-url (or POSTERN_DATABASE_URL) and the same master key as before (the key file or POSTERN_MASTER_KEY).")
}
