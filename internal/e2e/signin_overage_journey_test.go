package e2e

import (
	"net/http/httptest"
	"testing"

	"postern/internal/emulator"
)

// Groups overage through the browser: an Owner maps an Entra group to
// Editor in Settings → Sign-in (which says to grant Graph's User.Read and
// that SSO admins' two-factor is Entra's); someone in too many groups for
// the token, in that group, signs in with Microsoft and lands on the
// dashboard as an Editor, Postern having asked the stand-in's Microsoft
// Graph (--graph-url); when Graph refuses (403), the login page names the
// permission to grant.
func TestSignInGroupsOverageJourney(t *testing.T) {
	const (
		tenant   = "4f6c2a1e-9b7d-4c3a-8e5f-1a2b3c4d5e6f"
		clientID = "7d9e8f10-2a3b-4c5d-9e8f-0a1b2c3d4e5f"
		secret   = "S3ntinel~Overage.Secret_9f8e7d6c5b4a"
		group    = "5f1c2d3e-4a5b-4c6d-8e7f-9a0b1c2d3e4f"
	)
	idp := emulator.NewSignIn(tenant, clientID, secret)
	hs := httptest.NewServer(idp)
	t.Cleanup(hs.Close)
	_, b := signedInAdmin(t, "--defender-login-url", hs.URL, "--graph-url", hs.URL)

	b.ClickLink("Sign-in", mainNav)
	b.WaitHeading("Sign-in")
	b.FillByLabel("Directory (tenant) ID", tenant)
	b.FillByLabel("Application (client) ID", clientID)
	b.FillByLabel("Client secret", secret)
	b.FillByLabel("Owner: app role values", "Postern.Owner")
	b.FillByLabel("Editor: group object ids", group)
	Eval[bool](b, `(document.getElementById('auto_provision').click(), true)`)
	b.ClickButton("Save")
	b.WaitFlash("Sign in with Microsoft saved.")
	b.WaitText("delegated Microsoft Graph permission User.Read")
	b.WaitText("enforced in Entra ID, not by Postern")
	b.Screenshot("sign-in-settings-groups")
	checkA11y(t, b, "sign-in settings with groups")
	b.ClickLink("Admins", mainNav)
	b.WaitHeading("Admins")
	b.WaitText("Require multifactor authentication for the Postern app with a Conditional Access policy")
	b.Screenshot("admins-sso-mfa-note")

	idp.SetUser(emulator.SignInUser{OID: "9e8d7c6b-5a4f-4e3d-8c2b-1a0f9e8d7c6b", Email: "ivan@example.com",
		GroupsOverage: true, Groups: []string{group}})
	idp.SetGraphFaults(emulator.GraphFaults{Forbidden: true})
	b.ClickButton("Sign out")
	b.WaitPath("/login")
	b.ClickLink("Sign in with Microsoft")
	b.WaitText("delegated Microsoft Graph permission User.Read")
	b.Screenshot("login-graph-forbidden")
	checkA11y(t, b, "login refused by Graph")

	idp.SetGraphFaults(emulator.GraphFaults{})
	b.ClickLink("Sign in with Microsoft")
	b.WaitPath("/")
	b.WaitHeading("Dashboard")
	if got := Eval[string](b, `document.querySelector('[data-testid="admin-role"]').innerText`); got != "(Editor)" {
		t.Errorf("top bar role = %q, want (Editor)", got)
	}
	b.Navigate("/account")
	b.WaitText("You signed in with Microsoft")
	b.Screenshot("account-signed-in-with-microsoft")
	checkA11y(t, b, "account of an SSO admin")
	if n := idp.GraphCalls(); n != 2 {
		t.Errorf("Graph asked %d times, want 2 (the refusal, then the sign-in)", n)
	}
}
