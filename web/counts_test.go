package web

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"postern/internal/emulator"
	"postern/internal/posture"
)

// countsEnv is a console connected to an emulator of 300 machines, with an
// API token for the enforcement API.
type countsEnv struct {
	*defenderEnv
	c     *client
	token string
}

func newCountsEnv(t *testing.T) *countsEnv {
	t.Helper()
	const sec = "Good~secret.value-0123456789abcdefghijklm"
	emu := emulator.New(emulator.Config{ClientSecret: sec, Machines: 300, Seed: 12})
	hs := httptest.NewServer(emu)
	t.Cleanup(hs.Close)
	e := newEnvWith(t, hs.URL)
	e.setup()
	d := &defenderEnv{testEnv: e, emu: emu, emuSrv: hs}
	c := d.signedIn()
	wantRedirect(t, c.post("/settings/integrations/defender", d.goodForm(sec)), "/settings/integrations")
	d.waitSynced(t)
	return &countsEnv{defenderEnv: d, c: c, token: createToken(t, c, "Gateway counts")}
}

// figures reads a page whose counts may say "recalculating…": it waits
// until they do not (at most 10 s), then returns the page.
func (ce *countsEnv) figures(t *testing.T, path string) *goquery.Document {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		res := ce.c.get(path)
		wantStatus(t, res, http.StatusOK)
		if !strings.Contains(strings.ToLower(res.body), "recalculating…") {
			return parse(t, res)
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s still says recalculating… after 10 s", path)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func num(t *testing.T, s *goquery.Selection) int {
	t.Helper()
	n, err := strconv.Atoi(strings.ReplaceAll(text(s), ",", ""))
	if err != nil || s.Length() != 1 {
		t.Fatalf("not one count: %q", text(s))
	}
	return n
}

// agree asks the enforcement API about every synced device and compares
// its answers with the dashboard's compliance figures, the checks list's
// per-check counts and the device page of a sample.
func (ce *countsEnv) agree(t *testing.T, when string) (allowed, denied int) {
	t.Helper()
	dash := ce.figures(t, "/")
	list := ce.figures(t, "/zero-trust/posture-checks")
	var api struct{ pass, fail, unknown int }
	perCheck := map[string][3]int{}
	snap := ce.fleet.Load()
	sampled := 0
	for i := range snap.Devices {
		d := &snap.Devices[i]
		if d.Removed {
			continue
		}
		r := evaluate(t, ce.testEnv, ce.token, map[string]any{"defender_machine_id": d.ID})
		failed := false
		for _, c := range r.Checks {
			n := perCheck[c.Name]
			switch c.Result {
			case string(posture.Pass):
				n[0]++
			case string(posture.Fail):
				n[1]++
				failed = failed || c.Mode == posture.ModeEnforce
			default:
				n[2]++
			}
			perCheck[c.Name] = n
		}
		switch {
		case r.Allowed:
			api.pass++
		case failed:
			api.fail++
		default:
			api.unknown++
		}
		if i%37 == 0 {
			sampled++
			page := parse(t, ce.c.get("/devices/"+d.ID)).Find("#posture")
			if want := map[bool]string{true: "Allowed", false: "Denied"}[r.Allowed]; !strings.Contains(text(page), want) {
				t.Errorf("%s: device %s: the API says allowed %v, its page says %q", when, d.Host, r.Allowed, text(page))
			}
		}
	}
	got := [3]int{num(t, dash.Find(testID("compliant"))), num(t, dash.Find(testID("non-compliant"))), num(t, dash.Find(testID("unknown")))}
	if want := [3]int{api.pass, api.fail, api.unknown}; got != want {
		t.Errorf("%s: the dashboard says compliant/non-compliant/unknown %v, the API answers %v", when, got, want)
	}
	rows := list.Find("tr[data-check]")
	if rows.Length() != len(perCheck) {
		t.Errorf("%s: the list has %d checks, the API answers with %d", when, rows.Length(), len(perCheck))
	}
	rows.Each(func(_ int, row *goquery.Selection) {
		name, _ := row.Attr("data-check")
		cells := row.Find("td.text-right.tabular-nums")
		if cells.Length() != 3 {
			t.Errorf("%s: check %s shows no counts: %q", when, name, text(row))
			return
		}
		var got [3]int
		for k := range 3 {
			got[k] = num(t, cells.Eq(k))
		}
		if got != perCheck[name] {
			t.Errorf("%s: check %s: the list says passing/failing/unknown %v, the API answers %v", when, name, got, perCheck[name])
		}
	})
	if sampled == 0 || api.pass+api.fail+api.unknown != snap.Active {
		t.Fatalf("%s: compared %d answers over %d active devices", when, api.pass+api.fail+api.unknown, snap.Active)
	}
	return api.pass, api.fail + api.unknown
}

// After a check is created, edited or deleted, after a sync and as the data
// goes stale, the dashboard, the checks list and the device pages give the
// verdicts the enforcement API gives (or say "recalculating…" until they
// do).
func TestCountsMatchTheAPI(t *testing.T) {
	ce := newCountsEnv(t)
	c := ce.c
	wantRedirect(t, c.post("/zero-trust/posture-checks", confirmedAll(lowRiskForm())), "/zero-trust/posture-checks")
	ce.agree(t, "after a create")

	healthy := url.Values{"name": {"Healthy"}, "source": {"defender"}, "health_status": {"Active"},
		"mode": {"monitor"}, "when_unavailable": {"allow"}, "enabled": {"on"}}
	wantRedirect(t, c.post("/zero-trust/posture-checks", confirmedAll(healthy)), "/zero-trust/posture-checks")
	ce.agree(t, "after a second create")

	id := ""
	ce.figures(t, "/zero-trust/posture-checks").Find(`tr[data-check="Low risk only"]`).Each(func(_ int, s *goquery.Selection) {
		id = strings.TrimPrefix(s.AttrOr("id", ""), "check-")
	})
	edit := lowRiskForm()
	edit.Set("max_risk", "Low")
	wantRedirect(t, c.post("/zero-trust/posture-checks/"+id, confirmedAll(edit)), "/zero-trust/posture-checks")
	ce.agree(t, "after an edit")

	// A sync that changes half the risk scores.
	run := ce.worker.Status().LastRun.ID
	ce.emu.Mutate(func(ms []emulator.Machine) []emulator.Machine {
		for i := range ms {
			if i%2 == 0 {
				r := []string{"High", "None", "Medium"}[i%3]
				ms[i].RiskScore = &r
			}
		}
		return ms
	})
	c.post("/settings/integrations/defender/sync", url.Values{})
	ce.waitRunAfter(t, run)
	allowed, _ := ce.agree(t, "after a sync")

	// The data goes stale (3 intervals of an hour): kept for the default 4
	// hours, then unavailable.
	ce.clock.Advance(3*time.Hour + time.Minute)
	ce.c = ce.signedIn() // the session timed out meanwhile
	if a, _ := ce.agree(t, "stale, in the grace"); a != allowed {
		t.Errorf("in the grace %d devices are allowed, %d before", a, allowed)
	}
	ce.clock.Advance(4 * time.Hour)
	ce.c = ce.signedIn()
	if a, _ := ce.agree(t, "after the grace"); a != 0 {
		t.Errorf("after the grace %d devices are allowed on unavailable data", a)
	}
	ce.clock.Advance(-(7*time.Hour + time.Minute))
	c = ce.signedIn()
	ce.c = c

	wantRedirect(t, c.post(fmt.Sprintf("/zero-trust/posture-checks/%s/delete", id), url.Values{}), "/zero-trust/posture-checks")
	ce.agree(t, "after a delete")
}
