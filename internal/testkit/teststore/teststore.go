// Package teststore opens real SQLite stores for tests, on files in the
// test's temporary directory, and closes them when the test ends. Only
// tests import it (store's own tests from package store_test).
package teststore

import (
	"context"
	"path/filepath"
	"testing"

	"postern/internal/testkit/pgtest"
	"postern/store"
)

// Path is a fresh database path in the test's temporary directory.
func Path(t testing.TB) string {
	t.Helper()
	return filepath.Join(t.TempDir(), "postern.db")
}

// Open opens a store on a new file in the test's temporary directory and
// closes it when the test ends.
func Open(t testing.TB, opts store.Options) *store.Store {
	t.Helper()
	return OpenAt(t, Path(t), opts)
}

// OpenAt opens the store at path and closes it when the test ends (a
// cleanup registered now runs after the ones registered later, so the
// store outlives what the test builds on it).
func OpenAt(t testing.TB, path string, opts store.Options) *store.Store {
	t.Helper()
	s, err := store.Open(context.Background(), path, opts)
	if err != nil {
		t.Fatalf("store.Open(%q): %v", path, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// OpenPostgres opens a store on a new, empty PostgreSQL database of the
// test binary's server (pgtest) and closes it when the test ends. It skips
// the test when PostgreSQL is not installed (fails it when
// POSTERN_E2E_REQUIRED=1). The package's TestMain must run pgtest.Main.
func OpenPostgres(t testing.TB, opts store.Options) *store.Store {
	t.Helper()
	opts.URL = pgtest.DatabaseURL(t)
	s, err := store.Open(context.Background(), "", opts)
	if err != nil {
		t.Fatalf("store.Open(PostgreSQL): %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}
