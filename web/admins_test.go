package web

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"postern/internal/actor"
	"postern/internal/audit"
)

// An Owner creates an Auditor through the form: the initial password is
// shown once and works; the Auditor sees the list without any change
// control, and the Owner's changes are audited with the Owner's role.
func TestAdminsPage(t *testing.T) {
	e := newAdminEnv(t)
	owner := e.signedIn()
	res := owner.post(adminsPath, url.Values{"email": {"aud@example.com"}, "role": {"auditor"}})
	wantStatus(t, res, http.StatusOK)
	pw := strings.TrimSpace(parse(t, res).Find(`[data-testid="initial-password"]`).Text())
	if len(pw) < 20 {
		t.Fatalf("initial password %q not shown", pw)
	}
	if again := owner.get(adminsPath); strings.Contains(again.body, pw) {
		t.Fatal("the initial password is shown a second time")
	}
	if rows := e.auditedAs(audit.AdminCreated); len(rows) == 0 || rows[0].Target != "aud@example.com" || rows[0].ActorRole != actor.Owner || strings.Contains(rows[0].Detail, pw) {
		t.Fatalf("created rows = %+v", rows)
	}
	bad := owner.post(adminsPath, url.Values{"email": {"aud@example.com"}, "role": {"auditor"}})
	wantStatus(t, bad, http.StatusUnprocessableEntity)
	if !strings.Contains(bad.body, "already exists") {
		t.Error("a used email is not refused in words")
	}
	if res := owner.post(adminsPath, url.Values{"email": {"x@example.com"}, "role": {"root"}}); res.StatusCode != http.StatusUnprocessableEntity {
		t.Errorf("unknown role: status %d, want 422", res.StatusCode)
	}

	aud := e.client()
	wantRedirect(t, aud.post("/login", url.Values{"email": {"aud@example.com"}, "password": {pw}}), "/")
	page := aud.get(adminsPath)
	wantStatus(t, page, http.StatusOK)
	doc := parse(t, page)
	if n := doc.Find(`form[method="post"]`).Length(); n != 1 { // Sign out only
		t.Errorf("the Auditor's Admins page has %d forms, want only Sign out", n)
	}
	if doc.Find(`[data-testid="admin-row"]`).Length() != 2 {
		t.Error("the Auditor does not see both admins")
	}
	if got := doc.Find(`[data-testid="admin-role"]`).Text(); got != "(Auditor)" {
		t.Errorf("top bar role = %q", got)
	}
	// The nav hides nothing the Auditor may open, and Sessions is absent.
	if strings.Contains(page.body, "/sessions") {
		t.Error("the Auditor is offered an admin's sessions")
	}

	id := adminIDByEmail(t, e, "aud@example.com")
	ids := strconv.FormatInt(id, 10)
	wantRedirect(t, owner.post(adminsPath+"/"+ids+"/role", url.Values{"role": {"editor"}}), adminsPath)
	if a, _ := e.store.Admin(context.Background(), id); a.Role != actor.Editor {
		t.Fatalf("role = %q after the change", a.Role)
	}
	if rows := e.auditedAs(audit.AdminRoleChanged); len(rows) != 1 || rows[0].Detail != "role editor" || rows[0].Actor != testEmail {
		t.Fatalf("role rows = %+v", rows)
	}
	// Disabling ends the admin's sessions at once.
	wantRedirect(t, owner.post(adminsPath+"/"+ids+"/disable", url.Values{}), adminsPath)
	wantRedirect(t, aud.get("/"), "/login")
	if res := e.client().post("/login", url.Values{"email": {"aud@example.com"}, "password": {pw}}); res.StatusCode != http.StatusUnauthorized {
		t.Fatalf("a disabled admin signs in: status %d", res.StatusCode)
	}
	wantRedirect(t, owner.post(adminsPath+"/"+ids+"/enable", url.Values{}), adminsPath)
	wantRedirect(t, e.client().post("/login", url.Values{"email": {"aud@example.com"}, "password": {pw}}), "/")
	wantRedirect(t, owner.post(adminsPath+"/"+ids+"/delete", url.Values{}), adminsPath)
	if _, err := e.store.Admin(context.Background(), id); err == nil {
		t.Fatal("the admin is still there after Delete")
	}
	for _, a := range []string{audit.AdminDisabled, audit.AdminEnabled, audit.AdminDeleted} {
		if rows := e.auditedAs(a); len(rows) != 1 || rows[0].Outcome != audit.Success || rows[0].ActorRole != actor.Owner {
			t.Errorf("%s rows = %+v", a, rows)
		}
	}
}

// The last enabled Owner cannot be demoted, disabled or deleted (nor an
// Owner their own account), and nothing changes.
func TestLastOwnerIsKept(t *testing.T) {
	e := newAdminEnv(t)
	owner := e.signedIn()
	self := strconv.FormatInt(adminIDByEmail(t, e, testEmail), 10)
	e.addAdmin("second@example.com", actor.Owner)
	second := strconv.FormatInt(adminIDByEmail(t, e, "second@example.com"), 10)
	// Demote the other Owner: allowed; now the signed-in Owner is the last.
	wantRedirect(t, owner.post(adminsPath+"/"+second+"/role", url.Values{"role": {"auditor"}}), adminsPath)
	for _, action := range []string{"disable", "delete"} {
		wantRedirect(t, owner.post(adminsPath+"/"+self+"/"+action, url.Values{}), adminsPath)
	}
	so := e.signIn("second@example.com")
	wantStatus(t, so.post(adminsPath+"/"+self+"/role", url.Values{"role": {"editor"}}), http.StatusForbidden)
	a, err := e.store.Admin(context.Background(), adminIDByEmail(t, e, testEmail))
	if err != nil || a.Role != actor.Owner || !a.Enabled() {
		t.Fatalf("the last Owner = %+v, %v; want an enabled owner", a, err)
	}
	// Promote the second back and demote self through the service: the
	// last-Owner rule itself, not the self rule, refuses once alone.
	wantRedirect(t, owner.post(adminsPath+"/"+second+"/disable", url.Values{}), adminsPath)
	wantRedirect(t, owner.post(adminsPath+"/"+second+"/role", url.Values{"role": {"owner"}}), adminsPath)
	ctx := actor.NewContext(context.Background(), actor.Actor{ID: 999, Email: "other-owner@example.com", Role: actor.Owner})
	if _, err := e.srv.admins.SetRole(ctx, a.ID, actor.Editor); err == nil || !strings.Contains(err.Error(), "last enabled Owner") {
		t.Fatalf("demoting the last enabled Owner: %v", err)
	}
	if rows := e.auditedAs(audit.AdminRoleChanged); len(rows) == 0 || rows[0].Outcome != audit.Failure {
		t.Fatalf("the refusal is not audited: %+v", rows)
	}
}

// An Owner sees another admin's sessions and ends one or all; a session
// of another admin named under this admin's URL is refused and ends
// nothing.
func TestAdminSessions(t *testing.T) {
	e := newAdminEnv(t)
	owner := e.signedIn()
	ed1 := e.addAdmin("ed@example.com", actor.Editor)
	ed2 := e.signIn("ed@example.com")
	other := e.addAdmin("other@example.com", actor.Editor)
	edID := strconv.FormatInt(adminIDByEmail(t, e, "ed@example.com"), 10)
	otherID := strconv.FormatInt(adminIDByEmail(t, e, "other@example.com"), 10)

	page := owner.get(adminsPath + "/" + edID + "/sessions")
	wantStatus(t, page, http.StatusOK)
	refs := parse(t, page).Find(`[data-testid="session-row"] td.font-mono`)
	if refs.Length() != 2 {
		t.Fatalf("%d sessions listed, want 2", refs.Length())
	}
	otherRef := strings.TrimSpace(parse(t, owner.get(adminsPath+"/"+otherID+"/sessions")).Find(`[data-testid="session-row"] td.font-mono`).First().Text())
	// Another admin's session under this admin's URL: refused, nothing ends.
	if res := owner.post(adminsPath+"/"+edID+"/sessions/"+otherRef+"/end", url.Values{}); res.StatusCode != http.StatusNotFound {
		t.Fatalf("another admin's session: status %d, want 404", res.StatusCode)
	}
	wantStatus(t, other.get("/"), http.StatusOK)
	// End one: exactly one of the editor's two browsers is signed out.
	ref := strings.TrimSpace(refs.First().Text())
	wantRedirect(t, owner.post(adminsPath+"/"+edID+"/sessions/"+ref+"/end", url.Values{}), adminsPath+"/"+edID+"/sessions")
	alive := 0
	for _, c := range []*client{ed1, ed2} {
		if c.get("/").StatusCode == http.StatusOK {
			alive++
		}
	}
	if alive != 1 {
		t.Fatalf("%d of the editor's 2 sessions alive after ending one, want 1", alive)
	}
	wantRedirect(t, owner.post(adminsPath+"/"+edID+"/sessions/end", url.Values{}), adminsPath+"/"+edID+"/sessions")
	for _, c := range []*client{ed1, ed2} {
		wantRedirect(t, c.get("/"), "/login")
	}
	wantStatus(t, other.get("/"), http.StatusOK)
	if rows := e.auditedAs(audit.SessionsEnded); len(rows) != 3 || rows[2].Outcome != audit.Failure || rows[0].Detail != "all sessions" {
		t.Fatalf("sessions rows = %+v", rows)
	}
}

func adminIDByEmail(t *testing.T, e *testEnv, email string) int64 {
	t.Helper()
	a, err := e.store.AdminByEmail(context.Background(), email)
	if err != nil {
		t.Fatal(err)
	}
	return a.ID
}
