package web

import (
	"net/http"
	"net/url"
	"testing"
)

// Sign-in returns to the page that was asked for, and only to a path of
// this site.
func TestSignInReturnsToTheAskedPage(t *testing.T) {
	e := newEnv(t)
	e.setup()
	creds := url.Values{"email": {testEmail}, "password": {testPassword}}

	c := e.client()
	wantRedirect(t, c.get("/devices?risk=High&sort=risk"), "/login")
	page := c.get("/login")
	wantStatus(t, page, http.StatusOK)
	if v, _ := parse(t, page).Find(`form[action="/login"] input[name="next"]`).Attr("value"); v != "/devices?risk=High&sort=risk" {
		t.Errorf("the sign-in form returns to %q", v)
	}
	wantRedirect(t, c.post("/login", creds), "/devices?risk=High&sort=risk")

	// The next parameter, from a link or the form, is followed too.
	form := url.Values{"email": {testEmail}, "password": {testPassword}, "next": {"/audit?outcome=failure"}}
	wantRedirect(t, e.client().post("/login", form), "/audit?outcome=failure")

	for _, evil := range []string{"https://evil.example/", "//evil.example", "/\\evil.example", "/\\/evil.example",
		"http:/evil.example", "javascript:alert(1)", "/%0d%0aSet-Cookie:x=1", "/devices\r\nX: y", "evil.example", "/login"} {
		form := url.Values{"email": {testEmail}, "password": {testPassword}, "next": {evil}}
		res := e.client().post("/login", form)
		if loc := res.Header.Get("Location"); res.StatusCode != http.StatusSeeOther || (loc != "/" && evil != "/%0d%0aSet-Cookie:x=1") {
			t.Errorf("next=%q: status %d, Location %q, want / on this site", evil, res.StatusCode, loc)
		}
		if p := returnPath(evil); p != "/" && evil != "/%0d%0aSet-Cookie:x=1" {
			t.Errorf("returnPath(%q) = %q", evil, p)
		}
	}
	// An escaped CR LF stays escaped: a path of this site, harmless.
	if p := returnPath("/%0d%0aSet-Cookie:x=1"); p != "/%0d%0aSet-Cookie:x=1" {
		t.Errorf("returnPath of an escaped path = %q", p)
	}
}

// After the first admin is created they are signed in.
func TestSetupSignsTheFirstAdminIn(t *testing.T) {
	e := newEnv(t)
	c := e.client()
	form := url.Values{"email": {testEmail}, "password": {testPassword}, "confirm": {testPassword}}
	wantRedirect(t, c.post("/setup", form), "/")
	home := c.get("/")
	wantStatus(t, home, http.StatusOK)
	doc := parse(t, home)
	if got := text(doc.Find("h1")); got != "Dashboard" {
		t.Fatalf("after setup / shows %q, want the dashboard", got)
	}
	if got := text(doc.Find("#flash-region")); got == "" {
		t.Error("no flash says the account was created")
	}
}
