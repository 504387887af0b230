// Package store is Postern's persistence, on the embedded SQLite by default
// or on PostgreSQL (Options.URL; engine.go says how one store serves both).
// On SQLite: one writer connection for all writes (BEGIN IMMEDIATE, so
// concurrent writers queue instead of failing with SQLITE_BUSY), a pool of
// read-only connections. On PostgreSQL: one pool, every write transaction
// queued behind an advisory lock (lockWrite) for the same guarantee across
// replicas. Both apply embedded numbered migrations at start.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"postern/internal/apperr"
)

// Options tune Open; the zero value is production.
type Options struct {
	// Now is the clock; tests inject a fake one.
	Now func() time.Time
	// URL, when set, is a postgres:// (or postgresql://) URL: the store is
	// that PostgreSQL database, and Open's path is not used.
	URL string
	// Replica names this process among the replicas sharing a PostgreSQL
	// database: its sync runs and change notifications carry it.
	Replica string
}

// Store owns the database handles. It is safe for concurrent use.
type Store struct {
	path  string // the SQLite file; "" on PostgreSQL
	where string // the database, for messages: the path, or PostgreSQL's host and database
	eng   *engine
	write *sql.DB
	read  *sql.DB // the same pool as write on PostgreSQL
	now   func() time.Time
	// replica is Options.Replica.
	replica string
	// staging is the DDL of the writer's staging table (stagingDDL), on
	// SQLite; PostgreSQL's is a table of the schema.
	staging string
	// sets is the decision log writer's memory of check sets.
	sets *checkSets
}

// pragmas apply to every pooled connection because they live in the DSN.
// busy_timeout comes first so the others wait for locks instead of failing.
var pragmas = []string{
	"busy_timeout(5000)",
	"journal_mode(WAL)",
	"foreign_keys(1)",
	"synchronous(NORMAL)",
	// A 64 MiB page cache per connection (the default is 2 MiB): applying a
	// large sync walks the device indexes, and without it most of that time
	// went to reading pages back from the file.
	"cache_size(-65536)",
	"temp_store(MEMORY)",
}

// DSN builds the connection string for path. The writer uses immediate
// transactions; readers open the file read-only.
func DSN(path string, writer bool) string {
	q := url.Values{}
	for _, p := range pragmas {
		q.Add("_pragma", p)
	}
	if writer {
		q.Set("_txlock", "immediate")
	} else {
		q.Set("mode", "ro")
	}
	// Without the file: prefix, mode=ro is silently ignored.
	return "file:" + (&url.URL{Path: path}).EscapedPath() + "?" + q.Encode()
}

// Open opens (creating if needed) the SQLite database at path, or the
// PostgreSQL database at opts.URL, and applies pending migrations. A
// database written by a newer Postern is refused.
func Open(ctx context.Context, path string, opts Options) (*Store, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.URL != "" {
		if !IsPostgresURL(opts.URL) {
			return nil, errors.New("store: the database URL must start with postgres:// or postgresql://")
		}
		return openPostgres(ctx, opts.URL, opts)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("store: create data directory: %w", err)
	}
	// The database holds session hashes and sealed secrets: keep it private.
	// SQLite gives the -wal and -shm files the same mode.
	if f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600); err == nil {
		f.Close()
		if err := os.Chmod(path, 0o600); err != nil {
			return nil, fmt.Errorf("store: restrict %s to its owner: %w", path, err)
		}
	}
	if err := initPageSize(path); err != nil {
		return nil, err
	}
	write, err := sql.Open("sqlite", DSN(path, true))
	if err != nil {
		return nil, fmt.Errorf("store: open writer: %w", err)
	}
	write.SetMaxOpenConns(1)
	write.SetConnMaxIdleTime(0)
	s := &Store{path: path, where: path, eng: sqliteEngine, write: write, replica: opts.Replica, now: func() time.Time { return opts.Now().UTC() },
		sets: newCheckSets()}
	if err := write.PingContext(ctx); err != nil {
		write.Close()
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	if err := s.migrate(ctx); err != nil {
		write.Close()
		return nil, err
	}
	if s.staging, err = stagingDDL(ctx, write); err != nil {
		write.Close()
		return nil, err
	}
	read, err := sql.Open("sqlite", DSN(path, false))
	if err != nil {
		write.Close()
		return nil, fmt.Errorf("store: open readers: %w", err)
	}
	read.SetMaxOpenConns(max(4, runtime.NumCPU()))
	s.read = read
	return s, nil
}

// pageSize is the page size of a new database. A sync writes and the
// Devices page scans tens of megabytes at a time: with 32 KiB pages instead
// of SQLite's 4 KiB, the apply of a first sync of 100,000 machines writes an
// eighth as many WAL frames (one pwrite each) and took 1.4 s instead of
// 2.1 s, and sorted Devices pages 106-121 ms instead of 160-190 ms. A
// database created before keeps its page size.
const pageSize = 32768

// initPageSize gives a new, empty database file its page size, which is
// fixed once the first page is written: the DSN's pragmas cannot, since
// the driver runs them in alphabetical order and journal_mode(WAL) writes
// the first page before page_size would run.
func initPageSize(path string) error {
	fi, err := os.Stat(path)
	if err != nil || fi.Size() > 0 {
		return nil // Open reports a missing file; an existing one keeps its size
	}
	db, err := sql.Open("sqlite", "file:"+(&url.URL{Path: path}).EscapedPath()+"?_pragma=busy_timeout(5000)")
	if err != nil {
		return fmt.Errorf("store: create %s: %w", path, err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1) // both pragmas on the one connection
	if _, err := db.Exec("PRAGMA page_size = " + strconv.Itoa(pageSize)); err != nil {
		return fmt.Errorf("store: create %s: %w", path, err)
	}
	if _, err := db.Exec("PRAGMA journal_mode = WAL"); err != nil {
		return fmt.Errorf("store: create %s: %w", path, err)
	}
	return nil
}

// Close checkpoints the WAL into the main file and closes every handle, so a
// clean shutdown leaves no -wal file behind.
func (s *Store) Close() error {
	if s.eng == postgresEngine {
		return s.write.Close()
	}
	var errs []error
	if s.read != nil {
		errs = append(errs, s.read.Close())
	}
	if _, err := s.write.Exec("PRAGMA wal_checkpoint(TRUNCATE)"); err != nil {
		errs = append(errs, fmt.Errorf("store: checkpoint: %w", err))
	}
	errs = append(errs, s.write.Close())
	return errors.Join(errs...)
}

// Path is the SQLite database file, "" on PostgreSQL.
func (s *Store) Path() string { return s.path }

// Engine names the SQL engine: "sqlite" or "postgres".
func (s *Store) Engine() string { return s.eng.name }

// Now is the store's clock in UTC.
func (s *Store) Now() time.Time { return s.now() }

// Ping reports whether the database answers a query (readiness).
func (s *Store) Ping(ctx context.Context) error {
	var one int
	if err := s.read.QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil {
		return apperr.Wrap(err, apperr.Unavailable, "The database is not reachable.")
	}
	return nil
}

// withTx runs fn in one write transaction: the only write path. fn's error,
// or a panic, rolls it back.
func (s *Store) withTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	return s.writeTx(ctx, s.write, fn)
}

// txBeginner is the pool, or one connection of it (withCopyTx).
type txBeginner interface {
	BeginTx(context.Context, *sql.TxOptions) (*sql.Tx, error)
}

// writeTx is withTx on db: on PostgreSQL the transaction queues on the
// write lock and is fenced (checkFenceTx) before fn runs.
func (s *Store) writeTx(ctx context.Context, db txBeginner, fn func(tx *sql.Tx) error) (err error) {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: begin: %w", err)
	}
	defer func() {
		if p := recover(); p != nil {
			tx.Rollback()
			panic(p)
		}
		if err != nil {
			tx.Rollback()
		}
	}()
	if s.eng == postgresEngine {
		if err = lockWriteTx(ctx, tx); err != nil {
			return fmt.Errorf("store: begin: %w", err)
		}
		if err = checkFenceTx(ctx, tx); err != nil {
			return err
		}
	}
	if err = fn(tx); err != nil {
		return err
	}
	if err = tx.Commit(); err != nil {
		return fmt.Errorf("store: commit: %w", err)
	}
	return nil
}

// timeFormat is fixed-width so that stored times sort as text.
const timeFormat = "2006-01-02T15:04:05.000000000Z"

func formatTime(t time.Time) string { return t.UTC().Format(timeFormat) }

func parseTime(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("store: bad time %q: %w", s, err)
	}
	return t.UTC(), nil
}

// pgUniqueViolation is PostgreSQL's SQLSTATE for a broken unique constraint.
const pgUniqueViolation = "23505"

// isUniqueViolation reports whether err is PostgreSQL's refusal of a
// duplicate key.
func isUniqueViolation(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == pgUniqueViolation
}

// mapErr turns driver errors into application errors.
func mapErr(err error, what string) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, sql.ErrNoRows) {
		return apperr.Wrap(err, apperr.NotFound, "%s was not found.", what)
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() {
		case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
			return apperr.Wrap(err, apperr.Conflict, "%s already exists.", what)
		}
	}
	if isUniqueViolation(err) {
		return apperr.Wrap(err, apperr.Conflict, "%s already exists.", what)
	}
	return fmt.Errorf("store: %s: %w", strings.ToLower(what), err)
}
