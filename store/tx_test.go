package store_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"postern/internal/audit"
	"postern/store"
)

func TestWithTxCommits(t *testing.T) {
	engines(t, func(t *testing.T, open opener) {
		s := open(t, store.Options{})
		mustExec(t, s, "CREATE TABLE t (v TEXT)")
		mustExec(t, s, "INSERT INTO t VALUES ('kept')")
		if n := queryInt(t, s, "SELECT COUNT(*) FROM t"); n != 1 {
			t.Errorf("rows = %d, want 1", n)
		}
	})
}

func TestWithTxRollsBackOnError(t *testing.T) {
	engines(t, func(t *testing.T, open opener) {
		ctx := context.Background()
		s := open(t, store.Options{})
		mustExec(t, s, "CREATE TABLE t (v TEXT)")
		sentinel := errors.New("boom")
		err := s.WithTx(ctx, func(tx *sql.Tx) error {
			if _, err := tx.Exec("INSERT INTO t VALUES ('discarded')"); err != nil {
				t.Fatalf("insert: %v", err)
			}
			return fmt.Errorf("wrapped: %w", sentinel)
		})
		if !errors.Is(err, sentinel) {
			t.Errorf("WithTx error = %v, want it to wrap the callback's error", err)
		}
		if n := queryInt(t, s, "SELECT COUNT(*) FROM t"); n != 0 {
			t.Errorf("rows after rollback = %d, want 0", n)
		}
		// The single writer connection must be free again.
		assertWriterUsable(t, s)
	})
}

func TestWithTxRollsBackOnPanic(t *testing.T) {
	engines(t, func(t *testing.T, open opener) {
		s := open(t, store.Options{})
		mustExec(t, s, "CREATE TABLE t (v TEXT)")
		type marker struct{ n int }
		want := &marker{42}

		got := func() (p any) {
			defer func() { p = recover() }()
			s.WithTx(context.Background(), func(tx *sql.Tx) error {
				if _, err := tx.Exec("INSERT INTO t VALUES ('discarded')"); err != nil {
					t.Errorf("insert: %v", err)
				}
				panic(want)
			})
			return nil
		}()
		if got != want {
			t.Fatalf("recovered %v, want the original panic value %v re-panicked", got, want)
		}
		if n := queryInt(t, s, "SELECT COUNT(*) FROM t"); n != 0 {
			t.Errorf("rows after panic = %d, want 0", n)
		}
		assertWriterUsable(t, s)
	})
}

// assertWriterUsable fails if the writer connection was left inside a
// transaction (the pool has one connection, so the next write would hang).
func assertWriterUsable(t *testing.T, s *store.Store) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := s.WithTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.Exec("INSERT INTO t VALUES ('after')")
		return err
	})
	if err != nil {
		t.Fatalf("write after a failed transaction: %v", err)
	}
	if n := queryInt(t, s, "SELECT COUNT(*) FROM t WHERE v = 'after'"); n != 1 {
		t.Errorf("rows written after the failed transaction = %d, want 1", n)
	}
}

func isBusy(err error) bool {
	if err == nil {
		return false
	}
	m := strings.ToLower(err.Error())
	return strings.Contains(m, "busy") || strings.Contains(m, "locked")
}

// Read-then-write transactions from many goroutines, with readers running
// alongside, must queue rather than fail with SQLITE_BUSY.
func TestConcurrentWritesNeverBusy(t *testing.T) {
	engines(t, func(t *testing.T, open opener) {
		const writers, perWriter, readers = 8, 200, 4
		ctx := context.Background()
		s := open(t, store.Options{})
		mustExec(t, s, "CREATE TABLE counter (id INTEGER PRIMARY KEY, n INTEGER NOT NULL)")
		mustExec(t, s, "INSERT INTO counter VALUES (1, 0)")
		admin := firstAdmin(t, s, "a@example.com", "h")

		var mu sync.Mutex
		var errs []error
		record := func(err error) {
			mu.Lock()
			defer mu.Unlock()
			if len(errs) < 20 {
				errs = append(errs, err)
			}
		}

		done := make(chan struct{})
		var reads atomic.Int64
		var rw sync.WaitGroup
		for range readers {
			rw.Go(func() {
				_, r := s.DBs()
				for {
					select {
					case <-done:
						return
					default:
					}
					var n int
					if err := r.QueryRowContext(ctx, "SELECT n FROM counter WHERE id = 1").Scan(&n); err != nil {
						record(fmt.Errorf("read counter: %w", err))
					}
					if _, _, err := s.AuditEntries(ctx, audit.Filter{Limit: 5}); err != nil {
						record(fmt.Errorf("AuditEntries: %w", err))
					}
					if _, err := s.Admin(ctx, admin.ID); err != nil {
						record(fmt.Errorf("Admin: %w", err))
					}
					// Pace the readers so they overlap the writers without
					// starving them of CPU on a small CI machine.
					time.Sleep(time.Millisecond)
					reads.Add(1)
				}
			})
		}

		var ww sync.WaitGroup
		for g := range writers {
			ww.Go(func() {
				for i := range perWriter {
					err := s.WithTx(ctx, func(tx *sql.Tx) error {
						var n int
						if err := tx.QueryRowContext(ctx, "SELECT n FROM counter WHERE id = 1").Scan(&n); err != nil {
							return err
						}
						if _, err := tx.ExecContext(ctx, "UPDATE counter SET n = ? WHERE id = 1", n+1); err != nil {
							return err
						}
						return store.AppendAuditTx(ctx, tx, audit.Entry{
							Actor: fmt.Sprintf("w%d", g), Action: fmt.Sprintf("test.%d", i), Outcome: audit.Success,
						}, s.Now())
					})
					if err != nil {
						record(fmt.Errorf("writer %d tx %d: %w", g, i, err))
					}
				}
			})
		}
		ww.Wait()
		close(done)
		rw.Wait()

		if reads.Load() == 0 {
			t.Error("no read ran alongside the writers; the test proves nothing about readers")
		}
		for _, err := range errs {
			if isBusy(err) {
				t.Errorf("SQLITE_BUSY surfaced: %v", err)
			} else {
				t.Errorf("unexpected error: %v", err)
			}
		}
		if got, want := queryInt(t, s, "SELECT n FROM counter WHERE id = 1"), writers*perWriter; got != want {
			t.Errorf("counter = %d, want %d (lost updates)", got, want)
		}
		if got, want := queryInt(t, s, "SELECT COUNT(*) FROM audit_log"), writers*perWriter; got != want {
			t.Errorf("audit rows = %d, want %d", got, want)
		}
	})
}
