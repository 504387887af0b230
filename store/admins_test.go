package store_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"postern/internal/apperr"
	"postern/internal/model"
	"postern/store"
)

func TestCreateFirstAdminOnlyOnce(t *testing.T) {
	engines(t, func(t *testing.T, open opener) {
		ctx := context.Background()
		clock := newFakeClock(time.Date(2025, 5, 6, 7, 8, 9, 0, time.UTC))
		s := open(t, store.Options{Now: clock.Now})

		a, err := s.CreateFirstAdmin(ctx, "first@example.com", "hash1")
		if err != nil {
			t.Fatalf("first CreateFirstAdmin: %v", err)
		}
		if a.ID == 0 || a.Email != "first@example.com" || a.PasswordHash != "hash1" {
			t.Errorf("CreateFirstAdmin = %+v, want id set, email and hash as given", a)
		}
		if !a.CreatedAt.Equal(clock.Now()) || !a.PasswordChangedAt.Equal(clock.Now()) {
			t.Errorf("CreatedAt, PasswordChangedAt = %v, %v; want the injected clock %v", a.CreatedAt, a.PasswordChangedAt, clock.Now())
		}

		for _, email := range []string{"second@example.com", "FIRST@example.com"} {
			_, err = s.CreateFirstAdmin(ctx, email, "hash2")
			if got := apperr.KindOf(err); got != apperr.Conflict {
				t.Errorf("CreateFirstAdmin(%q) after the first: kind = %v (err %v), want conflict", email, got, err)
			}
		}
		if n, err := s.AdminCount(ctx); err != nil || n != 1 {
			t.Errorf("AdminCount = %d, %v; want 1", n, err)
		}
	})
}

func TestCreateFirstAdminConcurrent(t *testing.T) {
	engines(t, func(t *testing.T, open opener) {
		ctx := context.Background()
		s := open(t, store.Options{})
		const n = 10
		errs := make([]error, n)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range n {
			wg.Go(func() {
				<-start
				_, errs[i] = s.CreateFirstAdmin(ctx, "admin"+string(rune('a'+i))+"@example.com", "h")
			})
		}
		close(start)
		wg.Wait()

		ok := 0
		for i, err := range errs {
			switch {
			case err == nil:
				ok++
			case apperr.Is(err, apperr.Conflict):
			default:
				t.Errorf("goroutine %d: %v, want nil or a conflict", i, err)
			}
		}
		if ok != 1 {
			t.Errorf("successful CreateFirstAdmin calls = %d, want exactly 1", ok)
		}
		if c, err := s.AdminCount(ctx); err != nil || c != 1 {
			t.Errorf("AdminCount = %d, %v; want 1", c, err)
		}
	})
}

func TestAdminByEmail(t *testing.T) {
	engines(t, func(t *testing.T, open opener) {
		ctx := context.Background()
		s := open(t, store.Options{})
		created := firstAdmin(t, s, "Alice@Example.com", "hash")
		for _, email := range []string{"Alice@Example.com", "alice@example.com", "ALICE@EXAMPLE.COM"} {
			a, err := s.AdminByEmail(ctx, email)
			if err != nil {
				t.Errorf("AdminByEmail(%q): %v", email, err)
				continue
			}
			if a.ID != created.ID || a.PasswordHash != "hash" {
				t.Errorf("AdminByEmail(%q) = %+v, want admin %d", email, a, created.ID)
			}
			if a.CreatedAt.Location() != time.UTC {
				t.Errorf("CreatedAt location = %v, want UTC", a.CreatedAt.Location())
			}
		}
		for _, email := range []string{"bob@example.com", "", "alice@example.co", "%"} {
			_, err := s.AdminByEmail(ctx, email)
			if !apperr.Is(err, apperr.NotFound) {
				t.Errorf("AdminByEmail(%q) error = %v, want not found", email, err)
			}
		}
		if _, err := s.Admin(ctx, created.ID+100); !apperr.Is(err, apperr.NotFound) {
			t.Errorf("Admin(missing) error = %v, want not found", err)
		}
		if a, err := s.Admin(ctx, created.ID); err != nil || a.Email != "Alice@Example.com" {
			t.Errorf("Admin(%d) = %+v, %v; want the created admin", created.ID, a, err)
		}
	})
}

func TestSetPasswordEndsOnlyThatAdminsSessions(t *testing.T) {
	engines(t, func(t *testing.T, open opener) {
		ctx := context.Background()
		clock := newFakeClock(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC))
		s := open(t, store.Options{Now: clock.Now})
		alice := firstAdmin(t, s, "alice@example.com", "old")
		bobID := insertAdmin(t, s, "bob@example.com")

		now := clock.Now()
		sessions := []model.Session{
			{IDHash: []byte("alice-1"), AdminID: alice.ID, Data: "{}", CreatedAt: now, LastSeenAt: now},
			{IDHash: []byte("alice-2"), AdminID: alice.ID, Data: "{}", CreatedAt: now, LastSeenAt: now},
			{IDHash: []byte("bob-1"), AdminID: bobID, Data: "{}", CreatedAt: now, LastSeenAt: now},
			{IDHash: []byte("anon-1"), Data: "{}", CreatedAt: now, LastSeenAt: now},
		}
		for _, ss := range sessions {
			if err := s.InsertSession(ctx, ss); err != nil {
				t.Fatalf("InsertSession(%s): %v", ss.IDHash, err)
			}
		}

		clock.Advance(time.Hour)
		if err := s.SetPassword(ctx, alice.ID, "new"); err != nil {
			t.Fatalf("SetPassword: %v", err)
		}
		a, err := s.Admin(ctx, alice.ID)
		if err != nil {
			t.Fatalf("Admin: %v", err)
		}
		if a.PasswordHash != "new" {
			t.Errorf("password hash = %q, want %q", a.PasswordHash, "new")
		}
		if !a.PasswordChangedAt.Equal(clock.Now()) {
			t.Errorf("PasswordChangedAt = %v, want %v", a.PasswordChangedAt, clock.Now())
		}
		if !a.CreatedAt.Equal(now) {
			t.Errorf("CreatedAt = %v, want unchanged %v", a.CreatedAt, now)
		}
		for _, tc := range []struct {
			id   string
			kept bool
		}{{"alice-1", false}, {"alice-2", false}, {"bob-1", true}, {"anon-1", true}} {
			_, err := s.Session(ctx, []byte(tc.id))
			switch {
			case tc.kept && err != nil:
				t.Errorf("session %s: %v, want it kept", tc.id, err)
			case !tc.kept && !apperr.Is(err, apperr.NotFound):
				t.Errorf("session %s: err = %v, want it deleted (not found)", tc.id, err)
			}
		}
		if b, err := s.Admin(ctx, bobID); err != nil || b.PasswordHash != "$argon2id$test" {
			t.Errorf("other admin = %+v, %v; want its hash untouched", b, err)
		}
	})
}

func TestSetPasswordMissingAdmin(t *testing.T) {
	engines(t, func(t *testing.T, open opener) {
		s := open(t, store.Options{})
		err := s.SetPassword(context.Background(), 999, "h")
		if !apperr.Is(err, apperr.NotFound) {
			t.Errorf("SetPassword(missing) error = %v, want not found", err)
		}
	})
}
