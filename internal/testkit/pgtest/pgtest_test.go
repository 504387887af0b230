package pgtest

import (
	"context"
	"database/sql"
	"os"
	"strings"
	"syscall"
	"testing"
)

func TestMain(m *testing.M) { os.Exit(Main(m)) }

func query(t *testing.T, url, q string, dest ...any) error {
	t.Helper()
	db, err := sql.Open("pgx", url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	return db.QueryRowContext(context.Background(), q).Scan(dest...)
}

// Each test gets its own empty database on the one server, as an
// unprivileged server process, and it is gone once the test ended.
func TestDatabasePerTest(t *testing.T) {
	var first string
	t.Run("a", func(t *testing.T) {
		first = DatabaseURL(t)
		if err := query(t, first, "CREATE TABLE x (n int)"); err != nil && err != sql.ErrNoRows {
			t.Fatalf("create a table: %v", err)
		}
	})
	second := DatabaseURL(t)
	if second == first {
		t.Fatalf("two tests got the same database %s", first)
	}
	var n int
	if err := query(t, second, "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'", &n); err != nil || n != 0 {
		t.Errorf("new database has %d tables (%v), want 0", n, err)
	}
	var exists bool
	name := first[strings.LastIndex(first, "/")+1 : strings.Index(first, "?")]
	if err := query(t, second, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = '"+name+"')", &exists); err != nil || exists {
		t.Errorf("database %s of an ended test still exists (%v)", name, err)
	}
	var super bool
	if err := query(t, second, "SELECT usesuper FROM pg_user WHERE usename = current_user", &super); err != nil || !super {
		t.Errorf("connected as superuser = %v (%v), want true", super, err)
	}
	if os.Geteuid() == 0 {
		fi, err := os.Stat(Start(t).dir + "/data")
		if err != nil {
			t.Fatal(err)
		}
		if uid := fi.Sys().(*syscall.Stat_t).Uid; uid == 0 {
			t.Errorf("the data directory belongs to root: PostgreSQL runs as root?")
		}
	}
}

// A wrong password is refused: the server checks passwords, so that the
// store's tests of a wrong URL mean something.
func TestWrongPasswordRefused(t *testing.T) {
	s := Start(t)
	bad := *s
	bad.Password = "not-" + s.Password
	var one int
	err := query(t, bad.URL("postgres"), "SELECT 1", &one)
	if err == nil || !strings.Contains(err.Error(), "password authentication failed") {
		t.Fatalf("wrong password: err = %v, want password authentication failed", err)
	}
}
