package storetest

import (
	"testing"
	"time"

	"postern/internal/apperr"
	"postern/internal/model"
)

func testAdmins(t *testing.T, open Opener) {
	cases(t, open,
		tcase{"FirstAdminOnlyOnce", adminFirstOnly},
		tcase{"Lookups", adminLookups},
		tcase{"SetPasswordEndsItsSessions", adminSetPassword},
	)
}

func adminFirstOnly(t *testing.T, s Store) {
	ctx := t.Context()
	if n, err := s.AdminCount(ctx); err != nil || n != 0 {
		t.Fatalf("AdminCount of an empty store = %d, %v; want 0", n, err)
	}
	a, err := s.CreateFirstAdmin(ctx, "owner@example.com", "$argon2id$one")
	must(t, err, "CreateFirstAdmin")
	if a.ID == 0 || a.Email != "owner@example.com" || a.PasswordHash != "$argon2id$one" || !recent(s, a.CreatedAt) {
		t.Errorf("CreateFirstAdmin = %+v", a)
	}
	_, err = s.CreateFirstAdmin(ctx, "second@example.com", "$argon2id$two")
	wantKind(t, err, apperr.Conflict, "a second CreateFirstAdmin")
	if n, err := s.AdminCount(ctx); err != nil || n != 1 {
		t.Errorf("AdminCount = %d, %v; want 1", n, err)
	}
}

func adminLookups(t *testing.T, s Store) {
	ctx := t.Context()
	a, err := s.CreateFirstAdmin(ctx, "Owner@Example.com", "$argon2id$one")
	must(t, err, "CreateFirstAdmin")
	for _, email := range []string{"Owner@Example.com", "owner@example.com", "OWNER@EXAMPLE.COM"} {
		got, err := s.AdminByEmail(ctx, email)
		if err != nil || got.ID != a.ID || got.Email != a.Email || got.PasswordHash != a.PasswordHash ||
			!sameTime(got.CreatedAt, a.CreatedAt) || !sameTime(got.PasswordChangedAt, a.PasswordChangedAt) {
			t.Errorf("AdminByEmail(%q) = %+v, %v; want %+v", email, got, err, a)
		}
	}
	if got, err := s.Admin(ctx, a.ID); err != nil || got.Email != a.Email {
		t.Errorf("Admin(%d) = %+v, %v", a.ID, got, err)
	}
	_, err = s.AdminByEmail(ctx, "nobody@example.com")
	wantKind(t, err, apperr.NotFound, "AdminByEmail of an unknown email")
	_, err = s.Admin(ctx, a.ID+100)
	wantKind(t, err, apperr.NotFound, "Admin of an unknown id")
}

func adminSetPassword(t *testing.T, s Store) {
	ctx := t.Context()
	a, err := s.CreateFirstAdmin(ctx, "owner@example.com", "$argon2id$old")
	must(t, err, "CreateFirstAdmin")
	now := s.Now()
	mine := model.Session{IDHash: []byte("mine"), AdminID: a.ID, Data: "{}", CreatedAt: now, LastSeenAt: now}
	anon := model.Session{IDHash: []byte("anon"), Data: "{}", CreatedAt: now, LastSeenAt: now}
	must(t, s.InsertSession(ctx, mine), "InsertSession")
	must(t, s.InsertSession(ctx, anon), "InsertSession")
	must(t, s.SetPassword(ctx, a.ID, "$argon2id$new"), "SetPassword")
	got, err := s.Admin(ctx, a.ID)
	must(t, err, "Admin")
	if got.PasswordHash != "$argon2id$new" || got.PasswordChangedAt.Before(a.PasswordChangedAt) {
		t.Errorf("after SetPassword: %+v", got)
	}
	_, err = s.Session(ctx, mine.IDHash)
	wantKind(t, err, apperr.NotFound, "the admin's session after SetPassword")
	if _, err := s.Session(ctx, anon.IDHash); err != nil {
		t.Errorf("a session of no admin ended with the password change: %v", err)
	}
	wantKind(t, s.SetPassword(ctx, a.ID+100, "$argon2id$x"), apperr.NotFound, "SetPassword of an unknown admin")
}

func testSessions(t *testing.T, open Opener) {
	cases(t, open,
		tcase{"RoundTripAndUpdate", sessionRoundTrip},
		tcase{"Delete", sessionDelete},
		tcase{"DeleteBefore", sessionDeleteBefore},
		tcase{"UnknownAdminRefused", func(t *testing.T, s Store) {
			ss := model.Session{IDHash: []byte("x"), AdminID: 12345, Data: "{}", CreatedAt: at(1, 0), LastSeenAt: at(1, 0)}
			if err := s.InsertSession(t.Context(), ss); err == nil {
				t.Error("InsertSession of an unknown admin succeeded")
			}
		}},
	)
}

func sessionRoundTrip(t *testing.T, s Store) {
	ctx := t.Context()
	a, err := s.CreateFirstAdmin(ctx, "owner@example.com", "$argon2id$x")
	must(t, err, "CreateFirstAdmin")
	ss := model.Session{IDHash: []byte{0, 1, 2, 0xff}, Data: `{"csrf":"abc"}`, CreatedAt: at(9, 0), LastSeenAt: at(9, 1)}
	must(t, s.InsertSession(ctx, ss), "InsertSession")
	wantSession(t, s, ss)
	wantKind(t, s.InsertSession(ctx, ss), apperr.Conflict, "InsertSession of an id in use")

	// Sign-in: the admin, the data and the activity change; created stays.
	up := model.Session{IDHash: ss.IDHash, AdminID: a.ID, Data: `{"admin_id":1}`, CreatedAt: at(23, 0), LastSeenAt: at(9, 5)}
	must(t, s.UpdateSession(ctx, up), "UpdateSession")
	up.CreatedAt = ss.CreatedAt
	wantSession(t, s, up)
	must(t, s.TouchSession(ctx, ss.IDHash, at(9, 30)), "TouchSession")
	up.LastSeenAt = at(9, 30)
	wantSession(t, s, up)

	gone := model.Session{IDHash: []byte("gone"), Data: "{}", CreatedAt: at(9, 0), LastSeenAt: at(9, 0)}
	wantKind(t, s.UpdateSession(ctx, gone), apperr.NotFound, "UpdateSession of a missing session")
	_, err = s.Session(ctx, gone.IDHash)
	wantKind(t, err, apperr.NotFound, "Session after UpdateSession of a missing one (it must not create it)")
}

func wantSession(t *testing.T, s Store, want model.Session) {
	t.Helper()
	got, err := s.Session(t.Context(), want.IDHash)
	must(t, err, "Session")
	if string(got.IDHash) != string(want.IDHash) || got.AdminID != want.AdminID || got.Data != want.Data ||
		!sameTime(got.CreatedAt, want.CreatedAt) || !sameTime(got.LastSeenAt, want.LastSeenAt) {
		t.Errorf("Session = %+v, want %+v", got, want)
	}
}

func sessionDelete(t *testing.T, s Store) {
	ctx := t.Context()
	for _, id := range []string{"a", "b"} {
		must(t, s.InsertSession(ctx, model.Session{IDHash: []byte(id), Data: "{}", CreatedAt: at(1, 0), LastSeenAt: at(1, 0)}), "InsertSession")
	}
	must(t, s.DeleteSession(ctx, []byte("a")), "DeleteSession")
	_, err := s.Session(ctx, []byte("a"))
	wantKind(t, err, apperr.NotFound, "Session after DeleteSession")
	if _, err := s.Session(ctx, []byte("b")); err != nil {
		t.Errorf("the other session went too: %v", err)
	}
	if err := s.DeleteSession(ctx, []byte("missing")); err != nil {
		t.Errorf("DeleteSession of a missing session: %v, want no error", err)
	}
}

func sessionDeleteBefore(t *testing.T, s Store) {
	ctx := t.Context()
	for _, ss := range []struct {
		id               string
		created, lastSee time.Time
	}{
		{"idle", at(1, 0), at(2, 0)},  // idle since before the idle cutoff
		{"old", at(0, 0), at(9, 0)},   // created before the absolute cutoff
		{"fresh", at(5, 0), at(9, 0)}, // neither
	} {
		must(t, s.InsertSession(ctx, model.Session{IDHash: []byte(ss.id), Data: "{}", CreatedAt: ss.created, LastSeenAt: ss.lastSee}), "InsertSession")
	}
	n, err := s.DeleteSessionsBefore(ctx, at(3, 0), at(1, 0))
	if err != nil || n != 2 {
		t.Fatalf("DeleteSessionsBefore = %d, %v; want 2", n, err)
	}
	for id, kept := range map[string]bool{"idle": false, "old": false, "fresh": true} {
		if _, err := s.Session(ctx, []byte(id)); (err == nil) != kept {
			t.Errorf("session %q: err %v, kept want %v", id, err, kept)
		}
	}
}
