package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"postern/internal/emulator"
)

// No page scrolls sideways at the widths admins use, with a realistic
// fleet whose host names and tags are long: the test measures
// document.documentElement.scrollWidth against innerWidth on every page at
// 1024, 1280 and 1440 px. Screenshots of the main pages at 1024 and 1440 px
// go to $POSTERN_SHOTS when it is set.
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
	createFirstAdmin(t, b)
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

	pages := []string{"/", "/settings/integrations", "/devices", "/devices?show=all&sort=risk", device,
		"/zero-trust/posture-checks", "/zero-trust/posture-checks/new", "/sync-runs", "/sync-runs/1", "/audit",
		"/settings/api-tokens", "/help/microsoft-defender", "/settings/integrations/defender",
		"/settings/integrations/defender/disable", "/devices?verdict=allowed", "/zero-trust/exceptions",
		"/zero-trust/exceptions?show=all"}
	shots := map[string]string{"/": "dashboard", "/devices": "devices", "/settings/integrations": "integrations", device: "device",
		"/devices?verdict=allowed": "devices-verdict", "/zero-trust/exceptions": "exceptions"}
	for _, width := range []int64{1024, 1280, 1440} {
		setWidth(t, b, width)
		for _, path := range pages {
			b.Navigate(path)
			scroll, inner := Eval[int](b, `document.documentElement.scrollWidth`), Eval[int](b, `innerWidth`)
			if scroll > inner {
				wide := Eval[string](b, `[...document.querySelectorAll("body *")].filter(e => e.getBoundingClientRect().right > innerWidth + 1)
					.slice(-3).map(e => e.tagName + "." + (e.className.baseVal ?? e.className)).join(" | ")`)
				t.Errorf("%s at %d px scrolls sideways: scrollWidth %d > innerWidth %d; widest: %s", path, width, scroll, inner, wide)
			}
			if name, ok := shots[path]; ok && width != 1280 {
				saveShot(t, b, fmt.Sprintf("%s-%d", name, width))
			}
		}
	}
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
