package web

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"postern/internal/audit"
	"postern/internal/emulator"
)

func riskCounts(ms []emulator.Machine) (high, other int) {
	for _, m := range ms {
		if m.RiskScore != nil && *m.RiskScore == "High" {
			high++
		} else {
			other++
		}
	}
	return
}

// impactOf reads the impact preview's three counts.
func impactOf(t *testing.T, body string) map[string]int {
	t.Helper()
	doc := dom(t, body)
	out := map[string]int{}
	for _, k := range []string{"allowed", "denied", "newly-denied", "newly-allowed"} {
		count := doc.Find(testID("impact-" + k))
		digits := strings.Map(func(r rune) rune {
			if r >= '0' && r <= '9' {
				return r
			}
			return -1
		}, text(count))
		n, err := strconv.Atoi(digits)
		if count.Length() != 1 || err != nil {
			t.Fatalf("no %s impact count in:\n%.1500s", k, body)
		}
		out[k] = n
	}
	return out
}

// sources are the data sources the check editor offers, by their words.
func sources(t *testing.T, body string) []string {
	return texts(dom(t, body).Find(`select[name="source"] option[value!=""]`))
}

func lowRiskForm() url.Values {
	return url.Values{"name": {"Low risk only"}, "source": {"defender"}, "max_risk": {"Medium"},
		"mode": {"enforce"}, "when_unavailable": {"deny"}, "enabled": {"on"}}
}

func TestPostureCheckEditorAndPreview(t *testing.T) {
	d, c := connected(t)
	page := c.get("/zero-trust/posture-checks")
	if !strings.Contains(page.body, "No posture checks yet") {
		t.Fatal("no empty state")
	}
	editor := c.get("/zero-trust/posture-checks/new")
	wantStatus(t, editor, http.StatusOK)
	if got := sources(t, editor.body); !slices.Equal(got, []string{"Microsoft Defender", "Device report"}) {
		t.Errorf("editor offers the sources %q", got)
	}
	for _, want := range []string{"Data Source", "When data is unavailable", "Monitor only", "Impact preview"} {
		if !strings.Contains(editor.body, want) {
			t.Errorf("editor lacks %q", want)
		}
	}
	// Choosing the source shows its conditions (the dropdown's htmx GET).
	cond := c.get("/zero-trust/posture-checks/new?source=defender&name=x")
	if !strings.Contains(cond.body, "Maximum risk score") || !strings.Contains(cond.body, "Last seen within") {
		t.Fatal("choosing Microsoft Defender does not show its conditions")
	}

	// The impact preview counts High-risk devices as failing.
	high, _ := riskCounts(d.emu.Machines())
	snap := d.fleet.Load()
	active := snap.Active
	prev := c.post("/zero-trust/posture-checks/preview", lowRiskForm())
	wantStatus(t, prev, http.StatusOK)
	got := impactOf(t, prev.body)
	if got["denied"] == 0 || got["allowed"]+got["denied"] != active || got["newly-denied"] != got["denied"] {
		t.Fatalf("impact %v over %d active devices (emulator has %d High)", got, active, high)
	}
	if !strings.Contains(prev.body, "risk score High exceeds the allowed Medium") {
		t.Errorf("preview lacks the failing reason:\n%.1500s", prev.body)
	}

	// Invalid input: messages, nothing saved.
	bad := url.Values{"name": {""}, "source": {"defender"}, "last_seen_hours": {"12"}}
	res := c.post("/zero-trust/posture-checks", bad)
	wantStatus(t, res, http.StatusUnprocessableEntity)
	for _, want := range []string{"Name the check", "at least 48"} {
		if !strings.Contains(res.body, want) {
			t.Errorf("invalid check: body lacks %q", want)
		}
	}
	wantRedirect(t, saveCheck(t, c, "/zero-trust/posture-checks", lowRiskForm()), "/zero-trust/posture-checks")
	dup := c.post("/zero-trust/posture-checks", lowRiskForm())
	wantStatus(t, dup, http.StatusUnprocessableEntity)
	if !strings.Contains(dup.body, "already has this name") {
		t.Error("a duplicate name is not refused")
	}
	checks, _ := d.store.PostureChecks(context.Background())
	if len(checks) != 1 {
		t.Fatalf("stored checks: %d", len(checks))
	}
	id := strconv.FormatInt(checks[0].ID, 10)

	// The list shows counts once the engine has recomputed.
	deadline := time.Now().Add(10 * time.Second)
	for {
		list := c.get("/zero-trust/posture-checks").body
		if strings.Contains(list, "Low risk only") && !strings.Contains(list, "counting…") {
			if !strings.Contains(list, "Enforce") {
				t.Error("list lacks the mode")
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("list never showed counts:\n%.2000s", list)
		}
		time.Sleep(50 * time.Millisecond)
	}

	// Edit: monitor only.
	edit := lowRiskForm()
	edit.Set("mode", "monitor")
	wantRedirect(t, c.post("/zero-trust/posture-checks/"+id, edit), "/zero-trust/posture-checks")
	if got, _ := d.store.PostureCheck(context.Background(), checks[0].ID); got.Mode != "monitor" {
		t.Fatalf("edit not saved: %+v", got)
	}

	// Disable: no Defender in the dropdown, the check says so, nothing deleted.
	wantRedirect(t, c.post("/settings/integrations/defender/disable", url.Values{}), "/settings/integrations")
	if slices.Contains(sources(t, c.get("/zero-trust/posture-checks/new").body), "Microsoft Defender") {
		t.Error("Microsoft Defender is still offered while disabled")
	}
	if !strings.Contains(c.get("/zero-trust/posture-checks").body, "Data source disabled") {
		t.Error("the check does not say its data source is disabled")
	}
	wantRedirect(t, c.post("/settings/integrations/defender/enable", url.Values{}), "/settings/integrations")
	if !slices.Contains(sources(t, c.get("/zero-trust/posture-checks/new").body), "Microsoft Defender") {
		t.Error("Microsoft Defender is not offered again after Enable")
	}

	// Delete after confirmation.
	wantStatus(t, c.get("/zero-trust/posture-checks/"+id+"/delete"), http.StatusOK)
	wantRedirect(t, c.post("/zero-trust/posture-checks/"+id+"/delete", url.Values{}), "/zero-trust/posture-checks")
	if checks, _ := d.store.PostureChecks(context.Background()); len(checks) != 0 {
		t.Fatal("check not deleted")
	}
	for _, action := range []string{"posture_check.created", "posture_check.updated", "posture_check.deleted"} {
		a, done := action, audit.Success
		if entries := d.audited(audit.Filter{Action: &a, Outcome: &done}); len(entries) != 1 {
			t.Errorf("%s audited as done %d times", action, len(entries))
		}
	}
}

func FuzzCheckForm(f *testing.F) {
	f.Add("name=Low+risk&source=defender&max_risk=Medium&mode=enforce")
	f.Add("name=x&source=device_report&report_os=Windows&report_min_os_version=10.0.1&report_firewall=on")
	f.Add("name=x&source=defender&last_seen_hours=-1&min_build.Windows11=abc&required_tags=a,b,,c")
	f.Add("source=zzz&when_unavailable=maybe&av_statuses=Updated&av_statuses=%00")
	f.Fuzz(func(t *testing.T, q string) {
		v, err := url.ParseQuery(q)
		if err != nil {
			return
		}
		form, problems := parseCheckForm(v)
		if len(problems) == 0 {
			if form.Name == "" || len(form.Name) > 4*maxCheckName {
				t.Fatalf("accepted name %q", form.Name)
			}
			if form.Source != "defender" && form.Source != "device_report" {
				t.Fatalf("accepted source %q", form.Source)
			}
		}
	})
}
