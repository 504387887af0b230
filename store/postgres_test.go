package store_test

import (
	"context"
	"database/sql"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"postern/internal/testkit/pgtest"
	"postern/internal/testkit/teststore"
	"postern/store"
)

// Replicas started together (a rolling upgrade) each open the same new
// database: every Open succeeds and each migration is applied once, by
// whichever holds the migration lock first.
func TestPostgresConcurrentOpensMigrateOnce(t *testing.T) {
	dbURL := pgtest.DatabaseURL(t)
	const replicas = 4
	var wg sync.WaitGroup
	errs := make([]error, replicas)
	stores := make([]*store.Store, replicas)
	start := make(chan struct{})
	for i := range replicas {
		wg.Go(func() {
			<-start
			stores[i], errs[i] = store.Open(t.Context(), "", store.Options{URL: dbURL})
		})
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("replica %d: Open: %v", i, err)
		} else {
			defer stores[i].Close()
		}
	}
	if t.Failed() {
		return
	}
	_, r := stores[0].DBs()
	var rows, distinct, newest int
	if err := r.QueryRow("SELECT COUNT(*), COUNT(DISTINCT version), MAX(version) FROM schema_migrations").Scan(&rows, &distinct, &newest); err != nil {
		t.Fatal(err)
	}
	if want := store.SchemaVersion(); rows != want || distinct != want || newest != want {
		t.Errorf("schema_migrations: %d rows, %d versions, newest %d; want each of the %d migrations once", rows, distinct, newest, want)
	}
	// Each migration ran once: a second run of 0001 would have failed on
	// its CREATE TABLE, so there is one admins table and it works.
	if _, err := stores[1].CreateFirstAdmin(t.Context(), "a@example.com", "$argon2id$x"); err != nil {
		t.Errorf("CreateFirstAdmin after concurrent migrations: %v", err)
	}
}

// A database migrated by a newer Postern is refused on PostgreSQL too,
// naming the database (not the password).
func TestPostgresRefusesNewerSchema(t *testing.T) {
	dbURL := pgtest.DatabaseURL(t)
	s, err := store.Open(t.Context(), "", store.Options{URL: dbURL})
	if err != nil {
		t.Fatal(err)
	}
	mustExec(t, s, "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, 'future', 'x')", store.SchemaVersion()+1)
	s.Close()
	_, err = store.Open(t.Context(), "", store.Options{URL: dbURL})
	if err == nil || !strings.Contains(err.Error(), "newer than this Postern") {
		t.Fatalf("Open of a newer schema: err = %v, want a refusal", err)
	}
	u, _ := url.Parse(dbURL)
	pw, _ := u.User.Password()
	if strings.Contains(err.Error(), pw) {
		t.Errorf("the error shows the password: %v", err)
	}
}

// A wrong --database-url stops the start with a message that names the
// host, port, database and the driver's reason, and never the password.
func TestPostgresOpenErrorsNameTheDatabaseNotThePassword(t *testing.T) {
	srv := pgtest.Start(t)
	good, err := url.Parse(pgtest.DatabaseURL(t))
	if err != nil {
		t.Fatal(err)
	}
	port, err := pgtest.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	with := func(change func(u *url.URL)) string {
		u := *good
		change(&u)
		return u.String()
	}
	for _, c := range []struct {
		name, url string
		want      []string
	}{
		{"wrong port", with(func(u *url.URL) { u.Host = "127.0.0.1:" + strconv.Itoa(port) }),
			[]string{"127.0.0.1:" + strconv.Itoa(port), strings.TrimPrefix(good.Path, "/"), "connect"}},
		{"wrong password", with(func(u *url.URL) { u.User = url.UserPassword(srv.User, "wrong-"+srv.Password) }),
			[]string{good.Host, strings.TrimPrefix(good.Path, "/"), "password authentication failed"}},
		{"missing database", with(func(u *url.URL) { u.Path = "/no_such_database" }),
			[]string{good.Host, "no_such_database", "does not exist"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
			defer cancel()
			s, err := store.Open(ctx, "", store.Options{URL: c.url})
			if err == nil {
				s.Close()
				t.Fatal("Open succeeded")
			}

			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
			u, _ := url.Parse(c.url)
			if pw, _ := u.User.Password(); strings.Contains(err.Error(), pw) {
				t.Errorf("error %q shows the password", err)
			}
		})
	}
}

// Only PostgreSQL URLs are accepted, and a bad one is not echoed back
// (it may hold a password).
func TestOpenRefusesOtherURLs(t *testing.T) {
	for _, u := range []string{"mysql://u:s3cret@h/db", "sqlite:///x.db", "postgres://u:s3cret@[::1/db"} {
		_, err := store.Open(t.Context(), "", store.Options{URL: u})
		if err == nil {
			t.Errorf("Open(%q) succeeded", u)
			continue
		}
		if strings.Contains(err.Error(), "s3cret") {
			t.Errorf("Open(%q): error %q shows the password", u, err)
		}
	}
}

// On PostgreSQL, writes from many goroutines queue behind the write lock
// as they queue behind SQLite's one writer: a read-then-write transaction
// sees no lost update.
func TestPostgresWritesSerialized(t *testing.T) {
	s := teststore.OpenPostgres(t, store.Options{})
	mustExec(t, s, "CREATE TABLE counter (id INTEGER PRIMARY KEY, n INTEGER NOT NULL)")
	mustExec(t, s, "INSERT INTO counter VALUES (1, 0)")
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 20 {
				var n int
				if err := s.WithTx(t.Context(), func(tx *sql.Tx) error {
					if err := tx.QueryRow("SELECT n FROM counter WHERE id = 1").Scan(&n); err != nil {
						return err
					}
					_, err := tx.Exec("UPDATE counter SET n = ? WHERE id = 1", n+1)
					return err
				}); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	if n := queryInt(t, s, "SELECT n FROM counter WHERE id = 1"); n != 160 {
		t.Errorf("counter = %d after 160 read-then-write transactions, want 160 (lost updates)", n)
	}
}
