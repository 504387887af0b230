package web

import (
	"context"
	"database/sql"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"testing"
	"time"

	"postern/internal/audit"
	"postern/internal/auth"
	"postern/store"
)

// Every route but the public ones must send an anonymous browser to sign in;
// the list comes from Echo itself so a new route cannot slip past.
func TestEveryRouteRequiresSignIn(t *testing.T) {
	e := newAdminEnv(t)
	c := e.client()
	checked := 0
	for _, r := range e.srv.Routes() {
		if publicPaths[r.Path] || r.Method == "echo_route_not_found" {
			continue
		}
		path := strings.NewReplacer(":id", "1", "*", "x").Replace(r.Path)
		res := c.do(r.Method, path, url.Values{}, nil)
		checked++
		if r.Path == "/metrics" || strings.HasPrefix(r.Path, "/api/") {
			// Token routes: a signed-in session would not count either.
			if res.StatusCode != http.StatusUnauthorized {
				t.Errorf("anonymous %s %s: status %d, want 401", r.Method, r.Path, res.StatusCode)
			}
			continue
		}
		if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/login" {
			t.Errorf("anonymous %s %s: status %d location %q, want 303 to /login", r.Method, r.Path, res.StatusCode, res.Header.Get("Location"))
		}
	}
	if checked < 8 {
		t.Fatalf("checked %d routes; the route list looks wrong", checked)
	}
}

func TestSetupOnlyWhileNoAdmin(t *testing.T) {
	e := newEnv(t)
	c := e.client()
	wantRedirect(t, c.get("/login"), "/setup")
	res := c.get("/setup")
	wantStatus(t, res, http.StatusOK)
	if !strings.Contains(res.body, "Create the first admin account") {
		t.Fatal("setup page lacks its heading")
	}
	bad := c.post("/setup", url.Values{"email": {"not-an-email"}, "password": {"short"}, "confirm": {"short"}})
	wantStatus(t, bad, http.StatusUnprocessableEntity)
	for _, want := range []string{"Enter an email address", "Use at least 12 characters"} {
		if !strings.Contains(bad.body, want) {
			t.Errorf("invalid setup: body lacks %q", want)
		}
	}
	form := parse(t, bad)
	if email := form.Find(`input[name="email"]`); email.AttrOr("aria-invalid", "") != "true" || email.AttrOr("value", "") != "not-an-email" {
		t.Error("invalid setup: the email field is not marked invalid or lost what was typed")
	}
	if pw := form.Find(`input[name="password"]`); pw.AttrOr("aria-invalid", "") != "true" || pw.AttrOr("value", "") != "" {
		t.Error("invalid setup: the password field is not marked invalid, or is filled back in")
	}
	if n, _ := e.store.AdminCount(context.Background()); n != 0 {
		t.Fatalf("invalid setup created %d admins", n)
	}
	mismatch := c.post("/setup", url.Values{"email": {testEmail}, "password": {testPassword}, "confirm": {testPassword + "x"}})
	wantStatus(t, mismatch, http.StatusUnprocessableEntity)
	if strings.Contains(mismatch.body, testPassword) {
		t.Fatal("the setup form echoed the password back")
	}

	e.setup()
	wantStatus(t, c.get("/setup"), http.StatusNotFound)
	wantStatus(t, c.post("/setup", url.Values{"email": {"evil@example.com"}, "password": {testPassword}, "confirm": {testPassword}}), http.StatusNotFound)
	if _, err := e.store.AdminByEmail(context.Background(), "evil@example.com"); err == nil {
		t.Fatal("a second admin was created through /setup")
	}
	entries := e.audited(audit.Filter{})
	if len(entries) == 0 || entries[len(entries)-1].Action != "admin.created" {
		t.Fatalf("audit log lacks admin.created: %+v", entries)
	}
}

func TestLoginFailureIsTheSameForUnknownUserAndWrongPassword(t *testing.T) {
	e := newAdminEnv(t)
	c := e.client()
	wrong := c.post("/login", url.Values{"email": {testEmail}, "password": {"wrong-password-123"}})
	unknown := c.post("/login", url.Values{"email": {"nobody@example.com"}, "password": {"wrong-password-123"}})
	if wrong.StatusCode != unknown.StatusCode {
		t.Fatalf("status: wrong password %d, unknown user %d", wrong.StatusCode, unknown.StatusCode)
	}
	for _, res := range []response{wrong, unknown} {
		if !strings.Contains(res.body, "Incorrect email or password.") {
			t.Errorf("body lacks the one failure message: %.200s", res.body)
		}
		if c := res.Header.Get("Set-Cookie"); strings.Contains(c, sessionCookie+"=") && !strings.Contains(c, "Max-Age=0") {
			t.Errorf("a failed login set a session cookie: %s", c)
		}
	}
}

// The session id changes at sign-in and the pre-login id is dead afterwards.
func TestLoginRotatesSessionID(t *testing.T) {
	e := newAdminEnv(t)
	c := e.client()
	// Plant a pre-login session, as an attacker fixing a victim's id would.
	req := httptestRequest(e)
	sess, _ := e.srv.sessions.New(req, sessionCookie)
	sess.Values["planted"] = "yes"
	rec := newRecorder()
	if err := e.srv.sessions.Save(req, rec, sess); err != nil {
		t.Fatal(err)
	}
	planted := sess.ID
	u, _ := url.Parse(e.http.URL)
	c.jar.SetCookies(u, []*http.Cookie{{Name: sessionCookie, Value: planted, Path: "/"}})

	wantRedirect(t, c.post("/login", url.Values{"email": {testEmail}, "password": {testPassword}}), "/")
	after := c.cookie(sessionCookie)
	if after == nil || after.Value == planted {
		t.Fatalf("session id not rotated at sign-in (before %q, after %v)", planted, after)
	}
	wantStatus(t, c.get("/"), http.StatusOK)

	replay := e.client()
	replay.jar.SetCookies(u, []*http.Cookie{{Name: sessionCookie, Value: planted, Path: "/"}})
	wantRedirect(t, replay.get("/"), "/login")
}

func TestLogoutRevokesSessionOnTheServer(t *testing.T) {
	e := newAdminEnv(t)
	c := e.signedIn()
	old := c.cookie(sessionCookie).Value

	res := c.post("/logout", url.Values{})
	wantRedirect(t, res, "/login?notice=signed-out")
	if got := res.Header.Get("Clear-Site-Data"); !strings.Contains(got, `"cookies"`) {
		t.Errorf("Clear-Site-Data = %q, want it to clear cookies", got)
	}
	expired := false
	for _, ck := range res.Cookies() {
		if ck.Name == sessionCookie && ck.MaxAge < 0 {
			expired = true
		}
	}
	if !expired {
		t.Error("logout did not expire the session cookie")
	}
	// Replaying the old cookie gets nowhere: the row is gone.
	replay := e.client()
	u, _ := url.Parse(e.http.URL)
	replay.jar.SetCookies(u, []*http.Cookie{{Name: sessionCookie, Value: old, Path: "/"}})
	wantRedirect(t, replay.get("/devices"), "/login")
	if !strings.Contains(c.get("/login?notice=signed-out").body, "You have signed out.") {
		t.Error("login page does not confirm the sign-out")
	}
}

func TestSessionIdleAndAbsoluteTimeouts(t *testing.T) {
	e := newAdminEnv(t)

	idle := e.signedIn()
	e.clock.Advance(auth.DefaultIdleTimeout - time.Minute)
	wantStatus(t, idle.get("/"), http.StatusOK) // activity renews the idle timer
	e.clock.Advance(auth.DefaultIdleTimeout - time.Minute)
	wantStatus(t, idle.get("/"), http.StatusOK)
	e.clock.Advance(auth.DefaultIdleTimeout + time.Second)
	wantRedirect(t, idle.get("/"), "/login")

	busy := e.signedIn()
	for elapsed := time.Duration(0); elapsed < auth.DefaultAbsoluteTimeout-10*time.Minute; elapsed += 10 * time.Minute {
		e.clock.Advance(10 * time.Minute)
		wantStatus(t, busy.get("/"), http.StatusOK)
	}
	e.clock.Advance(20 * time.Minute)
	wantRedirect(t, busy.get("/"), "/login")
}

func TestPasswordResetEndsSessions(t *testing.T) {
	e := newAdminEnv(t)
	c := e.signedIn()
	a, _ := e.store.AdminByEmail(context.Background(), testEmail)
	hash, _ := auth.HashPassword("another-password-99")
	if err := e.store.SetPassword(context.Background(), a.ID, hash); err != nil {
		t.Fatal(err)
	}
	wantRedirect(t, c.get("/"), "/login")
}

func TestCSRF(t *testing.T) {
	e := newAdminEnv(t)

	cross := e.signedIn()
	cross.fetchSite = "cross-site"
	wantStatus(t, cross.post("/logout", url.Values{}), http.StatusForbidden)

	noMeta := e.signedIn()
	noMeta.fetchSite = ""
	wantStatus(t, noMeta.post("/logout", url.Values{}), http.StatusForbidden)
	// MethodOverride is not enabled: _method=GET changes nothing.
	wantStatus(t, noMeta.post("/logout?_method=GET", url.Values{"_method": {"GET"}}), http.StatusForbidden)
	wantStatus(t, noMeta.do(http.MethodPost, "/logout", url.Values{}, http.Header{"X-Csrf-Token": {"forged"}}), http.StatusForbidden)

	// Still signed in: the refusals changed nothing.
	wantStatus(t, noMeta.get("/"), http.StatusOK)
	token := noMeta.cookie("postern_csrf")
	if token == nil {
		t.Fatal("no CSRF cookie after a GET without Fetch Metadata")
	}
	wantRedirect(t, noMeta.do(http.MethodPost, "/logout", url.Values{}, http.Header{"X-Csrf-Token": {token.Value}}), "/login?notice=signed-out")

	// A token in the URL is refused even when it is right.
	query := e.signedIn()
	query.fetchSite = ""
	query.get("/")
	wantStatus(t, query.post("/logout?_csrf="+query.cookie("postern_csrf").Value, url.Values{}), http.StatusForbidden)

	form := e.signedIn()
	form.fetchSite = ""
	form.get("/")
	wantRedirect(t, form.post("/logout", url.Values{"_csrf": {form.cookie("postern_csrf").Value}}), "/login?notice=signed-out")

	denied := "denied"
	entries := e.audited(audit.Filter{Outcome: &denied})
	if len(entries) < 5 {
		t.Fatalf("CSRF refusals audited: %d, want 5", len(entries))
	}
	for _, en := range entries {
		if en.Action != "security.csrf_rejected" {
			t.Errorf("unexpected denied action %q", en.Action)
		}
	}
}

func TestCSRFCookieAttributes(t *testing.T) {
	e := newEnv(t)
	c := e.client()
	c.fetchSite = ""
	res := c.get("/setup")
	raw := strings.Join(res.Header.Values("Set-Cookie"), "\n")
	for _, want := range []string{"postern_csrf=", "HttpOnly", "SameSite=Strict", "Path=/"} {
		if !strings.Contains(raw, want) {
			t.Errorf("CSRF cookie %q lacks %s", raw, want)
		}
	}
}

func TestSessionCookieAttributes(t *testing.T) {
	e := newAdminEnv(t)
	res := e.client().post("/login", url.Values{"email": {testEmail}, "password": {testPassword}})
	raw := strings.Join(res.Header.Values("Set-Cookie"), "\n")
	for _, want := range []string{sessionCookie + "=", "HttpOnly", "SameSite=Lax", "Path=/"} {
		if !strings.Contains(raw, want) {
			t.Errorf("session cookie %q lacks %s", raw, want)
		}
	}
	if strings.Contains(raw, "Secure") {
		t.Errorf("session cookie is Secure over plain HTTP: %s", raw)
	}
}

// Behind a trusted TLS proxy the cookies become __Host- and Secure.
func TestSecureModeBehindTrustedProxy(t *testing.T) {
	e := newEnv(t, netip.MustParsePrefix("127.0.0.0/8"))
	e.setup()
	c := e.client()
	res := c.do(http.MethodPost, "/login", url.Values{"email": {testEmail}, "password": {testPassword}},
		http.Header{"X-Forwarded-Proto": {"https"}})
	wantRedirect(t, res, "/")
	raw := strings.Join(res.Header.Values("Set-Cookie"), "\n")
	for _, want := range []string{"__Host-postern_session=", "Secure", "HttpOnly", "Path=/"} {
		if !strings.Contains(raw, want) {
			t.Errorf("secure session cookie %q lacks %s", raw, want)
		}
	}
	if !strings.Contains(res.Header.Get("Strict-Transport-Security"), "max-age=31536000") {
		t.Errorf("no HSTS over HTTPS: %q", res.Header.Get("Strict-Transport-Security"))
	}
}

func TestLoginRateLimit(t *testing.T) {
	e := newAdminEnv(t)
	c := e.client()
	for range 10 {
		res := c.post("/login", url.Values{"email": {testEmail}, "password": {"wrong-password-123"}})
		wantStatus(t, res, http.StatusUnauthorized)
	}
	// The 11th attempt is refused even with the right password.
	res := c.post("/login", url.Values{"email": {testEmail}, "password": {testPassword}})
	wantStatus(t, res, http.StatusTooManyRequests)
	if !strings.Contains(res.body, "Too many failed sign-ins") || res.Header.Get("Retry-After") == "" {
		t.Fatalf("rate-limited answer lacks its message or Retry-After: %q", res.Header.Get("Retry-After"))
	}
	e.clock.Advance(16 * time.Minute)
	wantRedirect(t, c.post("/login", url.Values{"email": {testEmail}, "password": {testPassword}}), "/")

	limited := "auth.rate_limited"
	if entries := e.auditedAs(limited); len(entries) != 1 {
		t.Fatalf("rate-limit refusals audited: %d, want 1", len(entries))
	}
}

// Without trusted proxies, X-Forwarded-For is ignored: rotating it does not
// give an attacker a fresh per-address budget.
func TestSpoofedForwardedForDoesNotResetAddressLimit(t *testing.T) {
	e := newAdminEnv(t)
	c := e.client()
	for i := range 10 {
		res := c.do(http.MethodPost, "/login",
			url.Values{"email": {"victim" + string(rune('a'+i)) + "@example.com"}, "password": {"guess-guess-guess"}},
			http.Header{"X-Forwarded-For": {"203.0.113." + string(rune('1'+i))}})
		wantStatus(t, res, http.StatusUnauthorized)
	}
	res := c.do(http.MethodPost, "/login", url.Values{"email": {testEmail}, "password": {testPassword}},
		http.Header{"X-Forwarded-For": {"198.51.100.7"}})
	wantStatus(t, res, http.StatusTooManyRequests)
}

// A trusted proxy's X-Forwarded-For is believed: each client gets its own
// budget and the audit log records the real client address.
func TestTrustedProxyForwardedFor(t *testing.T) {
	e := newEnv(t, netip.MustParsePrefix("127.0.0.1/32"))
	e.setup()
	c := e.client()
	for i := range 10 {
		c.do(http.MethodPost, "/login", url.Values{"email": {"x" + string(rune('a'+i)) + "@example.com"}, "password": {"guess-guess-guess"}},
			http.Header{"X-Forwarded-For": {"203.0.113.9"}})
	}
	res := c.do(http.MethodPost, "/login", url.Values{"email": {testEmail}, "password": {testPassword}},
		http.Header{"X-Forwarded-For": {"198.51.100.7"}})
	wantRedirect(t, res, "/")
	action := "auth.login"
	entries := e.auditedAs(action)
	if len(entries) == 0 || entries[0].SourceIP != "198.51.100.7" {
		t.Fatalf("newest auth.login entry source IP = %+v, want 198.51.100.7", entries[:1])
	}
}

// Parallel wrong guesses cannot all slip under the limit while their
// passwords are being checked.
func TestLoginRateLimitHoldsUnderConcurrency(t *testing.T) {
	e := newAdminEnv(t)
	const n = 30
	codes := make(chan int, n)
	for i := range n {
		go func() {
			c := e.client()
			res := c.post("/login", url.Values{"email": {testEmail}, "password": {"wrong-guess-" + string(rune('a'+i))}})
			codes <- res.StatusCode
		}()
	}
	got := map[int]int{}
	for range n {
		got[<-codes]++
	}
	if got[http.StatusUnauthorized] > 10 || got[http.StatusTooManyRequests] < n-10 {
		t.Fatalf("status counts %v: more than 10 guesses were checked", got)
	}
}

// The limiter's count lives in the database; when it cannot be kept (here
// its table is gone), sign-in fails closed with a clear message, the right
// password included, and nothing secret reaches the page or the log.
func TestLoginFailsClosedWithoutTheLimiter(t *testing.T) {
	e := newAdminEnv(t)
	c := e.client()
	raw, err := sql.Open("sqlite", store.DSN(e.store.Path(), true))
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	if _, err := raw.Exec("DROP TABLE login_failures"); err != nil {
		t.Fatal(err)
	}
	res := c.post("/login", url.Values{"email": {testEmail}, "password": {testPassword}})
	wantStatus(t, res, http.StatusServiceUnavailable)
	if !strings.Contains(res.body, "Sign-in is unavailable: the database does not answer") {
		t.Errorf("refusal without the limiter lacks its message: %s", res.body)
	}
	if strings.Contains(res.body, testPassword) || strings.Contains(e.logs.String(), testPassword) {
		t.Error("the password reached the page or the log")
	}
	wantRedirect(t, c.get("/"), "/login")
}
