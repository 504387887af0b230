package store_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	"postern/internal/apperr"
	"postern/internal/model"
	"postern/store"
)

func TestSessionRoundTrip(t *testing.T) {
	engines(t, func(t *testing.T, open opener) {
		ctx := context.Background()
		s := open(t, store.Options{})
		admin := firstAdmin(t, s, "a@example.com", "h")
		created := time.Date(2025, 2, 3, 4, 5, 6, 789, time.FixedZone("X", -7*3600))
		in := model.Session{
			IDHash: bytes.Repeat([]byte{0xab}, 32), AdminID: admin.ID, Data: `{"k":"v"}`,
			CreatedAt: created, LastSeenAt: created.Add(time.Minute),
		}
		if err := s.InsertSession(ctx, in); err != nil {
			t.Fatalf("InsertSession: %v", err)
		}
		got, err := s.Session(ctx, in.IDHash)
		if err != nil {
			t.Fatalf("Session: %v", err)
		}
		if !bytes.Equal(got.IDHash, in.IDHash) || got.AdminID != in.AdminID || got.Data != in.Data {
			t.Errorf("Session = %+v, want %+v", got, in)
		}
		if !got.CreatedAt.Equal(in.CreatedAt) || got.CreatedAt.Location() != time.UTC {
			t.Errorf("CreatedAt = %v, want %v in UTC", got.CreatedAt, in.CreatedAt.UTC())
		}
		if !got.LastSeenAt.Equal(in.LastSeenAt) {
			t.Errorf("LastSeenAt = %v, want %v", got.LastSeenAt, in.LastSeenAt)
		}

		// An anonymous session stores a NULL admin and reads back as 0.
		anon := model.Session{IDHash: []byte("anon"), Data: "{}", CreatedAt: created, LastSeenAt: created}
		if err := s.InsertSession(ctx, anon); err != nil {
			t.Fatalf("InsertSession(anon): %v", err)
		}
		if got, err := s.Session(ctx, anon.IDHash); err != nil || got.AdminID != 0 {
			t.Errorf("anon Session = %+v, %v; want AdminID 0", got, err)
		}
		if n := queryInt(t, s, "SELECT COUNT(*) FROM sessions WHERE admin_id IS NULL"); n != 1 {
			t.Errorf("sessions with NULL admin_id = %d, want 1", n)
		}

		if _, err := s.Session(ctx, []byte("missing")); !apperr.Is(err, apperr.NotFound) {
			t.Errorf("Session(missing) error = %v, want not found", err)
		}
	})
}

func TestUpdateSessionKeepsCreatedAt(t *testing.T) {
	engines(t, func(t *testing.T, open opener) {
		ctx := context.Background()
		s := open(t, store.Options{})
		admin := firstAdmin(t, s, "a@example.com", "h")
		t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
		id := []byte("sess")
		if err := s.InsertSession(ctx, model.Session{IDHash: id, Data: `{"a":1}`, CreatedAt: t0, LastSeenAt: t0}); err != nil {
			t.Fatalf("InsertSession: %v", err)
		}
		t1 := t0.Add(3 * time.Hour)
		if err := s.UpdateSession(ctx, model.Session{IDHash: id, AdminID: admin.ID, Data: `{"b":2}`, CreatedAt: t1, LastSeenAt: t1}); err != nil {
			t.Fatalf("UpdateSession: %v", err)
		}
		got, err := s.Session(ctx, id)
		if err != nil {
			t.Fatalf("Session: %v", err)
		}
		if !got.CreatedAt.Equal(t0) {
			t.Errorf("CreatedAt = %v, want the original %v (the absolute timeout must not restart)", got.CreatedAt, t0)
		}
		if !got.LastSeenAt.Equal(t1) || got.AdminID != admin.ID || got.Data != `{"b":2}` {
			t.Errorf("Session = %+v, want last seen %v, admin %d, data {\"b\":2}", got, t1, admin.ID)
		}
		if n := queryInt(t, s, "SELECT COUNT(*) FROM sessions"); n != 1 {
			t.Errorf("session rows = %d, want 1", n)
		}
	})
}

func TestInsertSessionUnknownAdminRefused(t *testing.T) {
	engines(t, func(t *testing.T, open opener) {
		s := open(t, store.Options{})
		now := time.Now()
		err := s.InsertSession(context.Background(), model.Session{IDHash: []byte("x"), AdminID: 12345, Data: "{}", CreatedAt: now, LastSeenAt: now})
		if err == nil {
			t.Error("InsertSession with a missing admin succeeded, want a foreign-key error")
		}
	})
}

func TestDeleteSession(t *testing.T) {
	engines(t, func(t *testing.T, open opener) {
		ctx := context.Background()
		s := open(t, store.Options{})
		now := time.Now()
		for _, id := range []string{"a", "b"} {
			if err := s.InsertSession(ctx, model.Session{IDHash: []byte(id), Data: "{}", CreatedAt: now, LastSeenAt: now}); err != nil {
				t.Fatalf("InsertSession: %v", err)
			}
		}
		if err := s.DeleteSession(ctx, []byte("a")); err != nil {
			t.Fatalf("DeleteSession: %v", err)
		}
		if _, err := s.Session(ctx, []byte("a")); !apperr.Is(err, apperr.NotFound) {
			t.Errorf("deleted session: err = %v, want not found", err)
		}
		if _, err := s.Session(ctx, []byte("b")); err != nil {
			t.Errorf("other session: %v, want kept", err)
		}
		if err := s.DeleteSession(ctx, []byte("a")); err != nil {
			t.Errorf("DeleteSession of a missing session = %v, want nil", err)
		}
	})
}

func TestDeleteSessionsBefore(t *testing.T) {
	engines(t, func(t *testing.T, open opener) {
		ctx := context.Background()
		s := open(t, store.Options{})
		base := time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)
		rows := []struct {
			id               string
			created, lastSee time.Duration // offsets from base
			kept             bool
		}{
			{"fresh", -1 * time.Hour, 0, true},
			{"idle", -1 * time.Hour, -31 * time.Minute, false},
			{"old-but-active", -13 * time.Hour, 0, false},
			{"at-idle-cutoff", -1 * time.Hour, -30 * time.Minute, true}, // not strictly before
			{"at-absolute-cutoff", -12 * time.Hour, 0, true},            // not strictly before
			{"just-idle", -1 * time.Hour, -30*time.Minute - time.Nanosecond, false},
		}
		for _, r := range rows {
			if err := s.InsertSession(ctx, model.Session{IDHash: []byte(r.id), Data: "{}", CreatedAt: base.Add(r.created), LastSeenAt: base.Add(r.lastSee)}); err != nil {
				t.Fatalf("InsertSession(%s): %v", r.id, err)
			}
		}
		n, err := s.DeleteSessionsBefore(ctx, base.Add(-30*time.Minute), base.Add(-12*time.Hour))
		if err != nil {
			t.Fatalf("DeleteSessionsBefore: %v", err)
		}
		wantDeleted := 0
		for _, r := range rows {
			if !r.kept {
				wantDeleted++
			}
			_, err := s.Session(ctx, []byte(r.id))
			if r.kept && err != nil {
				t.Errorf("%s: %v, want kept", r.id, err)
			}
			if !r.kept && !apperr.Is(err, apperr.NotFound) {
				t.Errorf("%s: err = %v, want deleted", r.id, err)
			}
		}
		if n != int64(wantDeleted) {
			t.Errorf("DeleteSessionsBefore = %d, want %d", n, wantDeleted)
		}
	})
}

// UpdateSession never creates a row: a revoked session stays revoked.
func TestUpdateSessionDoesNotCreate(t *testing.T) {
	engines(t, func(t *testing.T, open opener) {
		s := open(t, store.Options{})
		now := time.Now()
		err := s.UpdateSession(context.Background(), model.Session{IDHash: []byte("gone"), Data: "{}", CreatedAt: now, LastSeenAt: now})
		if !apperr.Is(err, apperr.NotFound) {
			t.Fatalf("UpdateSession(missing) = %v, want NotFound", err)
		}
		if n := queryInt(t, s, "SELECT COUNT(*) FROM sessions"); n != 0 {
			t.Fatalf("UpdateSession created %d rows", n)
		}
	})
}
