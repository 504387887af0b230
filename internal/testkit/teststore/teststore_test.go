package teststore

import (
	"os"
	"path/filepath"
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
