package web

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"postern/internal/audit"
	"postern/internal/emulator"
	"postern/internal/model"
	"postern/views"
	"postern/views/components"
)

// bannerPages are the signed-in pages the banner must be on (every page
// with the console's frame); id is a synced device.
func bannerPages(id string) []string {
	return []string{"/", "/zero-trust/posture-checks", "/zero-trust/posture-checks/new", "/devices", "/devices/" + id,
		"/settings/integrations", "/settings/integrations/defender", "/settings/api-tokens", "/audit", "/sync-runs",
		"/help/microsoft-defender"}
}

// banner reads the outage banner of every page and checks they agree;
// nil when no page has one.
func (ce *countsEnv) banner(t *testing.T, when string) *goquery.Selection {
	t.Helper()
	var first *goquery.Selection
	firstText := ""
	for i, p := range bannerPages(ce.fleet.Load().Devices[0].ID) {
		res := ce.c.get(p)
		wantStatus(t, res, http.StatusOK)
		b := parse(t, res).Find("#outage-banner")
		if i == 0 {
			first, firstText = b, text(b)
			continue
		}
		if got := text(b); got != firstText {
			t.Errorf("%s: %s shows the banner %q, / shows %q", when, p, got, firstText)
		}
	}
	if first.Length() == 0 {
		return nil
	}
	if href, _ := first.Find("a").Attr("href"); href != "/settings/integrations#defender-card" {
		t.Errorf("%s: the banner links to %q, want the Defender card", when, href)
	}
	return first
}

// allowedNow counts the devices the API allows, as figures() reads them.
func (ce *countsEnv) compliant(t *testing.T) int {
	t.Helper()
	return num(t, ce.figures(t, "/").Find(testID("compliant")))
}

// The banner's edges: nothing while the data is fresh; while it is stale
// but kept (default grace, 4 hours) it says until when and how many devices
// will then be denied; after the grace, how many are denied because of it;
// not for Monitor-only checks; and while syncing fails.
func TestOutageBanner(t *testing.T) {
	ce := newCountsEnv(t)
	wantRedirect(t, ce.c.post("/zero-trust/posture-checks", confirmedAll(lowRiskForm())), "/zero-trust/posture-checks")
	if b := ce.banner(t, "fresh"); b != nil {
		t.Fatalf("fresh data shows a banner: %q", text(b))
	}
	allowed := ce.compliant(t)
	synced := ce.fleet.Load().SyncedAt

	// Stale (3 hourly intervals and a minute): kept until 4 hours later.
	ce.clock.Advance(3*time.Hour + time.Minute)
	ce.c = ce.signedIn()
	ce.compliant(t) // the counts have caught up
	b := ce.banner(t, "kept")
	if b == nil {
		t.Fatal("stale data kept during the grace shows no banner")
	}
	keptUntil := components.DateTime(synced.Add(7 * time.Hour))
	for _, want := range []string{"stale", "No successful sync since " + components.DateTime(synced), "until " + keptUntil,
		"then " + strconv.Itoa(allowed) + " devices will be denied"} {
		if !strings.Contains(text(b), want) {
			t.Errorf("kept: the banner lacks %q: %q", want, text(b))
		}
	}
	if st, _ := b.Attr("data-state"); st != views.OutageKept {
		t.Errorf("kept: state %q", st)
	}

	// The grace is over: every device the data allowed is denied now.
	ce.clock.Advance(4 * time.Hour)
	ce.c = ce.signedIn()
	if n := ce.compliant(t); n != 0 {
		t.Fatalf("after the grace %d devices are compliant", n)
	}
	b = ce.banner(t, "unavailable")
	if b == nil {
		t.Fatal("after the grace no banner")
	}
	for _, want := range []string{"Access is affected", "unavailable", "outage grace ended at " + keptUntil,
		strconv.Itoa(allowed) + " devices are denied because of it"} {
		if !strings.Contains(text(b), want) {
			t.Errorf("unavailable: the banner lacks %q: %q", want, text(b))
		}
	}

	// A Monitor-only check denies nobody: no banner.
	id := strings.TrimPrefix(ce.figures(t, "/zero-trust/posture-checks").Find(`tr[data-check]`).AttrOr("id", ""), "check-")
	monitor := lowRiskForm()
	monitor.Set("mode", "monitor")
	wantRedirect(t, ce.c.post("/zero-trust/posture-checks/"+id, confirmedAll(monitor)), "/zero-trust/posture-checks")
	if b := ce.banner(t, "monitor only"); b != nil {
		t.Errorf("a Monitor-only check shows the banner: %q", text(b))
	}
	wantRedirect(t, ce.c.post("/zero-trust/posture-checks/"+id, confirmedAll(lowRiskForm())), "/zero-trust/posture-checks")

	// Back to fresh data, then a failing sync: the same banner, saying the
	// error and that nobody is denied yet.
	ce.clock.Advance(-(7*time.Hour + time.Minute))
	ce.c = ce.signedIn()
	if b := ce.banner(t, "fresh again"); b != nil {
		t.Fatalf("fresh data shows a banner: %q", text(b))
	}
	first := ce.worker.Status().LastRun.ID
	ce.emu.SetFaults(emulator.Faults{MalformedJSON: true})
	ce.c.post("/settings/integrations/defender/sync", url.Values{})
	if run := ce.waitRunAfter(t, first); run.Outcome != model.RunFailed {
		t.Fatalf("run with malformed JSON: %+v", run)
	}
	b = ce.banner(t, "failing")
	if b == nil {
		t.Fatal("a failing sync shows no banner")
	}
	for _, want := range []string{"sync is failing", "Last error: Defender answered with a page Postern could not read", "No device is denied because of it yet"} {
		if !strings.Contains(text(b), want) {
			t.Errorf("failing: the banner lacks %q: %q", want, text(b))
		}
	}

	// Disabled is the admin's choice, said by the card: no banner.
	wantRedirect(t, ce.c.post("/settings/integrations/defender/disable", url.Values{}), "/settings/integrations")
	if b := ce.banner(t, "disabled"); b != nil {
		t.Errorf("a disabled integration shows the banner: %q", text(b))
	}
}

// The outage grace is set in Manage, checked, shown on the card and
// audited; changing only it does not ask Microsoft (which may be the thing
// that is down).
func TestOutageGraceSetting(t *testing.T) {
	ce := newCountsEnv(t)
	c := ce.c
	doc := parse(t, c.get("/settings/integrations/defender"))
	if v, _ := doc.Find(`input[name="outage_grace_hours"]`).Attr("value"); v != "4" {
		t.Fatalf("Manage offers the grace %q, want the default 4", v)
	}
	if got := text(parse(t, c.get("/settings/integrations")).Find(testID("outage-grace"))); !strings.Contains(got, "4 hours") {
		t.Errorf("the card says the grace is %q", got)
	}

	form := ce.goodForm("")
	for _, bad := range []string{"-1", "1.5", "169", "four"} {
		form.Set("outage_grace_hours", bad)
		res := c.post("/settings/integrations/defender", form)
		wantStatus(t, res, http.StatusUnprocessableEntity)
		if msg := text(parse(t, res).Find("#outage_grace_hours-error")); !strings.Contains(msg, "0 to 168") {
			t.Errorf("grace %q: error %q", bad, msg)
		}
	}

	ce.emu.SetFaults(emulator.Faults{TokenDown: true}) // Microsoft is down
	form.Set("outage_grace_hours", "12")
	wantRedirect(t, c.post("/settings/integrations/defender", form), "/settings/integrations")
	if in, _ := ce.integrationRow(t); in.OutageGraceHours != 12 {
		t.Fatalf("stored grace %d, want 12", in.OutageGraceHours)
	}
	if g := ce.policy.Freshness().Grace; g != 12*time.Hour {
		t.Errorf("the engine uses the grace %v, want 12h", g)
	}
	if got := text(parse(t, c.get("/settings/integrations")).Find(testID("outage-grace"))); !strings.Contains(got, "12 hours") {
		t.Errorf("the card says the grace is %q", got)
	}
	action := audit.IntegrationGraceSet
	entries, _, err := ce.store.AuditEntries(context.Background(), audit.Filter{Action: &action})
	if err != nil || len(entries) != 1 || entries[0].Actor != testEmail || entries[0].Detail != "outage grace 4 hours → 12 hours" {
		t.Errorf("audit of the grace: %+v (%v)", entries, err)
	}
	form.Set("outage_grace_hours", "0")
	wantRedirect(t, c.post("/settings/integrations/defender", form), "/settings/integrations")
	if got := text(parse(t, c.get("/settings/integrations")).Find(testID("outage-grace"))); !strings.Contains(got, "None") {
		t.Errorf("the card says the grace is %q, want none", got)
	}
}
