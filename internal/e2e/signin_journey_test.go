package e2e

import (
	"net/http/httptest"
	"strings"
	"testing"

	"postern/internal/emulator"
)

// An Owner configures Sign in with Microsoft in Settings → Sign-in against
// an Entra ID stand-in (the console's --defender-login-url points at it),
// signs out, and someone with the Postern.Editor app role signs in with
// Microsoft: created at first sign-in, on the dashboard as an Editor.
func TestSignInWithMicrosoftJourney(t *testing.T) {
	const (
		tenant   = "4f6c2a1e-9b7d-4c3a-8e5f-1a2b3c4d5e6f"
		clientID = "7d9e8f10-2a3b-4c5d-9e8f-0a1b2c3d4e5f"
		secret   = "S3ntinel~Journey.Secret_9f8e7d6c5b4a"
	)
	idp := emulator.NewSignIn(tenant, clientID, secret)
	hs := httptest.NewServer(idp)
	t.Cleanup(hs.Close)
	_, b := signedInAdmin(t, "--defender-login-url", hs.URL)

	b.ClickLink("Sign-in", mainNav)
	b.WaitPath("/settings/sign-in")
	b.WaitHeading("Sign-in")
	b.FillByLabel("Directory (tenant) ID", tenant)
	b.FillByLabel("Application (client) ID", clientID)
	b.FillByLabel("Client secret", secret)
	b.FillByLabel("Owner: app role values", "Postern.Owner")
	b.FillByLabel("Editor: app role values", "Postern.Editor")
	Eval[bool](b, `(document.getElementById('auto_provision').click(), true)`)
	b.ClickButton("Save")
	b.WaitFlash("Sign in with Microsoft saved.")
	b.WaitText("A secret is set")
	if Eval[bool](b, `document.documentElement.outerHTML.includes(`+jsString(secret)+`)`) {
		t.Fatal("the settings page holds the client secret")
	}
	b.Screenshot("sign-in-settings")
	checkA11y(t, b, "sign-in settings")
	b.ClickLink("Admins", mainNav)
	b.WaitHeading("Admins")
	b.WaitText("Microsoft Entra object id (optional)")
	b.Screenshot("admins-microsoft")
	checkA11y(t, b, "admins with Microsoft")

	idp.SetUser(emulator.SignInUser{OID: "0b1c2d3e-4f5a-4b6c-8d7e-9f0a1b2c3d4e", Email: "grace@example.com", Name: "Grace",
		Roles: []string{"Postern.Editor"}})
	b.ClickButton("Sign out")
	b.WaitPath("/login")
	b.WaitText("Sign in with Microsoft")
	b.Screenshot("login-microsoft")
	checkA11y(t, b, "login with Microsoft")
	b.ClickLink("Sign in with Microsoft")
	b.WaitPath("/")
	b.WaitHeading("Dashboard")
	if got := Eval[string](b, `document.querySelector('[data-testid="admin-role"]').innerText`); got != "(Editor)" {
		t.Errorf("top bar role = %q, want (Editor)", got)
	}
	if !Eval[bool](b, `document.body.innerText.includes('grace@example.com')`) {
		t.Error("the top bar does not name grace@example.com")
	}
	b.Navigate("/audit")
	b.WaitHeading("Audit log")
	b.WaitText("Sign in with Microsoft; role editor")
	if strings.Contains(Eval[string](b, `document.body.innerText`), secret) {
		t.Fatal("the audit log shows the client secret")
	}
}
