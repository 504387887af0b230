package store_test

import (
	"bufio"
	"context"
	"crypto/sha256"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"postern/internal/audit"
	"postern/internal/model"
	"postern/internal/secret"
	"postern/internal/testkit/pgtest"
	"postern/internal/testkit/teststore"
	"postern/store"
)

// fileHash is the SHA-256 of a file, "" when it does not exist.
func fileHash(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return ""
	}
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	return string(sum[:])
}

// tablesOf lists a SQLite database's tables, but schema_migrations.
func tablesOf(t *testing.T, s *store.Store) []string {
	t.Helper()
	_, r := s.DBs()
	return teststore.Strings(t, r.Query, "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name != 'schema_migrations' ORDER BY name")
}

// passwordOf is the password in a database URL.
func passwordOf(t *testing.T, dbURL string) string {
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	pw, _ := u.User.Password()
	return pw
}

// A populated SQLite installation is copied whole: every table of the
// schema, with the counts it had, the source unchanged; read back through
// the PostgreSQL store, it gives what the SQLite store gives, the sealed
// secrets byte for byte (and the same key opens them); new rows get new
// ids after the copied ones.
func TestMigrateStoreCopiesEverything(t *testing.T) {
	path, kr := populatedSource(t)
	before := fileHash(t, path)
	dbURL := pgtest.DatabaseURL(t)
	rep, err := store.MigrateStore(t.Context(), path, dbURL)
	if err != nil {
		t.Fatalf("MigrateStore: %v", err)
	}
	// Unchanged: a WAL reader may leave an empty -wal file (and the -shm
	// index), never a written one.
	if fileHash(t, path) != before {
		t.Error("the source database file changed")
	}
	if fi, err := os.Stat(path + "-wal"); err == nil && fi.Size() != 0 {
		t.Errorf("the copy wrote %d bytes to the source's -wal file", fi.Size())
	}
	src := openAt(t, path, store.Options{})
	dst := teststore.OpenAt(t, "", store.Options{URL: dbURL})

	// Every table of the schema is in the report, with its count, and
	// each (but those the fixture cannot fill) held rows.
	var copied []string
	for _, tc := range rep.Tables {
		copied = append(copied, tc.Name)
		if n := queryInt(t, src, "SELECT COUNT(*) FROM "+tc.Name); int64(n) != tc.Rows {
			t.Errorf("%s: %d rows copied, the source has %d", tc.Name, tc.Rows, n)
		}
		if n := queryInt(t, dst, "SELECT COUNT(*) FROM "+tc.Name); int64(n) != tc.Rows {
			t.Errorf("%s: %d rows copied, PostgreSQL has %d", tc.Name, tc.Rows, n)
		}
		if _, ok := emptyInFixture[tc.Name]; !ok && (tc.Rows == 0 || tc.Sampled == 0) {
			t.Errorf("%s: %d rows copied, %d compared: the fixture (fillEveryTable) must fill every table, or name it in emptyInFixture", tc.Name, tc.Rows, tc.Sampled)
		}
	}
	slices.Sort(copied)
	if all := tablesOf(t, src); !slices.Equal(copied, all) {
		t.Errorf("tables copied %v, the schema has %v", copied, all)
	}
	if rep.SchemaVersion != store.SchemaVersion() || rep.To == "" || strings.Contains(rep.To, passwordOf(t, dbURL)) {
		t.Errorf("report %+v", rep)
	}
	sameReads(t, src, dst)

	// The sealed secret: the same bytes, opened by the same key.
	in, err := dst.Integration(t.Context(), "defender")
	if err != nil {
		t.Fatal(err)
	}
	plain, err := kr.Open(in.ClientSecret, secret.Location{Table: "integrations", Column: "client_secret", Row: "defender"})
	if err != nil || string(plain) != clientSecret {
		t.Errorf("the copied client secret opens to %q, %v", plain, err)
	}

	// The identity sequences follow the copied ids.
	maxAudit := queryInt(t, dst, "SELECT MAX(id) FROM audit_log")
	tok, err := dst.CreateAPIToken(t.Context(), model.APIToken{Name: "after", Prefix: "pst_after", Hash: []byte("h"), CreatedBy: "x"},
		fixtureEntry(audit.APITokenCreated, "after"))
	if err != nil {
		t.Fatalf("a new token after the copy: %v", err)
	}
	if tok.ID <= 2 || queryInt(t, dst, "SELECT MAX(id) FROM audit_log") <= maxAudit {
		t.Errorf("new rows after the copy: token id %d, audit ids up to %d", tok.ID, maxAudit)
	}
	if _, err := dst.StartRun(t.Context(), "defender", "manual"); err != nil {
		t.Errorf("a new sync run after the copy: %v", err)
	}
}

// sameReads fails unless the two stores answer the console's reads alike.
func sameReads(t *testing.T, a, b *store.Store) {
	t.Helper()
	ctx := t.Context()
	type read struct {
		name string
		fn   func(s *store.Store) (any, error)
	}
	for _, r := range []read{
		{"DevicePage", func(s *store.Store) (any, error) {
			ds, n, err := s.DevicePage(ctx, model.DeviceFilter{Removed: "all", Limit: 1000})
			return []any{ds, n}, err
		}},
		{"DeviceFilterValues", func(s *store.Store) (any, error) { return s.DeviceFilterValues(ctx) }},
		{"AuditEntries", func(s *store.Store) (any, error) {
			es, n, err := s.AuditEntries(ctx, audit.Filter{Limit: 1000})
			return []any{es, n}, err
		}},
		{"Integrations", func(s *store.Store) (any, error) { return s.Integrations(ctx) }},
		{"SealedValues", func(s *store.Store) (any, error) { return s.SealedValues(ctx) }},
		{"PendingCertificate", func(s *store.Store) (any, error) { return s.PendingCertificate(ctx, "defender") }},
		{"AdminByEmail", func(s *store.Store) (any, error) { return s.AdminByEmail(ctx, "owner@example.com") }},
		{"Session", func(s *store.Store) (any, error) { return s.Session(ctx, []byte{0, 1, 2, 0xfe, 0xff}) }},
		{"APITokens", func(s *store.Store) (any, error) { return s.APITokens(ctx) }},
		{"PostureChecks", func(s *store.Store) (any, error) { return s.PostureChecks(ctx) }},
		{"Exceptions", func(s *store.Store) (any, error) { return s.Exceptions(ctx, model.ExceptionFilter{}) }},
		{"History", func(s *store.Store) (any, error) { return s.History(ctx, "", 100) }},
		{"VerdictBaseline", func(s *store.Store) (any, error) {
			base, found, err := s.VerdictBaseline(ctx)
			return []any{base, found}, err
		}},
		{"PendingCauses", func(s *store.Store) (any, error) { return s.PendingCauses(ctx) }},
		{"SyncRuns", func(s *store.Store) (any, error) {
			rs, n, err := s.SyncRuns(ctx, 100, 0)
			return []any{rs, n}, err
		}},
		{"AVRunOf", func(s *store.Store) (any, error) { return s.AVRunOf(ctx, 1) }},
		{"EachDeviceAV", func(s *store.Store) (any, error) {
			var out []model.DeviceAV
			return out, s.EachDeviceAV(ctx, func(d model.DeviceAV) error { out = append(out, d); return nil })
		}},
		{"WebhookEndpoints", func(s *store.Store) (any, error) { return s.WebhookEndpoints(ctx) }},
		{"WebhookDeliveries", func(s *store.Store) (any, error) { return s.WebhookDeliveries(ctx, "ep_fixture", 100) }},
		{"DueWebhooks", func(s *store.Store) (any, error) { return s.DueWebhooks(ctx, s.Now().Add(24*time.Hour), 100) }},
		{"Decisions", func(s *store.Store) (any, error) {
			ds, n, err := s.Decisions(ctx, model.DecisionFilter{Limit: 100})
			return []any{ds, n}, err
		}},
		{"Decisions of a device, indexed and recent", func(s *store.Store) (any, error) {
			var out []any
			for _, i := range []int{3, 25} {
				ds, n, err := s.Decisions(ctx, model.DecisionFilter{DeviceID: fixtureDevice(i, "").ID})
				if err != nil {
					return nil, err
				}
				out = append(out, ds, n)
			}
			return out, nil
		}},
	} {
		want, err := r.fn(a)
		if err != nil {
			t.Errorf("%s on SQLite: %v", r.name, err)
			continue
		}
		if isEmpty(want) {
			t.Errorf("%s on SQLite is empty: the comparison would prove nothing", r.name)
		}
		got, err := r.fn(b)
		if err != nil {
			t.Errorf("%s on PostgreSQL: %v", r.name, err)
			continue
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s differs:\nPostgreSQL %+v\nSQLite     %+v", r.name, got, want)
		}
	}
}

// isEmpty tells whether a read found nothing (of a pair, the first).
func isEmpty(v any) bool {
	if pair, ok := v.([]any); ok {
		return isEmpty(pair[0])
	}
	rv := reflect.ValueOf(v)
	if rv.Kind() == reflect.Slice || rv.Kind() == reflect.Map {
		return rv.Len() == 0
	}
	return rv.IsZero()
}

// A target that holds any row is refused, by host and database, never the
// password, and keeps what it held.
func TestMigrateStoreRefusesNonEmptyTarget(t *testing.T) {
	path, _ := populatedSource(t)
	dbURL := pgtest.DatabaseURL(t)
	dst := teststore.OpenAt(t, "", store.Options{URL: dbURL})
	if err := dst.AppendAudit(t.Context(), fixtureEntry(audit.APITokenCreated, "already here")); err != nil {
		t.Fatal(err)
	}
	_, err := store.MigrateStore(t.Context(), path, dbURL)
	u, _ := url.Parse(dbURL)
	if err == nil {
		t.Fatal("MigrateStore into a database with data succeeded")
	}
	for _, want := range []string{"already holds data", "audit_log", u.Host, strings.TrimPrefix(u.Path, "/"), "nothing was written"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	if strings.Contains(err.Error(), passwordOf(t, dbURL)) {
		t.Errorf("error %q shows the password", err)
	}
	if n := queryInt(t, dst, "SELECT COUNT(*) FROM audit_log"); n != 1 {
		t.Errorf("the target's audit log has %d rows after the refusal, want its 1", n)
	}
}

// A source at another schema version than this binary's is refused, with
// both versions and what to do, before the target is touched.
func TestMigrateStoreRefusesOtherSchemaVersions(t *testing.T) {
	known := store.SchemaVersion()
	for _, c := range []struct {
		name   string
		change string
		want   []string
	}{
		{"older", "DELETE FROM schema_migrations WHERE version = (SELECT MAX(version) FROM schema_migrations)",
			[]string{"schema version " + strconv.Itoa(known-1), "this Postern's is " + strconv.Itoa(known), "run this Postern on it once"}},
		{"newer", "INSERT INTO schema_migrations (version, name, applied_at) VALUES (" + strconv.Itoa(known+1) + ", 'future', 'x')",
			[]string{"schema version " + strconv.Itoa(known+1), "newer than this Postern's " + strconv.Itoa(known)}},
	} {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "postern.db")
			s := openOwned(t, path)
			mustExec(t, s, c.change)
			mustClose(t, s)
			dbURL := pgtest.DatabaseURL(t)
			_, err := store.MigrateStore(t.Context(), path, dbURL)
			if err == nil {
				t.Fatal("MigrateStore succeeded")
			}
			for _, want := range append(c.want, path) {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not say %q", err, want)
				}
			}
			dst := teststore.OpenAt(t, "", store.Options{URL: dbURL}) // migrates the empty target now
			if n := queryInt(t, dst, "SELECT COUNT(*) FROM schema_migrations"); n != known {
				t.Errorf("the target has %d migrations recorded, want %d (its own, none copied)", n, known)
			}
		})
	}
}

// A value that does not fit its PostgreSQL column stops the copy, naming
// the table and column, and rolls back every table already copied.
func TestMigrateStoreRollsBackOnABadValue(t *testing.T) {
	path, _ := populatedSource(t)
	s := openOwned(t, path)
	mustExec(t, s, "UPDATE devices SET is_aad_joined = 2 WHERE id = (SELECT MAX(id) FROM devices)")
	mustClose(t, s)
	dbURL := pgtest.DatabaseURL(t)
	_, err := store.MigrateStore(t.Context(), path, dbURL)
	if err == nil || !strings.Contains(err.Error(), "devices.is_aad_joined") || !strings.Contains(err.Error(), "boolean") {
		t.Fatalf("MigrateStore of a 2 in a boolean column: %v", err)
	}
	dst := teststore.OpenAt(t, "", store.Options{URL: dbURL})
	for _, table := range []string{"admins", "audit_log", "integrations", "devices", "sync_runs"} {
		if n := queryInt(t, dst, "SELECT COUNT(*) FROM "+table); n != 0 {
			t.Errorf("%s has %d rows after the failed copy, want none", table, n)
		}
	}
}

// The verification finds a copy that differs from its source, in a value
// or in a count, and the whole copy is rolled back.
func TestMigrateStoreVerificationFindsDifferences(t *testing.T) {
	path, _ := populatedSource(t)
	first := fixtureDevice(0, "").ID // the first device in key order: always compared
	for _, c := range []struct{ name, tamper, want string }{
		{"value", "UPDATE devices SET host = host || '.changed' WHERE id = '" + first + "'",
			"verify devices: the row at position 1 (in key order) differs in column host"},
		{"count", "DELETE FROM device_tags WHERE device_id = '" + first + "' AND tag = 'all'",
			"verify device_tags: " + strconv.Itoa(2*fixtureDevices) + " rows in SQLite, " + strconv.Itoa(2*fixtureDevices) + " copied, " + strconv.Itoa(2*fixtureDevices-1) + " in PostgreSQL"},
	} {
		t.Run(c.name, func(t *testing.T) {
			store.TamperAfterCopy(t, func(exec func(string) error) error { return exec(c.tamper) })
			dbURL := pgtest.DatabaseURL(t)
			_, err := store.MigrateStore(t.Context(), path, dbURL)
			if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "nothing was written") {
				t.Fatalf("MigrateStore of a copy changed by %q: %v, want %q", c.tamper, err, c.want)
			}
			dst := teststore.OpenAt(t, "", store.Options{URL: dbURL})
			if n := queryInt(t, dst, "SELECT COUNT(*) FROM devices"); n != 0 {
				t.Errorf("%d devices in PostgreSQL after a failed verification, want none", n)
			}
		})
	}
}

// Two values SQLite keeps apart but PostgreSQL's case-insensitive
// collation takes for one (SQLite's NOCASE folds A to Z only) stop the
// copy with a message that says so, not a bare constraint violation.
func TestMigrateStoreExplainsCaseCollisions(t *testing.T) {
	path, _ := populatedSource(t)
	s := openOwned(t, path)
	id := fixtureDevice(0, "").ID
	mustExec(t, s, "INSERT INTO device_tags (device_id, tag) VALUES (?, 'Équipe'), (?, 'équipe')", id, id)
	mustClose(t, s)
	_, err := store.MigrateStore(t.Context(), path, pgtest.DatabaseURL(t))
	if err == nil || !strings.Contains(err.Error(), "copy device_tags: two of its rows are one row on PostgreSQL (device_tags_pkey)") ||
		!strings.Contains(err.Error(), "of A to Z only in SQLite") {
		t.Fatalf("MigrateStore of tags that differ in the case of É: %v", err)
	}
}

// A table in one engine's schema that the other lacks stops the copy: the
// tables are matched, not listed, and none is silently left behind.
func TestMigrateStoreRefusesUnmatchedTables(t *testing.T) {
	path, _ := populatedSource(t)
	s := openOwned(t, path)
	mustExec(t, s, "CREATE TABLE only_here (id INTEGER PRIMARY KEY, v TEXT)")
	mustClose(t, s)
	_, err := store.MigrateStore(t.Context(), path, pgtest.DatabaseURL(t))
	if err == nil || !strings.Contains(err.Error(), "only_here has no counterpart in PostgreSQL") {
		t.Fatalf("MigrateStore with a table only SQLite has: %v", err)
	}

	// And the other way: a table of another application in the target.
	path, _ = populatedSource(t)
	dbURL := pgtest.DatabaseURL(t)
	mustExec(t, teststore.OpenAt(t, "", store.Options{URL: dbURL}), "CREATE TABLE other_app (id BIGINT PRIMARY KEY)")
	_, err = store.MigrateStore(t.Context(), path, dbURL)
	if err == nil || !strings.Contains(err.Error(), "other_app has no counterpart in the SQLite database") {
		t.Fatalf("MigrateStore into a database with a table of another application: %v", err)
	}
}

// A database that another process holds open (a running Postern) is
// refused: rows it wrote after the copy would be lost.
func TestMigrateStoreRefusesADatabaseInUse(t *testing.T) {
	path, _ := populatedSource(t)
	cmd := exec.Command(os.Args[0], "-test.run=^TestHoldDatabaseOpen$")
	cmd.Env = append(os.Environ(), holdEnv+"="+path)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()
	defer stdin.Close()
	ready := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if sc.Text() == "open" {
				ready <- true
			}
		}
	}()
	select {
	case <-ready:
	case <-time.After(30 * time.Second):
		t.Fatal("the helper process did not open the database")
	}
	_, err = store.MigrateStore(t.Context(), path, pgtest.DatabaseURL(t))
	if err == nil || !strings.Contains(err.Error(), "stop Postern first") || !strings.Contains(err.Error(), strconv.Itoa(cmd.Process.Pid)) {
		t.Fatalf("MigrateStore of a database open in process %d: %v", cmd.Process.Pid, err)
	}
}

// holdEnv makes TestHoldDatabaseOpen, run as a helper process, hold the
// database it names open until its standard input closes.
const holdEnv = "POSTERN_TEST_HOLD_DATABASE"

func TestHoldDatabaseOpen(t *testing.T) {
	path := os.Getenv(holdEnv)
	if path == "" {
		t.Skip("a helper process of TestMigrateStoreRefusesADatabaseInUse")
	}
	s, err := store.Open(context.Background(), path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.AdminCount(context.Background()); err != nil {
		t.Fatal(err)
	}
	os.Stdout.WriteString("open\n")
	bufio.NewReader(os.Stdin).ReadString('\n')
}
