package web

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"

	"postern/internal/audit"
	"postern/internal/posture"
)

// saveCheck posts a check form as an admin does: when the editor asks to
// confirm a save that cuts access, it presses the confirmation button
// (its name and value come from the page) and returns that answer.
func saveCheck(t *testing.T, c *client, path string, form url.Values) response {
	t.Helper()
	res := c.post(path, form)
	if res.StatusCode != http.StatusOK {
		return res
	}
	btn := dom(t, res.body).Find(testID("save-confirm") + ` button[type="submit"]`)
	name, value := btn.AttrOr("name", ""), btn.AttrOr("value", "")
	if btn.Length() != 1 || name == "" {
		t.Fatalf("POST %s answered 200 without a confirmation:\n%.1500s", path, res.body)
	}
	confirmed := url.Values{}
	for k, v := range form {
		confirmed[k] = v
	}
	confirmed.Set(name, value)
	return c.post(path, confirmed)
}

// confirmedAll is a check form whose admin has confirmed denying any
// number of devices (for route tables that post one form).
func confirmedAll(form url.Values) url.Values {
	form.Set("confirm_denied", strconv.Itoa(1<<30))
	return form
}

// A save that denies devices allowed today is not made until confirmed:
// the editor says how many, links the list of exactly those devices, and
// saves only when the confirmation covers the number.
func TestSavingAnAccessCuttingCheckAsksFirst(t *testing.T) {
	d, c := connected(t)
	form := lowRiskForm()
	first := c.post("/zero-trust/posture-checks", form)
	wantStatus(t, first, http.StatusOK)
	if checks, _ := d.store.PostureChecks(context.Background()); len(checks) != 0 {
		t.Fatalf("saved without confirmation: %+v", checks)
	}
	doc := parse(t, first)
	ask := doc.Find(testID("save-confirm"))
	imp := impactOf(t, first.body)
	if imp["newly-denied"] == 0 || !strings.Contains(text(ask), "Saving denies "+strconv.Itoa(imp["newly-denied"])+" devices that are allowed today") {
		t.Fatalf("confirmation %q, preview %v", text(ask), imp)
	}
	if got := doc.Find(`#check-form input[name="name"]`).AttrOr("value", ""); got != "Low risk only" {
		t.Errorf("the form lost its input: name %q", got)
	}
	// The link lists exactly the devices the check would deny: those
	// allowed today (no check yet: every device) that fail or lack a risk.
	link := ask.Find("a").AttrOr("href", "")
	list := parse(t, c.get(link))
	var hosts []string
	list.Find("main li a").Each(func(_ int, a *goquery.Selection) { hosts = append(hosts, text(a)) })
	var want []string
	for i := range d.fleet.Load().Devices {
		dev := &d.fleet.Load().Devices[i]
		if !dev.Removed && (dev.RiskScore == "" || strings.EqualFold(dev.RiskScore, "High")) {
			want = append(want, hostOrID(dev.Host, dev.ID))
		}
	}
	slices.Sort(hosts)
	slices.Sort(want)
	if !slices.Equal(hosts, want) || len(want) != imp["newly-denied"] {
		t.Errorf("the denials page lists %q, want %q (preview said %d)", hosts, want, imp["newly-denied"])
	}
	// A confirmation for fewer devices than the save denies asks again.
	short := lowRiskForm()
	short.Set("confirm_denied", strconv.Itoa(imp["newly-denied"]-1))
	wantStatus(t, c.post("/zero-trust/posture-checks", short), http.StatusOK)
	wantRedirect(t, saveCheck(t, c, "/zero-trust/posture-checks", form), "/zero-trust/posture-checks")
	action := audit.CheckCreated
	entries, _, _ := d.store.AuditEntries(context.Background(), audit.Filter{Action: &action})
	if len(entries) != 1 {
		t.Errorf("audit entries for the create: %d", len(entries))
	}
	// Monitor only cuts nobody: saved at once, and the preview says so.
	mon := lowRiskForm()
	mon.Set("name", "Watch risk")
	mon.Set("mode", posture.ModeMonitor)
	prev := parse(t, c.post("/zero-trust/posture-checks/preview", mon))
	if got := text(prev.Find(testID("impact-monitor"))); !strings.Contains(got, "nobody will be denied by this check") {
		t.Errorf("monitor preview says %q", got)
	}
	if got := text(prev.Find(testID("impact-denied"))); got != "0" {
		t.Errorf("monitor preview denies %q", got)
	}
	wantRedirect(t, c.post("/zero-trust/posture-checks", mon), "/zero-trust/posture-checks")
}

func hostOrID(host, id string) string {
	if host != "" {
		return host
	}
	return id
}
