package store_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

	"postern/internal/testkit/teststore"
	"postern/store"
)

// pgSchema lists every index and constraint of the store's schema with its
// definition, as PostgreSQL's catalog spells it.
func pgSchema(t *testing.T, s *store.Store) []string {
	t.Helper()
	_, r := s.DBs()
	return teststore.Strings(t, r.Query, `
		SELECT 'index ' || indexname || ': ' || indexdef FROM pg_indexes WHERE schemaname = current_schema()
		UNION ALL
		SELECT 'constraint ' || conrelid::regclass || '.' || conname || ': ' || pg_get_constraintdef(oid)
		FROM pg_constraint WHERE connamespace = current_schema()::regnamespace
		ORDER BY 1`)
}

// On PostgreSQL a run that adds most of the table drops the secondary
// indexes of devices and device_tags and the foreign keys into devices,
// and adds them back before the commit: afterwards the schema is the
// migrated one, the data is whole, and the foreign keys refuse and
// cascade as before.
func TestApplyBulkRebuildsIndexesPostgres(t *testing.T) {
	s := teststore.OpenPostgres(t, store.Options{})
	before := pgSchema(t, s)
	for _, want := range []string{"index devices_list", "constraint device_raw.device_raw_id_fkey", "constraint device_tags.device_tags_device_id_fkey"} {
		if !slices.ContainsFunc(before, func(l string) bool { return len(l) >= len(want) && l[:len(want)] == want }) {
			t.Fatalf("the migrated schema lacks %q: %q", want, before)
		}
	}

	check := func(stage string, devices, tags int) {
		t.Helper()
		if got := pgSchema(t, s); !slices.Equal(got, before) {
			t.Fatalf("%s: schema\n%q\nwant\n%q", stage, got, before)
		}
		for table, want := range map[string]int{"devices": devices, "device_raw": devices, "device_tags": tags} {
			if n := queryInt(t, s, "SELECT COUNT(*) FROM "+table); n != want {
				t.Errorf("%s: %d rows in %s, want %d", stage, n, table, want)
			}
		}
	}

	bulkSyncs(t, s, check)

	// The foreign keys hold again: a row for no device is refused, and
	// deleting a device deletes its rows.
	err := execTx(t, s, `INSERT INTO device_raw (id, raw) VALUES ('no-such-device', '\x00'::bytea)`)
	var pe *pgconn.PgError
	if !errors.As(err, &pe) || pe.Code != "23503" {
		t.Errorf("a raw machine of no device: %v, want a foreign key violation (23503)", err)
	}
	id := fmt.Sprintf("%040x", 7)
	mustExec(t, s, "DELETE FROM devices WHERE id = ?", id)
	for _, table := range []string{"device_raw WHERE id = ?", "device_tags WHERE device_id = ?"} {
		if n := queryInt(t, s, "SELECT COUNT(*) FROM "+table, id); n != 0 {
			t.Errorf("%d rows left in %s after the device was deleted", n, table)
		}
	}
	if _, err := s.Device(context.Background(), fmt.Sprintf("%040x", 8)); err != nil {
		t.Errorf("a device of the bulk run reads back: %v", err)
	}
}
