package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
)

// An admin turns on two-factor authentication from their account page,
// typing the key the page shows into an "app" (pquerna/otp here), signs
// out, signs in with a code, then with a recovery code, which works once.
func TestMFAJourney(t *testing.T) {
	_, b := signedInAdmin(t)
	b.ClickLink(adminEmail)
	b.WaitPath("/account")
	b.WaitHeading("Your account")
	b.ClickButton("Set up two-factor authentication")
	b.WaitText("Scan this QR code")
	key := strings.ReplaceAll(Eval[string](b, `document.querySelector('[data-testid="mfa-secret"]').innerText`), " ", "")
	if len(key) != 32 {
		t.Fatalf("the page shows key %q", key)
	}
	if !Eval[bool](b, `document.querySelector('[data-testid="mfa-qr"] path').getAttribute('d').length > 100`) {
		t.Fatal("no QR code drawn")
	}
	b.Screenshot("mfa-enrolment")
	checkA11y(t, b, "/account/mfa")

	// A wrong code first: refused, the same key shown again.
	b.FillByLabel("2. Enter the code the app shows", "000000")
	b.ClickButton("Turn on")
	b.WaitText("That code did not match")
	if again := strings.ReplaceAll(Eval[string](b, `document.querySelector('[data-testid="mfa-secret"]').innerText`), " ", ""); again != key {
		t.Fatalf("after a wrong code the key changed: %q", again)
	}
	b.FillByLabel("2. Enter the code the app shows", code(t, key, time.Now()))
	b.ClickButton("Turn on")
	b.WaitText("Your recovery codes")
	codes := Eval[[]string](b, `[...document.querySelectorAll('[data-testid="recovery-codes"] li')].map(li => li.innerText.trim())`)
	if len(codes) != 10 {
		t.Fatalf("%d recovery codes shown, want 10", len(codes))
	}
	b.Screenshot("mfa-recovery-codes")
	b.ClickLink("I have saved them")
	b.WaitText("recovery codes left")
	if Eval[bool](b, `document.body.innerText.includes(`+jsString(key[:8])+`)`) {
		t.Fatal("the account page shows the key after enrolment")
	}
	b.ClickButton("Sign out")
	b.WaitPath("/login")

	// Password, then a code: the next step's (one ahead is within the
	// skew; the enrolment used the current one).
	signIn(b, adminEmail, adminPassword)
	b.WaitPath("/login/code")
	b.WaitHeading("Enter your two-factor code")
	b.Screenshot("mfa-code-step")
	checkA11y(t, b, "/login/code")
	b.FillByLabel("Code", code(t, key, time.Now().Add(30*time.Second)))
	b.ClickButton("Verify")
	b.WaitHeading("Dashboard")
	b.ClickButton("Sign out")
	b.WaitPath("/login")

	// A recovery code works once.
	signIn(b, adminEmail, adminPassword)
	b.WaitPath("/login/code")
	b.FillByLabel("Code", codes[0])
	b.ClickButton("Verify")
	b.WaitHeading("Dashboard")
	b.WaitText("You signed in with a recovery code")
	b.ClickButton("Sign out")
	b.WaitPath("/login")
	signIn(b, adminEmail, adminPassword)
	b.WaitPath("/login/code")
	b.FillByLabel("Code", codes[0])
	b.ClickButton("Verify")
	b.WaitText("That code did not work")
	if p := b.Path(); p != "/login/code" {
		t.Fatalf("a used recovery code led to %s", p)
	}
	// The half-signed-in browser reaches nothing.
	b.Navigate("/settings/admins")
	b.WaitPath("/login/code")
	b.ClickButton("Cancel and sign out")
	b.WaitPath("/login")
}

func code(t *testing.T, key string, at time.Time) string {
	t.Helper()
	c, err := totp.GenerateCodeCustom(key, at, totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		t.Fatal(err)
	}
	return c
}
