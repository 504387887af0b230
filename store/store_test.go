package store_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"postern/internal/audit"
	"postern/store"
)

func TestOpenFreshFileAppliesEveryMigration(t *testing.T) {
	s := openTemp(t, store.Options{})
	want := store.SchemaVersion()
	if want < 1 {
		t.Fatalf("SchemaVersion() = %d, want >= 1", want)
	}
	if got := queryInt(t, s, "SELECT COUNT(*) FROM schema_migrations"); got != want {
		t.Errorf("schema_migrations rows = %d, want %d", got, want)
	}
	if got := queryInt(t, s, "SELECT MAX(version) FROM schema_migrations"); got != want {
		t.Errorf("MAX(version) = %d, want %d", got, want)
	}
	if got := queryInt(t, s, "SELECT COUNT(DISTINCT version) FROM schema_migrations WHERE version BETWEEN 1 AND ?", want); got != want {
		t.Errorf("distinct versions in 1..%d = %d, want %d", want, got, want)
	}
	for _, obj := range []struct{ typ, name string }{
		{"table", "admins"}, {"table", "sessions"}, {"table", "audit_log"},
		{"trigger", "audit_log_no_update"}, {"trigger", "audit_log_no_delete"},
	} {
		if n := queryInt(t, s, "SELECT COUNT(*) FROM sqlite_schema WHERE type = ? AND name = ?", obj.typ, obj.name); n != 1 {
			t.Errorf("%s %s: found %d, want 1", obj.typ, obj.name, n)
		}
	}
}

func TestOpenMigratedDatabaseIsNoOp(t *testing.T) {
	ctx := context.Background()
	path := dbPath(t)
	s := openOwned(t, path)
	firstAdmin(t, s, "a@example.com", "hash")
	applied := func(s *store.Store) string {
		t.Helper()
		var v string
		_, r := s.DBs()
		if err := r.QueryRow("SELECT group_concat(version || '@' || applied_at) FROM schema_migrations").Scan(&v); err != nil {
			t.Fatalf("read schema_migrations: %v", err)
		}
		return v
	}
	appliedBefore := applied(s)
	mustClose(t, s)

	for i := range 2 {
		s = openAt(t, path, store.Options{})
		if got, want := queryInt(t, s, "SELECT COUNT(*) FROM schema_migrations"), store.SchemaVersion(); got != want {
			t.Errorf("reopen %d: schema_migrations rows = %d, want %d", i, got, want)
		}
		if appliedAfter := applied(s); appliedAfter != appliedBefore {
			t.Errorf("reopen %d: schema_migrations = %q, want unchanged %q", i, appliedAfter, appliedBefore)
		}
		a, err := s.AdminByEmail(ctx, "a@example.com")
		if err != nil {
			t.Fatalf("reopen %d: AdminByEmail: %v", i, err)
		}
		if a.PasswordHash != "hash" {
			t.Errorf("reopen %d: password hash = %q, want %q", i, a.PasswordHash, "hash")
		}
		mustClose(t, s)
	}
}

func TestOpenRefusesNewerSchema(t *testing.T) {
	path := dbPath(t)
	s := openOwned(t, path)
	newer := store.SchemaVersion() + 1
	mustExec(t, s, "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, 'future', '2099-01-01T00:00:00.000000000Z')", newer)
	mustClose(t, s)

	err := openRefused(t, path, fmt.Sprintf("a schema %d database", newer))
	if !strings.Contains(err.Error(), "newer") {
		t.Errorf("Open error = %q, want it to say %q", err, "newer")
	}
	if want := fmt.Sprint(newer); !strings.Contains(err.Error(), want) {
		t.Errorf("Open error = %q, want it to name version %s", err, want)
	}
}

func TestOpenRefusesFileThatIsNotADatabase(t *testing.T) {
	path := dbPath(t)
	if err := os.WriteFile(path, []byte(strings.Repeat("not a database\n", 200)), 0o600); err != nil {
		t.Fatal(err)
	}
	openRefused(t, path, "a text file")
}

// openRefused is the error of Open on a file it must refuse (what names
// the file); it fails the test when Open succeeds.
func openRefused(t *testing.T, path, what string) error {
	t.Helper()
	s, err := store.Open(context.Background(), path, store.Options{})
	if err == nil {
		s.Close()
		t.Fatalf("Open of %s succeeded, want an error", what)
	}
	return err
}

func TestDSN(t *testing.T) {
	const path = "/var/lib/postern/postern.db"
	for _, tc := range []struct {
		name    string
		writer  bool
		want    map[string]string // query key → required value
		mustNot []string          // query keys that must be absent
	}{
		{"writer", true, map[string]string{"_txlock": "immediate"}, []string{"mode"}},
		{"reader", false, map[string]string{"mode": "ro"}, []string{"_txlock"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dsn := store.DSN(path, tc.writer)
			if !strings.HasPrefix(dsn, "file:") {
				t.Fatalf("DSN = %q, want the file: prefix (without it mode=ro is ignored)", dsn)
			}
			if tc.writer && !strings.Contains(dsn, "_txlock=immediate") {
				t.Errorf("DSN = %q, want it to contain _txlock=immediate", dsn)
			}
			if !tc.writer && !strings.Contains(dsn, "mode=ro") {
				t.Errorf("DSN = %q, want it to contain mode=ro", dsn)
			}
			p, rawQuery, ok := strings.Cut(strings.TrimPrefix(dsn, "file:"), "?")
			if !ok {
				t.Fatalf("DSN = %q has no query", dsn)
			}
			if p != path {
				t.Errorf("DSN path = %q, want %q", p, path)
			}
			q, err := url.ParseQuery(rawQuery)
			if err != nil {
				t.Fatalf("parse query %q: %v", rawQuery, err)
			}
			for k, v := range tc.want {
				if got := q.Get(k); got != v {
					t.Errorf("%s = %q, want %q", k, got, v)
				}
			}
			for _, k := range tc.mustNot {
				if q.Has(k) {
					t.Errorf("DSN %q has %s, want none", dsn, k)
				}
			}
			pr := q["_pragma"]
			if len(pr) == 0 || pr[0] != "busy_timeout(5000)" {
				t.Errorf("_pragma = %q, want busy_timeout(5000) first", pr)
			}
			for _, want := range []string{"journal_mode(WAL)", "foreign_keys(1)", "synchronous(NORMAL)"} {
				if !slices.Contains(pr, want) {
					t.Errorf("_pragma = %q, want it to include %s", pr, want)
				}
			}
		})
	}
}

// A data directory with spaces, '#' and '?' must reach SQLite as a path, not
// be cut at a URI delimiter.
func TestOpenPathWithURIDelimiters(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "my data #1?x=y&z")
	path := filepath.Join(dir, "postern.db")
	s := openAt(t, path, store.Options{})
	mustExec(t, s, "INSERT INTO audit_log (at, actor, action, outcome) VALUES ('2025-01-01T00:00:00.000000000Z', 'a', 'x', 'success')")
	mustClose(t, s)
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatalf("ReadDir: %v", err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if len(names) != 1 || names[0] != "postern.db" {
		t.Errorf("files in %q = %q, want only postern.db", dir, names)
	}
	if fi, err := os.Stat(path); err != nil || fi.Size() == 0 {
		t.Errorf("Stat(%q) = %v, %v; want a non-empty database", path, fi, err)
	}
}

// pragmaCheck asserts the per-connection settings that live in the DSN.
func pragmaCheck(t *testing.T, label string, c *sql.Conn) {
	t.Helper()
	ctx := context.Background()
	var busy, fk, sync int
	var journal string
	if err := c.QueryRowContext(ctx, "PRAGMA busy_timeout").Scan(&busy); err != nil {
		t.Fatalf("%s: busy_timeout: %v", label, err)
	}
	if err := c.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&journal); err != nil {
		t.Fatalf("%s: journal_mode: %v", label, err)
	}
	if err := c.QueryRowContext(ctx, "PRAGMA foreign_keys").Scan(&fk); err != nil {
		t.Fatalf("%s: foreign_keys: %v", label, err)
	}
	if err := c.QueryRowContext(ctx, "PRAGMA synchronous").Scan(&sync); err != nil {
		t.Fatalf("%s: synchronous: %v", label, err)
	}
	if busy != 5000 {
		t.Errorf("%s: busy_timeout = %d, want 5000", label, busy)
	}
	if journal != "wal" {
		t.Errorf("%s: journal_mode = %q, want wal", label, journal)
	}
	if fk != 1 {
		t.Errorf("%s: foreign_keys = %d, want 1", label, fk)
	}
	if sync != 1 {
		t.Errorf("%s: synchronous = %d, want 1 (NORMAL)", label, sync)
	}
}

func TestPragmasOnEveryPooledConnection(t *testing.T) {
	ctx := context.Background()
	s := openTemp(t, store.Options{})
	w, r := s.DBs()
	if got := w.Stats().MaxOpenConnections; got != 1 {
		t.Errorf("writer MaxOpenConnections = %d, want 1", got)
	}
	if got := r.Stats().MaxOpenConnections; got < 2 {
		t.Errorf("reader MaxOpenConnections = %d, want a pool (>= 2)", got)
	}

	wc, err := w.Conn(ctx)
	if err != nil {
		t.Fatalf("writer Conn: %v", err)
	}
	pragmaCheck(t, "writer", wc)
	wc.Close()

	// Hold several reader connections at once so each is a distinct one.
	const n = 4
	conns := make([]*sql.Conn, n)
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			conns[i], errs[i] = r.Conn(cctx)
		})
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("reader Conn %d: %v", i, errs[i])
		}
		defer conns[i].Close()
	}
	if got := r.Stats().InUse; got != n {
		t.Errorf("reader connections in use = %d, want %d distinct", got, n)
	}
	for i, c := range conns {
		pragmaCheck(t, fmt.Sprintf("reader %d", i), c)
	}
}

func TestReadPoolRefusesWrites(t *testing.T) {
	s := openTemp(t, store.Options{})
	_, r := s.DBs()
	_, err := r.Exec("INSERT INTO audit_log (at, actor, action, outcome) VALUES ('2025-01-01T00:00:00.000000000Z', 'a', 'x', 'success')")
	if err == nil {
		t.Fatal("INSERT through the read pool succeeded, want a read-only error")
	}
	if !strings.Contains(strings.ToLower(err.Error()), "readonly") && !strings.Contains(strings.ToLower(err.Error()), "read-only") {
		t.Errorf("INSERT through the read pool: %v, want a read-only error", err)
	}
	if n := queryInt(t, s, "SELECT COUNT(*) FROM audit_log"); n != 0 {
		t.Errorf("audit_log rows = %d, want 0", n)
	}
}

func TestDatabaseFileIsPrivate(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "nested", "data")
	path := filepath.Join(dir, "postern.db")
	s := openAt(t, path, store.Options{})
	mustExec(t, s, "INSERT INTO audit_log (at, actor, action, outcome) VALUES ('2025-01-01T00:00:00.000000000Z', 'a', 'x', 'success')")

	fi, err := os.Stat(path)
	if err != nil {
		t.Fatalf("Stat: %v", err)
	}
	if got := fi.Mode().Perm(); got != 0o600 {
		t.Errorf("database mode = %v, want -rw-------", got)
	}
	for _, side := range []string{"-wal", "-shm"} {
		if fi, err := os.Stat(path + side); err == nil && fi.Mode().Perm()&0o077 != 0 {
			t.Errorf("%s mode = %v, want no group or other access", side, fi.Mode().Perm())
		}
	}
	if fi, err := os.Stat(dir); err != nil {
		t.Fatalf("Stat dir: %v", err)
	} else if got := fi.Mode().Perm(); got != 0o700 {
		t.Errorf("created data directory mode = %v, want drwx------", got)
	}
}

func TestCloseLeavesNoWAL(t *testing.T) {
	ctx := context.Background()
	path := dbPath(t)
	s := openOwned(t, path)
	for i := range 50 {
		if err := s.AppendAudit(ctx, audit.Entry{Actor: "a", Action: fmt.Sprintf("test.%d", i), Outcome: audit.Success}); err != nil {
			t.Fatalf("AppendAudit: %v", err)
		}
	}
	if _, _, err := s.AuditEntries(ctx, audit.Filter{}); err != nil {
		t.Fatalf("AuditEntries: %v", err)
	}
	if _, err := os.Stat(path + "-wal"); err != nil {
		t.Fatalf("no -wal while open (%v): the database is not in WAL mode, so this test proves nothing", err)
	}
	mustClose(t, s)
	if _, err := os.Stat(path + "-wal"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("after Close, Stat(-wal) = %v, want it gone", err)
	}

	s = openAt(t, path, store.Options{})
	if _, total, err := s.AuditEntries(ctx, audit.Filter{}); err != nil || total != 50 {
		t.Errorf("after reopen: total = %d, err = %v; want 50 entries kept", total, err)
	}
	var ok string
	_, r := s.DBs()
	if err := r.QueryRow("PRAGMA integrity_check").Scan(&ok); err != nil || ok != "ok" {
		t.Errorf("integrity_check = %q, %v; want ok", ok, err)
	}
}

func TestPingAndClock(t *testing.T) {
	loc := time.FixedZone("UTC+5", 5*3600)
	clock := newFakeClock(time.Date(2025, 3, 4, 10, 0, 0, 123, loc))
	s := openTemp(t, store.Options{Now: clock.Now})
	if err := s.Ping(context.Background()); err != nil {
		t.Errorf("Ping: %v", err)
	}
	got := s.Now()
	if got.Location() != time.UTC {
		t.Errorf("Now().Location() = %v, want UTC", got.Location())
	}
	if !got.Equal(clock.Now()) {
		t.Errorf("Now() = %v, want %v", got, clock.Now())
	}
}

// A new database gets 32 KiB pages, in WAL mode; a database created with
// SQLite's default 4 KiB pages opens, migrates and keeps them.
func TestPageSize(t *testing.T) {
	s := openTemp(t, store.Options{})
	if got := queryInt(t, s, "PRAGMA page_size"); got != 32768 {
		t.Errorf("new database: page_size %d, want 32768", got)
	}

	path := dbPath(t)
	old, err := sql.Open("sqlite", "file:"+(&url.URL{Path: path}).EscapedPath()+"?_pragma=journal_mode(WAL)")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := old.Exec("CREATE TABLE before_postern (x)"); err != nil {
		t.Fatal(err)
	}
	old.Close()
	s = openAt(t, path, store.Options{})
	if got := queryInt(t, s, "PRAGMA page_size"); got != 4096 {
		t.Errorf("existing database: page_size %d, want 4096 kept", got)
	}
	if got := queryInt(t, s, "SELECT COUNT(*) FROM sqlite_schema WHERE name IN ('before_postern', 'devices')"); got != 2 {
		t.Errorf("existing database: %d of its table and the devices table, want 2", got)
	}
}
