package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"

	"github.com/jackc/pgx/v5"
)

// MigrateStore copies the SQLite installation at from into the empty
// PostgreSQL database at to (postern migrate-store): the way from one
// machine to several replicas.
//
// The source is opened read-only and read in one snapshot; it is never
// written, and it must be at this binary's schema version (a source that
// is older is upgraded by running this Postern on it once, not here). The
// target is migrated to the same version, and must hold no row in any
// table copied. Every table of the schema is copied, found in the two
// databases' catalogs rather than listed here, so that a new migration's
// table is copied without a change to this code; each value is converted
// to its target column's type (0/1 to a boolean, blobs to bytea, times as
// the text they are stored as). Sealed secrets are text and are copied as
// they are: the master key is neither needed nor read.
//
// The whole copy is one PostgreSQL transaction, queued behind the write
// lock every replica's writes take. Identity sequences are set past the
// largest id copied. Before it commits, the copy is verified: the row
// count of every table, and a sample of rows per table (the first, the
// last and some at random, by primary key) compared value by value. Any
// difference rolls everything back.
func MigrateStore(ctx context.Context, from, to string) (MigrateReport, error) {
	start := time.Now()
	rep := MigrateReport{From: from, SchemaVersion: SchemaVersion()}
	if !IsPostgresURL(to) {
		return rep, errors.New("store: migrate-store: the target must be a postgres:// or postgresql:// URL")
	}
	src, err := openSource(ctx, from)
	if err != nil {
		return rep, err
	}
	defer src.Close()
	dst, err := Open(ctx, "", Options{URL: to})
	if err != nil {
		return rep, err // names the host and database, never the password
	}
	defer dst.Close()
	rep.To = dst.where
	if err := dst.copyFrom(ctx, src, &rep); err != nil {
		return rep, fmt.Errorf("store: migrate-store from %s to %s: %s; nothing was written to PostgreSQL",
			from, dst.where, redactedReason(err, passwordOf(to)))
	}
	rep.Elapsed = time.Since(start)
	return rep, nil
}

// MigrateReport is what MigrateStore copied and verified.
type MigrateReport struct {
	From          string // the SQLite file
	To            string // PostgreSQL's host, database and user, without the password
	SchemaVersion int
	Tables        []TableCopy // in the order copied (parents before children)
	Elapsed       time.Duration
}

// TableCopy is one table's part of a MigrateReport.
type TableCopy struct {
	Name    string
	Rows    int64 // copied, equal on both sides
	Sampled int   // rows compared value by value
}

// openSource opens the SQLite database at path read-only, after checking
// that no other process has it open (a running Postern would go on
// writing to it after the copy), and that its schema is this binary's.
func openSource(ctx context.Context, path string) (*sql.DB, error) {
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("store: migrate-store: there is no database at %s", path)
	} else if err != nil {
		return nil, fmt.Errorf("store: migrate-store: %w", err)
	}
	// Before this process opens it: a check that opens and closes the
	// file would drop this process's own locks on it.
	if pid, held := heldByOtherProcess(path); held {
		who := "another process"
		if pid > 0 {
			who = fmt.Sprintf("process %d", pid)
		}
		return nil, fmt.Errorf("store: migrate-store: %s is open in %s (a running Postern?): stop Postern first, so that nothing is written to it after the copy", path, who)
	}
	db, err := sql.Open("sqlite", readOnlyDSN(path))
	if err != nil {
		return nil, fmt.Errorf("store: migrate-store: open %s: %w", path, err)
	}
	db.SetMaxOpenConns(1) // one snapshot, on one connection
	var version int
	if err := db.QueryRowContext(ctx, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations").Scan(&version); err != nil {
		db.Close()
		return nil, fmt.Errorf("store: migrate-store: %s is not a Postern database (no schema version): %w", path, err)
	}
	switch known := SchemaVersion(); {
	case version < known:
		db.Close()
		return nil, fmt.Errorf("store: migrate-store: %s has schema version %d and this Postern's is %d: run this Postern on it once (it upgrades the file at start), stop it, then migrate", path, version, known)
	case version > known:
		db.Close()
		return nil, fmt.Errorf("store: migrate-store: %s has schema version %d, newer than this Postern's %d: migrate it with the newer Postern that wrote it", path, version, known)
	}
	return db, nil
}

// copyFrom copies src into s, a PostgreSQL store, in one transaction on
// one connection of s's pool, spoken to through pgx itself (COPY).
func (s *Store) copyFrom(ctx context.Context, src *sql.DB, rep *MigrateReport) error {
	stx, err := src.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return fmt.Errorf("read %s: %w", rep.From, err)
	}
	defer stx.Rollback()
	conn, err := s.write.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	return conn.Raw(func(dc any) error {
		pc := dc.(*rebindConn).Conn.Conn()
		tx, err := pc.Begin(ctx)
		if err != nil {
			return err
		}
		defer tx.Rollback(context.WithoutCancel(ctx))
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", lockWrite); err != nil {
			return fmt.Errorf("wait for the write lock: %w", err)
		}
		plan, err := planCopy(ctx, stx, tx)
		if err != nil {
			return err
		}
		if err := refuseNonEmpty(ctx, tx, plan); err != nil {
			return err
		}
		for _, t := range plan {
			tc, err := copyTable(ctx, stx, tx, t)
			if err != nil {
				return err
			}
			rep.Tables = append(rep.Tables, tc)
		}
		if err := resetSequences(ctx, tx, plan); err != nil {
			return err
		}
		if tamperAfterCopy != nil {
			if err := tamperAfterCopy(func(q string) error { _, err := tx.Exec(ctx, q); return err }); err != nil {
				return err
			}
		}
		for i, t := range plan {
			if rep.Tables[i].Sampled, err = verifyTable(ctx, stx, tx, t, rep.Tables[i].Rows); err != nil {
				return err
			}
		}
		return tx.Commit(ctx)
	})
}

// tamperAfterCopy, set by the store's tests only, changes the copy before
// it is verified, to show that the verification finds what differs.
var tamperAfterCopy func(exec func(query string) error) error

// refuseNonEmpty fails when any table to copy already holds a row.
func refuseNonEmpty(ctx context.Context, tx pgx.Tx, plan []tablePlan) error {
	var full []string
	for _, t := range plan {
		var any bool
		if err := tx.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM "+t.ident()+")").Scan(&any); err != nil {
			return err
		}
		if any {
			full = append(full, t.name)
		}
	}
	if len(full) > 0 {
		return fmt.Errorf("the target database already holds data (in %s): migrate-store copies into an empty database only; create a new database for it, or drop this one's tables", joinNames(full))
	}
	return nil
}

// joinNames lists names for a message, the first few of many.
func joinNames(names []string) string {
	const most = 6
	if len(names) > most {
		return fmt.Sprintf("%s and %d more", joinNames(names[:most]), len(names)-most)
	}
	out := ""
	for i, n := range names {
		if i > 0 {
			out += ", "
		}
		out += n
	}
	return out
}
