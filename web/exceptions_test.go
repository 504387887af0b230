package web

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"postern/internal/audit"
	"postern/internal/model"
	"postern/internal/posture"
	"postern/views/components"
)

// The Exceptions page lists every exception with its device, check,
// reason, author, expiry and status; Active hides the expired and revoked
// ones; Revoke there goes through the service (audited, in force at once)
// and comes back to the list.
func TestExceptionsPage(t *testing.T) {
	d, c := connected(t)
	id := highRiskDevice(t, d, c)
	checks, err := d.store.PostureChecks(context.Background())
	if err != nil || len(checks) != 1 {
		t.Fatalf("checks %+v, %v", checks, err)
	}
	host := d.fleet.Load().Devices[0].Host
	if dev, ok := d.fleet.Load().ByID(id); ok {
		host = dev.Host
	}
	add := func(check, reason string, days int) {
		t.Helper()
		form := url.Values{"check_id": {check}, "reason": {reason}, "expires_on": {d.clock.Now().AddDate(0, 0, days).Format(time.DateOnly)}}
		wantRedirect(t, c.post("/devices/"+id+"/exceptions", form), "/devices/"+id+"#exceptions")
	}
	add(itoa(checks[0].ID), "CHG-1 patch due", 1)
	add("0", "CHG-2 reimage booked", 30)

	rows := func(path string) *goquery.Selection {
		t.Helper()
		return parse(t, c.get(path)).Find(testID("exception-row"))
	}
	active := rows("/zero-trust/exceptions")
	if active.Length() != 2 {
		t.Fatalf("Active lists %d exceptions, want 2", active.Length())
	}
	first := active.First() // newest first: the one for every check
	for _, want := range []string{host, id, "All checks", "CHG-2 reimage booked", "Active", "in 31 days"} {
		if !strings.Contains(text(first), want) {
			t.Errorf("the row lacks %q: %q", want, text(first))
		}
	}
	expiry := d.clock.Now().AddDate(0, 0, 30).UTC().Truncate(24 * time.Hour).Add(24*time.Hour - time.Second)
	if got := text(first.Find(testID("expires"))); !strings.Contains(got, components.DateTime(expiry)) {
		t.Errorf("expiry %q, want %s", got, components.DateTime(expiry))
	}
	if href, _ := first.Find("a").First().Attr("href"); href != deviceURL(id)+"#exceptions" {
		t.Errorf("the device links to %q", href)
	}
	if !strings.Contains(text(active.Eq(1)), checks[0].Name) {
		t.Errorf("the second row does not name its check: %q", text(active.Eq(1)))
	}

	// Revoke the one for every check: the device is denied again at once.
	form := first.Find("form")
	action, _ := form.Attr("action")
	vals := url.Values{}
	form.Find(`input[type="hidden"]`).Each(func(_ int, in *goquery.Selection) {
		if n := in.AttrOr("name", ""); n != "_csrf" && n != "csrf" {
			vals.Set(n, in.AttrOr("value", ""))
		}
	})
	forged := url.Values{"device": {"not-" + id}}
	wantStatus(t, c.post(action, forged), http.StatusNotFound)
	wantRedirect(t, c.post(action, vals), "/zero-trust/exceptions")
	a, done := audit.ExceptionRevoked, audit.Success
	if entries := d.audited(audit.Filter{Action: &a, Outcome: &done}); len(entries) != 1 {
		t.Errorf("revocations audited: %+v", entries)
	}
	if dec := d.policy.Evaluate(posture.Request{DefenderMachineID: id}); !dec.Allowed {
		// The check's own exception still lets it pass.
		t.Errorf("the check's exception no longer applies: %+v", dec)
	}
	if n := rows("/zero-trust/exceptions").Length(); n != 1 {
		t.Errorf("Active lists %d after the revocation, want 1", n)
	}

	// Two days on, the check's exception has expired: All shows both.
	d.clock.Advance(48 * time.Hour)
	c = d.signedIn()
	if n := rows("/zero-trust/exceptions").Length(); n != 0 {
		t.Errorf("Active lists %d once both ended, want 0", n)
	}
	all := rows("/zero-trust/exceptions?show=all")
	if got := texts(all.Find(testID("status"))); strings.Join(got, ",") != "Revoked,Expired" {
		t.Errorf("statuses %q, want Revoked, Expired", got)
	}
	if all.Find("form").Length() != 0 {
		t.Error("an ended exception offers Revoke")
	}
	if exc, _ := d.store.Exceptions(context.Background(), model.ExceptionFilter{ActiveAt: d.clock.Now()}); len(exc) != 0 {
		t.Errorf("active exceptions: %+v", exc)
	}
}
