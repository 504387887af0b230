package e2e

import (
	"context"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/target"
	"github.com/chromedp/chromedp"

	"postern/internal/emulator"
)

const guidePath = "/help/microsoft-defender"

// The setup guide is one click away from the Manage dialog, and an error in
// the dialog leads straight to the section that fixes it, in a new tab, so
// the half-filled form stays as it was.
func TestSetupGuideJourney(t *testing.T) {
	const goodSecret = "Hq4Z~guide.Secret-Value_0123456789abcdef"
	ms := startMicrosoft(t, goodSecret)
	srv, b := signedInAdmin(t, ms.args()...)
	openManageDialog(b)

	guide := followToNewTab(t, b, "Setup guide (opens in a new tab)", "dialog[open]")
	guide.WaitPath(guidePath)
	guide.WaitHeading("Microsoft Defender setup guide")
	guide.WaitText("On this page")
	checkA11y(t, guide, "setup guide")
	guide.Screenshot("guide")

	// A copy button copies, and says so.
	grantClipboard(t, guide, srv.URL)
	guide.ClickButton("Copy WindowsDefenderATP")
	if _, err := poll[struct{}](guide, pollScript(`const r = findButton("Copied WindowsDefenderATP");
		return r.el ? {ok: true} : {ok: false, why: r.why};`)); err != nil {
		t.Errorf("the copy button did not confirm: %v", err)
	}
	closeTab(t, guide)

	// A wrong secret: the error links to the section about the secret's Value.
	fillCredentials(b, emulator.DemoTenantID, emulator.DemoClientID, "Wr0ng~secret.Value_0123456789abcdefghij")
	b.ClickButton("Save")
	waitInnerText(t, b, "#client_secret-error", "AADSTS7000215")
	b.Screenshot("manage-error")
	fix := followToNewTab(t, b, "How to fix this (opens in a new tab)", "#client_secret-error")
	fix.WaitPath(guidePath)
	fix.WaitHeading("Microsoft Defender setup guide")
	if got := Eval[string](fix, `location.hash`); got != "#secret-value" {
		t.Errorf("the fix link landed on %q, want #secret-value", got)
	}
	// The section is in view below the sticky top bar, and marked as the target.
	if _, err := poll[struct{}](fix, pollScript(`const s = document.getElementById("secret-value");
		if (!s) return {ok: false, why: "no #secret-value"};
		const top = s.getBoundingClientRect().top, bar = Math.max(0, document.querySelector("body > header").getBoundingClientRect().bottom);
		if (!s.matches(":target")) return {ok: false, why: "#secret-value is not the :target"};
		if (top < bar - 1 || top > innerHeight / 2) return {ok: false, why: "the section starts at " + top + "px; the top bar ends at " + bar + "px, the window is " + innerHeight + "px high"};
		return visible(s.querySelector("h2")) ? {ok: true} : {ok: false, why: "its heading is not visible"};`)); err != nil {
		t.Errorf("the section about the secret's Value is not in view: %v", err)
	}
	viewportScreenshot(t, fix, "secret-value")
	closeTab(t, fix)

	// The dialog kept what was typed.
	if got := Eval[string](b, `document.querySelector("#tenant_id").value`); got != emulator.DemoTenantID {
		t.Errorf("after following the help link the Tenant ID holds %q", got)
	}
}

// followToNewTab clicks the link whose text is text (within the CSS selector
// within), which opens a new tab, and returns a Browser driving that tab. Its
// problems fail the test like those of the first tab.
func followToNewTab(t *testing.T, b *Browser, text, within string) *Browser {
	t.Helper()
	before := pageTargets(t, b)
	b.ClickLink(text, within)
	var id target.ID
	deadline := time.Now().Add(b.Timeout)
	for id == "" {
		for _, tid := range pageTargets(t, b) {
			if !slices.Contains(before, tid) {
				id = tid
			}
		}
		if id == "" && time.Now().After(deadline) {
			t.Fatalf("clicking %q opened no new tab", text)
		}
		time.Sleep(50 * time.Millisecond)
	}
	tab := &Browser{Timeout: b.Timeout, t: t, base: b.base}
	ctx, cancel := chromedp.NewContext(b.ctx, chromedp.WithTargetID(id), chromedp.WithListener(tab.record))
	if err := chromedp.Do(ctx); err != nil {
		cancel()
		t.Fatalf("attaching to the new tab: %v", err)
	}
	tab.ctx = ctx
	go dismissDialogs(ctx, chromedp.Events(ctx, page.JavascriptDialogOpening))
	t.Cleanup(func() {
		if ctx.Err() == nil {
			for _, p := range tab.takeProblems() {
				t.Errorf("browser (new tab): %s", p)
			}
			if t.Failed() {
				tab.logFailureState()
			}
		}
		cancel()
	})
	return tab
}

// closeTab reports the tab's problems and closes it.
func closeTab(t *testing.T, tab *Browser) {
	t.Helper()
	for _, p := range tab.takeProblems() {
		t.Errorf("browser (new tab): %s", p)
	}
	ctx, cancel := context.WithTimeout(tab.ctx, 5*time.Second)
	defer cancel()
	if _, err := chromedp.Call(ctx, page.Close, cdp.Empty{}); err != nil {
		t.Logf("closing the tab: %v", err)
	}
}

// pageTargets lists the ids of the browser's tabs.
func pageTargets(t *testing.T, b *Browser) []target.ID {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, b.Timeout)
	defer cancel()
	infos, err := chromedp.Targets(ctx)
	if err != nil {
		t.Fatalf("listing the tabs: %v", err)
	}
	var ids []target.ID
	for _, in := range infos {
		if in.Type == "page" {
			ids = append(ids, in.TargetID)
		}
	}
	return ids
}

// grantClipboard lets the pages of origin write to the clipboard, as a
// person's click would in a visible browser.
func grantClipboard(t *testing.T, b *Browser, origin string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, b.Timeout)
	defer cancel()
	_, err := chromedp.CallBrowser(ctx, browser.SetPermission, browser.SetPermissionParams{
		Permission: &browser.PermissionDescriptor{Name: "clipboard-write"},
		Setting:    browser.PermissionSettingGranted, Origin: origin,
	})
	if err != nil {
		t.Fatalf("granting the clipboard: %v", err)
	}
}

// viewportScreenshot saves what the window shows, as a person sees it after
// a jump to an anchor; Screenshot captures the whole page.
func viewportScreenshot(t *testing.T, b *Browser, name string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, b.Timeout)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err == nil {
		path := artifactPath(t, name, ".png")
		if err = os.WriteFile(path, png, 0o644); err == nil {
			t.Logf("screenshot: %s", path)
		}
	}
	if err != nil {
		t.Errorf("viewport screenshot %q: %v", name, err)
	}
}
