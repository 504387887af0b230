package e2e

import (
	"strings"
	"testing"
)

// An Owner creates an Auditor on Settings → Admins; the Auditor signs in
// with the initial password shown once, sees the pages without their
// change controls, and a POST made from the page with its valid CSRF token
// answers 403 and changes nothing.
func TestAuditorJourney(t *testing.T) {
	_, b := signedInAdmin(t)
	b.ClickLink("Admins", mainNav)
	b.WaitPath("/settings/admins")
	b.WaitHeading("Admins")
	b.FillByLabel("Email", "auditor@example.com")
	b.FillByLabel("Role", "Auditor")
	b.ClickButton("Create admin")
	b.WaitText("Admin auditor@example.com created")
	password := strings.TrimSpace(Eval[string](b, `document.querySelector('[data-testid="initial-password"]').innerText`))
	if len(password) < 20 {
		t.Fatalf("initial password %q", password)
	}
	b.Screenshot("admins")
	checkA11y(t, b, "admins")
	b.ClickButton("Sign out")
	b.WaitPath("/login")

	signIn(b, "auditor@example.com", password)
	b.WaitHeading("Dashboard")
	if got := Eval[string](b, `document.querySelector('[data-testid="admin-role"]').innerText`); got != "(Auditor)" {
		t.Errorf("top bar role = %q, want (Auditor)", got)
	}
	for _, p := range []struct{ path, heading, absent string }{
		{"/zero-trust/posture-checks", "Device Posture Checks", "New posture check"},
		{"/settings/api-tokens", "API tokens", "Create token"},
		{"/settings/webhooks", "Webhooks", "Add endpoint"},
		{"/settings/admins", "Admins", "Create admin"},
	} {
		b.Navigate(p.path)
		b.WaitHeading(p.heading)
		posts := Eval[[]string](b, `[...document.querySelectorAll('form[method="post"]')].map(f => f.getAttribute('action'))`)
		if len(posts) != 1 || posts[0] != "/logout" {
			t.Errorf("the Auditor's %s has forms posting to %v, want only /logout", p.path, posts)
		}
		if Eval[bool](b, `document.body.innerText.includes(`+jsString(p.absent)+`)`) {
			t.Errorf("the Auditor's %s offers %q", p.path, p.absent)
		}
	}
	b.Screenshot("auditor-admins")
	// A direct POST with the page's valid CSRF token: 403, no token made.
	status := Await[int](b, `fetch('/settings/api-tokens', {method: 'POST', headers: {'Content-Type': 'application/x-www-form-urlencoded'},
		body: new URLSearchParams({_csrf: document.querySelector('input[name="_csrf"]').value, name: 'sneaky'})}).then(r => r.status)`)
	if status != 403 {
		t.Fatalf("the Auditor's POST /settings/api-tokens answered %d, want 403", status)
	}
	b.Navigate("/settings/api-tokens")
	b.WaitHeading("API tokens")
	if Eval[bool](b, `document.body.innerText.includes('sneaky')`) {
		t.Fatal("the refused POST created a token")
	}
	b.Navigate("/audit")
	b.WaitHeading("Audit log")
	b.WaitText("security.role_denied")
}
