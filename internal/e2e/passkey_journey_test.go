package e2e

import (
	"context"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/webauthn"
	"github.com/chromedp/chromedp"
)

// An admin adds a passkey on their account page with Chromium's virtual
// authenticator (CTAP2, internal, resident keys, user verified), signs
// out, signs in with the password then the passkey, lands on the
// dashboard, and removes the passkey with their password, after which
// the password alone signs in. Passkeys need a host name: the browser
// opens the console as localhost (RP IDs are never IP addresses).
func TestPasskeyJourney(t *testing.T) {
	srv := StartServer(t)
	b := newBrowser(t, strings.Replace(srv.URL, "127.0.0.1", "localhost", 1))
	auth := virtualAuthenticator(t, b)
	createFirstAdmin(t, b)
	signIn(b, adminEmail, adminPassword)
	b.WaitHeading("Dashboard")

	b.ClickLink(adminEmail)
	b.WaitPath("/account")
	b.WaitText("You have no passkeys yet")
	b.FillByLabel("Name", "YubiKey 5")
	b.ClickButton("Add passkey")
	b.WaitFlash("Passkey “YubiKey 5” added")
	if got := Eval[string](b, `document.querySelector('[data-testid="passkey-name"]').innerText`); got != "YubiKey 5" {
		t.Fatalf("the account page lists %q", got)
	}
	b.WaitText("Never used")
	// Two-factor is on with the passkey: the page offers an authenticator
	// app beside it, not "set up two-factor" as if it were off.
	b.WaitText("Set up an authenticator app")
	if n := Eval[int](b, `[...document.querySelectorAll('button')].filter(e => e.innerText.includes('Set up two-factor authentication')).length`); n != 0 {
		t.Errorf("with a passkey the account page still offers to set up two-factor authentication (%d buttons)", n)
	}
	if n := len(credentials(t, b, auth)); n != 1 {
		t.Fatalf("the authenticator holds %d credentials, want 1", n)
	}
	b.Screenshot("passkey-added")
	checkA11y(t, b, "/account (passkeys)")
	// The same authenticator again: the browser refuses (it already holds
	// a passkey of this account, excluded by the options) and the page
	// says so; nothing is added.
	b.FillByLabel("Name", "YubiKey again")
	b.ClickButton("Add passkey")
	b.WaitText("This security key or device already holds a passkey for your account")
	b.Screenshot("passkey-refused")
	if n := Eval[int](b, `document.querySelectorAll('[data-testid="passkey-row"]').length`); n != 1 {
		t.Fatalf("%d passkeys listed after the refusal", n)
	}
	if n := len(credentials(t, b, auth)); n != 1 {
		t.Fatalf("the authenticator holds %d credentials after the refusal", n)
	}

	b.ClickButton("Sign out")
	b.WaitPath("/login")
	signIn(b, adminEmail, adminPassword)
	b.WaitPath("/login/code")
	b.WaitHeading("Use your passkey")
	b.Screenshot("passkey-code-step")
	checkA11y(t, b, "/login/code (passkey)")
	b.ClickButton("Use a passkey")
	b.WaitHeading("Dashboard")

	b.ClickLink(adminEmail)
	b.WaitPath("/account")
	b.WaitText("Last used")
	Eval[bool](b, `(document.querySelector('[data-testid="passkey-row"] summary').click(), true)`)
	b.FillByLabel("Your password", adminPassword)
	b.ClickButton("Remove passkey")
	b.WaitFlash("Passkey “YubiKey 5” removed")
	b.WaitText("You have no passkeys yet")

	b.ClickButton("Sign out")
	b.WaitPath("/login")
	signIn(b, adminEmail, adminPassword)
	b.WaitHeading("Dashboard")
}

// virtualAuthenticator turns on the WebAuthn domain of b's tab and adds a
// platform authenticator whose user presence and verification succeed.
func virtualAuthenticator(t *testing.T, b *Browser) webauthn.AuthenticatorID {
	t.Helper()
	add := func(ctx context.Context, tg *chromedp.Target) (webauthn.AuthenticatorID, error) {
		if _, err := cdp.Call(ctx, tg, webauthn.Enable, webauthn.EnableParams{}); err != nil {
			return "", err
		}
		res, err := cdp.Call(ctx, tg, webauthn.AddVirtualAuthenticator, webauthn.AddVirtualAuthenticatorParams{
			Options: &webauthn.VirtualAuthenticatorOptions{
				Protocol: webauthn.AuthenticatorProtocolCtap2, Ctap2version: webauthn.Ctap2versionCtap21,
				Transport: webauthn.AuthenticatorTransportInternal, HasResidentKey: true, HasUserVerification: true,
				IsUserVerified: true, AutomaticPresenceSimulation: true,
			}})
		return res.AuthenticatorID, err
	}
	id, err := chromedp.Run(b.ctx, add)
	if err != nil {
		t.Fatalf("adding a virtual authenticator: %v", err)
	}
	return id
}

// credentials lists the credentials the virtual authenticator holds.
func credentials(t *testing.T, b *Browser, id webauthn.AuthenticatorID) []*webauthn.Credential {
	t.Helper()
	get := func(ctx context.Context, tg *chromedp.Target) ([]*webauthn.Credential, error) {
		res, err := cdp.Call(ctx, tg, webauthn.GetCredentials, webauthn.GetCredentialsParams{AuthenticatorID: id})
		return res.Credentials, err
	}
	creds, err := chromedp.Run(b.ctx, get)
	if err != nil {
		t.Fatalf("reading the virtual authenticator: %v", err)
	}
	return creds
}
