package web

import (
	"context"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"postern/internal/actor"
	"postern/internal/audit"
	"postern/internal/emulator"
	"postern/internal/signin"
)

const (
	ssoTenant   = "4f6c2a1e-9b7d-4c3a-8e5f-1a2b3c4d5e6f"
	ssoClientID = "7d9e8f10-2a3b-4c5d-9e8f-0a1b2c3d4e5f"
	ssoSentinel = "S3ntinel~Secret.Never-Shown_9f8e7d6c5b4a"
	ssoOID      = "0b1c2d3e-4f5a-4b6c-8d7e-9f0a1b2c3d4e"
)

// newSSOEnv is a console whose Sign in with Microsoft talks to an Entra
// stand-in, configured by the first admin (an Owner) through Settings →
// Sign-in: Postern.Owner and Postern.Editor map to their roles,
// auto-provisioning as asked.
func newSSOEnv(t *testing.T, auto bool) (*testEnv, *emulator.SignIn, *client) {
	t.Helper()
	e := newAdminEnv(t)
	idp := emulator.NewSignIn(ssoTenant, ssoClientID, ssoSentinel)
	hs := httptest.NewServer(idp)
	t.Cleanup(hs.Close)
	e.srv.signin = signin.New(e.store, e.kr, e.srv.log, signin.Options{LoginURL: hs.URL, GraphURL: hs.URL})
	owner := e.signedIn()
	form := url.Values{"tenant_id": {ssoTenant}, "client_id": {ssoClientID}, "client_secret": {ssoSentinel},
		"cloud": {"commercial"}, "app_roles_owner": {"Postern.Owner"}, "app_roles_editor": {"Postern.Editor"}, "version": {"0"}}
	if auto {
		form.Set("auto_provision", "on")
	}
	if res := owner.post("/settings/sign-in", form); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("save sign-in settings: %d %s", res.StatusCode, res.body)
	}
	return e, idp, owner
}

// microsoft runs the browser's way through Sign in with Microsoft: the
// start, Microsoft's authorize endpoint, and the callback URL it returns
// to (which the caller then opens).
func microsoft(t *testing.T, c *client) string {
	t.Helper()
	res := c.get("/login/microsoft")
	if res.StatusCode != http.StatusFound {
		t.Fatalf("start: %d %s", res.StatusCode, res.body)
	}
	hc := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	idp, err := hc.Get(res.Header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	idp.Body.Close()
	back, err := url.Parse(idp.Header.Get("Location"))
	if err != nil || back.Path != "/login/microsoft/callback" {
		t.Fatalf("Microsoft returned to %q", idp.Header.Get("Location"))
	}
	return back.RequestURI()
}

// Sign in with Microsoft lands on the dashboard with the mapped role; the
// callback replayed is refused; the secret never reaches a page.
func TestSignInWithMicrosoft(t *testing.T) {
	e, idp, owner := newSSOEnv(t, true)
	page := owner.get("/settings/sign-in")
	if page.StatusCode != http.StatusOK || strings.Contains(page.body, ssoSentinel) || !strings.Contains(page.body, "A secret is set") ||
		!strings.Contains(page.body, e.http.URL+"/login/microsoft/callback") {
		t.Fatalf("settings page: %d, secret shown or redirect URI missing", page.StatusCode)
	}
	idp.SetUser(emulator.SignInUser{OID: ssoOID, Email: "grace@example.com", Roles: []string{"Postern.Editor"}})
	c := e.client()
	if login := c.get("/login"); !strings.Contains(login.body, "Sign in with Microsoft") {
		t.Fatal("the login page offers no Sign in with Microsoft")
	}
	callback := microsoft(t, c)
	res := c.get(callback)
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/" {
		t.Fatalf("callback: %d to %q: %s", res.StatusCode, res.Header.Get("Location"), res.body)
	}
	dash := c.get("/")
	if dash.StatusCode != http.StatusOK || !strings.Contains(dash.body, "grace@example.com") || !strings.Contains(dash.body, "Editor") {
		t.Fatalf("dashboard: %d, want grace as an Editor", dash.StatusCode)
	}
	if res := c.post("/settings/sign-in/local", url.Values{"enabled": {"false"}}); res.StatusCode != http.StatusForbidden {
		t.Fatalf("an Editor turned passwords off: %d", res.StatusCode)
	}
	replay := e.client()
	if res := replay.get(callback); res.StatusCode != http.StatusUnauthorized || !strings.Contains(res.body, "already used") {
		t.Fatalf("replayed callback: %d", res.StatusCode)
	}
	rows := e.audited(audit.Filter{})
	for _, r := range rows {
		if strings.Contains(r.Detail+r.Target, ssoSentinel) {
			t.Fatalf("the secret is in the audit log: %+v", r)
		}
	}
	if strings.Contains(e.logs.String(), ssoSentinel) {
		t.Fatal("the secret is in the log")
	}
}

// Passwords can be turned off only once an Owner has signed in with
// Microsoft; then the password form is gone and a password post is
// refused, audited.
func TestPasswordSignInTurnedOff(t *testing.T) {
	e, idp, owner := newSSOEnv(t, true)
	res := owner.post("/settings/sign-in/local", url.Values{"enabled": {"false"}})
	if res.StatusCode != http.StatusConflict || !strings.Contains(res.body, "must sign in with Microsoft first") {
		t.Fatalf("passwords off before an SSO Owner: %d", res.StatusCode)
	}
	idp.SetUser(emulator.SignInUser{OID: ssoOID, Email: "ada@example.com", Roles: []string{"Postern.Owner"}})
	sso := e.client()
	if res := sso.get(microsoft(t, sso)); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("SSO owner sign-in: %d %s", res.StatusCode, res.body)
	}
	if res := sso.post("/settings/sign-in/local", url.Values{"enabled": {"false"}}); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("passwords off: %d %s", res.StatusCode, res.body)
	}
	login := e.client().get("/login")
	if strings.Contains(login.body, `name="password"`) || !strings.Contains(login.body, "Sign in with Microsoft") {
		t.Fatal("the login page still offers the password form")
	}
	if res := e.client().post("/login", url.Values{"email": {testEmail}, "password": {testPassword}}); res.StatusCode != http.StatusForbidden {
		t.Fatalf("password sign-in while off: %d", res.StatusCode)
	}
	action := audit.LocalSignInChanged
	rows := e.audited(audit.Filter{Action: &action})
	if len(rows) == 0 || rows[0].Outcome != audit.Success || rows[0].Actor != "ada@example.com" || rows[0].ActorRole != actor.Owner {
		t.Fatalf("audit = %+v", rows)
	}
	if err := e.srv.signin.SetLocalSignIn(actorCtx(actor.Owner), true); err != nil {
		t.Fatal(err)
	}
	e.signedIn() // passwords work again
}

// An unknown user is refused (no auto-provisioning) with a plain message;
// once an Owner has created an admin for their object id on Settings →
// Admins, they sign in with the mapped role.
func TestSignInWithMicrosoftRefused(t *testing.T) {
	e, idp, owner := newSSOEnv(t, false)
	idp.SetUser(emulator.SignInUser{OID: ssoOID, Email: "eve@example.com", Roles: []string{"Postern.Owner"}})
	c := e.client()
	res := c.get(microsoft(t, c))
	if res.StatusCode != http.StatusForbidden || !strings.Contains(res.body, "There is no Postern admin for your Microsoft account") {
		t.Fatalf("unknown user: %d", res.StatusCode)
	}
	if dash := c.get("/"); dash.StatusCode != http.StatusSeeOther {
		t.Fatalf("a refused user reached the dashboard: %d", dash.StatusCode)
	}
	bad := owner.post("/settings/admins", url.Values{"email": {"eve@example.com"}, "role": {"auditor"}, "entra_object_id": {"not-a-guid"}})
	if bad.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(bad.body, "The Object ID is a GUID") {
		t.Fatalf("a bad object id: %d", bad.StatusCode)
	}
	add := owner.post("/settings/admins", url.Values{"email": {"eve@example.com"}, "role": {"auditor"}, "entra_object_id": {ssoOID}})
	if add.StatusCode != http.StatusSeeOther {
		t.Fatalf("create an admin for the object id: %d %s", add.StatusCode, add.body)
	}
	if list := owner.get("/settings/admins"); !strings.Contains(list.body, "Signs in with Microsoft") {
		t.Fatal("the admin list does not say eve signs in with Microsoft")
	}
	c = e.client()
	if res := c.get(microsoft(t, c)); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("eve's sign-in: %d %s", res.StatusCode, res.body)
	}
	if dash := c.get("/"); dash.StatusCode != http.StatusOK || !strings.Contains(dash.body, "(Owner)") {
		t.Fatalf("eve's dashboard: %d, want the mapped role Owner", dash.StatusCode)
	}
}

func actorCtx(role actor.Role) context.Context {
	return actor.NewContext(context.Background(), actor.Actor{ID: 1, Email: "owner@example.com", Role: role})
}

// A client secret Microsoft refuses: the callback names the AADSTS code in
// a plain message; neither that page nor the settings page, the log or the
// audit log holds the secret, in plain, base64 or URL-encoded form.
func TestSignInWrongClientSecret(t *testing.T) {
	e, idp, owner := newSSOEnv(t, true)
	const wrong = "Wr0ng~Sentinel.Secret_1a2b3c4d5e6f7a8b"
	form := url.Values{"tenant_id": {ssoTenant}, "client_id": {ssoClientID}, "client_secret": {wrong},
		"app_roles_owner": {"Postern.Owner"}, "version": {"1"}}
	if res := owner.post("/settings/sign-in", form); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("save: %d %s", res.StatusCode, res.body)
	}
	idp.SetUser(emulator.SignInUser{OID: ssoOID, Roles: []string{"Postern.Owner"}})
	c := e.client()
	res := c.get(microsoft(t, c))
	if res.StatusCode != http.StatusUnauthorized || !strings.Contains(res.body, "AADSTS7000215") {
		t.Fatalf("wrong secret: %d, want 401 naming AADSTS7000215", res.StatusCode)
	}
	outputs := []string{res.body, owner.get("/settings/sign-in").body, owner.get("/audit").body, e.logs.String()}
	for _, r := range e.audited(audit.Filter{}) {
		outputs = append(outputs, r.Target+" "+r.Detail)
	}
	for _, form := range []string{wrong, base64.StdEncoding.EncodeToString([]byte(wrong)), url.QueryEscape(wrong), ssoSentinel} {
		for i, out := range outputs {
			if strings.Contains(out, form) {
				t.Errorf("output %d holds the client secret (%q)", i, form)
			}
		}
	}
}
