package auth_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"database/sql"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/gorilla/sessions"

	"postern/internal/apperr"
	"postern/internal/auth"
	"postern/internal/model"
	"postern/internal/testkit"
	"postern/internal/testkit/teststore"
	"postern/store"
	"postern/store/storetest"
)

// *store.Store is the database of sessions and API tokens, and so is any
// engine that passes the store conformance suite.
var (
	_ auth.SessionRows = (*store.Store)(nil)
	_ auth.TokenStore  = (*store.Store)(nil)
	_ auth.SessionRows = storetest.Store(nil)
	_ auth.TokenStore  = storetest.Store(nil)
)

const cookieName = "postern_session"

type sessionEnv struct {
	db    *store.Store
	clock *testkit.Clock
	ss    *auth.SessionStore
	admin model.Admin
}

func newSessionEnv(t *testing.T) *sessionEnv {
	t.Helper()
	clock := newFakeClock()
	db := teststore.Open(t, store.Options{Now: clock.Now})
	a, err := db.CreateFirstAdmin(context.Background(), "admin@example.com", "$argon2id$unused")
	if err != nil {
		t.Fatalf("CreateFirstAdmin: %v", err)
	}
	return &sessionEnv{db: db, clock: clock, ss: auth.NewSessionStore(db, clock.Now), admin: a}
}

// request is a fresh request (so gorilla's per-request registry is empty)
// carrying c if it is not nil.
func request(c *http.Cookie) *http.Request {
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	if c != nil {
		r.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
	}
	return r
}

func (e *sessionEnv) get(t *testing.T, c *http.Cookie) (*http.Request, *sessions.Session) {
	t.Helper()
	r := request(c)
	sess, err := e.ss.Get(r, cookieName)
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	return r, sess
}

// save saves sess and returns the one session cookie it set.
func (e *sessionEnv) save(t *testing.T, r *http.Request, sess *sessions.Session) *http.Cookie {
	t.Helper()
	rec := httptest.NewRecorder()
	if err := sess.Save(r, rec); err != nil {
		t.Fatalf("Save: %v", err)
	}
	return onlyCookie(t, rec)
}

func onlyCookie(t *testing.T, rec *httptest.ResponseRecorder) *http.Cookie {
	t.Helper()
	cs := rec.Result().Cookies()
	if len(cs) != 1 || cs[0].Name != cookieName {
		t.Fatalf("Set-Cookie = %v, want exactly one %s cookie", rec.Header()["Set-Cookie"], cookieName)
	}
	return cs[0]
}

// signIn starts a signed-in session and returns its cookie.
func (e *sessionEnv) signIn(t *testing.T) *http.Cookie {
	t.Helper()
	r, sess := e.get(t, nil)
	auth.SetAdminID(sess, e.admin.ID)
	sess.Values["theme"] = "dark"
	return e.save(t, r, sess)
}

func (e *sessionEnv) rowCount(t *testing.T) int {
	t.Helper()
	db, err := sql.Open("sqlite", store.DSN(e.db.Path(), false))
	if err != nil {
		t.Fatalf("open reader: %v", err)
	}
	defer db.Close()
	var n int
	if err := db.QueryRow("SELECT COUNT(*) FROM sessions").Scan(&n); err != nil {
		t.Fatalf("count sessions: %v", err)
	}
	return n
}

func (e *sessionEnv) row(t *testing.T, c *http.Cookie) (model.Session, error) {
	t.Helper()
	h := sha256.Sum256([]byte(c.Value))
	return e.db.Session(context.Background(), h[:])
}

func TestSessionNewWithoutCookie(t *testing.T) {
	e := newSessionEnv(t)
	for _, tc := range []struct {
		name   string
		cookie *http.Cookie
	}{
		{"no cookie", nil},
		{"empty cookie", &http.Cookie{Name: cookieName, Value: ""}},
		{"unknown id", &http.Cookie{Name: cookieName, Value: "bm90LWEtcmVhbC1zZXNzaW9uLWlkLWF0LWFsbC0xMjM0NQ"}},
		{"other cookie name", &http.Cookie{Name: "other", Value: "x"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, sess := e.get(t, tc.cookie)
			if !sess.IsNew {
				t.Error("IsNew = false, want true")
			}
			if sess.ID != "" || len(sess.Values) != 0 || auth.AdminID(sess) != 0 {
				t.Errorf("session = id %q, values %v; want empty", sess.ID, sess.Values)
			}
			o := sess.Options
			if o == nil || o.Path != "/" || !o.HttpOnly || o.SameSite != http.SameSiteLaxMode {
				t.Errorf("Options = %+v, want Path=/, HttpOnly, SameSite=Lax", o)
			}
		})
	}
}

func TestSessionCookieAttributes(t *testing.T) {
	for _, tc := range []struct {
		name       string
		secure     func(*http.Request) bool // nil keeps the default
		tls        bool
		wantSecure bool
	}{
		{"default over http", nil, false, false},
		{"default over https", nil, true, true},
		{"secure func true", func(*http.Request) bool { return true }, false, true},
		{"secure func false", func(*http.Request) bool { return false }, true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newSessionEnv(t)
			if tc.secure != nil {
				e.ss.Secure = tc.secure
			}
			r := request(nil)
			if tc.tls {
				r.TLS = &tls.ConnectionState{}
			}
			sess, err := e.ss.Get(r, cookieName)
			if err != nil {
				t.Fatalf("Get: %v", err)
			}
			sess.Values["k"] = "v"
			c := e.save(t, r, sess)
			if len(c.Value) < 43 {
				t.Errorf("cookie value %q is shorter than 32 random bytes in base64", c.Value)
			}
			if !c.HttpOnly {
				t.Error("HttpOnly = false, want true")
			}
			if c.SameSite != http.SameSiteLaxMode {
				t.Errorf("SameSite = %v, want Lax", c.SameSite)
			}
			if c.Path != "/" {
				t.Errorf("Path = %q, want /", c.Path)
			}
			if c.Domain != "" {
				t.Errorf("Domain = %q, want none (host-only)", c.Domain)
			}
			if c.Secure != tc.wantSecure {
				t.Errorf("Secure = %v, want %v", c.Secure, tc.wantSecure)
			}
			if c.MaxAge != 0 || !c.Expires.IsZero() {
				t.Errorf("MaxAge, Expires = %d, %v; want a browser-session cookie", c.MaxAge, c.Expires)
			}
		})
	}
}

func TestSessionStoresOnlyHashOfID(t *testing.T) {
	e := newSessionEnv(t)
	c := e.signIn(t)
	want := sha256.Sum256([]byte(c.Value))

	db, err := sql.Open("sqlite", store.DSN(e.db.Path(), false))
	if err != nil {
		t.Fatalf("open reader: %v", err)
	}
	defer db.Close()
	rows, err := db.Query("SELECT id_hash, COALESCE(admin_id, 0), data FROM sessions")
	if err != nil {
		t.Fatalf("query: %v", err)
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		n++
		var idHash []byte
		var admin int64
		var data string
		if err := rows.Scan(&idHash, &admin, &data); err != nil {
			t.Fatalf("scan: %v", err)
		}
		if !bytes.Equal(idHash, want[:]) {
			t.Errorf("id_hash = %x, want sha256(cookie) = %x", idHash, want)
		}
		if bytes.Contains(idHash, []byte(c.Value)) || bytes.Contains([]byte(data), []byte(c.Value)) {
			t.Errorf("row holds the cookie value itself: id_hash %q, data %q", idHash, data)
		}
		if admin != e.admin.ID {
			t.Errorf("admin_id = %d, want %d", admin, e.admin.ID)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Errorf("session rows = %d, want 1", n)
	}
	for _, f := range []string{e.db.Path(), e.db.Path() + "-wal"} {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		if bytes.Contains(b, []byte(c.Value)) {
			t.Errorf("%s contains the cookie value", filepath.Base(f))
		}
	}
}

func TestSessionRoundTrip(t *testing.T) {
	e := newSessionEnv(t)
	r, sess := e.get(t, nil)
	auth.SetAdminID(sess, e.admin.ID)
	sess.Values["theme"] = "dark"
	sess.Values["csrf"] = "token-123"
	sess.AddFlash("success|Saved.")
	sess.AddFlash("info|Second.")
	c := e.save(t, r, sess)

	r2, got := e.get(t, c)
	if got.IsNew {
		t.Fatal("IsNew = true, want the stored session")
	}
	if got.ID != c.Value {
		t.Errorf("ID = %q, want the cookie value", got.ID)
	}
	if id := auth.AdminID(got); id != e.admin.ID {
		t.Errorf("AdminID = %d, want %d", id, e.admin.ID)
	}
	for k, want := range map[string]string{"theme": "dark", "csrf": "token-123"} {
		if v, _ := got.Values[k].(string); v != want {
			t.Errorf("Values[%q] = %#v, want %q", k, got.Values[k], want)
		}
	}
	fl := got.Flashes()
	if len(fl) != 2 || fl[0] != "success|Saved." || fl[1] != "info|Second." {
		t.Errorf("Flashes = %#v, want [success|Saved. info|Second.]", fl)
	}
	// Reading flashes consumes them once the session is saved.
	e.save(t, r2, got)
	_, again := e.get(t, c)
	if fl := again.Flashes(); len(fl) != 0 {
		t.Errorf("Flashes after reading and saving = %#v, want none", fl)
	}
	if id := auth.AdminID(again); id != e.admin.ID {
		t.Errorf("AdminID after save = %d, want %d", id, e.admin.ID)
	}
	if n := e.rowCount(t); n != 1 {
		t.Errorf("session rows = %d, want 1", n)
	}
}

func TestAdminIDHelpers(t *testing.T) {
	sess := sessions.NewSession(nil, cookieName)
	if got := auth.AdminID(sess); got != 0 {
		t.Errorf("AdminID(empty) = %d, want 0", got)
	}
	auth.SetAdminID(sess, 7)
	if got := auth.AdminID(sess); got != 7 {
		t.Errorf("AdminID = %d, want 7", got)
	}
	sess.Values["admin_id"] = "7"
	if got := auth.AdminID(sess); got != 0 {
		t.Errorf("AdminID(string value) = %d, want 0", got)
	}
}

func TestSessionRotate(t *testing.T) {
	e := newSessionEnv(t)
	// An anonymous session exists before sign-in (e.g. planted by an attacker).
	r, sess := e.get(t, nil)
	sess.Values["theme"] = "dark"
	old := e.save(t, r, sess)

	r, sess = e.get(t, old)
	auth.SetAdminID(sess, e.admin.ID)
	rec := httptest.NewRecorder()
	if err := e.ss.Rotate(r, rec, sess); err != nil {
		t.Fatalf("Rotate: %v", err)
	}
	fresh := onlyCookie(t, rec)
	if fresh.Value == old.Value || fresh.Value == "" {
		t.Fatalf("cookie after Rotate = %q, want a new id (old %q)", fresh.Value, old.Value)
	}
	if !fresh.HttpOnly || fresh.Path != "/" || fresh.SameSite != http.SameSiteLaxMode {
		t.Errorf("rotated cookie = %+v, want HttpOnly, Path=/, SameSite=Lax", fresh)
	}

	_, stale := e.get(t, old)
	if !stale.IsNew || auth.AdminID(stale) != 0 || len(stale.Values) != 0 {
		t.Errorf("old cookie after Rotate: IsNew %v, values %v; want an empty new session", stale.IsNew, stale.Values)
	}
	if _, err := e.row(t, old); !apperr.Is(err, apperr.NotFound) {
		t.Errorf("old row: err = %v, want deleted", err)
	}
	_, cur := e.get(t, fresh)
	if cur.IsNew || auth.AdminID(cur) != e.admin.ID || cur.Values["theme"] != "dark" {
		t.Errorf("new cookie: IsNew %v, values %v; want the signed-in session with its values", cur.IsNew, cur.Values)
	}
	if n := e.rowCount(t); n != 1 {
		t.Errorf("session rows = %d, want 1", n)
	}
}

func TestSessionMaxAgeNegativeRevokes(t *testing.T) {
	e := newSessionEnv(t)
	c := e.signIn(t)
	other := e.signIn(t)

	r, sess := e.get(t, c)
	sess.Options.MaxAge = -1
	rec := httptest.NewRecorder()
	if err := sess.Save(r, rec); err != nil {
		t.Fatalf("Save: %v", err)
	}
	gone := onlyCookie(t, rec)
	if gone.Value != "" {
		t.Errorf("expiring cookie value = %q, want empty", gone.Value)
	}
	if gone.MaxAge >= 0 {
		t.Errorf("expiring cookie MaxAge = %d, want < 0 (Max-Age=0)", gone.MaxAge)
	}
	if !gone.Expires.IsZero() && gone.Expires.After(time.Now()) {
		t.Errorf("expiring cookie Expires = %v, want in the past", gone.Expires)
	}
	if gone.Path != "/" || !gone.HttpOnly {
		t.Errorf("expiring cookie = %+v, want Path=/ and HttpOnly so it replaces the session cookie", gone)
	}
	if _, err := e.row(t, c); !apperr.Is(err, apperr.NotFound) {
		t.Errorf("row after revoke: err = %v, want deleted", err)
	}
	_, replay := e.get(t, c)
	if !replay.IsNew || auth.AdminID(replay) != 0 {
		t.Errorf("replayed cookie: IsNew %v, admin %d; want a new anonymous session", replay.IsNew, auth.AdminID(replay))
	}
	if _, o := e.get(t, other); o.IsNew {
		t.Error("another session was revoked too")
	}

	// Revoking a session that was never saved only expires the cookie.
	r, fresh := e.get(t, nil)
	fresh.Options.MaxAge = -1
	rec = httptest.NewRecorder()
	if err := fresh.Save(r, rec); err != nil {
		t.Fatalf("Save(new, MaxAge -1): %v", err)
	}
	if c := onlyCookie(t, rec); c.MaxAge >= 0 {
		t.Errorf("MaxAge = %d, want < 0", c.MaxAge)
	}
}

func cookieFor(value string) *http.Cookie { return &http.Cookie{Name: cookieName, Value: value} }
