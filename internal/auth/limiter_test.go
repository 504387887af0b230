package auth_test

import (
	"bytes"
	"crypto/sha256"
	"database/sql"
	"fmt"
	"sync"
	"testing"
	"time"

	"postern/internal/auth"
	"postern/internal/testkit"
	"postern/internal/testkit/teststore"
	"postern/store"
)

// newFakeClock is a settable clock for the limiter and the session store.
func newFakeClock() *testkit.Clock {
	return testkit.NewClock(time.Date(2025, 4, 1, 8, 0, 0, 0, time.UTC))
}

const (
	limit  = 10
	window = 15 * time.Minute
)

// onEngines runs fn on a limiter store of each engine (SQLite on a file in
// the test's directory, a new database of the test binary's PostgreSQL),
// the store's clock the test's.
func onEngines(t *testing.T, fn func(t *testing.T, db *store.Store, clock *testkit.Clock)) {
	t.Run("sqlite", func(t *testing.T) {
		clock := newFakeClock()
		fn(t, teststore.Open(t, store.Options{Now: clock.Now}), clock)
	})
	t.Run("postgres", func(t *testing.T) {
		clock := newFakeClock()
		fn(t, teststore.OpenPostgres(t, store.Options{Now: clock.Now}), clock)
	})
}

func fail(t *testing.T, l *auth.Limiter, keys ...string) {
	t.Helper()
	if err := l.Fail(t.Context(), keys...); err != nil {
		t.Fatalf("Fail(%q): %v", keys, err)
	}
}

func reset(t *testing.T, l *auth.Limiter, key string) {
	t.Helper()
	if err := l.Reset(t.Context(), key); err != nil {
		t.Fatalf("Reset(%q): %v", key, err)
	}
}

func allow(t *testing.T, l *auth.Limiter, keys ...string) (bool, time.Duration) {
	t.Helper()
	ok, wait, err := l.Allow(t.Context(), keys...)
	if err != nil {
		t.Fatalf("Allow(%q): %v", keys, err)
	}
	return ok, wait
}

func assertAllowed(t *testing.T, l *auth.Limiter, keys ...string) {
	t.Helper()
	if ok, wait := allow(t, l, keys...); !ok || wait != 0 {
		t.Errorf("Allow(%q) = %v, %v; want true, 0", keys, ok, wait)
	}
}

func assertRefused(t *testing.T, l *auth.Limiter, wantWait time.Duration, keys ...string) {
	t.Helper()
	ok, wait := allow(t, l, keys...)
	if ok {
		t.Errorf("Allow(%q) = true, want refused", keys)
		return
	}
	if wait <= 0 || wait > window {
		t.Errorf("Allow(%q) wait = %v, want in (0, %v]", keys, wait, window)
	}
	if wantWait > 0 && wait != wantWait {
		t.Errorf("Allow(%q) wait = %v, want %v", keys, wait, wantWait)
	}
}

func TestLimiterEleventhAttemptRefused(t *testing.T) {
	onEngines(t, func(t *testing.T, db *store.Store, clock *testkit.Clock) {
		l := auth.NewLimiter(db, limit, window, clock.Now)
		for i := range limit {
			if ok, _ := allow(t, l, "account:a"); !ok {
				t.Fatalf("attempt %d refused, want the first %d allowed", i+1, limit)
			}
			fail(t, l, "account:a")
			clock.Advance(time.Second)
		}
		// All 10 failures are inside the window; the oldest, recorded at start,
		// leaves it at start+15m, and 10s have passed since.
		assertRefused(t, l, window-limit*time.Second, "account:a")
		assertAllowed(t, l, "account:b")

		// Allow itself is not a failure: asking again changes nothing.
		for range 5 {
			assertRefused(t, l, window-limit*time.Second, "account:a")
		}

		clock.Advance(window - limit*time.Second - time.Nanosecond)
		assertRefused(t, l, time.Nanosecond, "account:a")
		clock.Advance(time.Nanosecond)
		assertAllowed(t, l, "account:a")
	})
}

func TestLimiterWindowPassesForBurst(t *testing.T) {
	onEngines(t, func(t *testing.T, db *store.Store, clock *testkit.Clock) {
		l := auth.NewLimiter(db, limit, window, clock.Now)
		for range limit {
			fail(t, l, "account:a")
		}
		assertRefused(t, l, window, "account:a")
		clock.Advance(window)
		assertAllowed(t, l, "account:a")
		// All failures expired: one more failure does not refuse.
		fail(t, l, "account:a")
		assertAllowed(t, l, "account:a")
	})
}

func TestLimiterPerIPIndependentOfAccount(t *testing.T) {
	onEngines(t, func(t *testing.T, db *store.Store, clock *testkit.Clock) {
		l := auth.NewLimiter(db, limit, window, clock.Now)
		// One address tries many accounts: each account stays under the limit.
		for i := range limit {
			fail(t, l, fmt.Sprintf("account:user%d", i), "ip:192.0.2.1")
		}
		assertRefused(t, l, window, "account:fresh", "ip:192.0.2.1")
		assertRefused(t, l, window, "ip:192.0.2.1")
		assertAllowed(t, l, "account:user0", "ip:192.0.2.2")
		assertAllowed(t, l, "account:fresh", "ip:198.51.100.7")

		// Many addresses hit one account: the account key refuses.
		for i := range limit {
			fail(t, l, "account:target", fmt.Sprintf("ip:203.0.113.%d", i))
		}
		assertRefused(t, l, window, "account:target", "ip:203.0.113.200")
		assertAllowed(t, l, "account:other", "ip:203.0.113.0")
	})
}

func TestLimiterResetClearsOneKey(t *testing.T) {
	onEngines(t, func(t *testing.T, db *store.Store, clock *testkit.Clock) {
		l := auth.NewLimiter(db, limit, window, clock.Now)
		for range limit {
			fail(t, l, "account:a", "ip:1")
			fail(t, l, "account:b")
		}
		reset(t, l, "account:a")
		assertAllowed(t, l, "account:a")
		assertRefused(t, l, window, "ip:1")
		assertRefused(t, l, window, "account:a", "ip:1")
		assertRefused(t, l, window, "account:b")
		reset(t, l, "no-such-key") // harmless
		assertRefused(t, l, window, "account:b")
	})
}

// Failures spread over time leave the window one by one.
func TestLimiterSlidingWindow(t *testing.T) {
	onEngines(t, func(t *testing.T, db *store.Store, clock *testkit.Clock) {
		start := clock.Now()
		l := auth.NewLimiter(db, limit, window, clock.Now)
		for i := range limit {
			fail(t, l, "k")
			if i < limit-1 {
				clock.Advance(time.Minute)
			}
		}
		// Failures at start+0..9m; now start+9m.
		assertRefused(t, l, 6*time.Minute, "k")

		clock.Advance(6 * time.Minute) // start+15m: the start+0 failure leaves
		assertAllowed(t, l, "k")
		fail(t, l, "k") // back at 10 in the window
		assertRefused(t, l, time.Minute, "k")

		for i := 1; i <= 3; i++ {
			clock.Advance(time.Minute) // the start+i failure leaves
			if got := clock.Now().Sub(start); got != window+time.Duration(i)*time.Minute {
				t.Fatalf("clock at %v", got)
			}
			assertAllowed(t, l, "k")
			fail(t, l, "k")
			assertRefused(t, l, time.Minute, "k")
		}
	})
}

func TestLimiterNoKeys(t *testing.T) {
	onEngines(t, func(t *testing.T, db *store.Store, clock *testkit.Clock) {
		l := auth.NewLimiter(db, limit, window, nil)
		assertAllowed(t, l)
		fail(t, l)
		assertAllowed(t, l)
	})
}

func TestLimiterConcurrentUse(t *testing.T) {
	onEngines(t, func(t *testing.T, db *store.Store, clock *testkit.Clock) {
		l := auth.NewLimiter(db, 300, window, clock.Now)
		var wg sync.WaitGroup
		for g := range 8 {
			wg.Go(func() {
				ctx := t.Context()
				for i := range 30 {
					own := fmt.Sprintf("own:%d", g)
					if _, _, err := l.Allow(ctx, "shared", own); err != nil {
						t.Error(err)
					}
					if err := l.Fail(ctx, "shared", own); err != nil {
						t.Error(err)
					}
					if i%10 == 0 {
						if err := l.Reset(ctx, own); err != nil {
							t.Error(err)
						}
					}
				}
			})
		}
		wg.Wait()
		assertAllowed(t, l, "shared") // 240 < 300
		for range 60 {
			fail(t, l, "shared")
		}
		assertRefused(t, l, window, "shared")
	})
}

func TestAddressKeyGroupsIPv6By64(t *testing.T) {
	cases := []struct {
		a, b string
		same bool
	}{
		{"2001:db8:1:2::1", "2001:db8:1:2:ffff::9", true},
		{"2001:db8:1:2::1", "2001:db8:1:3::1", false},
		{"203.0.113.7", "203.0.113.8", false},
		{"::ffff:203.0.113.7", "203.0.113.7", true},
	}
	for _, tc := range cases {
		if got := auth.AddressKey(tc.a) == auth.AddressKey(tc.b); got != tc.same {
			t.Errorf("AddressKey(%s) == AddressKey(%s) is %v, want %v", tc.a, tc.b, got, tc.same)
		}
	}
}

// The database holds hashes of the keys, never an email or an address.
func TestLimiterStoresNoKeyInClear(t *testing.T) {
	clock := newFakeClock()
	db := teststore.Open(t, store.Options{Now: clock.Now})
	l := auth.NewLimiter(db, limit, window, clock.Now)
	if ok, _, err := l.Attempt(t.Context(), "account:alice@example.com", "ip:192.0.2.7"); !ok || err != nil {
		t.Fatalf("Attempt = %v, %v", ok, err)
	}
	r, err := sql.Open("sqlite", store.DSN(db.Path(), false))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var n int
	for scan := range teststore.Each(t, r.Query, "SELECT key_hash FROM login_failures") {
		var k []byte
		scan(&k)
		n++
		if len(k) != sha256.Size || bytes.Contains(k, []byte("alice")) || bytes.Contains(k, []byte("192.0.2.7")) {
			t.Errorf("stored key %q, want a SHA-256 hash", k)
		}
	}
	if n != 2 {
		t.Errorf("%d failures stored, want 2 (account and address)", n)
	}
}
