package e2e

import (
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
)

// The journeys follow docs/design.md#labels-are-a-contract: the visible labels, headings and button
// texts below are the contract with the pages.

const (
	adminEmail    = "admin@example.com"
	adminPassword = "correct-horse-battery-42"
	mainNav       = `nav[aria-label="Main"]`
	loginFailure  = "Incorrect email or password."
)

// mainNavLinks are the links of the left navigation, in order, and the pages
// they open; each page's h1 is the link text.
var mainNavLinks = []struct{ text, path string }{
	{"Device Posture Checks", "/zero-trust/posture-checks"},
	{"Devices", "/devices"},
	{"Integrations", "/settings/integrations"},
	{"API tokens", "/settings/api-tokens"},
	{"Audit log", "/audit"},
	{"Dashboard", "/"},
}

// checkA11y runs axe-core on the current page in a subtest, so that a
// missing axe-core skips only the subtest.
func checkA11y(t *testing.T, b *Browser, page string) {
	t.Helper()
	t.Run("a11y "+page, func(t *testing.T) { b.CheckA11y(t) })
}

// createFirstAdmin walks the first-run setup of a fresh server, from / to
// the dashboard (the new admin is signed in), then signs out so
// that the journeys start from the sign-in page.
func createFirstAdmin(t *testing.T, b *Browser) {
	t.Helper()
	b.Navigate("/")
	b.WaitPath("/setup")
	b.WaitHeading("Create the first admin account")
	checkA11y(t, b, "/setup")
	b.FillByLabel("Email", adminEmail)
	b.FillByLabel("Password", adminPassword)
	b.FillByLabel("Confirm password", adminPassword)
	b.ClickButton("Create account")
	b.WaitPath("/")
	b.WaitHeading("Dashboard")
	b.WaitFlash("Admin account created")
	b.ClickButton("Sign out")
	b.WaitPath("/login")
	b.WaitHeading("Sign in to Postern")
}

// signedInAdmin starts a fresh console with args, creates the first admin
// and signs in: the browser is on the Dashboard.
func signedInAdmin(t *testing.T, args ...string) (*Server, *Browser) {
	t.Helper()
	srv := StartServer(t, args...)
	b := NewBrowser(t, srv)
	createFirstAdmin(t, b)
	signIn(b, adminEmail, adminPassword)
	b.WaitHeading("Dashboard")
	return srv, b
}

// openManageDialog goes to Integrations, where Defender is not configured
// yet, and opens its Manage dialog.
func openManageDialog(b *Browser) {
	b.t.Helper()
	b.ClickLink("Integrations", mainNav)
	b.WaitHeading("Integrations")
	b.WaitText("Not configured")
	b.ClickButton("Manage")
	b.WaitText("Manage Microsoft Defender")
}

// signIn submits the sign-in form of the current page.
func signIn(b *Browser, email, password string) {
	b.t.Helper()
	b.FillByLabel("Email", email)
	b.FillByLabel("Password", password)
	b.ClickButton("Sign in")
}

func TestFirstRunJourney(t *testing.T) {
	srv := StartServer(t)
	b := NewBrowser(t, srv)

	createFirstAdmin(t, b)
	checkA11y(t, b, "/login")
	b.Screenshot("login")

	signIn(b, adminEmail, adminPassword)
	b.WaitPath("/")
	b.WaitHeading("Dashboard")

	for _, link := range mainNavLinks {
		b.ClickLink(link.text, mainNav)
		b.WaitPath(link.path)
		b.WaitHeading(link.text)
		if got := b.AriaCurrent(mainNav); !slices.Equal(got, []string{link.text}) {
			t.Errorf("on %s, the main navigation marks %q with aria-current=page, want [%q]", link.path, got, link.text)
		}
		checkA11y(t, b, link.path)
		if link.path == "/settings/integrations" {
			b.Screenshot("integrations")
		}
	}

	b.Navigate("/audit")
	b.WaitHeading("Audit log")
	b.WaitRow("admin.created")
	b.WaitRow("auth.login")
	b.Screenshot("audit")

	b.ClickButton("Sign out")
	b.WaitPath("/login")
	b.WaitHeading("Sign in to Postern")
	b.WaitFlash("signed out")

	b.Navigate("/devices")
	b.WaitPath("/login")

	// Setup is closed once an admin exists (docs/design.md#routes).
	client := &http.Client{
		Timeout:       5 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	resp, err := client.Get(srv.URL + "/setup")
	if err != nil {
		t.Fatalf("GET /setup: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET /setup after the first admin exists: status %s, want 404", resp.Status)
	}
}

// TestLoginFailureShowsOneMessage checks docs/security.md#item-20 as a person
// sees it: a wrong password and an unknown email give the same page.
func TestLoginFailureShowsOneMessage(t *testing.T) {
	srv := StartServer(t)
	b := NewBrowser(t, srv)
	createFirstAdmin(t, b)

	var pages []string
	for _, try := range []struct{ name, email, password string }{
		{"wrong password", adminEmail, "not-the-password-42"},
		{"unknown email", "nobody@example.com", adminPassword},
	} {
		b.Navigate("/login") // a fresh page, so the message cannot be the previous one
		b.WaitHeading("Sign in to Postern")
		if text := mainText(b); strings.Contains(text, loginFailure) {
			t.Fatalf("%s: the message %q is on the sign-in page before any attempt", try.name, loginFailure)
		}
		signIn(b, try.email, try.password)
		b.WaitText(loginFailure)
		if got := b.Path(); got != "/login" {
			t.Errorf("%s: path = %q after a failed sign-in, want /login", try.name, got)
		}
		pages = append(pages, mainText(b))
	}
	if pages[0] != pages[1] {
		t.Errorf("a wrong password and an unknown email show different pages:\nwrong password: %q\nunknown email:  %q", pages[0], pages[1])
	}
}

// mainText returns the visible text of <main> (or of the body), with
// whitespace collapsed.
func mainText(b *Browser) string {
	b.t.Helper()
	return Eval[string](b, `(document.querySelector("main") || document.body).innerText.replace(/\s+/g, " ").trim()`)
}
