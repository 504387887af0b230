package web

import (
	"encoding/csv"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"

	"postern/internal/posture"
)

// listVerdicts reads every page of the device list at path (a query of
// /devices), waiting out "recalculating…": each listed device id with the
// text of its Verdict cell.
func (ce *countsEnv) listVerdicts(t *testing.T, path string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for page := int64(1); ; page++ {
		doc := ce.figures(t, path+"&per_page=200&page="+itoa(page))
		rows := doc.Find(testID("device-row"))
		rows.Each(func(_ int, row *goquery.Selection) {
			href, _ := row.Find(`td:first-child a[href^="/devices/"]`).Attr("href")
			id, _ := url.PathUnescape(strings.TrimPrefix(href, "/devices/"))
			out[id] = text(row.Find(testID("verdict")))
		})
		if rows.Length() < 200 {
			return out
		}
	}
}

// apiVerdict is the enforcement API's answer for a synced device in the
// list's words.
func (ce *countsEnv) apiVerdict(t *testing.T, id string) string {
	r := evaluate(t, ce.testEnv, ce.token, map[string]any{"defender_machine_id": id})
	if r.Allowed {
		return "Allowed"
	}
	for _, c := range r.Checks {
		if c.Result == string(posture.Fail) && c.Mode == posture.ModeEnforce {
			return "Denied"
		}
	}
	return "Unknown"
}

// The Verdict column says, for every device, what the enforcement API
// answers; the Verdict filter and each dashboard compliance tile list
// exactly the devices with that verdict, as many as the tile counts; the
// CSV export carries the same words.
func TestDeviceVerdictsMatchTheAPI(t *testing.T) {
	ce := newCountsEnv(t)
	wantRedirect(t, ce.c.post("/zero-trust/posture-checks", confirmedAll(lowRiskForm())), "/zero-trust/posture-checks")
	healthy := url.Values{"name": {"Healthy"}, "source": {"defender"}, "health_status": {"Active"},
		"mode": {"enforce"}, "when_unavailable": {"deny"}, "enabled": {"on"}}
	wantRedirect(t, ce.c.post("/zero-trust/posture-checks", confirmedAll(healthy)), "/zero-trust/posture-checks")

	all := ce.listVerdicts(t, "/devices?sort=host&kind=all")
	snap := ce.fleet.Load()
	if len(all) != snap.Active {
		t.Fatalf("the list shows %d devices, %d are active", len(all), snap.Active)
	}
	byWord := map[string]int{}
	for id, got := range all {
		if want := ce.apiVerdict(t, id); got != want {
			t.Errorf("device %s: the list says %q, the API answers %q", id, got, want)
		}
		byWord[all[id]]++
	}
	if byWord["Allowed"] == 0 || byWord["Denied"] == 0 {
		t.Fatalf("the fleet is not mixed enough to test the filter: %v", byWord)
	}

	t.Logf("verdicts: %v", byWord)
	dash := ce.figures(t, "/")
	for _, tile := range []struct{ id, word string }{{"compliant", "Allowed"}, {"non-compliant", "Denied"}, {"unknown", "Unknown"}} {
		n := num(t, dash.Find(testID(tile.id)))
		href, ok := dash.Find(testID(tile.id)).Closest("a").Attr("href")
		if !ok {
			href, _ = dash.Find(`a:has(` + testID(tile.id) + `)`).Attr("href")
		}
		if !strings.HasPrefix(href, "/devices?verdict=") {
			t.Fatalf("the %s tile links to %q", tile.id, href)
		}
		listed := ce.listVerdicts(t, href)
		if len(listed) != n || n != byWord[tile.word] {
			t.Errorf("the %s tile says %d, its list %s holds %d, the API answers %s for %d", tile.id, n, href, len(listed), tile.word, byWord[tile.word])
		}
		for id, got := range listed {
			if got != tile.word || all[id] != tile.word {
				t.Errorf("%s lists %s as %q (the full list: %q)", href, id, got, all[id])
			}
		}
		res := ce.c.get("/devices.csv?" + strings.TrimPrefix(href, "/devices?"))
		rows, err := csv.NewReader(strings.NewReader(res.body)).ReadAll()
		if err != nil || len(rows) != n+1 || !slices.Contains(rows[0], "verdict") {
			t.Fatalf("export of %s: %d rows (want %d and a verdict column), err %v", href, len(rows), n+1, err)
		}
		verdict := slices.Index(rows[0], "verdict")
		for _, r := range rows[1:] {
			if r[verdict] != tile.word || all[r[1]] != tile.word {
				t.Errorf("export of %s: %s as %q", href, r[1], r[verdict])
			}
		}
	}
}
