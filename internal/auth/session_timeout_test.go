package auth_test

import (
	"testing"
	"time"

	"postern/internal/apperr"
	"postern/internal/auth"
)

func TestSessionIdleTimeout(t *testing.T) {
	for _, tc := range []struct {
		name  string
		idle  time.Duration
		valid bool
	}{
		{"just active", time.Minute, true},
		{"at the idle timeout", auth.DefaultIdleTimeout, true},
		{"past the idle timeout", auth.DefaultIdleTimeout + time.Second, false},
		{"long gone", 48 * time.Hour, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newSessionEnv(t)
			c := e.signIn(t)
			e.clock.Advance(tc.idle)
			_, sess := e.get(t, c)
			if tc.valid {
				if sess.IsNew || auth.AdminID(sess) != e.admin.ID {
					t.Errorf("after %v idle: IsNew %v, admin %d; want still signed in", tc.idle, sess.IsNew, auth.AdminID(sess))
				}
				return
			}
			if !sess.IsNew || auth.AdminID(sess) != 0 || len(sess.Values) != 0 {
				t.Errorf("after %v idle: IsNew %v, values %v; want a new empty session", tc.idle, sess.IsNew, sess.Values)
			}
			if _, err := e.row(t, c); !apperr.Is(err, apperr.NotFound) {
				t.Errorf("expired row: err = %v, want deleted", err)
			}
			// The client keeps sending the cookie: still rejected.
			e.clock.Advance(time.Second)
			if _, again := e.get(t, c); !again.IsNew {
				t.Error("expired cookie accepted on the next request")
			}
		})
	}
}

// An active session still ends AbsoluteTimeout after it started, even when
// it is touched and saved all along.
func TestSessionAbsoluteTimeout(t *testing.T) {
	e := newSessionEnv(t)
	start := e.clock.Now()
	c := e.signIn(t)
	var rejectedAt time.Duration
	for step := 1; step <= 13*6; step++ {
		e.clock.Advance(10 * time.Minute)
		r, sess := e.get(t, c)
		elapsed := e.clock.Now().Sub(start)
		if sess.IsNew {
			rejectedAt = elapsed
			break
		}
		if auth.AdminID(sess) != e.admin.ID {
			t.Fatalf("at %v: admin = %d, want %d", elapsed, auth.AdminID(sess), e.admin.ID)
		}
		if step%6 == 0 { // a save every hour must not restart the clock
			sess.AddFlash("info|tick")
			if got := e.save(t, r, sess); got.Value != c.Value {
				t.Fatalf("Save changed the cookie from %q to %q", c.Value, got.Value)
			}
		}
	}
	if rejectedAt == 0 {
		t.Fatalf("session still valid after 13h of activity, want it ended after %v", auth.DefaultAbsoluteTimeout)
	}
	if rejectedAt <= auth.DefaultAbsoluteTimeout || rejectedAt > auth.DefaultAbsoluteTimeout+10*time.Minute {
		t.Errorf("session rejected at %v, want the first request after %v", rejectedAt, auth.DefaultAbsoluteTimeout)
	}
	if _, err := e.row(t, c); !apperr.Is(err, apperr.NotFound) {
		t.Errorf("row after absolute timeout: err = %v, want deleted", err)
	}
}

func TestSessionCustomTimeouts(t *testing.T) {
	e := newSessionEnv(t)
	e.ss.IdleTimeout = 5 * time.Minute
	e.ss.AbsoluteTimeout = 20 * time.Minute
	c := e.signIn(t)
	for range 3 {
		e.clock.Advance(4 * time.Minute)
		if _, s := e.get(t, c); s.IsNew {
			t.Fatalf("at %v: rejected, want valid", e.clock.Now())
		}
	}
	e.clock.Advance(9 * time.Minute) // idle 9m > 5m
	if _, s := e.get(t, c); !s.IsNew {
		t.Error("custom IdleTimeout not honoured")
	}

	c = e.signIn(t)
	for range 5 {
		e.clock.Advance(4 * time.Minute)
		e.get(t, c)
	}
	e.clock.Advance(time.Minute) // 21m since sign-in
	if _, s := e.get(t, c); !s.IsNew {
		t.Error("custom AbsoluteTimeout not honoured")
	}
}

func TestSessionTouchAfterAMinute(t *testing.T) {
	e := newSessionEnv(t)
	start := e.clock.Now()
	c := e.signIn(t)

	e.clock.Advance(30 * time.Second)
	e.get(t, c)
	row, err := e.row(t, c)
	if err != nil {
		t.Fatalf("row: %v", err)
	}
	if !row.LastSeenAt.Equal(start) {
		t.Errorf("last_seen after 30s = %v, want unchanged %v", row.LastSeenAt, start)
	}

	e.clock.Advance(31 * time.Second)
	e.get(t, c)
	if row, err = e.row(t, c); err != nil {
		t.Fatalf("row: %v", err)
	}
	if want := start.Add(61 * time.Second); !row.LastSeenAt.Equal(want) {
		t.Errorf("last_seen after 61s = %v, want %v", row.LastSeenAt, want)
	}
	if !row.CreatedAt.Equal(start) {
		t.Errorf("created_at = %v, want %v", row.CreatedAt, start)
	}

	// Activity every 20 minutes keeps a 30-minute idle session alive.
	for range 5 {
		e.clock.Advance(20 * time.Minute)
		if _, s := e.get(t, c); s.IsNew {
			t.Fatalf("at %v: session expired despite activity", e.clock.Now().Sub(start))
		}
	}
}
