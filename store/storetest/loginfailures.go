package storetest

import (
	"testing"
	"time"
)

func testLoginFailures(t *testing.T, open Opener) {
	cases(t, open,
		tcase{"LimitHeldByTheMaxthMostRecent", loginLimitHeld},
		tcase{"CheckOnlyRecordsNothing", loginCheckOnly},
		tcase{"RefundTakesBackTheMostRecent", loginRefund},
		tcase{"ResetClearsOneKey", loginReset},
		tcase{"WindowForgets", loginWindowForgets},
	)
}

var (
	keyA = []byte("key-a-hash")
	keyB = []byte("key-b-hash")
	t0   = time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
)

const loginWindow = 15 * time.Minute

// attempt asks at now, counting the attempt when allowed, and returns the
// failure holding the limit (zero: allowed and counted).
func attempt(t *testing.T, s Store, now time.Time, max int, keys ...[]byte) time.Time {
	t.Helper()
	held, err := s.LoginAttempt(t.Context(), keys, max, now.Add(-loginWindow), now, true)
	must(t, err, "LoginAttempt")
	return held
}

func check(t *testing.T, s Store, now time.Time, max int, keys ...[]byte) time.Time {
	t.Helper()
	held, err := s.LoginAttempt(t.Context(), keys, max, now.Add(-loginWindow), now, false)
	must(t, err, "LoginAttempt (check only)")
	return held
}

// Three allowed, one a minute; the fourth is held by the first (the
// third most recent); a refused attempt counts nothing; a key under its
// limit is allowed beside it, but not together with it.
func loginLimitHeld(t *testing.T, s Store) {
	for i := range 3 {
		if held := attempt(t, s, t0.Add(time.Duration(i)*time.Minute), 3, keyA); !held.IsZero() {
			t.Fatalf("attempt %d held by %v, want allowed", i+1, held)
		}
	}
	now := t0.Add(3 * time.Minute)
	if held := attempt(t, s, now, 3, keyA); !held.Equal(t0) {
		t.Fatalf("fourth attempt held by %v, want the first failure, %v", held, t0)
	}
	if held := attempt(t, s, now, 3, keyA, keyB); !held.Equal(t0) {
		t.Fatalf("keys a and b held by %v, want %v", held, t0)
	}
	if held := attempt(t, s, now, 3, keyB); !held.IsZero() {
		t.Fatalf("key b alone held by %v: the refused attempt with a counted against b", held)
	}
	// The first failure leaves the window: one more is allowed, then the
	// second failure holds the limit.
	now = t0.Add(loginWindow)
	if held := attempt(t, s, now, 3, keyA); !held.IsZero() {
		t.Fatalf("after the first failure left the window: held by %v", held)
	}
	if held := check(t, s, now, 3, keyA); !held.Equal(t0.Add(time.Minute)) {
		t.Fatalf("held by %v, want the second failure", held)
	}
	// max 0 counts whatever the count.
	if held := attempt(t, s, now, 0, keyA); !held.IsZero() {
		t.Fatalf("max 0 held by %v", held)
	}
	if held := check(t, s, now, 3, keyA); !held.Equal(t0.Add(2 * time.Minute)) {
		t.Fatalf("after a counted failure held by %v, want the third failure", held)
	}
}

func loginCheckOnly(t *testing.T, s Store) {
	for range 5 {
		if held := check(t, s, t0, 1, keyA); !held.IsZero() {
			t.Fatalf("check-only asks counted: held by %v", held)
		}
	}
	attempt(t, s, t0, 1, keyA)
	if held := check(t, s, t0, 1, keyA); !held.Equal(t0) {
		t.Fatalf("held by %v after one failure with max 1", held)
	}
}

func loginRefund(t *testing.T, s Store) {
	attempt(t, s, t0, 0, keyA)
	attempt(t, s, t0.Add(time.Minute), 0, keyA, keyB)
	must(t, s.RefundLoginFailure(t.Context(), [][]byte{keyA, keyB}), "RefundLoginFailure")
	now := t0.Add(2 * time.Minute)
	if held := check(t, s, now, 1, keyA); !held.Equal(t0) {
		t.Fatalf("a held by %v after the refund, want the older failure %v (the newest taken back)", held, t0)
	}
	if held := check(t, s, now, 1, keyB); !held.IsZero() {
		t.Fatalf("b held by %v after its only failure was refunded", held)
	}
	must(t, s.RefundLoginFailure(t.Context(), [][]byte{keyB}), "RefundLoginFailure of nothing")
}

func loginReset(t *testing.T, s Store) {
	for range 3 {
		attempt(t, s, t0, 0, keyA, keyB)
	}
	must(t, s.ResetLoginFailures(t.Context(), keyA), "ResetLoginFailures")
	if held := check(t, s, t0, 1, keyA); !held.IsZero() {
		t.Fatalf("a held by %v after its reset", held)
	}
	if held := check(t, s, t0, 3, keyB); !held.Equal(t0) {
		t.Fatalf("b held by %v, want its failures kept by a's reset", held)
	}
}

// A failure exactly one window old no longer counts.
func loginWindowForgets(t *testing.T, s Store) {
	attempt(t, s, t0, 0, keyA)
	if held := check(t, s, t0.Add(loginWindow-time.Nanosecond), 1, keyA); !held.Equal(t0) {
		t.Fatalf("a nanosecond before the window passed: held by %v", held)
	}
	if held := check(t, s, t0.Add(loginWindow), 1, keyA); !held.IsZero() {
		t.Fatalf("the window passed: held by %v", held)
	}
}
