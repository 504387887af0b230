package web

import (
	"context"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"
	"github.com/labstack/echo/v4"

	"postern/internal/actor"
	"postern/internal/audit"
	"postern/internal/auth"
)

// addAdmin creates an admin with role straight in the store and returns a
// client signed in as them through the real form.
func (e *testEnv) addAdmin(email string, role actor.Role) *client {
	e.t.Helper()
	hash, err := auth.HashPassword(testPassword)
	if err != nil {
		e.t.Fatal(err)
	}
	if _, err := e.store.CreateAdmin(context.Background(), email, hash, role, audit.As(actor.CommandLine, audit.AdminCreated, "")); err != nil {
		e.t.Fatalf("CreateAdmin %s: %v", email, err)
	}
	return e.signIn(email)
}

// signIn returns a client signed in as email (testPassword).
func (e *testEnv) signIn(email string) *client {
	e.t.Helper()
	c := e.client()
	res := c.post("/login", url.Values{"email": {email}, "password": {testPassword}})
	if res.StatusCode != http.StatusSeeOther {
		e.t.Fatalf("login %s: status %d, want 303", email, res.StatusCode)
	}
	return c
}

// consoleRoute reports whether a registered route belongs to the signed-in
// console (and so to routeRoles) rather than to the public pages or the
// token-authenticated API.
func consoleRoute(method, path string) bool {
	return !publicPaths[path] && method != "echo_route_not_found" && path != "/metrics" &&
		!strings.HasPrefix(path, "/api/") && path != "/setup" && path != "/login"
}

// Every registered console route is in routeRoles, and every entry of
// routeRoles is a registered route: the table and the router cannot drift.
func TestRouteTableNamesEveryRoute(t *testing.T) {
	e := newEnv(t)
	registered := map[string]bool{}
	for _, r := range e.srv.Routes() {
		if !consoleRoute(r.Method, r.Path) {
			continue
		}
		key := r.Method + " " + r.Path
		registered[key] = true
		if _, ok := routeRoles[key]; !ok {
			t.Errorf("route %s is not in routeRoles: it is refused to everyone", key)
		}
	}
	for key := range routeRoles {
		if !registered[key] {
			t.Errorf("routeRoles names %s, which is not a registered route", key)
		}
	}
}

// TestEveryRouteUnderEveryRole walks every registered console route as an
// Owner, an Editor, an Auditor and signed out, and holds the answers to
// routeRoles: an allowed route never answers 403, a refused one answers
// 403, writes one denied audit entry naming the role and nothing else
// (no change is audited, so nothing changed).
func TestEveryRouteUnderEveryRole(t *testing.T) {
	e := newAdminEnv(t)
	clients := map[actor.Role]*client{
		actor.Owner:   e.signedIn(),
		actor.Editor:  e.addAdmin("editor@example.com", actor.Editor),
		actor.Auditor: e.addAdmin("auditor@example.com", actor.Auditor),
	}
	routes := e.srv.Routes()
	// Sign-out last: it ends the session the walk needs.
	sort.SliceStable(routes, func(i, j int) bool { return routes[j].Path == "/logout" && routes[i].Path != "/logout" })
	for _, role := range []actor.Role{actor.Auditor, actor.Editor, actor.Owner} {
		c := clients[role]
		allowed, refused := 0, 0
		for _, r := range routes {
			if !consoleRoute(r.Method, r.Path) {
				continue
			}
			min := routeRoles[r.Method+" "+r.Path]
			path := strings.NewReplacer(":id", "1", ":eid", "1", ":oid", "1", "*", "x").Replace(r.Path)
			before := len(e.audited(audit.Filter{}))
			res := c.do(r.Method, path, url.Values{}, nil)
			if role.Allows(min) {
				allowed++
				if res.StatusCode == http.StatusForbidden {
					t.Errorf("%s %s %s: 403, but routeRoles allows %s", role, r.Method, r.Path, min)
				}
				continue
			}
			refused++
			if res.StatusCode != http.StatusForbidden {
				t.Errorf("%s %s %s: status %d, want 403 (routeRoles wants %s)", role, r.Method, r.Path, res.StatusCode, min)
				continue
			}
			after := e.audited(audit.Filter{})
			if len(after) != before+1 {
				t.Errorf("%s %s %s: %d audit entries written, want 1 (the refusal)", role, r.Method, r.Path, len(after)-before)
				continue
			}
			if got := after[0]; got.Action != audit.RoleDenied || got.Outcome != audit.Denied || got.ActorRole != role {
				t.Errorf("%s %s %s: audited %s/%s as %q, want %s/%s as %s", role, r.Method, r.Path, got.Action, got.Outcome, got.ActorRole, audit.RoleDenied, audit.Denied, role)
			}
		}
		t.Logf("%s: %d routes allowed, %d refused", role, allowed, refused)
		if role == actor.Owner && refused != 0 || role != actor.Owner && refused == 0 {
			t.Errorf("%s: %d routes refused", role, refused)
		}
	}
	// Signed out: every console route sends the browser to sign in.
	anon := e.client()
	for _, r := range routes {
		if !consoleRoute(r.Method, r.Path) {
			continue
		}
		path := strings.NewReplacer(":id", "1", ":eid", "1", ":oid", "1").Replace(r.Path)
		if res := anon.do(r.Method, path, url.Values{}, nil); res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/login" {
			t.Errorf("signed out %s %s: status %d, want 303 to /login", r.Method, r.Path, res.StatusCode)
		}
	}
}

// A route the table does not name is refused even to an Owner.
func TestRouteMissingFromTableIsRefused(t *testing.T) {
	e := newAdminEnv(t)
	e.srv.echo.GET("/unlisted", func(c echo.Context) error { return c.String(http.StatusOK, "reached") }, e.srv.loadSession, e.srv.requireAdmin, e.srv.requireRole)
	res := e.signedIn().get("/unlisted")
	wantStatus(t, res, http.StatusForbidden)
	if strings.Contains(res.body, "reached") {
		t.Fatal("the handler of an unlisted route ran")
	}
}

// An Editor posting to an Owner route gets 403 and a denied audit row, and
// the service refuses the same change on its own, audited too.
func TestEditorPostingToOwnerRoute(t *testing.T) {
	e := newAdminEnv(t)
	ed := e.addAdmin("editor@example.com", actor.Editor)
	res := ed.post("/settings/api-tokens", url.Values{"name": {"gateway"}, "source": {"headers"}})
	wantStatus(t, res, http.StatusForbidden)
	denied := e.auditedAs(audit.RoleDenied)
	if len(denied) != 1 || denied[0].Actor != "editor@example.com" || denied[0].ActorRole != actor.Editor || denied[0].Outcome != audit.Denied {
		t.Fatalf("denied rows = %+v, want one by the editor", denied)
	}
	if created := e.auditedAs(audit.APITokenCreated); len(created) != 0 {
		t.Fatalf("a token was created: %+v", created)
	}
	// The service itself: an Editor's context cannot create a token.
	ctx := actor.NewContext(context.Background(), actor.Actor{ID: 2, Email: "editor@example.com", Role: actor.Editor})
	if _, _, err := e.srv.tokens.Create(ctx, auth.TokenRequest{Name: "gateway", IdentitySource: "headers", Scopes: []string{"evaluate"}}); err == nil {
		t.Fatal("Tokens.Create allowed an Editor")
	}
	rows := e.auditedAs(audit.APITokenCreated)
	if len(rows) != 1 || rows[0].Outcome != audit.Denied || rows[0].ActorRole != actor.Editor {
		t.Fatalf("service refusal rows = %+v, want one denied by an Editor", rows)
	}
}

// The console hides what a role cannot do: an Auditor's pages carry no
// change control (only Sign out posts) and the nav has no entry the table
// refuses; an Editor's carry the Editor's and not the Owner's.
func TestPagesHideWhatTheRoleCannotDo(t *testing.T) {
	e := newAdminEnv(t)
	aud := e.addAdmin("aud@example.com", actor.Auditor)
	ed := e.addAdmin("ed@example.com", actor.Editor)
	owner := e.signedIn()
	for _, path := range []string{"/", "/zero-trust/posture-checks", "/zero-trust/exceptions", "/settings/api-tokens",
		"/settings/webhooks", adminsPath, "/settings/integrations", "/devices", "/audit"} {
		res := aud.get(path)
		wantStatus(t, res, http.StatusOK)
		doc := parse(t, res)
		doc.Find(`form[method="post"]`).Each(func(_ int, f *goquery.Selection) {
			if a, _ := f.Attr("action"); a != "/logout" {
				t.Errorf("Auditor's %s offers a form posting to %s", path, a)
			}
		})
		if doc.Find(`a[href="/zero-trust/posture-checks/new"]`).Length() > 0 {
			t.Errorf("Auditor's %s offers New posture check", path)
		}
		if doc.Find(`form[action="/settings/integrations/defender"]`).Length() > 0 {
			t.Errorf("Auditor's %s offers Manage", path)
		}
	}
	if res := ed.get("/settings/api-tokens"); parse(t, res).Find(`form[action="/settings/api-tokens"]`).Length() != 0 {
		t.Error("an Editor is offered Create token")
	}
	if res := ed.get("/settings/webhooks"); parse(t, res).Find(`form[action="/settings/webhooks"]`).Length() != 1 {
		t.Error("an Editor is not offered the webhook form")
	}
	if res := owner.get("/settings/api-tokens"); parse(t, res).Find(`form[action="/settings/api-tokens"]`).Length() != 1 {
		t.Error("an Owner is not offered Create token")
	}
}
