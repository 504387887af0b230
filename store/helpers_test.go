package store_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"postern/store"
)

// fakeClock is a settable clock shared by the store and the test.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock(t time.Time) *fakeClock { return &fakeClock{t: t} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// dbPath is a fresh database path in the test's temporary directory.
func dbPath(t testing.TB) string {
	t.Helper()
	return filepath.Join(t.TempDir(), "postern.db")
}

// openAt opens the store at path and closes it when the test ends.
func openAt(t testing.TB, path string, opts store.Options) *store.Store {
	t.Helper()
	s, err := store.Open(context.Background(), path, opts)
	if err != nil {
		t.Fatalf("Open(%q): %v", path, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// openTemp opens a store on a new file in t.TempDir().
func openTemp(t testing.TB, opts store.Options) *store.Store {
	t.Helper()
	return openAt(t, dbPath(t), opts)
}

// execTx runs raw SQL through the store's only write path.
func execTx(t testing.TB, s *store.Store, query string, args ...any) error {
	t.Helper()
	return s.WithTx(context.Background(), func(tx *sql.Tx) error {
		_, err := tx.ExecContext(context.Background(), query, args...)
		return err
	})
}

// mustExec runs raw SQL through WithTx or stops the test.
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

// insertAdmin adds an admin with raw SQL, bypassing CreateFirstAdmin's
// one-admin rule, and returns its id.
func insertAdmin(t testing.TB, s *store.Store, email string) int64 {
	t.Helper()
	var id int64
	err := s.WithTx(context.Background(), func(tx *sql.Tx) error {
		now := "2025-01-01T00:00:00.000000000Z"
		res, err := tx.Exec("INSERT INTO admins (email, password_hash, created_at, password_changed_at) VALUES (?, ?, ?, ?)",
			email, "$argon2id$test", now, now)
		if err != nil {
			return err
		}
		id, err = res.LastInsertId()
		return err
	})
	if err != nil {
		t.Fatalf("insert admin %q: %v", email, err)
	}
	return id
}
