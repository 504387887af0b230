package main

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"postern/internal/secret"
	"postern/internal/testkit"
	"postern/internal/testkit/pgtest"
	"postern/internal/testkit/teststore"
	"postern/store"
)

// The command tests that need PostgreSQL (migrate-store) use a server
// pgtest starts for this test binary and removes when it ends.
func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// runMigrateStore runs `postern migrate-store args…` with env and returns
// what it printed.
func runMigrateStore(t *testing.T, env map[string]string, args ...string) (string, error) {
	t.Helper()
	out := &testkit.Buffer{}
	err := run(context.Background(), append([]string{"migrate-store"}, args...), envOf(env), out)
	return out.String(), err
}

// An installation that synced from the emulator, then stopped, moves to
// PostgreSQL through the command: it prints each table's count, the copy
// has the devices and the sealed client secret that the same master key
// opens, and a second run into the same database is refused.
func TestMigrateStoreCommand(t *testing.T) {
	const machines = 300
	dir := t.TempDir()
	src := filepath.Join(dir, "postern.db")
	var key []byte
	t.Run("sync then stop", func(t *testing.T) {
		c := newSyncingConsole(t, machines, 100, -1)
		if run := syncOnce(t, c.w); run.Seen != machines {
			t.Fatalf("sync: %+v", run)
		}
		// The console stops when this subtest ends; its backup is the
		// installation to move (a file no process has open).
		if _, err := runBackup(t, c.dir, src); err != nil {
			t.Fatal(err)
		}
		var err error
		if key, err = os.ReadFile(filepath.Join(c.dir, "master.key")); err != nil {
			t.Fatal(err)
		}
	})
	if t.Failed() {
		return
	}
	dbURL := pgtest.DatabaseURL(t)
	u, _ := url.Parse(dbURL)
	pw, _ := u.User.Password()

	// The URL from the environment, as the docs advise.
	out, err := runMigrateStore(t, map[string]string{"POSTERN_DATABASE_URL": dbURL}, "--from", src)
	if err != nil {
		t.Fatalf("migrate-store: %v\n%s", err, out)
	}
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`Copied ` + regexp.QuoteMeta(src) + ` \(schema version \d+\) into PostgreSQL at ` + regexp.QuoteMeta(u.Host)),
		regexp.MustCompile(`(?m)^\s*devices\s+300\s+\d+\s*$`),
		regexp.MustCompile(`(?m)^\s*integrations\s+1\s+1\s*$`),
		regexp.MustCompile(`(?m)^\s*audit_log\s+\d+\s+\d+\s*$`),
		regexp.MustCompile(`Verified before the commit`),
		regexp.MustCompile(`same master key`),
	} {
		if !want.MatchString(out) {
			t.Errorf("output does not match %s:\n%s", want, out)
		}
	}
	if strings.Contains(out, pw) {
		t.Errorf("the output shows the password:\n%s", out)
	}

	pg := teststore.OpenAt(t, "", store.Options{URL: dbURL})
	if n, err := pg.CountDevices(t.Context()); err != nil || n != machines {
		t.Errorf("PostgreSQL has %d devices, %v; want %d", n, err, machines)
	}
	keyFile := filepath.Join(t.TempDir(), "master.key")
	if err := os.WriteFile(keyFile, key, 0o600); err != nil {
		t.Fatal(err)
	}
	kr, err := secret.ReadKeyring("", keyFile)
	if err != nil {
		t.Fatal(err)
	}
	in, err := pg.Integration(t.Context(), "defender")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kr.Open(in.ClientSecret, secret.Location{Table: "integrations", Column: "client_secret", Row: "defender"}); err != nil {
		t.Errorf("the master key does not open the copied client secret: %v", err)
	}

	// Postern starts on the copy with the key it had, and refuses to
	// start without it, naming the key id, rather than make a new one.
	env := envOf(map[string]string{"POSTERN_DATABASE_URL": dbURL})
	offline := []string{"--addr", "127.0.0.1:0", "--defender-login-url", "http://127.0.0.1:1", "--defender-api-url", "http://127.0.0.1:1"}
	err = run(t.Context(), append([]string{"--data-dir", t.TempDir()}, offline...), env, &testkit.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "sealed with master key id "+`"`+kr.ActiveID()+`"`) {
		t.Errorf("a start on the copy without the master key: %v", err)
	}
	serveOut, stop := startRun(t, append([]string{"--data-dir", t.TempDir(), "--master-key-file", keyFile}, offline...), env)
	res, err := http.Get(waitForURL(t, serveOut) + "/readyz")
	if err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("readyz of Postern on the copy: %v %v", res, err)
	}
	res.Body.Close()
	stop()

	// Again, into the database that now holds the copy: refused.
	_, err = runMigrateStore(t, nil, "--from", src, "--to", dbURL)
	if err == nil || !strings.Contains(err.Error(), "already holds data") || strings.Contains(err.Error(), pw) {
		t.Errorf("a second migrate-store into the same database: %v", err)
	}
}

// Without a target, or with extra arguments, the command says how it is
// used and touches nothing.
func TestMigrateStoreCommandUsage(t *testing.T) {
	src := filepath.Join(t.TempDir(), "postern.db")
	for _, args := range [][]string{{"--from", src}, {"--from", src, "--to", "postgres://u@h/db", "extra"}} {
		_, err := runMigrateStore(t, nil, args...)
		if err == nil || !strings.Contains(err.Error(), "usage: postern migrate-store") {
			t.Errorf("migrate-store %v: %v, want the usage", args, err)
		}
	}
	_, err := runMigrateStore(t, map[string]string{"POSTERN_DATA_DIR": filepath.Dir(src)}, "--to", "postgres://u:pw@127.0.0.1:1/db")
	if err == nil || !strings.Contains(err.Error(), "there is no database at "+src) {
		t.Errorf("migrate-store of a missing file (the data directory's): %v", err)
	}
	if _, statErr := os.Stat(src); !errors.Is(statErr, os.ErrNotExist) {
		t.Errorf("migrate-store created %s", src)
	}
}
