package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"postern/internal/actor"
	"postern/internal/audit"
	"postern/internal/defender"
	"postern/internal/emulator"
	"postern/internal/fleet"
	"postern/internal/integration"
	"postern/internal/model"
	"postern/internal/posture"
	"postern/internal/secret"
	"postern/internal/syncer"
	"postern/internal/testkit"
	"postern/internal/testkit/teststore"
	"postern/store"
)

// runBackup runs `postern backup --data-dir dir dst` and returns what it printed.
func runBackup(t *testing.T, dir, dst string) (string, error) {
	t.Helper()
	out := &testkit.Buffer{}
	err := run(context.Background(), []string{"backup", "--data-dir", dir, dst}, envOf(nil), out)
	return out.String(), err
}

// openReadOnly opens a database file the way an operator would inspect it.
func openReadOnly(t *testing.T, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro&_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func queryInt(t *testing.T, db *sql.DB, q string, args ...any) int {
	t.Helper()
	var n int
	if err := db.QueryRow(q, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return n
}

// schemaOf lists the tables and indexes of a database, with their SQL.
func schemaOf(t *testing.T, db *sql.DB) []string {
	t.Helper()
	return teststore.Strings(t, db.Query, "SELECT type || ' ' || name || ': ' || COALESCE(sql, '') FROM sqlite_master ORDER BY type, name")
}

// assertGoodBackup checks the file is private, passes integrity_check when
// opened read-only, has the live database's tables and indexes at this
// binary's schema version, and left no temporary file behind.
func assertGoodBackup(t *testing.T, path, live string) *sql.DB {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatalf("backup file: %v", err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("backup file mode = %v, want 0600", fi.Mode().Perm())
	}
	db := openReadOnly(t, path)
	var check string
	if err := db.QueryRow("PRAGMA integrity_check").Scan(&check); err != nil || check != "ok" {
		t.Fatalf("integrity_check of the backup = %q, %v; want ok", check, err)
	}
	got, want := schemaOf(t, db), schemaOf(t, openReadOnly(t, live))
	if !slices.Equal(got, want) || !slices.ContainsFunc(got, func(s string) bool { return strings.HasPrefix(s, "table integrations:") }) {
		t.Errorf("backup schema:\n%s\nwant the live database's:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if v := queryInt(t, db, "SELECT MAX(version) FROM schema_migrations"); v != store.SchemaVersion() {
		t.Errorf("backup schema version = %d, want %d", v, store.SchemaVersion())
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	for _, e := range entries {
		if strings.Contains(e.Name(), ".tmp-") {
			t.Errorf("temporary file %s left beside the backup", e.Name())
		}
	}
	return db
}

// syncingConsole is a store and sync worker on a real SQLite file, syncing
// from the emulator. While hold is set, the listing stops before the page
// that starts at holdAt until release is called.
type syncingConsole struct {
	dir, live string
	emu       *emulator.Emulator
	w         *syncer.Worker
	hold      atomic.Bool
	release   func()
}

func newSyncingConsole(t *testing.T, machines, pageSize, holdAt int) *syncingConsole {
	t.Helper()
	c := &syncingConsole{dir: t.TempDir(), emu: emulator.New(emulator.Config{Machines: machines, Seed: 5})}
	c.live = filepath.Join(c.dir, "postern.db")
	c.emu.SetFaults(emulator.Faults{NoRateLimit: true})
	gate := make(chan struct{})
	var once sync.Once
	c.release = func() { once.Do(func() { close(gate) }) }
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if c.hold.Load() && r.URL.Query().Get("$skip") == fmt.Sprint(holdAt) {
			<-gate
		}
		c.emu.ServeHTTP(w, r)
	}))
	t.Cleanup(hs.Close)
	t.Cleanup(c.release)

	ctx := context.Background()
	kr, _, err := secret.LoadKeyring("", filepath.Join(c.dir, "master.key"))
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(ctx, c.live, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	svc := integration.New(st, kr, log, integration.Options{LoginURL: hs.URL, APIURL: hs.URL})
	_, err = svc.Configure(actor.NewContext(ctx, actor.Actor{Email: "admin@example.com", Role: actor.Owner}), integration.Input{TenantID: emulator.DemoTenantID, ClientID: emulator.DemoClientID,
		ClientSecret: emulator.DemoClientSecret})
	if err != nil {
		t.Fatal(err)
	}
	c.w = syncer.New(st, svc, &fleet.Holder{}, log, syncer.Options{Interval: time.Hour,
		List: defender.ListOptions{PageSize: pageSize}})
	wctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- c.w.Run(wctx) }()
	t.Cleanup(func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("worker: %v", err)
		}
		st.Close()
	})
	return c
}

// Backups taken again and again while a sync fetches slow pages and applies
// them are each one consistent snapshot: integrity_check passes, and the copy
// shows either the run in flight with the old devices or the run finished with
// the new ones, never a mix. The sync itself finishes normally.
func TestBackupWhileSyncing(t *testing.T) {
	const machines, added, pageSize = 1000, 200, 50
	c := newSyncingConsole(t, machines, pageSize, 5*pageSize)
	dir, live, emu, w := c.dir, c.live, c.emu, c.w
	if initial := syncOnce(t, w); initial.Outcome != model.RunSuccess || initial.Seen != machines {
		t.Fatalf("first sync: %+v", initial)
	}

	// The second sync brings new machines over slow pages, then applies them
	// in one transaction.
	emu.Mutate(func(ms []emulator.Machine) []emulator.Machine {
		for i := range added {
			m := ms[i]
			m.ID = fmt.Sprintf("%040x", i+1)
			m.ComputerDNSName = fmt.Sprintf("new-%d.contoso.com", i)
			ms = append(ms, m)
		}
		return ms
	})
	emu.SetFaults(emulator.Faults{NoRateLimit: true, SlowPage: 50 * time.Millisecond})
	c.hold.Store(true)
	w.Trigger("backup test")
	testkit.WaitFor(t, 30*time.Second, "pages to be fetched", func() bool { s := w.Status(); return s.Running && s.Fetched == 5*pageSize })
	runID := w.Status().RunID

	first := filepath.Join(t.TempDir(), "first.db")
	out, err := runBackup(t, dir, first)
	if err != nil {
		t.Fatalf("backup during a sync: %v", err)
	}
	for _, want := range []string{first, "schema version " + fmt.Sprint(store.SchemaVersion()), "integrity_check: ok",
		"master key is NOT in this backup", filepath.Join(dir, "master.key")} {
		if !strings.Contains(out, want) {
			t.Errorf("backup output lacks %q:\n%s", want, out)
		}
	}
	during, after := 0, 0
	check := func(name string) {
		t.Helper()
		copyDB := assertGoodBackup(t, name, live)
		var outcome string
		if err := copyDB.QueryRow("SELECT outcome FROM sync_runs WHERE id = ?", runID).Scan(&outcome); err != nil {
			t.Fatalf("%s lacks run %d: %v", name, runID, err)
		}
		devices := queryInt(t, copyDB, "SELECT COUNT(*) FROM devices")
		switch {
		case outcome == model.RunRunning && devices == machines:
			during++
		case outcome == model.RunSuccess && devices == machines+added:
			after++
		default:
			t.Fatalf("%s is not one snapshot: run %d is %s with %d devices", name, runID, outcome, devices)
		}
	}
	check(first)
	c.release()
	// Back up again and again until one starts after the run has ended.
	for i := 1; ; i++ {
		running := w.Status().Running
		dst := filepath.Join(t.TempDir(), fmt.Sprintf("backup-%d.db", i))
		if _, err := runBackup(t, dir, dst); err != nil {
			t.Fatalf("backup %d: %v", i, err)
		}
		check(dst)
		if !running {
			break
		}
		if i == 1000 {
			t.Fatalf("the sync did not end: %+v", w.Status())
		}
	}
	t.Logf("%d backups taken during the sync, %d after it", during, after)
	if during == 0 || after == 0 {
		t.Errorf("backups during the sync: %d, after it: %d; want some of each", during, after)
	}
	if got := w.Status().LastRun; got.ID != runID || got.Outcome != model.RunSuccess || got.Added != added {
		t.Fatalf("the sync during the backups: %+v; want success with %d added", got, added)
	}
}

// syncOnce triggers a run and waits for it to be recorded.
func syncOnce(t *testing.T, w *syncer.Worker) model.SyncRun {
	t.Helper()
	var prev int64
	if s := w.Status(); s.LastRun != nil {
		prev = s.LastRun.ID
	}
	w.Trigger("backup test")
	var run model.SyncRun
	testkit.WaitFor(t, 30*time.Second, "a sync run", func() bool {
		s := w.Status()
		if s.Running || s.LastRun == nil || s.LastRun.ID <= prev {
			return false
		}
		run = *s.LastRun
		return true
	})
	return run
}

// An existing file is never overwritten, even an empty one (which VACUUM
// INTO alone would fill), and the refusal leaves it byte-for-byte as it was.
func TestBackupRefusesToOverwrite(t *testing.T) {
	dir := t.TempDir()
	st, err := store.Open(context.Background(), filepath.Join(dir, "postern.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	for name, content := range map[string][]byte{"non-empty": []byte("last week's backup\x00\x01"), "empty": nil} {
		t.Run(name, func(t *testing.T) {
			out := t.TempDir()
			dst := filepath.Join(out, "postern-backup.db")
			if err := os.WriteFile(dst, content, 0o640); err != nil {
				t.Fatal(err)
			}
			_, err := runBackup(t, dir, dst)
			if err == nil || !strings.Contains(err.Error(), "already exists") || !strings.Contains(err.Error(), dst) {
				t.Fatalf("backup over an existing file = %v, want a refusal naming it", err)
			}
			got, err := os.ReadFile(dst)
			if err != nil || !bytes.Equal(got, content) {
				t.Errorf("the existing file changed: %q %v", got, err)
			}
			if fi, _ := os.Stat(dst); fi.Mode().Perm() != 0o640 {
				t.Errorf("the existing file's mode changed to %v", fi.Mode().Perm())
			}
			if entries, _ := os.ReadDir(out); len(entries) != 1 {
				t.Errorf("the refused backup left files behind: %v", entries)
			}
		})
	}
}

// Backup reads the database as it is: it creates no database and no master
// key, and it does not migrate (a newer binary must not upgrade the live
// database by taking a backup).
func TestBackupNeitherMigratesNorCreates(t *testing.T) {
	empty := t.TempDir()
	if _, err := runBackup(t, empty, filepath.Join(t.TempDir(), "b.db")); err == nil || !strings.Contains(err.Error(), "no database") {
		t.Fatalf("backup of an empty data dir = %v, want a refusal", err)
	}
	if entries, _ := os.ReadDir(empty); len(entries) != 0 {
		t.Fatalf("backup of an empty data dir created %v", entries)
	}

	// A database one migration behind this binary stays one behind.
	dir := t.TempDir()
	path := filepath.Join(dir, "postern.db")
	st, err := store.Open(context.Background(), path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	db, err := sql.Open("sqlite", store.DSN(path, true))
	if err != nil {
		t.Fatal(err)
	}
	_, err = db.Exec("DELETE FROM schema_migrations WHERE version = ?", store.SchemaVersion())
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	older := store.SchemaVersion() - 1
	dst := filepath.Join(t.TempDir(), "b.db")
	out, err := runBackup(t, dir, dst)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, fmt.Sprintf("schema version %d", older)) {
		t.Errorf("backup output lacks the schema version %d:\n%s", older, out)
	}
	if got := queryInt(t, openReadOnly(t, path), "SELECT MAX(version) FROM schema_migrations"); got != older {
		t.Errorf("the live database is at schema version %d after the backup, want %d (untouched)", got, older)
	}
	if _, err := os.Stat(filepath.Join(dir, "master.key")); !os.IsNotExist(err) {
		t.Errorf("backup created a master key: %v", err)
	}
}

// serveFor starts the real server and returns a function that stops it and
// reports how it ended.
func serveFor(t *testing.T, args []string, env map[string]string) (stop func()) {
	t.Helper()
	out := &testkit.Buffer{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx, append([]string{"--addr", "127.0.0.1:0"}, args...), envOf(env), out) }()
	waitForURL(t, out)
	return func() {
		t.Helper()
		cancel()
		if err := <-done; err != nil {
			t.Fatalf("serve: %v\n%s", err, out)
		}
	}
}

// restoreInto follows the documented restore: the backup becomes
// <data-dir>/postern.db (0600) with no stale -wal or -shm beside it.
func restoreInto(t *testing.T, backup, dataDir string) {
	t.Helper()
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		t.Fatal(err)
	}
	target := filepath.Join(dataDir, "postern.db")
	for _, stale := range []string{target + "-wal", target + "-shm"} {
		if err := os.Remove(stale); err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
	}
	copyFile(t, backup, target)
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// backedUpConsole is a configured console with a posture check, backed up
// while it serves. It returns the data dir, the emulator URL and the backup.
func backedUpConsole(t *testing.T) (dir, emuURL, backup string) {
	t.Helper()
	dir, emuURL = configured(t)
	st, err := store.Open(context.Background(), filepath.Join(dir, "postern.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	spec, _ := json.Marshal(posture.Spec{MaxRisk: "Medium", RequiredTags: []string{"vpn-allowed"}})
	_, err = st.SavePostureCheck(context.Background(), model.PostureCheck{Name: "Low risk laptops", DataSource: posture.SourceDefender,
		Mode: posture.ModeEnforce, Enabled: true, WhenUnavailable: posture.UnavailableDeny, Spec: string(spec)}, "admin@example.com",
		audit.Entry{Actor: "admin@example.com", Action: "posture_check.saved", Outcome: audit.Success})
	st.Close()
	if err != nil {
		t.Fatal(err)
	}
	stop := serveFor(t, []string{"--data-dir", dir, "--defender-login-url", emuURL, "--defender-api-url", emuURL}, nil)
	backup = filepath.Join(t.TempDir(), "postern-backup.db")
	if _, err := runBackup(t, dir, backup); err != nil {
		t.Fatal(err)
	}
	stop()
	assertGoodBackup(t, backup, filepath.Join(dir, "postern.db"))
	// The key is not in the backup, and the secret is in it only sealed.
	raw, err := os.ReadFile(backup)
	if err != nil {
		t.Fatal(err)
	}
	key, err := os.ReadFile(filepath.Join(dir, "master.key"))
	if err != nil {
		t.Fatal(err)
	}
	for what, b := range map[string][]byte{"master key": key, "base64 master key": []byte(base64.StdEncoding.EncodeToString(key)),
		"client secret": []byte(emulator.DemoClientSecret)} {
		if bytes.Contains(raw, b) {
			t.Errorf("the backup contains the %s", what)
		}
	}
	return dir, emuURL, backup
}

// The documented restore brings back the integration, with a secret that
// decrypts and still works, and the posture checks.
func TestRestoreFromBackup(t *testing.T) {
	dir, emuURL, backup := backedUpConsole(t)
	ctx := context.Background()
	want, err := store.Open(ctx, filepath.Join(dir, "postern.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	wantIntegration, err := want.Integration(ctx, integration.Name)
	if err != nil {
		t.Fatal(err)
	}
	wantChecks, err := want.PostureChecks(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want.Close()
	lastRun := queryInt(t, openReadOnly(t, backup), "SELECT COALESCE(MAX(id), 0) FROM sync_runs")
	keyBytes, err := os.ReadFile(filepath.Join(dir, "master.key"))
	if err != nil {
		t.Fatal(err)
	}

	t.Run("key file", func(t *testing.T) {
		restored := filepath.Join(t.TempDir(), "data")
		restoreInto(t, backup, restored)
		copyFile(t, filepath.Join(dir, "master.key"), filepath.Join(restored, "master.key"))
		// Start-up opens every stored secret: a wrong key stops it here.
		stop := serveFor(t, []string{"--data-dir", restored, "--defender-login-url", emuURL, "--defender-api-url", emuURL}, nil)
		live := openReadOnly(t, filepath.Join(restored, "postern.db"))
		// The emulator accepts only the right secret: a successful sync
		// proves the decrypted secret is the one that was saved.
		testkit.WaitFor(t, 30*time.Second, "a successful sync from the restored console", func() bool {
			var n int
			err := live.QueryRow("SELECT COUNT(*) FROM sync_runs WHERE outcome = 'success' AND id > ?", lastRun).Scan(&n)
			return err == nil && n > 0
		})
		live.Close()
		stop()

		st, err := store.Open(ctx, filepath.Join(restored, "postern.db"), store.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		got, err := st.Integration(ctx, integration.Name)
		if err != nil {
			t.Fatalf("restored integration: %v", err)
		}
		if got.TenantID != wantIntegration.TenantID || got.ClientID != wantIntegration.ClientID || !got.Enabled {
			t.Errorf("restored integration: tenant %s, client %s, enabled %v; want %s, %s, true",
				got.TenantID, got.ClientID, got.Enabled, wantIntegration.TenantID, wantIntegration.ClientID)
		}
		kr, _, err := secret.LoadKeyring("", filepath.Join(restored, "master.key"))
		if err != nil {
			t.Fatal(err)
		}
		svc := integration.New(st, kr, slog.New(slog.NewTextHandler(io.Discard, nil)), integration.Options{LoginURL: emuURL, APIURL: emuURL})
		if _, _, err := svc.Client(ctx); err != nil {
			t.Errorf("the restored integration's client cannot be built: %v", err)
		}
		gotChecks, err := st.PostureChecks(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(gotChecks) != len(wantChecks) || len(gotChecks) == 0 {
			t.Fatalf("restored %d posture checks, want %d", len(gotChecks), len(wantChecks))
		}
		for i := range gotChecks {
			if g, w := gotChecks[i], wantChecks[i]; g.Name != w.Name || g.Spec != w.Spec || g.Mode != w.Mode || g.Enabled != w.Enabled {
				t.Errorf("restored check %d = %+v, want %+v", i, g, w)
			}
		}
	})

	t.Run("environment key", func(t *testing.T) {
		restored := t.TempDir()
		restoreInto(t, backup, restored)
		env := map[string]string{"POSTERN_MASTER_KEY": base64.StdEncoding.EncodeToString(keyBytes)}
		serveFor(t, []string{"--data-dir", restored, "--defender-login-url", emuURL, "--defender-api-url", emuURL}, env)()
		if _, err := os.Stat(filepath.Join(restored, "master.key")); !os.IsNotExist(err) {
			t.Errorf("a start with POSTERN_MASTER_KEY wrote a key file: %v", err)
		}
	})
}

// Restoring the database without its key is refused with a message naming
// the key, and creates no new key; putting the right key in place then
// starts.
func TestRestoreWithoutTheKey(t *testing.T) {
	dir, emuURL, backup := backedUpConsole(t)
	restored := t.TempDir()
	restoreInto(t, backup, restored)
	err := run(context.Background(), []string{"--addr", "127.0.0.1:0", "--data-dir", restored}, envOf(nil), io.Discard)
	if err == nil || !strings.Contains(err.Error(), `key id "k1"`) || !strings.Contains(err.Error(), "master key") {
		t.Fatalf("start without the master key = %v, want a refusal naming key id \"k1\" and the master key", err)
	}
	t.Logf("start without the master key: %v", err)
	if _, err := os.Lstat(filepath.Join(restored, "master.key")); !os.IsNotExist(err) {
		t.Errorf("the refused start left a master key behind: %v", err)
	}
	copyFile(t, filepath.Join(dir, "master.key"), filepath.Join(restored, "master.key"))
	serveFor(t, []string{"--data-dir", restored, "--defender-login-url", emuURL, "--defender-api-url", emuURL}, nil)()
}
