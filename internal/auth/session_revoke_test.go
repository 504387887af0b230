package auth_test

import (
	"context"
	"net/http/httptest"
	"testing"

	"postern/internal/auth"
)

// Regression: SessionStore.Save once upserted the row, so a request that loaded a session
// before it was revoked (password change or logout in a concurrent request)
// writes it back when it saves (web/render.go saves after reading flashes),
// and the revoked cookie signs in again. Save of a loaded session
// (IsNew == false) should only update an existing row.
func TestSessionSaveDoesNotResurrectRevokedSession(t *testing.T) {
	for _, tc := range []struct {
		name   string
		revoke func(t *testing.T, e *sessionEnv, victim string)
	}{
		{"password change", func(t *testing.T, e *sessionEnv, _ string) {
			if err := e.db.SetPassword(context.Background(), e.admin.ID, "$argon2id$new"); err != nil {
				t.Fatalf("SetPassword: %v", err)
			}
		}},
		{"logout", func(t *testing.T, e *sessionEnv, victim string) {
			_, sess := e.get(t, cookieFor(victim))
			sess.Options.MaxAge = -1
			r := request(cookieFor(victim))
			if err := e.ss.Save(r, httptest.NewRecorder(), sess); err != nil {
				t.Fatalf("logout Save: %v", err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newSessionEnv(t)
			c := e.signIn(t)

			// Request A loads the session...
			rA, inFlight := e.get(t, c)
			// ...request B revokes it...
			tc.revoke(t, e, c.Value)
			if _, s := e.get(t, c); !s.IsNew {
				t.Fatal("session still valid right after revocation")
			}
			// ...then request A finishes and saves (e.g. after reading flashes).
			inFlight.AddFlash("info|done")
			rec := httptest.NewRecorder()
			if err := inFlight.Save(rA, rec); err != nil {
				t.Logf("Save of the revoked session: %v", err)
			}

			_, replay := e.get(t, c)
			if !replay.IsNew || auth.AdminID(replay) != 0 {
				t.Errorf("revoked cookie signs in again after a late Save: IsNew %v, admin %d; want rejected", replay.IsNew, auth.AdminID(replay))
			}
		})
	}
}
