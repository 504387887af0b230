package web

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"postern/internal/model"
	"postern/internal/posture"
)

// The Access decisions page lists what evaluate recorded, filters by
// device, host name, check, result, token and time, pages, links each row
// to its device, and the device page shows its recent decisions.
func TestAccessDecisionsPage(t *testing.T) {
	d, token, f := evSetupDefender(t)
	e := d.testEnv
	check := evSaveCheck(t, e, model.PostureCheck{Name: "Low risk only", DataSource: posture.SourceDefender, Enabled: true},
		posture.Spec{MaxRisk: "Medium"})
	for range 3 {
		evaluate(t, e, token, map[string]any{"defender_machine_id": f.high.ID})
	}
	evaluate(t, e, token, map[string]any{"hostname": "nowhere-99"})
	evaluate(t, e, token, map[string]any{"defender_machine_id": f.low.ID})
	e.srv.decisions.Flush(context.Background())
	c := d.signedIn()

	page := c.get("/zero-trust/access-decisions")
	wantStatus(t, page, http.StatusOK)
	doc := parse(t, page)
	if cur := doc.Find(`nav a[aria-current="page"]`).Text(); !strings.Contains(cur, "Access decisions") {
		t.Errorf("current nav entry %q", cur)
	}
	rows := doc.Find("tbody tr")
	if rows.Length() != 5 {
		t.Fatalf("%d rows, want 5 (3 denials, 1 unknown, 1 sampled allow)", rows.Length())
	}
	var denied *goquery.Selection
	rows.Each(func(_ int, tr *goquery.Selection) {
		if strings.Contains(tr.Text(), "Denied") && denied == nil {
			denied = tr
		}
	})
	if denied == nil {
		t.Fatal("no denied row")
	}
	if href, _ := denied.Find("a").Attr("href"); href != "/devices/"+f.high.ID {
		t.Errorf("denied row links %q, want the device page", href)
	}
	for _, want := range []string{"Low risk only", "risk score High", "Gateway eu-west", "127.0.0.1", "by Defender device ID: " + f.high.ID} {
		if !strings.Contains(oneLine(denied), want) {
			t.Errorf("denied row lacks %q: %s", want, oneLine(denied))
		}
	}
	// The keys are named in words: no raw matched_by value on the page, and
	// a row that matched nothing has no "by" line (its key is its name).
	for _, raw := range []string{posture.MatchedByDefenderID, posture.MatchedByAADID, "by " + posture.MatchedByHostname, "by " + posture.MatchedByNone} {
		if strings.Contains(doc.Find("main").Text(), raw) {
			t.Errorf("the page shows the raw key %q", raw)
		}
	}
	unknown := rows.FilterFunction(func(_ int, tr *goquery.Selection) bool { return strings.Contains(tr.Text(), "No device matched") })
	if unknown.Length() != 1 || !strings.Contains(oneLine(unknown), "nowhere-99 No device matched") || strings.Contains(oneLine(unknown), "by ") {
		t.Errorf("the unknown row reads %q, want nowhere-99 without a \"by\" line", oneLine(unknown))
	}

	count := func(q string) int {
		t.Helper()
		res := c.get("/zero-trust/access-decisions?" + q)
		wantStatus(t, res, http.StatusOK)
		return parse(t, res).Find("tbody tr").Length()
	}
	tokens, _ := e.store.APITokens(context.Background())
	for q, want := range map[string]int{
		"result=denied":                    3,
		"result=unknown":                   1,
		"result=allowed":                   1,
		"result=bogus":                     5,
		"device=" + f.high.ID:              3,
		"host=nowhere":                     1,
		"host=NOWHERE-9":                   1,
		fmt.Sprint("check=", check.ID):     4,
		fmt.Sprint("token=", tokens[0].ID): 5,
		"token=999":                        0,
		"from=2000-01-01&to=2000-01-02":    0,
		"from=2000-01-01":                  5,
	} {
		if got := count(q); got != want {
			t.Errorf("?%s: %d rows, want %d", q, got, want)
		}
	}
	// The filters' values are kept in the form.
	filtered := parse(t, c.get("/zero-trust/access-decisions?result=denied&host=ev-"))
	if v, _ := filtered.Find(`#host`).Attr("value"); v != "ev-" {
		t.Errorf("host filter shows %q", v)
	}
	if v, _ := filtered.Find(`#result option[selected]`).Attr("value"); v != "denied" {
		t.Errorf("result filter shows %q", v)
	}

	dev := parse(t, c.get("/devices/"+f.high.ID))
	recent := dev.Find(`[data-testid="device-decision"]`)
	if recent.Length() != 3 || !strings.Contains(recent.First().Text(), "Denied") {
		t.Errorf("device page lists %d recent decisions, want 3 denials", recent.Length())
	}
	if href, _ := dev.Find(`#decisions a`).Attr("href"); href != "/zero-trust/access-decisions?device="+f.high.ID {
		t.Errorf("device page links %q", href)
	}
	if n := parse(t, c.get("/devices/"+f.noRisk.ID)).Find(`#decisions`).Length(); n != 1 {
		t.Errorf("a device without decisions has %d decision sections, want 1 (the empty state)", n)
	}
}

// Many decisions page 50 at a time.
func TestAccessDecisionsPaginates(t *testing.T) {
	e := newAdminEnv(t)
	var ds []model.Decision
	for i := range 120 {
		ds = append(ds, model.Decision{At: e.clock.Now().Add(-time.Duration(i) * time.Second), DeviceID: fmt.Sprint("dev-", i),
			MatchedBy: "defender_machine_id", Result: model.DecisionDenied})
	}
	if err := e.store.AppendDecisions(context.Background(), ds); err != nil {
		t.Fatal(err)
	}
	c := e.signedIn()
	first := parse(t, c.get("/zero-trust/access-decisions"))
	if n := first.Find("tbody tr").Length(); n != 50 {
		t.Errorf("first page: %d rows", n)
	}
	last := parse(t, c.get("/zero-trust/access-decisions?page=3"))
	if n := last.Find("tbody tr").Length(); n != 20 {
		t.Errorf("third page: %d rows, want 20", n)
	}
	if !strings.Contains(last.Text(), "120") {
		t.Error("the pager does not give the total")
	}
}

// oneLine is s's text with each run of white space one space.
func oneLine(s *goquery.Selection) string { return strings.Join(strings.Fields(s.Text()), " ") }

// The short routes of the decision log and the exceptions, without the
// Zero Trust section, answer with the same pages as the section's.
func TestSpecRoutesOfDecisionsAndExceptions(t *testing.T) {
	e := newEnv(t)
	e.setup()
	c := e.signedIn()
	for spec, section := range map[string]string{"/access-decisions": "/zero-trust/access-decisions", "/exceptions": "/zero-trust/exceptions"} {
		a, b := c.get(spec), c.get(section)
		wantStatus(t, a, http.StatusOK)
		wantStatus(t, b, http.StatusOK)
		ha, hb := parse(t, a).Find("h1").Text(), parse(t, b).Find("h1").Text()
		if ha == "" || ha != hb {
			t.Errorf("%s shows %q, %s shows %q: want the same page", spec, ha, section, hb)
		}
	}
}
