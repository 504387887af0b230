package auth_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"postern/internal/auth"
	"postern/internal/testkit"
)

// newFakeClock is a settable clock for the limiter and the session store.
func newFakeClock() *testkit.Clock {
	return testkit.NewClock(time.Date(2025, 4, 1, 8, 0, 0, 0, time.UTC))
}

const (
	limit  = 10
	window = 15 * time.Minute
)

func assertAllowed(t *testing.T, l *auth.Limiter, keys ...string) {
	t.Helper()
	if ok, wait := l.Allow(keys...); !ok || wait != 0 {
		t.Errorf("Allow(%q) = %v, %v; want true, 0", keys, ok, wait)
	}
}

func assertRefused(t *testing.T, l *auth.Limiter, wantWait time.Duration, keys ...string) {
	t.Helper()
	ok, wait := l.Allow(keys...)
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
	clock := newFakeClock()
	l := auth.NewLimiter(limit, window, clock.Now)
	for i := range limit {
		if ok, _ := l.Allow("account:a"); !ok {
			t.Fatalf("attempt %d refused, want the first %d allowed", i+1, limit)
		}
		l.Fail("account:a")
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
}

func TestLimiterWindowPassesForBurst(t *testing.T) {
	clock := newFakeClock()
	l := auth.NewLimiter(limit, window, clock.Now)
	for range limit {
		l.Fail("account:a")
	}
	assertRefused(t, l, window, "account:a")
	clock.Advance(window)
	assertAllowed(t, l, "account:a")
	// All failures expired: one more failure does not refuse.
	l.Fail("account:a")
	assertAllowed(t, l, "account:a")
}

func TestLimiterPerIPIndependentOfAccount(t *testing.T) {
	clock := newFakeClock()
	l := auth.NewLimiter(limit, window, clock.Now)
	// One address tries many accounts: each account stays under the limit.
	for i := range limit {
		l.Fail(fmt.Sprintf("account:user%d", i), "ip:192.0.2.1")
	}
	assertRefused(t, l, window, "account:fresh", "ip:192.0.2.1")
	assertRefused(t, l, window, "ip:192.0.2.1")
	assertAllowed(t, l, "account:user0", "ip:192.0.2.2")
	assertAllowed(t, l, "account:fresh", "ip:198.51.100.7")

	// Many addresses hit one account: the account key refuses.
	for i := range limit {
		l.Fail("account:target", fmt.Sprintf("ip:203.0.113.%d", i))
	}
	assertRefused(t, l, window, "account:target", "ip:203.0.113.200")
	assertAllowed(t, l, "account:other", "ip:203.0.113.0")
}

func TestLimiterResetClearsOneKey(t *testing.T) {
	clock := newFakeClock()
	l := auth.NewLimiter(limit, window, clock.Now)
	for range limit {
		l.Fail("account:a", "ip:1")
		l.Fail("account:b")
	}
	l.Reset("account:a")
	assertAllowed(t, l, "account:a")
	assertRefused(t, l, window, "ip:1")
	assertRefused(t, l, window, "account:a", "ip:1")
	assertRefused(t, l, window, "account:b")
	l.Reset("no-such-key") // harmless
	assertRefused(t, l, window, "account:b")
}

// Failures spread over time leave the window one by one.
func TestLimiterSlidingWindow(t *testing.T) {
	clock := newFakeClock()
	start := clock.Now()
	l := auth.NewLimiter(limit, window, clock.Now)
	for i := range limit {
		l.Fail("k")
		if i < limit-1 {
			clock.Advance(time.Minute)
		}
	}
	// Failures at start+0..9m; now start+9m.
	assertRefused(t, l, 6*time.Minute, "k")

	clock.Advance(6 * time.Minute) // start+15m: the start+0 failure leaves
	assertAllowed(t, l, "k")
	l.Fail("k") // back at 10 in the window
	assertRefused(t, l, time.Minute, "k")

	for i := 1; i <= 3; i++ {
		clock.Advance(time.Minute) // the start+i failure leaves
		if got := clock.Now().Sub(start); got != window+time.Duration(i)*time.Minute {
			t.Fatalf("clock at %v", got)
		}
		assertAllowed(t, l, "k")
		l.Fail("k")
		assertRefused(t, l, time.Minute, "k")
	}
}

func TestLimiterNoKeys(t *testing.T) {
	l := auth.NewLimiter(limit, window, nil)
	assertAllowed(t, l)
	l.Fail()
	assertAllowed(t, l)
}

func TestLimiterConcurrentUse(t *testing.T) {
	clock := newFakeClock()
	l := auth.NewLimiter(1000, window, clock.Now)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 100 {
				l.Allow("shared", fmt.Sprintf("own:%d", g))
				l.Fail("shared", fmt.Sprintf("own:%d", g))
				if i%10 == 0 {
					l.Reset(fmt.Sprintf("own:%d", g))
				}
			}
		})
	}
	wg.Wait()
	assertAllowed(t, l, "shared") // 800 < 1000
	for range 200 {
		l.Fail("shared")
	}
	assertRefused(t, l, window, "shared")
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
