package store_test

import (
	"context"
	"database/sql"
	"testing"
	"time"

	"postern/internal/model"
	"postern/internal/testkit"
	"postern/internal/testkit/teststore"
	"postern/store"
)

// newFakeClock is a settable clock shared by the store and the test.
func newFakeClock(t time.Time) *testkit.Clock { return testkit.NewClock(t) }

// dbPath, openAt and openTemp open real stores that close when the test ends.
var (
	dbPath   = teststore.Path
	openAt   = teststore.OpenAt
	openTemp = teststore.Open
)

// opener opens a store on a new database of one engine, closed when the
// test ends.
type opener func(t testing.TB, opts store.Options) *store.Store

// engines runs fn on each engine: SQLite on a file in the test's temporary
// directory, PostgreSQL on a new database of the test binary's server
// (skipped, with a hint, when PostgreSQL is not installed).
func engines(t *testing.T, fn func(t *testing.T, open opener)) {
	t.Run("sqlite", func(t *testing.T) { fn(t, openTemp) })
	t.Run("postgres", func(t *testing.T) { fn(t, teststore.OpenPostgres) })
}

// execTx runs raw SQL through the store's only write path.
func execTx(t testing.TB, s *store.Store, query string, args ...any) error {
	t.Helper()
	return s.WithTx(context.Background(), func(tx *sql.Tx) error {
		_, err := tx.ExecContext(context.Background(), query, args...)
		return err
	})
}

// mustExec runs raw SQL through withTx or stops the test.
func mustExec(t testing.TB, s *store.Store, query string, args ...any) {
	t.Helper()
	if err := execTx(t, s, query, args...); err != nil {
		t.Fatalf("exec %q: %v", query, err)
	}
}

// queryInt reads one integer through the reader pool.
func queryInt(t testing.TB, s *store.Store, query string, args ...any) int {
	t.Helper()
	_, r := s.DBs()
	var n int
	if err := r.QueryRowContext(context.Background(), query, args...).Scan(&n); err != nil {
		t.Fatalf("query %q: %v", query, err)
	}
	return n
}

// openOwned opens the store at path for a test that closes it itself,
// with mustClose, to reopen the file or look at it closed.
func openOwned(t testing.TB, path string) *store.Store {
	t.Helper()
	s, err := store.Open(context.Background(), path, store.Options{})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return s
}

func mustClose(t testing.TB, s *store.Store) {
	t.Helper()
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

// firstAdmin creates the first admin through the store.
func firstAdmin(t testing.TB, s *store.Store, email, hash string) model.Admin {
	t.Helper()
	a, err := s.CreateFirstAdmin(context.Background(), email, hash)
	if err != nil {
		t.Fatalf("CreateFirstAdmin(%q): %v", email, err)
	}
	return a
}

// insertAdmin adds an admin with raw SQL, bypassing CreateFirstAdmin's
// one-admin rule, and returns its id.
func insertAdmin(t testing.TB, s *store.Store, email string) int64 {
	t.Helper()
	var id int64
	err := s.WithTx(context.Background(), func(tx *sql.Tx) error {
		now := "2025-01-01T00:00:00.000000000Z"
		return tx.QueryRow("INSERT INTO admins (email, password_hash, created_at, password_changed_at) VALUES (?, ?, ?, ?) RETURNING id",
			email, "$argon2id$test", now, now).Scan(&id)
	})
	if err != nil {
		t.Fatalf("insert admin %q: %v", email, err)
	}
	return id
}
