package e2e

import (
	"context"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"postern/internal/emulator"
)

// An admin whose tenant forbids client secrets connects Defender with a
// certificate: chooses Certificate, generates one, downloads it, uploads it
// in Entra (here: registers it in the emulator), saves; Microsoft validates
// it, a sync runs, and the dialog then shows the certificate as set. The
// private key is never in the page.
func TestCertificateJourney(t *testing.T) {
	ms := startMicrosoft(t, "Jr8Q~journey.Secret-Value_0123456789abcd")
	_, b := signedInAdmin(t, ms.args()...)
	openManageDialog(b)
	b.FillByLabel("Tenant ID", emulator.DemoTenantID)
	b.FillByLabel("Client ID", emulator.DemoClientID)
	clickSelector(t, b, "#credential-certificate")
	if Eval[bool](b, `document.querySelector("#client_secret").offsetParent !== null`) {
		t.Error("the Client Secret field is still shown with Certificate chosen")
	}
	b.FillByLabel("Key size", "RSA 2048 bits")
	b.ClickButton("Generate certificate")
	waitInnerText(t, b, "[data-testid=pending-certificate]", "New certificate generated")
	b.Screenshot("certificate-generated")
	checkA11y(t, b, "Manage dialog, certificate")
	thumb := Eval[string](b, `document.querySelector("[data-testid=pending-thumbprint]").innerText`)
	if got := Eval[string](b, `document.querySelector("#tenant_id").value`); got != emulator.DemoTenantID {
		t.Errorf("Generate lost the typed Tenant ID: %q", got)
	}

	// Download the certificate as the link does, with the admin's session.
	href := Eval[string](b, `[...document.querySelectorAll("a")].find(a => a.innerText.includes("Download certificate")).getAttribute("href")`)
	pem := Await[string](b, `fetch(`+jsString(href)+`).then(r => r.text())`)
	if !strings.Contains(pem, "BEGIN CERTIFICATE") || strings.Contains(pem, "PRIVATE") {
		t.Fatalf("the download is not the public certificate alone: %.80s", pem)
	}

	// Saved before it is uploaded in Entra: Microsoft's refusal, next to the certificate.
	b.ClickButton("Save")
	waitInnerText(t, b, "#manage-form", "AADSTS700027")

	if err := ms.emu.RegisterCertificatePEM([]byte(pem)); err != nil {
		t.Fatal(err)
	}
	b.ClickButton("Save")
	b.WaitDialogClosed()
	b.WaitFlash("Microsoft Defender is connected")
	waitInnerText(t, b, "#defender-card", "Connected")
	waitInnerText(t, b, "#defender-card", "40")
	if st := ms.emu.Stats(); st.TokensIssued == 0 || st.APIRequests < 2 {
		t.Errorf("emulator stats %+v: want tokens issued for the certificate and a sync", st)
	}

	b.ClickButton("Manage")
	waitInnerText(t, b, "[data-testid=current-certificate]", thumb)
	if html := Eval[string](b, `document.documentElement.outerHTML`); strings.Contains(html, "PRIVATE KEY-----") {
		t.Error("the page holds a private key")
	}
	b.ClickButton("Cancel")
	b.Navigate("/audit")
	b.WaitRow("integration.certificate_generated")
	b.WaitRow("integration.configured")
}

// clickSelector clicks the element matched by sel with the mouse.
func clickSelector(t *testing.T, b *Browser, sel string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, b.Timeout)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.JSPath("document.querySelector("+jsString(sel)+")"))); err != nil {
		t.Fatalf("click %s: %v", sel, err)
	}
}

// jsString quotes s as a JavaScript string literal.
func jsString(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}
