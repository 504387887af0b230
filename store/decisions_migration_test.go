package store_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"postern/internal/model"
	"postern/store"
)

// Migration 0033 builds the device index from the decisions a database
// already holds, and drops the index it replaces: a database at 0032
// keeps its decisions findable by device.
func TestMigrationIndexesExistingDecisions(t *testing.T) {
	ctx := context.Background()
	path := dbPath(t)
	s := openOwned(t, path)
	at := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	var ds []model.Decision
	for i := range 6 {
		ds = append(ds, model.Decision{At: at.Add(time.Duration(i) * time.Second), DeviceID: fmt.Sprint("m", i%2),
			MatchedBy: "defender_machine_id", Result: model.DecisionDenied})
	}
	ds = append(ds, model.Decision{At: at, MatchedBy: "none", Result: model.DecisionUnknown})
	if err := s.AppendDecisions(ctx, ds); err != nil {
		t.Fatal(err)
	}
	// Back to 0032's schema, decisions kept.
	w, _ := s.DBs()
	for _, q := range []string{
		"DROP TABLE decision_devices", "DROP TABLE decision_devices_recent",
		"CREATE INDEX decisions_device ON decisions(device_id, at)",
		"DELETE FROM schema_migrations WHERE version = 33",
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
	if moved, err := s.IndexDecisions(ctx); err != nil || moved != 0 {
		t.Errorf("IndexDecisions after the migration: %d, %v; want nothing recent", moved, err)
	}
}
