package web

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"postern/internal/audit"
	"postern/internal/auth"
	"postern/internal/emulator"
)

// With two-factor required of every local account, an admin who signs in
// with Microsoft is not held for a Postern code, whatever the id token says
// of how they signed in (no amr, as in Entra's v2.0 tokens, or amr without
// mfa): their second factor is Entra ID's, enforced by Conditional Access.
// The same account signing in with a password (break-glass) is held until
// it sets up two-factor: the exemption belongs to the sign-in, not to the
// account.
func TestSSOAdminsAndRequiredTwoFactor(t *testing.T) {
	e, idp, owner := newSSOEnv(t, true)
	sec, _ := enrolVia(t, e, owner)
	e.totp = sec
	wantRedirect(t, owner.post(requireMFAPath, url.Values{"require": {"on"}}), adminsPath)
	if list := owner.get(adminsPath); !strings.Contains(text(dom(t, list.body).Find(testID("sso-mfa-note"))), "Conditional Access") {
		t.Error("Settings → Admins does not say where SSO admins' two-factor is enforced")
	}
	if page := owner.get("/settings/sign-in"); !strings.Contains(text(dom(t, page.body).Find(testID("sso-mfa-note"))), "enforced in Entra ID, not by Postern") {
		t.Error("Settings → Sign-in does not say where SSO admins' two-factor is enforced")
	}

	for _, amr := range [][]string{nil, {"pwd"}, {"pwd", "mfa"}} {
		idp.SetUser(emulator.SignInUser{OID: ssoOID, Email: "grace@example.com", Roles: []string{"Postern.Editor"}, AMR: amr})
		c := e.client()
		wantRedirect(t, c.get(microsoft(t, c)), "/")
		wantStatus(t, c.get("/devices"), http.StatusOK)
		acct := c.get("/account")
		if !strings.Contains(acct.body, "You signed in with Microsoft") || strings.Contains(acct.body, "Two-factor authentication is required") {
			t.Fatalf("amr %v: the account page holds an SSO admin to Postern's two-factor", amr)
		}
		login := e.auditedAs(audit.Login)[0]
		if want := strings.Join(amr, ","); login.Outcome != audit.Success || (want != "" && !strings.Contains(login.Detail, "amr "+want)) {
			t.Fatalf("amr %v: sign-in audited as %+v", amr, login)
		}
	}

	// Break-glass: the SSO admin gets a password and signs in with it.
	grace, err := e.store.AdminByEmail(context.Background(), "grace@example.com")
	if err != nil {
		t.Fatal(err)
	}
	hash, err := auth.HashPassword(testPassword)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.store.SetPassword(context.Background(), grace.ID, hash); err != nil {
		t.Fatal(err)
	}
	pw := e.client()
	wantRedirect(t, pw.post("/login", url.Values{"email": {"grace@example.com"}, "password": {testPassword}}), "/")
	wantRedirect(t, pw.get("/devices"), "/account")
	if acct := pw.get("/account"); !strings.Contains(acct.body, "Two-factor authentication is required") {
		t.Fatal("a password session of an SSO admin is not asked to set up two-factor")
	}
	enrolVia(t, e, pw)
	wantStatus(t, pw.get("/devices"), http.StatusOK)
}

// Through the console: a user in too many groups for the token, in the
// group mapped to Editor, signs in as an Editor (Microsoft Graph asked);
// Graph's 403 shows a page naming the permission to grant (403), a long
// throttle one saying when to try again (503); neither creates an admin.
func TestSignInGroupsOverageThroughGraph(t *testing.T) {
	const group = "5f1c2d3e-4a5b-4c6d-8e7f-9a0b1c2d3e4f"
	e, idp, owner := newSSOEnv(t, true)
	form := url.Values{"tenant_id": {ssoTenant}, "client_id": {ssoClientID}, "cloud": {"commercial"},
		"app_roles_owner": {"Postern.Owner"}, "groups_editor": {group}, "auto_provision": {"on"}, "version": {"1"}}
	wantRedirect(t, owner.post("/settings/sign-in", form), "/settings/sign-in")
	if page := owner.get("/settings/sign-in"); !strings.Contains(page.body, "delegated Microsoft Graph permission <code class=\"font-mono\">User.Read</code>") {
		t.Error("Settings → Sign-in does not name the Graph permission for groups")
	}

	idp.SetUser(emulator.SignInUser{OID: "9e8d7c6b-5a4f-4e3d-8c2b-1a0f9e8d7c6b", Email: "ivan@example.com", GroupsOverage: true})
	idp.SetGraphFaults(emulator.GraphFaults{Forbidden: true})
	c := e.client()
	res := c.get(microsoft(t, c))
	if res.StatusCode != http.StatusForbidden || !strings.Contains(res.body, "delegated Microsoft Graph permission User.Read") {
		t.Fatalf("Graph 403: %d %.400s", res.StatusCode, res.body)
	}
	idp.SetGraphFaults(emulator.GraphFaults{Throttle: 1, RetryAfter: time.Minute})
	c = e.client()
	if res := c.get(microsoft(t, c)); res.StatusCode != http.StatusServiceUnavailable || !strings.Contains(res.body, "Try again in 60 seconds") {
		t.Fatalf("Graph 429: %d %.400s", res.StatusCode, res.body)
	}
	if _, err := e.store.AdminByEmail(context.Background(), "ivan@example.com"); err == nil {
		t.Fatal("a refused sign-in created an admin")
	}

	idp.SetGraphFaults(emulator.GraphFaults{})
	idp.SetUser(emulator.SignInUser{OID: "9e8d7c6b-5a4f-4e3d-8c2b-1a0f9e8d7c6b", Email: "ivan@example.com", GroupsOverage: true, Groups: []string{group}})
	c = e.client()
	wantRedirect(t, c.get(microsoft(t, c)), "/")
	if dash := c.get("/"); dash.StatusCode != http.StatusOK || !strings.Contains(dash.body, "(Editor)") {
		t.Fatalf("dashboard: %d, want ivan as an Editor", dash.StatusCode)
	}
}
