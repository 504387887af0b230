package web

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"postern/internal/audit"
	"postern/internal/model"
	"postern/internal/posture"
)

// decisions counts the active synced devices the engine allows and denies.
func decisions(d *defenderEnv) (allowed, denied int) {
	snap := d.fleet.Load()
	for i := range snap.Devices {
		if snap.Devices[i].Removed {
			continue
		}
		if d.policy.DeviceDecision(&snap.Devices[i]).Allowed {
			allowed++
		} else {
			denied++
		}
	}
	return allowed, denied
}

func storedCheck(t *testing.T, d *defenderEnv, name string) model.PostureCheck {
	t.Helper()
	checks, err := d.store.PostureChecks(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range checks {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("no check %q in %+v", name, checks)
	return model.PostureCheck{}
}

// The Disable confirmation says in numbers what Disable does to access,
// and those numbers are the verdicts the engine gives once it is done; a
// check switched to Monitor only in the same dialog is audited and
// leaves those devices allowed.
func TestDisableDialogSaysWhatHappensToAccess(t *testing.T) {
	d, c := connected(t)
	wantRedirect(t, saveCheck(t, c, "/zero-trust/posture-checks", lowRiskForm()), "/zero-trust/posture-checks")
	lenient := lowRiskForm()
	lenient.Set("name", "Lenient")
	lenient.Set("max_risk", "High")
	lenient.Set("when_unavailable", posture.UnavailableAllow)
	wantRedirect(t, saveCheck(t, c, "/zero-trust/posture-checks", lenient), "/zero-trust/posture-checks")
	allowedToday, _ := decisions(d)

	page := parse(t, c.get("/settings/integrations/defender/disable"))
	summary := text(page.Find(testID("disable-summary")))
	denied, _ := strconv.Atoi(strings.ReplaceAll(strings.Fields(text(page.Find(testID("disable-denied"))))[0], ",", ""))
	active := d.fleet.Load().Active
	want := "Checks Lenient and Low risk only will have no data: " + strconv.Itoa(active) + " devices will be denied (When data is unavailable is Deny for Low risk only), 0 allowed. " +
		strconv.Itoa(allowedToday) + " of those denied are allowed today."
	if !strings.HasPrefix(summary, want) || denied != active {
		t.Errorf("summary:\n%s\nwant it to start with:\n%s", summary, want)
	}
	low := storedCheck(t, d, "Low risk only")
	field := "switch." + strconv.FormatInt(low.ID, 10)
	choices := page.Find(`input[name="` + field + `"]`)
	if choices.Length() != 3 || page.Find(`input[name^="switch."]`).Length() != 3 {
		t.Fatalf("switch choices: %d for Low risk only, %d in all (Lenient allows already)", choices.Length(), page.Find(`input[name^="switch."]`).Length())
	}
	// The figures follow the chosen switch before anything is saved.
	part := parse(t, c.get("/settings/integrations/defender/disable?part=summary&"+field+"=monitor"))
	if got := text(part.Find(testID("disable-denied"))); got != "nobody will be denied by them" {
		t.Errorf("with Monitor only chosen: %q", got)
	}
	if got := storedCheck(t, d, "Low risk only"); got.Mode != posture.ModeEnforce {
		t.Fatalf("the summary saved a switch: %+v", got)
	}

	wantRedirect(t, c.post("/settings/integrations/defender/disable", url.Values{field: {"monitor"}}), "/settings/integrations")
	if got := storedCheck(t, d, "Low risk only"); got.Mode != posture.ModeMonitor || got.Spec != low.Spec {
		t.Errorf("after Disable with the switch: %+v", got)
	}
	if d.policy.DefenderEnabled() {
		t.Error("Defender is still enabled")
	}
	if allowed, denied := decisions(d); denied != 0 || allowed != active {
		t.Errorf("after switch and Disable: %d allowed, %d denied, want all %d allowed", allowed, denied, active)
	}
	updated := audit.CheckUpdated
	entries, _, _ := d.store.AuditEntries(context.Background(), audit.Filter{Action: &updated})
	if len(entries) != 1 || entries[0].Target != "Low risk only" || !strings.Contains(entries[0].Detail, "before disabling Microsoft Defender") {
		t.Errorf("audit of the switch: %+v", entries)
	}
}

// While Defender is disabled a check that uses it stays editable: its
// source is named as disabled, its conditions are shown read-only and kept
// on save, and a new check cannot choose it.
func TestDisabledSourceCheckStaysEditable(t *testing.T) {
	d, c := connected(t)
	wantRedirect(t, saveCheck(t, c, "/zero-trust/posture-checks", lowRiskForm()), "/zero-trust/posture-checks")
	low := storedCheck(t, d, "Low risk only")
	wantRedirect(t, c.post("/settings/integrations/defender/disable", url.Values{}), "/settings/integrations")
	path := "/zero-trust/posture-checks/" + strconv.FormatInt(low.ID, 10)

	edit := parse(t, c.get(path+"/edit"))
	if got := text(edit.Find(`select[name="source"] option[selected]`)); got != "Microsoft Defender (disabled)" {
		t.Errorf("data source shows %q", got)
	}
	if edit.Find(`fieldset[disabled] select[name="max_risk"]`).Length() != 1 {
		t.Error("the Defender conditions are not shown read-only")
	}
	if _, off := edit.Find(`#check-form button[type="submit"]`).Attr("disabled"); off {
		t.Error("Save is disabled")
	}
	// The form carries no conditions (disabled fields are not sent).
	form := url.Values{"name": {"Low risk (paused)"}, "source": {posture.SourceDefender}, "mode": {posture.ModeMonitor},
		"when_unavailable": {posture.UnavailableAllow}, "enabled": {"on"}}
	wantRedirect(t, c.post(path, form), "/zero-trust/posture-checks")
	got := storedCheck(t, d, "Low risk (paused)")
	if got.Spec != low.Spec || got.Mode != posture.ModeMonitor || got.WhenUnavailable != posture.UnavailableAllow || got.DataSource != posture.SourceDefender {
		t.Errorf("saved %+v, want the conditions kept from %+v", got, low)
	}
	if !strings.Contains(c.get("/zero-trust/posture-checks").body, "Data source disabled") {
		t.Error("the list lost its Data source disabled badge")
	}
	res := c.post("/zero-trust/posture-checks", lowRiskForm())
	wantStatus(t, res, http.StatusUnprocessableEntity)
	if !strings.Contains(res.body, "Microsoft Defender is disabled") {
		t.Error("a new Defender check is not refused while it is disabled")
	}
}

// The dashboard's counts say they leave Device report checks out.
func TestDashboardSaysDeviceReportChecksAreNotCounted(t *testing.T) {
	_, c := connected(t)
	note := testID("per-request-note")
	if parse(t, c.get("/")).Find(note).Length() != 0 {
		t.Fatal("the note shows without a Device report check")
	}
	form := url.Values{"name": {"Firewall on"}, "source": {posture.SourceDeviceReport}, "report_firewall": {"on"},
		"mode": {posture.ModeEnforce}, "when_unavailable": {posture.UnavailableDeny}, "enabled": {"on"}}
	wantRedirect(t, c.post("/zero-trust/posture-checks", form), "/zero-trust/posture-checks")
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		doc := parse(t, c.get("/"))
		if got := text(doc.Find(note)); strings.Contains(got, "decided per request") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the dashboard never says Device report checks are not counted")
		}
	}
	if got := text(parse(t, c.get("/zero-trust/posture-checks")).Find(`tr[data-check="Firewall on"]`)); !strings.Contains(got, "decided per request, not counted") {
		t.Errorf("the checks list row: %q", got)
	}
}
