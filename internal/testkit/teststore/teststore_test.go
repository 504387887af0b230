package teststore

import (
	"database/sql"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"postern/internal/testkit"
	"postern/store"
)

func TestOpenUsesTheOptions(t *testing.T) {
	clock := testkit.NewClock(time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC))
	st := Open(t, store.Options{Now: clock.Now})
	if filepath.Base(st.Path()) != "postern.db" {
		t.Errorf("path %q, want a postern.db", st.Path())
	}
	if got := st.Now(); !got.Equal(clock.Now()) {
		t.Errorf("store time %v, want the test clock's %v", got, clock.Now())
	}
}

func TestOpenAtClosesWhenTheTestEnds(t *testing.T) {
	path := filepath.Join(t.TempDir(), "postern.db") // outlives the subtest
	t.Run("open", func(t *testing.T) {
		OpenAt(t, path, store.Options{})
		if _, err := os.Stat(path + "-wal"); err != nil {
			t.Fatalf("an open store has a WAL file: %v", err)
		}
	})
	// Close checkpoints the WAL away.
	if _, err := os.Stat(path + "-wal"); !os.IsNotExist(err) {
		t.Errorf("WAL left after the subtest ended, so the store was not closed: %v", err)
	}
}

func TestRowHelpersReadWhatTheStoreWrote(t *testing.T) {
	st := Open(t, store.Options{})
	r, err := sql.Open("sqlite", store.DSN(st.Path(), false))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	tables := Strings(t, r.Query, "SELECT name FROM sqlite_schema WHERE type = 'table' AND name = ?", "devices")
	if !slices.Equal(tables, []string{"devices"}) {
		t.Fatalf("Strings = %q, want [devices]", tables)
	}
	var n int
	for scan := range Each(t, r.Query, "SELECT 1 UNION ALL SELECT 2") {
		var v int
		scan(&v)
		n += v
	}
	if n != 3 {
		t.Errorf("Each summed %d, want 3", n)
	}
	rows := Dump(t, r.Query, "SELECT 7 AS n, 'x' AS s, NULL AS z")
	if want := []string{`n=int64:"7" s=string:"x" z=<nil>:"<nil>" `}; !slices.Equal(rows, want) {
		t.Errorf("Dump = %q, want %q", rows, want)
	}
}
