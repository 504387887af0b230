package web

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"postern/internal/audit"
	"postern/internal/emulator"
	"postern/internal/model"
	"postern/internal/posture"
	"postern/internal/testkit"
)

// highRiskDevice saves the Low risk only check and returns a High-risk,
// non-duplicate device id.
func highRiskDevice(t *testing.T, d *defenderEnv, c *client) string {
	t.Helper()
	wantRedirect(t, saveCheck(t, c, "/zero-trust/posture-checks", lowRiskForm()), "/zero-trust/posture-checks")
	for _, m := range d.emu.Machines() {
		if m.RiskScore != nil && *m.RiskScore == "High" && m.MergedIntoMachineID == nil && !m.IsPotentialDuplication {
			return m.ID
		}
	}
	t.Fatal("no High-risk machine in the emulator fleet")
	return ""
}

func TestExceptionsLifecycle(t *testing.T) {
	d, c := connected(t)
	id := highRiskDevice(t, d, c)
	page := c.get("/devices/" + id)
	wantStatus(t, page, http.StatusOK)
	for _, want := range []string{"Posture checks", "Low risk only", "Denied", "risk score High exceeds the allowed Medium", "Add exception", "Posture history"} {
		if !strings.Contains(page.body, want) {
			t.Errorf("device page lacks %q", want)
		}
	}

	bad := c.post("/devices/"+id+"/exceptions", url.Values{"check_id": {"0"}, "reason": {" "}, "expires_on": {"2020-01-01"}})
	wantStatus(t, bad, http.StatusUnprocessableEntity)
	for _, want := range []string{"Say why this device may pass", "Choose a date after today"} {
		if !strings.Contains(bad.body, want) {
			t.Errorf("invalid exception: body lacks %q", want)
		}
	}
	tooLong := c.post("/devices/"+id+"/exceptions", url.Values{"reason": {"x"}, "expires_on": {d.clock.Now().AddDate(2, 0, 0).Format(time.DateOnly)}})
	if !strings.Contains(tooLong.body, "at most one year") {
		t.Error("an exception over a year is not refused")
	}
	if exc, _ := d.store.Exceptions(context.Background(), model.ExceptionFilter{DeviceID: id}); len(exc) != 0 {
		t.Fatalf("invalid input stored %d exceptions", len(exc))
	}

	expires := d.clock.Now().AddDate(0, 0, 7).Format(time.DateOnly)
	res := c.post("/devices/"+id+"/exceptions", url.Values{"check_id": {"0"}, "reason": {"CHG-1234 reimage booked"}, "expires_on": {expires}})
	wantRedirect(t, res, "/devices/"+id+"#exceptions")
	dec := d.policy.Evaluate(posture.Request{DefenderMachineID: id})
	if !dec.Allowed || !strings.Contains(strings.Join(dec.Checks[0].Reasons, " "), "exception by "+testEmail) {
		t.Fatalf("with an exception: %+v", dec)
	}
	page = c.get("/devices/" + id)
	if !strings.Contains(page.body, "CHG-1234 reimage booked") || !strings.Contains(page.body, "Allowed") {
		t.Error("the device page does not show the exception and the allowed verdict")
	}
	checks, _ := d.store.PostureChecks(context.Background())
	if body := c.get("/zero-trust/posture-checks/" + itoa(checks[0].ID) + "/edit").body; !strings.Contains(body, "CHG-1234 reimage booked") {
		t.Error("the check page does not list the exception")
	}

	// It expires by itself.
	d.clock.Advance(8 * 24 * time.Hour)
	if err := d.policy.Reload(context.Background()); err != nil {
		t.Fatal(err)
	}
	if dec := d.policy.Evaluate(posture.Request{DefenderMachineID: id}); dec.Allowed {
		t.Fatalf("an expired exception still allows the device: %+v", dec)
	}
	c = d.signedIn() // the session went idle while the clock moved on
	if !strings.Contains(c.get("/devices/"+id).body, "Expired") {
		t.Error("the expired exception is not marked Expired")
	}

	// A new one, revoked early.
	expires = d.clock.Now().AddDate(0, 0, 3).Format(time.DateOnly)
	wantRedirect(t, c.post("/devices/"+id+"/exceptions", url.Values{"check_id": {itoa(checks[0].ID)}, "reason": {"vendor fix"}, "expires_on": {expires}}), "/devices/"+id+"#exceptions")
	exc, _ := d.store.Exceptions(context.Background(), model.ExceptionFilter{DeviceID: id})
	wantRedirect(t, c.post("/devices/"+id+"/exceptions/"+itoa(exc[0].ID)+"/revoke", url.Values{}), "/devices/"+id+"#exceptions")
	if dec := d.policy.Evaluate(posture.Request{DefenderMachineID: id}); dec.Allowed {
		t.Fatal("a revoked exception still allows the device")
	}
	for _, action := range []string{"exception.created", "exception.revoked"} {
		a := action
		if entries := d.auditedAs(a); len(entries) == 0 {
			t.Errorf("%s not audited", action)
		}
	}
}

// A change of signal that flips the verdict is recorded with the signal,
// shown on the device's timeline and audited.
func TestPostureHistoryRecordsVerdictChanges(t *testing.T) {
	d, c := connected(t)
	id := highRiskDevice(t, d, c)
	testkit.WaitFor(t, 15*time.Second, "the first counts", func() bool { return d.policy.Tally().Current })

	d.emu.Mutate(func(ms []emulator.Machine) []emulator.Machine {
		for i := range ms {
			if ms[i].ID == id {
				low := "Low"
				ms[i].RiskScore = &low
			}
		}
		return ms
	})
	first := d.worker.Status().LastRun.ID
	c.post("/settings/integrations/defender/sync", url.Values{})
	d.waitRunAfter(t, first)
	// History is recorded by the engine's background loop after the swap:
	// wait for the entry of this change, not just any entry (the device
	// already went from pass to fail when the check was created).
	var hist []model.HistoryEntry
	var overall *model.HistoryEntry
	deadline := time.Now().Add(15 * time.Second)
	for overall == nil || overall.From != "fail" {
		if time.Now().After(deadline) {
			t.Fatalf("no overall fail → pass entry; history: %+v", hist)
		}
		time.Sleep(30 * time.Millisecond)
		hist, _ = d.store.History(context.Background(), id, 10)
		overall = nil
		for i := range hist { // newest first
			if hist[i].CheckID == 0 {
				overall = &hist[i]
				break
			}
		}
	}
	if overall.To != "pass" || !strings.Contains(overall.Signal, "risk score") {
		t.Fatalf("history: %+v", hist)
	}
	page := c.get("/devices/" + id).body
	if !strings.Contains(page, "Overall verdict") || !strings.Contains(page, "Changed: risk score") {
		t.Error("the device's timeline does not show the change")
	}
	if overall.Cause.Kind != model.CauseSyncRun || !strings.Contains(page, "Sync run "+overall.Cause.Ref) {
		t.Errorf("the change's cause is %+v, and the timeline does not name it", overall.Cause)
	}
	// The audit log has the run's one summary, not a row per device.
	if entries := d.auditedAs(audit.VerdictsChanged); len(entries) == 0 || entries[0].Target != overall.Cause.Label {
		t.Errorf("the sync's summary is not in the audit log: %+v", entries)
	}
	if dash := c.get("/").body; !strings.Contains(dash, "Recent verdict changes") {
		t.Error("the dashboard does not list the verdict change")
	}
}

// Revoking an exception through another device's URL is refused as not
// found, changes nothing and is not audited as a revocation.
func TestExceptionRevokeChecksTheDevice(t *testing.T) {
	d, c := connected(t)
	id := highRiskDevice(t, d, c)
	var other string
	for _, m := range d.emu.Machines() {
		if m.ID != id && m.MergedIntoMachineID == nil && !m.IsPotentialDuplication {
			other = m.ID
			break
		}
	}
	expires := d.clock.Now().AddDate(0, 0, 7).Format(time.DateOnly)
	wantRedirect(t, c.post("/devices/"+id+"/exceptions", url.Values{"check_id": {"0"}, "reason": {"CHG-9 reimage"}, "expires_on": {expires}}), "/devices/"+id+"#exceptions")
	exc, _ := d.store.Exceptions(context.Background(), model.ExceptionFilter{DeviceID: id})
	if len(exc) != 1 {
		t.Fatalf("exceptions = %+v", exc)
	}

	wantStatus(t, c.post("/devices/"+other+"/exceptions/"+itoa(exc[0].ID)+"/revoke", url.Values{}), http.StatusNotFound)
	if after, _ := d.store.Exceptions(context.Background(), model.ExceptionFilter{DeviceID: id}); len(after) != 1 || after[0].RevokedAt != nil {
		t.Fatalf("revoking through another device's URL changed the exception: %+v", after)
	}
	if dec := d.policy.Evaluate(posture.Request{DefenderMachineID: id}); !dec.Allowed {
		t.Fatalf("the exception no longer applies: %+v", dec)
	}
	a, done := audit.ExceptionRevoked, audit.Success
	if entries := d.audited(audit.Filter{Action: &a, Outcome: &done}); len(entries) != 0 {
		t.Errorf("a refused revocation was audited as done: %+v", entries)
	}
	wantRedirect(t, c.post("/devices/"+id+"/exceptions/"+itoa(exc[0].ID)+"/revoke", url.Values{}), "/devices/"+id+"#exceptions")
}
