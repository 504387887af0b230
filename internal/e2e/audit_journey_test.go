package e2e

import (
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"postern/internal/emulator"
)

// auditFleet is big enough that one check moves thousands of verdicts,
// small enough for a journey.
const auditFleet = 3000

// One check created over a few thousand devices: the audit log's first
// page still holds the admin's own entry, beside one summary of the
// verdicts it moved, and the summary opens Access changes on exactly
// those changes.
func TestAuditLogAfterABulkChange(t *testing.T) {
	const secretValue = "Au8Q~audit.Journey-Secret_0123456789abcd"
	emu := emulator.New(emulator.Config{ClientSecret: secretValue, Machines: auditFleet, Seed: 11})
	ms := httptest.NewServer(emu)
	t.Cleanup(ms.Close)
	srv := StartServer(t, "--defender-login-url", ms.URL, "--defender-api-url", ms.URL)
	b := NewBrowser(t, srv)
	createFirstAdmin(t, b)
	signIn(b, adminEmail, adminPassword)
	b.WaitHeading("Dashboard")
	connectDefender(t, b, secretValue, 3000)
	waitCounted(t, srv.URL)

	b.ClickLink("Device Posture Checks", mainNav)
	b.WaitHeading("Device Posture Checks")
	b.ClickLink("New posture check")
	b.WaitHeading("New posture check")
	b.FillByLabel("Name", "Low risk")
	b.FillByLabel("Data Source", "Microsoft Defender")
	b.WaitText("Maximum risk score")
	b.FillByLabel("Maximum risk score", "Low")
	saveCheck(t, b)

	// The summary is written once the engine has recomputed the fleet.
	b.ClickLink("Audit log", mainNav)
	b.WaitHeading("Audit log")
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(mainText(b), "devices changed verdict") {
		if time.Now().After(deadline) {
			t.Fatalf("no verdict summary on the audit log: %s", mainText(b))
		}
		time.Sleep(200 * time.Millisecond)
		b.Navigate("/audit")
	}
	rows := Eval[[]string](b, `[...document.querySelectorAll('main tbody tr')].map(r => r.innerText)`)
	var own, summary string
	for _, r := range rows {
		switch {
		case strings.Contains(r, "posture_check.created") && strings.Contains(r, adminEmail):
			own = r
		case strings.Contains(r, "posture.verdicts_changed"):
			summary = r
		}
	}
	if own == "" {
		t.Errorf("the admin's own entry is not on the first page: %q", rows)
	}
	if !strings.Contains(summary, "Posture check “Low risk” created by "+adminEmail) || !strings.Contains(summary, "pass → fail") {
		t.Fatalf("the summary reads %q", summary)
	}
	if n := strings.Count(strings.Join(rows, "\n"), "posture.verdict"); n != 1 {
		t.Errorf("%d verdict rows on the first page, want the one summary", n)
	}
	if strings.Contains(summary, "Success") {
		t.Errorf("devices going to fail shown as a success: %q", summary)
	}
	checkA11y(t, b, "audit log")
	b.Screenshot("audit-after-bulk-change")

	b.ClickLink("See the changes")
	b.WaitHeading("Access changes")
	if got := mainText(b); !strings.Contains(got, "Changes caused by Posture check “Low risk” created") {
		t.Errorf("Access changes does not say which cause it shows: %s", got)
	}
	causes := Eval[[]string](b, `[...document.querySelectorAll('main tbody tr td:nth-child(5)')].map(c => c.innerText)`)
	if len(causes) != 50 {
		t.Errorf("%d changes on the first page, want a full page of 50 out of thousands", len(causes))
	}
	for _, c := range causes {
		if !strings.HasPrefix(c, "Posture check “Low risk” created") {
			t.Fatalf("a change of another cause: %q", c)
		}
	}
	checkA11y(t, b, "access changes")
	b.Screenshot("access-changes")
	changes := Eval[string](b, `location.pathname + location.search`)
	for _, width := range []int64{1024, 1280, 1440} {
		if _, err := chromedp.Run(b.ctx, chromedp.EmulateViewport(width, 900)); err != nil {
			t.Fatal(err)
		}
		for _, path := range []string{"/audit", changes} {
			b.Navigate(path)
			if got := Eval[int64](b, `innerWidth`); got != width {
				t.Fatalf("the viewport is %d px wide, want %d", got, width)
			}
			if !Eval[bool](b, `document.documentElement.scrollWidth <= innerWidth`) {
				t.Errorf("%s scrolls sideways at %d px", path, width)
			}
		}
	}
}
