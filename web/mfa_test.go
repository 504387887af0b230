package web

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"postern/internal/actor"
	"postern/internal/audit"
)

// totpCode is what an authenticator app shows for sec at at.
func totpCode(t testing.TB, sec string, at time.Time) string {
	t.Helper()
	c, err := totp.GenerateCodeCustom(sec, at, totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// beginVia starts enrolment on the account page and reads the secret
// from it, as a person typing it into an app would.
func beginVia(t testing.TB, c *client) string {
	t.Helper()
	res := c.post("/account/mfa", url.Values{})
	if res.StatusCode != http.StatusOK {
		t.Fatalf("begin enrolment: status %d; body %.300s", res.StatusCode, res.body)
	}
	sec := strings.ReplaceAll(text(dom(t, res.body).Find(testID("mfa-secret"))), " ", "")
	if len(sec) != 32 {
		t.Fatalf("the enrolment page shows secret %q", sec)
	}
	return sec
}

// enrolVia enrols c's admin through the account page and returns the
// secret and the recovery codes; the clock then moves to the next step.
func enrolVia(t testing.TB, e *testEnv, c *client) (string, []string) {
	t.Helper()
	sec := beginVia(t, c)
	res := c.post("/account/mfa/confirm", url.Values{"code": {totpCode(t, sec, e.clock.Now())}})
	if res.StatusCode != http.StatusOK {
		t.Fatalf("confirm enrolment: status %d; body %.300s", res.StatusCode, res.body)
	}
	codes := texts(dom(t, res.body).Find(testID("recovery-codes") + " li"))
	if len(codes) != 10 {
		t.Fatalf("%d recovery codes shown, want 10", len(codes))
	}
	e.clock.Advance(30 * time.Second)
	return sec, codes
}

// enrolAs enrols a through the service, for tests about someone else.
func enrolAs(t testing.TB, e *testEnv, a actor.Actor) string {
	t.Helper()
	ctx := actor.NewContext(context.Background(), a)
	en, err := e.srv.mfa.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.srv.mfa.Confirm(ctx, totpCode(t, en.Secret.Reveal(), e.clock.Now())); err != nil {
		t.Fatal(err)
	}
	return en.Secret.Reveal()
}

// passwordOnly signs in with the password and stops at the code step.
func passwordOnly(t *testing.T, e *testEnv, email string) *client {
	t.Helper()
	c := e.client()
	wantRedirect(t, c.post("/login", url.Values{"email": {email}, "password": {testPassword}}), codeStepPath)
	return c
}

// A session that has only passed the password reaches nothing but the
// code step and its cancel: every console route, under every method it is
// registered for, sends it to sign in, and nothing is audited as done.
func TestHalfSignedInReachesNothing(t *testing.T) {
	e := newAdminEnv(t)
	owner := e.signedIn()
	sec, _ := enrolVia(t, e, owner)
	c := passwordOnly(t, e, testEmail)
	if c.cookie(e.srv.sessionCookieName(&http.Request{})) == nil {
		t.Fatal("the password step set no session cookie")
	}
	before := lastAuditID(e.store)
	for _, r := range e.srv.Routes() {
		if !consoleRoute(r.Method, r.Path) || publicPaths[r.Path] {
			continue
		}
		path := strings.NewReplacer(":id", "1", ":eid", "1", ":sid", "0123456789abcdef", ":oid", "1").Replace(r.Path)
		res := c.do(r.Method, path, url.Values{}, nil)
		if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/login" {
			t.Errorf("%s %s half signed in: status %d location %q, want 303 to /login", r.Method, path, res.StatusCode, res.Header.Get("Location"))
		}
		hx := c.do(r.Method, path, url.Values{}, http.Header{"Hx-Request": {"true"}})
		if hx.StatusCode != http.StatusUnauthorized {
			t.Errorf("%s %s half signed in, htmx: status %d, want 401", r.Method, path, hx.StatusCode)
		}
	}
	if rows := e.audited(audit.Filter{}); rows[0].ID != before {
		t.Errorf("walking the console half signed in wrote audit rows: %+v", rows[0])
	}
	// /login sends it back to the code step; the code step answers.
	wantRedirect(t, c.get("/login"), codeStepPath)
	wantStatus(t, c.get(codeStepPath), http.StatusOK)
	// Cancel ends it: the code step then sends it to sign in.
	wantRedirect(t, c.post(codeCancelPath, url.Values{}), "/login")
	wantRedirect(t, c.get(codeStepPath), "/login")
	wantRedirect(t, c.post(codeStepPath, url.Values{"code": {totpCode(t, sec, e.clock.Now())}}), "/login")
	wantRedirect(t, c.get("/"), "/login")
}

// The code step signs in with a current code on a fresh session id, once
// per code; a recovery code works once; the step expires.
func TestCodeStepSignsIn(t *testing.T) {
	e := newAdminEnv(t)
	owner := e.signedIn()
	sec, codes := enrolVia(t, e, owner)

	c := passwordOnly(t, e, testEmail)
	pending := c.cookie("postern_session").Value
	code := totpCode(t, sec, e.clock.Now())
	res := c.post(codeStepPath, url.Values{"code": {code}})
	wantRedirect(t, res, "/")
	if c.cookie("postern_session").Value == pending {
		t.Error("the session id did not change at the code step")
	}
	wantStatus(t, c.get("/"), http.StatusOK)
	if rows := e.auditedAs(audit.Login); rows[0].Outcome != audit.Success || rows[0].Actor != testEmail || rows[0].Detail != "password and two-factor code" {
		t.Fatalf("sign-in audit = %+v", rows[0])
	}

	// The same code on another sign-in is refused: it was used.
	other := passwordOnly(t, e, testEmail)
	res = other.post(codeStepPath, url.Values{"code": {code}})
	wantStatus(t, res, http.StatusUnauthorized)
	if !strings.Contains(res.body, codeFailed) {
		t.Errorf("a replayed code's answer lacks the message: %.300s", res.body)
	}
	wantRedirect(t, other.get("/"), "/login")
	if rows := e.auditedAs(audit.LoginCode); len(rows) != 1 || rows[0].Outcome != audit.Failure {
		t.Fatalf("refused code audit = %+v", rows)
	}

	// A recovery code works once.
	wantRedirect(t, other.post(codeStepPath, url.Values{"code": {codes[0]}}), "/")
	wantStatus(t, other.get("/"), http.StatusOK)
	again := passwordOnly(t, e, testEmail)
	wantStatus(t, again.post(codeStepPath, url.Values{"code": {codes[0]}}), http.StatusUnauthorized)

	// The step lasts five minutes.
	e.clock.Advance(codeStepTimeout + time.Second)
	wantRedirect(t, again.post(codeStepPath, url.Values{"code": {totpCode(t, sec, e.clock.Now())}}), "/login?notice=code-expired")
	wantRedirect(t, again.get("/"), "/login")
}

// The code step is limited like passwords, per admin and per address, and
// a correct password does not buy fresh guesses; each refusal is audited.
func TestCodeStepIsAuditedAndRateLimited(t *testing.T) {
	e := newAdminEnv(t)
	sec, _ := enrolVia(t, e, e.signedIn())
	c := passwordOnly(t, e, testEmail)
	for i := 0; i < loginMaxFailures; i++ {
		if i == 5 { // the password again, in between
			c = passwordOnly(t, e, testEmail)
		}
		wantStatus(t, c.post(codeStepPath, url.Values{"code": {"000000"}}), http.StatusUnauthorized)
	}
	// The right code now is refused too (and the address may not try a
	// password either).
	res := c.post(codeStepPath, url.Values{"code": {totpCode(t, sec, e.clock.Now())}})
	wantStatus(t, res, http.StatusTooManyRequests)
	wantStatus(t, e.client().post("/login", url.Values{"email": {testEmail}, "password": {testPassword}}), http.StatusTooManyRequests)
	if res.Header.Get("Retry-After") == "" {
		t.Error("no Retry-After")
	}
	if rows := e.auditedAs(audit.LoginRateLimited); len(rows) != 2 || rows[1].Target != testEmail || rows[1].Detail != "too many failed two-factor codes" {
		t.Fatalf("rate-limit audit = %+v", rows)
	}
	if rows := e.auditedAs(audit.LoginCode); len(rows) != loginMaxFailures {
		t.Fatalf("%d refused codes audited, want %d", len(rows), loginMaxFailures)
	}
	e.clock.Advance(loginWindow)
	c = passwordOnly(t, e, testEmail)
	wantRedirect(t, c.post(codeStepPath, url.Values{"code": {totpCode(t, sec, e.clock.Now())}}), "/")
}

// The secret is on the page only during enrolment: afterwards neither the
// account page nor the logs hold it, and the stored value is sealed.
func TestMFASecretNotShownAfterEnrolment(t *testing.T) {
	e := newAdminEnv(t)
	c := e.signedIn()
	sec, codes := enrolVia(t, e, c)
	res := c.get("/account")
	wantStatus(t, res, http.StatusOK)
	for _, leak := range []string{sec, codes[0]} {
		if strings.Contains(res.body, leak) {
			t.Errorf("the account page holds %q after enrolment", leak)
		}
		if strings.Contains(e.logs.String(), leak) {
			t.Errorf("the log holds %q", leak)
		}
	}
	if got := text(dom(t, res.body).Find(testID("recovery-left"))); got != "10 of 10 recovery codes left." {
		t.Errorf("recovery-left = %q", got)
	}
	st, _ := e.store.AdminMFA(context.Background(), adminIDByEmail(t, e, testEmail))
	if !strings.HasPrefix(st.Sealed, "pst:v1:") || strings.Contains(st.Sealed, sec) {
		t.Errorf("stored secret %q", st.Sealed)
	}
}

// When an Owner requires two-factor, an admin without it can reach only
// their account page (and enrolment, and sign-out) until enrolled.
func TestRequiredMFASendsToEnrolment(t *testing.T) {
	e := newAdminEnv(t)
	owner := e.signedIn()
	wantRedirect(t, owner.post(requireMFAPath, url.Values{"require": {"on"}}), adminsPath) // refused: the Owner has none
	if on, _ := e.srv.mfa.Required(context.Background()); on {
		t.Fatal("required without the Owner's own two-factor")
	}
	sec, _ := enrolVia(t, e, owner)
	e.totp = sec
	wantRedirect(t, owner.post(requireMFAPath, url.Values{"require": {"on"}}), adminsPath)
	if rows := e.auditedAs(audit.MFARequired); len(rows) != 2 || rows[0].Outcome != audit.Success || rows[1].Outcome != audit.Failure {
		t.Fatalf("requirement audit = %+v", rows)
	}

	ed := e.addAdmin("editor@example.com", actor.Editor)
	for _, path := range []string{"/", "/devices", "/settings/admins", "/audit"} {
		wantRedirect(t, ed.get(path), "/account")
	}
	wantStatus(t, ed.post("/settings/webhooks", url.Values{"url": {"https://hooks.example.com/x"}}), http.StatusSeeOther)
	if hooks, _ := e.store.WebhookEndpoints(context.Background()); len(hooks) != 0 {
		t.Fatal("an admin without two-factor made a webhook while it is required")
	}
	res := ed.get("/account")
	wantStatus(t, res, http.StatusOK)
	if !strings.Contains(res.body, "Two-factor authentication is required") {
		t.Error("the account page does not say it is required")
	}
	enrolVia(t, e, ed)
	wantStatus(t, ed.get("/devices"), http.StatusOK)

	// An Owner resets the Editor's: they are sent to enrol again.
	edID := adminIDByEmail(t, e, "editor@example.com")
	wantRedirect(t, owner.post(adminsPath+"/"+itoa(edID)+"/mfa/reset", url.Values{}), adminsPath)
	wantRedirect(t, ed.get("/devices"), "/account")
	if rows := e.auditedAs(audit.MFAReset); len(rows) != 1 || rows[0].Target != "editor@example.com" || rows[0].Actor != testEmail {
		t.Fatalf("reset audit = %+v", rows)
	}
	// The Editor cannot reset anyone's.
	wantStatus(t, ed.post(adminsPath+"/"+itoa(adminIDByEmail(t, e, testEmail))+"/mfa/reset", url.Values{}), http.StatusForbidden)
}
