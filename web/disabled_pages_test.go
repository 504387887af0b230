package web

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// While Defender is disabled, the pages that show its data say so: the
// device page says "disabled" (not "not connected") and offers no
// Re-check; the Devices page says whose data it lists; the card neither
// offers Sync now nor promises a next sync.
func TestPagesSayDefenderIsDisabled(t *testing.T) {
	const sec = "Good~secret.value-0123456789abcdefghijklm"
	d := newDefenderEnv(t, sec)
	c := d.signedIn()
	wantRedirect(t, c.post("/settings/integrations/defender", d.goodForm(sec)), "/settings/integrations")
	d.waitSynced(t)
	wantRedirect(t, c.post("/settings/integrations/defender/disable", url.Values{}), "/settings/integrations")

	list := c.get("/devices")
	wantStatus(t, list, http.StatusOK)
	if !strings.Contains(text(parse(t, list).Find("main")), "Microsoft Defender is disabled: these are the devices of the last sync before Disable") {
		t.Error("the Devices page does not say its data is kept from the last sync before Disable")
	}
	first := parse(t, list).Find(testID("device-row") + ` td:first-child a`).First()
	href, ok := first.Attr("href")
	if !ok {
		t.Fatal("no device listed after Disable")
	}
	page := c.get(href)
	wantStatus(t, page, http.StatusOK)
	doc := parse(t, page)
	body := text(doc.Find("main"))
	if !strings.Contains(body, "disabled") || strings.Contains(body, "not connected") {
		t.Errorf("the device page while disabled says:\n%.1500s", body)
	}
	if withText(doc.Find("button"), "Re-check now").Length() != 0 {
		t.Error("the device page offers Re-check now while Defender is disabled")
	}
	card := c.get("/settings/integrations/defender/card").body
	if strings.Contains(card, "Next sync") || strings.Contains(card, ">Sync now<") {
		t.Error("the disabled card offers Sync now or promises a next sync")
	}
	cd := dom(t, card)
	if got := text(cd.Find("#defender-card > div").Last().Find("button")); got != "Enable" {
		t.Errorf("the disabled card's footer holds %q, want Enable alone", got)
	}
}

// The card lists each action once: the menu holds them, the footer only
// the primary one.
func TestCardListsActionsOnce(t *testing.T) {
	const sec = "Good~secret.value-0123456789abcdefghijklm"
	d := newDefenderEnv(t, sec)
	c := d.signedIn()
	wantRedirect(t, c.post("/settings/integrations/defender", d.goodForm(sec)), "/settings/integrations")
	d.waitSynced(t)
	doc := dom(t, c.get("/settings/integrations/defender/card").body)
	if got := texts(doc.Find("details[data-menu] button")); strings.Join(got, ",") != "Manage,Sync now,Disable" {
		t.Errorf("the ⚙️ menu holds %q, want Manage, Sync now, Disable", got)
	}
	if got := texts(doc.Find("#defender-card > div").Last().Find("button")); strings.Join(got, ",") != "Manage" {
		t.Errorf("the footer holds %q, want Manage alone", got)
	}
	if strings.Contains(text(doc.Find("#defender-card")), "just nowby") {
		t.Error("the card runs the time and its author together")
	}
}
