package store_test

import (
	"context"
	"crypto/sha256"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"postern/internal/testkit/pgtest"
	"postern/store"
)

// twoHandles opens two stores on one database of each engine, as two
// replicas (or two processes) do: two SQLite handles on one file, two
// PostgreSQL pools on one database.
func twoHandles(t *testing.T, fn func(t *testing.T, a, b *store.Store)) {
	t.Run("sqlite", func(t *testing.T) {
		path := dbPath(t)
		fn(t, openAt(t, path, store.Options{}), openAt(t, path, store.Options{}))
	})
	t.Run("postgres", func(t *testing.T) {
		url := pgtest.DatabaseURL(t)
		open := func(name string) *store.Store {
			s, err := store.Open(context.Background(), "", store.Options{URL: url, Replica: name})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			return s
		}
		fn(t, open("a"), open("b"))
	})
}

// Many attempts at once, on two handles of one database: exactly max are
// allowed and counted, whichever handle they came through.
func TestLoginAttemptAtomicAcrossHandles(t *testing.T) {
	twoHandles(t, func(t *testing.T, a, b *store.Store) {
		const max, tries = 5, 40
		key := [][]byte{[]byte("account:shared"), []byte("ip:192.0.2.1")}
		now := time.Now().UTC()
		var allowed atomic.Int64
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range tries {
			s := []*store.Store{a, b}[i%2]
			wg.Go(func() {
				<-start
				held, err := s.LoginAttempt(context.Background(), key, max, now.Add(-time.Hour), now, true)
				if err != nil {
					t.Error(err)
					return
				}
				if held.IsZero() {
					allowed.Add(1)
				}
			})
		}
		close(start)
		wg.Wait()
		if n := allowed.Load(); n != max {
			t.Errorf("%d of %d parallel attempts on two handles were allowed, want exactly %d", n, tries, max)
		}
		if n := queryInt(t, a, "SELECT COUNT(*) FROM login_failures"); n != 2*max {
			t.Errorf("%d failures stored, want %d (one per allowed attempt and key)", n, 2*max)
		}
	})
}

// Failures older than the window are deleted by the next attempt, every
// key's: the table holds one window, whatever the keys.
func TestLoginFailuresPruned(t *testing.T) {
	engines(t, func(t *testing.T, open opener) {
		s := open(t, store.Options{})
		ctx := context.Background()
		t0 := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
		for i := range 50 {
			k := sha256.Sum256(fmt.Appendf(nil, "ip:198.51.100.%d", i))
			if _, err := s.LoginAttempt(ctx, [][]byte{k[:]}, 10, t0.Add(-15*time.Minute), t0, true); err != nil {
				t.Fatal(err)
			}
		}
		if n := queryInt(t, s, "SELECT COUNT(*) FROM login_failures"); n != 50 {
			t.Fatalf("%d rows, want 50", n)
		}
		later := t0.Add(15 * time.Minute)
		if _, err := s.LoginAttempt(ctx, [][]byte{[]byte("other")}, 10, later.Add(-15*time.Minute), later, true); err != nil {
			t.Fatal(err)
		}
		if n := queryInt(t, s, "SELECT COUNT(*) FROM login_failures"); n != 1 {
			t.Fatalf("%d rows after the window passed, want only the new failure", n)
		}
	})
}
