package store_test

import (
	"context"
	"database/sql"
	"errors"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"

	"postern/internal/testkit/pgtest"
	"postern/store"
)

// elect bumps the sync leader's term as a replica taking the lock does
// (internal/replica), on a connection of its own, and returns the epoch.
func elect(t *testing.T, s *store.Store, name string) int64 {
	t.Helper()
	var epoch int64
	err := execTxScan(s, `INSERT INTO sync_leader (id, epoch, replica, elected_at) VALUES (1, 1, ?, '2026-12-06T00:00:00Z')
		ON CONFLICT (id) DO UPDATE SET epoch = sync_leader.epoch + 1, replica = EXCLUDED.replica RETURNING epoch`, []any{name}, &epoch)
	if err != nil {
		t.Fatal(err)
	}
	return epoch
}

func execTxScan(s *store.Store, q string, args []any, dest ...any) error {
	return s.WithTx(context.Background(), func(tx *sql.Tx) error { return tx.QueryRow(q, args...).Scan(dest...) })
}

// A write under a leader's fence commits while its term lasts and is
// refused, changing nothing, once another replica was elected; the run
// names the replica that started it.
func TestFenceRefusesAnOldTerm(t *testing.T) {
	ctx := context.Background()
	s := openURL(t, pgtest.DatabaseURL(t), "a")
	if _, err := s.StartRun(store.WithFence(ctx, 7), "defender", "manual"); !errors.Is(err, store.ErrFenced) {
		t.Fatalf("StartRun before any election: %v, want ErrFenced", err)
	}
	epoch := elect(t, s, "a")
	run, err := s.StartRun(store.WithFence(ctx, epoch), "defender", "manual")
	if err != nil {
		t.Fatalf("StartRun in the term: %v", err)
	}
	if got, err := s.LastRun(ctx, "defender"); err != nil || got.ID != run.ID || got.Replica != "a" {
		t.Fatalf("LastRun = %+v, %v; want run %d by replica a", got, err, run.ID)
	}
	if err := s.StageDevices(store.WithFence(ctx, epoch), run.ID, testDevices(0, 2, "a")); err != nil {
		t.Fatalf("StageDevices in the term: %v", err)
	}
	elect(t, s, "b")
	// Staging (COPY, on a connection of its own) is fenced as every write.
	if err := s.StageDevices(store.WithFence(ctx, epoch), run.ID, testDevices(2, 4, "a")); !errors.Is(err, store.ErrFenced) {
		t.Fatalf("StageDevices after another election: %v, want ErrFenced", err)
	}
	if n, err := s.StagedCount(ctx); err != nil || n != 2 {
		t.Fatalf("%d staged, %v; want the 2 of the live term", n, err)
	}
	if _, err := s.StartRun(store.WithFence(ctx, epoch), "defender", "schedule"); !errors.Is(err, store.ErrFenced) {
		t.Fatalf("StartRun after another election: %v, want ErrFenced", err)
	}
	if n := queryInt(t, s, "SELECT COUNT(*) FROM sync_runs"); n != 1 {
		t.Fatalf("%d runs, want only the one of the live term", n)
	}
	if l, found, err := s.SyncLeader(ctx); err != nil || !found || l.Replica != "b" || l.Epoch != epoch+1 {
		t.Fatalf("SyncLeader = %+v, %v, %v; want b at epoch %d", l, found, err, epoch+1)
	}
	// Writes without a fence (an admin's, on any replica) are not refused.
	if _, err := s.StartRun(ctx, "defender", "manual"); err != nil {
		t.Fatal(err)
	}
}

// An election waits for a write of the previous term still in its
// transaction: that write commits before the new term begins, and the
// next write of the old term is refused.
func TestElectionWaitsForTheOldTermsWrite(t *testing.T) {
	ctx := context.Background()
	url := pgtest.DatabaseURL(t)
	s := openURL(t, url, "a")
	epoch := elect(t, s, "a")
	inTx, release := make(chan struct{}), make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- s.WithTx(store.WithFence(ctx, epoch), func(tx *sql.Tx) error {
			if _, err := tx.Exec(`INSERT INTO sync_runs (integration, trigger, started_at, outcome) VALUES ('defender', 'manual', '2026-12-06T00:00:00Z', 'running')`); err != nil {
				return err
			}
			close(inTx)
			<-release
			return nil
		})
	}()
	<-inTx
	// The election runs outside the store's write lock, as the elector's
	// does, on a connection of its own.
	db, err := sql.Open("pgx", url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	wctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	_, err = db.ExecContext(wctx, "UPDATE sync_leader SET epoch = epoch + 1, replica = 'b' WHERE id = 1")
	if err == nil {
		t.Fatal("the election did not wait for the old term's write in flight")
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatalf("the old term's write in flight: %v", err)
	}
	if _, err := db.ExecContext(ctx, "UPDATE sync_leader SET epoch = epoch + 1, replica = 'b' WHERE id = 1"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.StartRun(store.WithFence(ctx, epoch), "defender", "manual"); !errors.Is(err, store.ErrFenced) {
		t.Fatalf("a write of the old term after the election: %v, want ErrFenced", err)
	}
	if n := queryInt(t, s, "SELECT COUNT(*) FROM sync_runs"); n != 1 {
		t.Fatalf("%d runs, want the one committed before the election", n)
	}
}

// openURL opens the PostgreSQL database at url as replica name.
func openURL(t *testing.T, url, name string) *store.Store {
	t.Helper()
	s, err := store.Open(context.Background(), "", store.Options{URL: url, Replica: name})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}
