package store_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"postern/internal/model"
	"postern/internal/testkit/pgtest"
	"postern/store"
)

// Migrations 0033 and 0034 keep the decisions a database at 0032 holds:
// 0033 builds the device index from them and drops the index it replaces,
// so they stay findable by device; 0034 moves their checks into sets, one
// per distinct set, so they read back as they were.
func TestMigrationIndexesExistingDecisions(t *testing.T) {
	ctx := context.Background()
	path := dbPath(t)
	s := openOwned(t, path)
	at := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	ds := append(migrationDecisions(at), model.Decision{At: at, MatchedBy: "none", Result: model.DecisionUnknown})
	if err := s.AppendDecisions(ctx, ds); err != nil {
		t.Fatal(err)
	}
	// Back to 0032's schema, decisions kept.
	w, _ := s.DBs()
	for _, q := range []string{
		"DROP TABLE decision_devices", "DROP TABLE decision_devices_recent",
		"CREATE INDEX decisions_device ON decisions(device_id, at)",
		"ALTER TABLE decisions ADD COLUMN checks TEXT NOT NULL DEFAULT '[]'",
		"UPDATE decisions SET checks = (SELECT c.checks FROM decision_check_sets c WHERE c.id = decisions.checks_set)",
		"ALTER TABLE decisions DROP COLUMN checks_set", "DROP TABLE decision_check_sets",
		"DELETE FROM schema_migrations WHERE version IN (33, 34)",
	} {
		if _, err := w.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	mustClose(t, s)

	s = openAt(t, path, store.Options{})
	defer mustClose(t, s)
	if n := queryInt(t, s, "SELECT COUNT(*) FROM sqlite_schema WHERE name = 'decisions_device'"); n != 0 {
		t.Errorf("decisions_device is still there")
	}
	if n := queryInt(t, s, "SELECT COUNT(*) FROM decision_devices"); n != 6 {
		t.Errorf("the device index holds %d entries, want the 6 decisions of a device", n)
	}
	got, n, err := s.Decisions(ctx, model.DecisionFilter{DeviceID: "m1"})
	if err != nil {
		t.Fatal(err)
	}
	if n != 3 || len(got) != 3 || !got[0].At.Equal(at.Add(5*time.Second)) || !got[2].At.Equal(at.Add(time.Second)) {
		t.Errorf("m1's decisions after the migration: %d %+v, want 3, newest first", n, got)
	}
	checkMigratedChecks(t, got, at)
	if n := queryInt(t, s, "SELECT COUNT(*) FROM decision_check_sets"); n != 4 {
		t.Errorf("the migration made %d sets of checks, want 4 (three checks and none)", n)
	}
	if _, n, err := s.Decisions(ctx, model.DecisionFilter{CheckID: 1}); err != nil || n != 6 {
		t.Errorf("the check filter after the migration: %d, %v; want 6", n, err)
	}
	if moved, err := s.IndexDecisions(ctx); err != nil || moved != 0 {
		t.Errorf("IndexDecisions after the migration: %d, %v; want nothing recent", moved, err)
	}
}

// Migration 0034 on PostgreSQL: a database at 0033 keeps its decisions'
// checks, moved into sets, one per distinct set, that no new entry names.
func TestMigrationMovesChecksIntoSetsOnPostgres(t *testing.T) {
	ctx := context.Background()
	url := pgtest.DatabaseURL(t)
	open := func() *store.Store {
		s, err := store.Open(ctx, "", store.Options{URL: url})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	s := open()
	at := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	ds := migrationDecisions(at)
	if err := s.AppendDecisions(ctx, ds); err != nil {
		t.Fatal(err)
	}
	// Back to 0033's schema, decisions kept.
	for _, q := range []string{
		"ALTER TABLE decisions ADD COLUMN checks TEXT NOT NULL DEFAULT '[]'",
		"UPDATE decisions d SET checks = c.checks FROM decision_check_sets c WHERE c.id = d.checks_set",
		"ALTER TABLE decisions DROP COLUMN checks_set", "DROP TABLE decision_check_sets",
		"DELETE FROM schema_migrations WHERE version = 34",
	} {
		mustExec(t, s, q)
	}
	mustClose(t, s)

	s = open()
	defer mustClose(t, s)
	got, n, err := s.Decisions(ctx, model.DecisionFilter{})
	if err != nil || n != 6 {
		t.Fatalf("decisions after the migration: %d, %v; want 6", n, err)
	}
	checkMigratedChecks(t, got, at)
	if n := queryInt(t, s, "SELECT COUNT(*) FROM decision_check_sets WHERE digest IS NULL"); n != 3 {
		t.Errorf("the migration made %d sets without a digest, want 3", n)
	}
	noDanglingSets(t, s)
	// A new entry with the same checks names a set of its own, with a digest.
	if err := s.AppendDecisions(ctx, ds[:1]); err != nil {
		t.Fatal(err)
	}
	if n := queryInt(t, s, "SELECT COUNT(*) FROM decision_check_sets"); n != 4 {
		t.Errorf("%d sets after a new entry, want the 3 migrated and its own", n)
	}
	if _, n, err := s.Decisions(ctx, model.DecisionFilter{CheckID: 1}); err != nil || n != 7 {
		t.Errorf("the check filter after the migration: %d, %v; want 7", n, err)
	}
}

// migrationDecisions are six denials from at, a second apart, of devices
// m0 and m1 in turn, each failing one of three checks in turn.
func migrationDecisions(at time.Time) []model.Decision {
	var ds []model.Decision
	for i := range 6 {
		ds = append(ds, model.Decision{At: at.Add(time.Duration(i) * time.Second), DeviceID: fmt.Sprint("m", i%2),
			MatchedBy: "defender_machine_id", Result: model.DecisionDenied, Checks: checksOf(fmt.Sprint("Check ", i%3))})
	}
	return ds
}

// checkMigratedChecks fails the test when a decision of migrationDecisions
// does not read back the check it was written with.
func checkMigratedChecks(t *testing.T, got []model.Decision, at time.Time) {
	t.Helper()
	for _, d := range got {
		if want := fmt.Sprint("Check ", int(d.At.Sub(at)/time.Second)%3); !slices.Equal(checkNames(d), []string{want}) {
			t.Errorf("the decision of %s reads %+v after the migration, want %s", d.At, d.Checks, want)
		}
	}
}
