package store_test

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"postern/internal/audit"
	"postern/internal/model"
	"postern/internal/testkit/teststore"
	"postern/store"
)

// syncDevices stages devices as one run and applies it.
func syncDevices(t *testing.T, s *store.Store, devices []model.Device) model.SyncRun {
	t.Helper()
	ctx := context.Background()
	run, err := s.StartRun(ctx, "defender", "manual")
	if err != nil {
		t.Fatal(err)
	}
	for page := range slices.Chunk(devices, 1000) {
		if err := s.StageDevices(ctx, run.ID, page); err != nil {
			t.Fatal(err)
		}
	}
	run.Outcome, run.Seen = model.RunSuccess, len(devices)
	done, err := s.FinishRun(ctx, run, audit.Entry{Actor: "test", Action: "sync.run", Outcome: audit.Success})
	if err != nil {
		t.Fatal(err)
	}
	// The apply's commit skipped the automatic checkpoint; later writes
	// must not.
	if s.Engine() == "sqlite" {
		w, _ := s.DBs()
		var pages int
		if err := w.QueryRowContext(ctx, "PRAGMA wal_autocheckpoint").Scan(&pages); err != nil || pages != 1000 {
			t.Fatalf("after FinishRun wal_autocheckpoint = %d, %v; want 1000", pages, err)
		}
	}
	if err := s.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	return done
}

func testDevices(from, to int, version string) []model.Device {
	var out []model.Device
	for i := from; i < to; i++ {
		risk := []string{"None", "Low", "Medium", "High"}[i%4]
		out = append(out, model.Device{
			ID: fmt.Sprintf("%040x", i), Host: fmt.Sprintf("host-%06d.contoso.com", i), OSPlatform: "Windows11",
			HealthStatus: "Active", OnboardingStatus: "Onboarded", RiskScore: &risk,
			Tags: []string{"tag-" + fmt.Sprint(i%7), "all"}, Raw: []byte(`{"v":"` + version + `"}`),
			ContentHash: []byte(version + fmt.Sprint(i)),
		})
	}
	return out
}

// schema lists every index and its definition.
func indexSchema(t *testing.T, s *store.Store) []string {
	t.Helper()
	_, r := s.DBs()
	return teststore.Strings(t, r.Query, "SELECT name || ': ' || COALESCE(sql, '(automatic)') FROM sqlite_schema WHERE type = 'index' ORDER BY name")
}

// A run that adds most of the table rebuilds the indexes instead of
// updating them; afterwards the schema, the data and the indexes are as if
// every row had been inserted one by one.
func TestApplyBulkRebuildsIndexes(t *testing.T) {
	s := openTemp(t, store.Options{})
	before := indexSchema(t, s)

	check := func(stage string, devices, tags int) {
		t.Helper()
		if got := indexSchema(t, s); !slices.Equal(got, before) {
			t.Fatalf("%s: indexes\n%q\nwant\n%q", stage, got, before)
		}
		_, r := s.DBs()
		var res string
		if err := r.QueryRow("PRAGMA integrity_check").Scan(&res); err != nil || res != "ok" {
			t.Fatalf("%s: integrity_check = %q, %v", stage, res, err)
		}
		if n := queryInt(t, s, "SELECT COUNT(*) FROM devices"); n != devices {
			t.Errorf("%s: %d devices, want %d", stage, n, devices)
		}
		if n := queryInt(t, s, "SELECT COUNT(*) FROM device_tags"); n != tags {
			t.Errorf("%s: %d tag rows, want %d", stage, n, tags)
		}
		// The list indexes answer, and agree with a plain scan.
		indexed := queryInt(t, s, "SELECT COUNT(*) FROM devices INDEXED BY devices_list WHERE removed_at IS NULL AND risk_score = 'High'")
		scanned := queryInt(t, s, "SELECT COUNT(*) FROM devices NOT INDEXED WHERE risk_score = 'High'")
		if indexed != scanned || indexed != devices/4 {
			t.Errorf("%s: High by index %d, by scan %d, want %d", stage, indexed, scanned, devices/4)
		}
		if n := queryInt(t, s, "SELECT COUNT(*) FROM device_tags INDEXED BY device_tags_device WHERE device_id = ?", fmt.Sprintf("%040x", 7)); n != 2 {
			t.Errorf("%s: device 7 has %d tag rows by index, want 2", stage, n)
		}
	}

	bulkSyncs(t, s, check)
	if n := queryInt(t, s, "SELECT missed_runs FROM devices WHERE id = ?", fmt.Sprintf("%040x", 0)); n != 1 {
		t.Errorf("the device missing from the second run has %d misses, want 1", n)
	}

	// Few changes: the indexes are updated in place.
	run := syncDevices(t, s, testDevices(1, 14000, "b"))
	if run.Added != 0 || run.Changed != 0 || run.Removed != 1 {
		t.Fatalf("third run added %d changed %d removed %d, want 0 0 1", run.Added, run.Changed, run.Removed)
	}
	check("third sync (in place)", 14000, 28000)
}

// bulkSyncs applies two runs that each add more devices than are stored,
// so both take the bulk path, and calls check after each with the
// devices and tag rows there should be: a first sync of 6,000, then one
// of 14,000 with every known device changed and one of them gone.
func bulkSyncs(t *testing.T, s *store.Store, check func(stage string, devices, tags int)) {
	t.Helper()
	run := syncDevices(t, s, testDevices(0, 6000, "a"))
	if run.Added != 6000 {
		t.Fatalf("first run added %d, want 6000", run.Added)
	}
	check("first sync (rebuild)", 6000, 12000)
	run = syncDevices(t, s, append(testDevices(1, 6000, "b"), testDevices(6000, 14000, "b")...))
	if run.Added != 8000 || run.Changed != 5999 {
		t.Fatalf("second run added %d changed %d, want 8000 5999", run.Added, run.Changed)
	}
	check("second sync (rebuild over existing rows)", 14000, 28000)
}

// The whole machine is stored compressed and read back byte for byte; rows
// written as plain JSON before compression still read.
func TestRawMachineRoundTrip(t *testing.T) {
	s := openTemp(t, store.Options{})
	ctx := context.Background()
	devices := testDevices(0, 2, "a")
	raw := []byte(`{"id":"x","computerDnsName":"pc-1","ipAddresses":[` + strings.Repeat(`{"ipAddress":"10.0.0.1","type":"Ethernet"},`, 40) + `{}]}`)
	devices[0].Raw = raw
	syncDevices(t, s, devices)

	d, err := s.Device(ctx, devices[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(d.Raw, raw) {
		t.Fatalf("raw read back as %.80q…, want the %d bytes stored", d.Raw, len(raw))
	}
	if stored := queryInt(t, s, "SELECT length(raw) FROM device_raw WHERE id = ?", devices[0].ID); stored >= len(raw)/2 {
		t.Errorf("raw takes %d bytes in the database for %d of JSON: not compressed", stored, len(raw))
	}

	mustExec(t, s, "UPDATE device_raw SET raw = ? WHERE id = ?", []byte(`{"id":"plain"}`), devices[1].ID)
	if d, err := s.Device(ctx, devices[1].ID); err != nil || string(d.Raw) != `{"id":"plain"}` {
		t.Errorf("a plain JSON row reads as %q, %v", d.Raw, err)
	}
}

// Staging that went missing (the writer connection was replaced mid-run)
// fails the apply instead of counting the devices it lost as gone.
func TestApplyRefusesLostStaging(t *testing.T) {
	s := openTemp(t, store.Options{})
	ctx := context.Background()
	syncDevices(t, s, testDevices(0, 10, "a"))

	run, err := s.StartRun(ctx, "defender", "manual")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.StageDevices(ctx, run.ID, testDevices(0, 10, "b")); err != nil {
		t.Fatal(err)
	}
	if err := s.ClearStaging(ctx); err != nil { // what a new connection would see
		t.Fatal(err)
	}
	run.Outcome, run.Seen = model.RunSuccess, 10
	if _, err := s.FinishRun(ctx, run, audit.Entry{Actor: "test", Action: "sync.run", Outcome: audit.Success}); err == nil {
		t.Fatal("an apply with its staging lost succeeded")
	}
	if n := queryInt(t, s, "SELECT COUNT(*) FROM devices WHERE missed_runs > 0 OR removed_at IS NOT NULL"); n != 0 {
		t.Errorf("%d devices counted as missed by the refused apply", n)
	}
}

// The staging table is built from the devices table as migrated: every
// device column with its declared type, and a database without the
// devices table is refused rather than staged into a guess.
func TestStagingDDLFollowsTheDevicesTable(t *testing.T) {
	ctx := context.Background()
	s := openTemp(t, store.Options{})
	_, db := s.DBs()
	ddl, err := store.StagingDDL(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"run_id INTEGER NOT NULL, id TEXT NOT NULL,", "os_build INTEGER,", "tags TEXT NOT NULL,",
		"content_hash BLOB NOT NULL,", "rbac_group TEXT, raw BLOB NOT NULL, UNIQUE (run_id, id))"} {
		if !strings.Contains(ddl, want) {
			t.Errorf("staging DDL lacks %q:\n%s", want, ddl)
		}
	}
	if strings.Contains(ddl, "first_synced_at") || strings.Contains(ddl, "PRIMARY KEY") {
		t.Errorf("staging DDL has more than the device columns:\n%s", ddl)
	}

	empty, err := sql.Open("sqlite", store.DSN(filepath.Join(t.TempDir(), "empty.db"), true))
	if err != nil {
		t.Fatal(err)
	}
	defer empty.Close()
	if _, err := store.StagingDDL(ctx, empty); err == nil || !strings.Contains(err.Error(), "no column id") {
		t.Errorf("StagingDDL without a devices table: err = %v", err)
	}
}
