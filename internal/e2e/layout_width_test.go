package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"postern/internal/emulator"
)

// No page scrolls sideways at the widths admins use, and none has a serious
// or critical axe-core violation at any of them, with a realistic fleet
// whose host names and tags are long: the test measures
// document.documentElement.scrollWidth against innerWidth and runs axe-core
// on every page, signed out and in, at 1024, 1280 and 1440 px. Screenshots
// of the main pages at 1024 and 1440 px go to $POSTERN_SHOTS when it is set.
func TestNoPageScrollsSideways(t *testing.T) {
	const secretValue = "Wd7Q~layout.Width-Secret_0123456789abcd"
	ms := startMicrosoft(t, secretValue)
	ms.emu.Mutate(func(fl []emulator.Machine) []emulator.Machine {
		for i := range fl[:8] {
			fl[i].ComputerDNSName = fmt.Sprintf("engineering-build-agent-%02d.eu-west.research-and-development.corp.contoso-international.example.com", i)
			fl[i].MachineTags = []string{"very-long-tag-for-the-finance-department", "vpn-allowed", "contractor-2026-q4"}
		}
		return fl
	})
	srv := StartServer(t, ms.args()...)
	b := NewBrowser(t, srv)
	fits(t, b, "/setup")
	createFirstAdmin(t, b)
	fits(t, b, "/login")
	signIn(b, adminEmail, adminPassword)
	b.WaitHeading("Dashboard")
	b.ClickLink("Integrations", mainNav)
	b.ClickButton("Manage")
	b.WaitText("Manage Microsoft Defender")
	fillCredentials(b, emulator.DemoTenantID, emulator.DemoClientID, secretValue)
	b.ClickButton("Save")
	b.WaitFlash("Microsoft Defender is connected")
	waitInnerText(t, b, "#defender-card", "Connected")
	device := "/devices/" + ms.emu.Machines()[0].ID
	// An exception with a long reason, for the Exceptions page.
	b.Navigate(device)
	Eval[bool](b, `(() => { const f = document.querySelector('form[action$="/exceptions"]');
		f.reason.value = "CHG-20261205-0042: reimage booked with the service desk for the engineering build agents, waiting on parts";
		f.expires_on.value = new Date(Date.now() + 7*864e5).toISOString().slice(0, 10); f.submit(); return true })()`)
	b.WaitFlash("Exception added")
	// A check that cuts access: its confirmation links the devices it
	// would deny, and once saved it has an edit page, a delete page and
	// access changes.
	newLowRiskCheck(t, b)
	b.ClickButton("Save")
	b.WaitText("Saving denies")
	denials := Eval[string](b, `document.querySelector('[data-testid="save-confirm"] a[href*="/preview"]').getAttribute("href")`)
	b.ClickButton("Save and deny " + strconv.Itoa(number(t, b, `[data-testid="save-confirm"]`)) + " devices")
	b.WaitFlash("is saved")
	edit := Eval[string](b, `document.querySelector('main a[href$="/edit"]').getAttribute("href")`)
	del := Eval[string](b, `document.querySelector('main a[href$="/delete"]').getAttribute("href")`)

	pages := []string{"/", "/settings/integrations", "/devices", "/devices?show=all&sort=risk", device,
		"/zero-trust/posture-checks", "/zero-trust/posture-checks/new", "/sync-runs", "/sync-runs/1", "/audit",
		"/settings/api-tokens", "/help/microsoft-defender", "/settings/integrations/defender",
		"/settings/integrations/defender/disable", "/devices?verdict=allowed", "/zero-trust/exceptions",
		"/zero-trust/exceptions?show=all", denials, edit, del, "/access-changes", "/sync-runs?outcome=success", "/settings/sign-in"}
	shots := map[string]string{"/": "dashboard", "/devices": "devices", "/settings/integrations": "integrations", device: "device",
		"/devices?verdict=allowed": "devices-verdict", "/zero-trust/exceptions": "exceptions"}
	for _, path := range pages {
		fits(t, b, path)
	}
	for path, name := range shots {
		for _, width := range []int64{1024, 1440} {
			setWidth(t, b, width)
			b.Navigate(path)
			saveShot(t, b, fmt.Sprintf("%s-%d", name, width))
		}
	}
}

// fits opens path at 1024, 1280 and 1440 px and fails t when the page
// scrolls sideways or axe-core finds a serious or critical violation.
func fits(t *testing.T, b *Browser, path string) {
	t.Helper()
	for _, width := range []int64{1024, 1280, 1440} {
		setWidth(t, b, width)
		b.Navigate(path)
		scroll, inner := Eval[int](b, `document.documentElement.scrollWidth`), Eval[int](b, `innerWidth`)
		if scroll > inner {
			wide := Eval[string](b, `[...document.querySelectorAll("body *")].filter(e => e.getBoundingClientRect().right > innerWidth + 1)
				.slice(-3).map(e => e.tagName + "." + (e.className.baseVal ?? e.className)).join(" | ")`)
			t.Errorf("%s at %d px scrolls sideways: scrollWidth %d > innerWidth %d; widest: %s", path, width, scroll, inner, wide)
		}
		checkA11y(t, b, fmt.Sprintf("%s at %d px", path, width))
	}
	setWidth(t, b, 1280)
}

// setWidth resizes the browser's viewport.
func setWidth(t *testing.T, b *Browser, width int64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, defaultActionTimeout)
	defer cancel()
	if _, err := chromedp.Run(ctx, chromedp.EmulateViewport(width, 900)); err != nil {
		t.Fatalf("viewport %d px: %v", width, err)
	}
}

// saveShot writes a full-page screenshot to $POSTERN_SHOTS, for review.
func saveShot(t *testing.T, b *Browser, name string) {
	dir := os.Getenv("POSTERN_SHOTS")
	if dir == "" {
		return
	}
	ctx, cancel := context.WithTimeout(b.ctx, defaultActionTimeout)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)) // 100: PNG
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.WriteFile(filepath.Join(dir, strings.ReplaceAll(name, "/", "_")+".png"), png, 0o644); err != nil {
		t.Fatal(err)
	}
}
