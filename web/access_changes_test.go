package web

import (
	"context"
	"encoding/csv"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"postern/internal/audit"
	"postern/internal/model"
	"postern/internal/policy"
)

// waitSummary waits for the engine's summary of a cause whose label
// starts with prefix, and returns it.
func waitSummary(t *testing.T, e *testEnv, prefix string) audit.Entry {
	t.Helper()
	a := audit.VerdictsChanged
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		es, _, err := e.store.AuditEntries(context.Background(), audit.Filter{Action: &a})
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range es {
			if strings.HasPrefix(s.Target, prefix) {
				return s
			}
		}
		time.Sleep(30 * time.Millisecond)
	}
	t.Fatalf("no summary %q in the audit log", prefix)
	return audit.Entry{}
}

// A check created over the fleet: the audit log has the admin's entry and
// one summary, which links to Access changes filtered on its cause; that
// view lists exactly the cause's changes, by host name, and filters them.
func TestAccessChangesOfACheck(t *testing.T) {
	d, c := connected(t)
	id := highRiskDevice(t, d, c)
	sum := waitSummary(t, d.testEnv, "Posture check “Low risk only” created by "+testEmail)

	doc := parse(t, c.get("/audit"))
	actions := column(doc, "Action")
	if len(actions) < 2 || !slices.Contains(actions[:2], audit.VerdictsChanged) || !slices.Contains(actions[:2], audit.CheckCreated) {
		t.Errorf("the first rows of the audit log are %q, want the admin's creation and its summary", actions)
	}
	if slices.Contains(actions, audit.VerdictChanged) {
		t.Error("the audit log still has a row per device")
	}
	row := doc.Find("tbody tr").FilterFunction(func(_ int, tr *goquery.Selection) bool {
		return strings.Contains(text(tr), "devices changed verdict")
	})
	if row.Length() != 1 || !strings.Contains(text(row), "pass → fail") {
		t.Fatalf("summary row: %q", text(row))
	}
	if o := text(row.Children().Eq(4)); o == "Success" {
		t.Errorf("devices going to fail are shown as %q", o)
	}
	href, _ := row.Find(`a:contains("See the changes")`).Attr("href")
	if !strings.HasPrefix(href, "/access-changes?cause=") {
		t.Fatalf("the summary links to %q", href)
	}
	causeID, _ := strconv.ParseInt(strings.TrimPrefix(href, "/access-changes?cause="), 10, 64)
	_, total, err := d.store.HistoryPage(context.Background(), model.HistoryFilter{CauseID: causeID})
	if err != nil || total == 0 {
		t.Fatalf("the cause has %d changes, %v", total, err)
	}
	if want := policy.Thousands(total) + " devices changed verdict ("; !strings.HasPrefix(sum.Detail, want) {
		t.Errorf("summary %q does not count the cause's %d changes", sum.Detail, total)
	}

	page := parse(t, c.get(href))
	if n := text(page.Find(testID("cause-filter"))); !strings.Contains(n, "Posture check “Low risk only” created") {
		t.Errorf("the cause filter says %q", n)
	}
	causes := column(page, "Cause")
	if len(causes) != min(total, accessChangesPerPage) {
		t.Errorf("%d rows, want %d", len(causes), min(total, accessChangesPerPage))
	}
	for _, cause := range causes {
		if !strings.HasPrefix(cause, "Posture check “Low risk only” created") {
			t.Fatalf("a row of another cause: %q", cause)
		}
	}
	if total > accessChangesPerPage && !strings.Contains(text(page.Find("main")), "of "+policy.Thousands(total)+" changes") {
		t.Errorf("the range does not count %d changes: %q", total, text(page.Find("main nav")))
	}

	// The device of the High risk: by host name, with its id, linked.
	dev, _ := d.store.Device(context.Background(), id)
	filtered := parse(t, c.get("/access-changes?change=pass-fail&check=overall&kind=check_created"))
	var hosts []string
	filtered.Find("tbody tr").Each(func(_ int, tr *goquery.Selection) {
		hosts = append(hosts, text(tr.Children().Eq(1)))
		if ch := text(tr.Children().Eq(3)); !strings.HasPrefix(ch, "Pass") || !strings.HasSuffix(ch, "Fail") {
			t.Errorf("change filter pass → fail shows %q", ch)
		}
	})
	if len(hosts) == 0 {
		t.Fatal("no pass → fail change listed")
	}
	if got := filtered.Find(`select#change option[selected]`).AttrOr("value", ""); got != "pass-fail" {
		t.Errorf("the change filter shows %q after filtering", got)
	}
	none := parse(t, c.get("/access-changes?kind=sync_run&change=pass-fail"))
	if !strings.Contains(text(none.Find("main")), "No matching changes") {
		t.Error("filtering on another cause kind still lists the check's changes")
	}
	if !slices.Contains(hosts, dev.Host+" "+dev.ID) && len(hosts) < accessChangesPerPage {
		t.Errorf("the High-risk device %s (%s) is not listed by host name with its id: %q", dev.Host, dev.ID, hosts)
	}

	// The device's own history names the cause and links to the check.
	devPage := parse(t, c.get("/devices/"+id))
	link := devPage.Find(`#history a:contains("Posture check “Low risk only” created")`)
	if h, _ := link.Attr("href"); !strings.HasPrefix(h, "/zero-trust/posture-checks/") {
		t.Errorf("the history's cause links to %q", h)
	}
	mine := devPage.Find(`#history a:contains("Open in Access changes")`).AttrOr("href", "")
	if mine != "/access-changes?device="+id {
		t.Fatalf("the device's history links to %q, want its Access changes", mine)
	}
	own := parse(t, c.get(mine))
	if n := text(own.Find(testID("device-filter"))); !strings.Contains(n, dev.Host) {
		t.Errorf("the device filter says %q", n)
	}
	ownRows := column(own, "Device")
	if len(ownRows) == 0 {
		t.Error("the device's Access changes list nothing")
	}
	for _, d := range ownRows {
		if d != dev.Host+" "+dev.ID {
			t.Errorf("a change of another device: %q", d)
		}
	}
	if nav := doc.Find(`nav[aria-label="Main"] a[href="/access-changes"]`); text(nav) != "Access changes" {
		t.Errorf("navigation entry %q", text(nav))
	}
}

// The audit log's filters: category, the action among the real names,
// actor, target, dates and outcome, kept in the form and the CSV link.
func TestAuditFiltersPeopleUse(t *testing.T) {
	e := newEnv(t)
	e.setup()
	day := func(d int) time.Time { return time.Date(2026, 11, d, 9, 30, 0, 0, time.UTC) }
	for _, en := range []audit.Entry{
		{At: day(2), Actor: "bob@example.com", Action: audit.CheckCreated, Target: "Low risk", Outcome: audit.Success},
		{At: day(3), Actor: "bob@example.com", Action: audit.ExceptionCreated, Target: "dev-42", Outcome: audit.Success},
		{At: day(4), Actor: "postern (posture)", Action: audit.VerdictsChanged, Target: "Sync run 4", Detail: "3 devices changed verdict (fail → pass 3)", Outcome: audit.Success},
		{At: day(5), Actor: "carol@example.com", Action: audit.Login, Outcome: audit.Failure},
		{At: day(6), Actor: "anonymous", Action: audit.CSRFRejected, Outcome: audit.Denied},
	} {
		if err := e.store.AppendAudit(context.Background(), en); err != nil {
			t.Fatal(err)
		}
	}
	c := e.signedIn()
	doc := parse(t, c.get("/audit"))
	opts := texts(doc.Find("select#action option"))
	if !slices.Contains(opts, audit.CheckCreated) || !slices.Contains(opts, audit.VerdictsChanged) {
		t.Errorf("the action dropdown offers %q", opts)
	}
	if cats := texts(doc.Find("select#category option")); !slices.Contains(cats, "Sign-ins") || !slices.Contains(cats, "Posture summaries") {
		t.Errorf("the category dropdown offers %q", cats)
	}
	if title, _ := doc.Find("tbody tr time").First().Attr("title"); !strings.HasSuffix(title, "UTC") {
		t.Errorf("a time's hover text is %q, want the absolute UTC time", title)
	}
	for _, tc := range []struct {
		query string
		want  []string
	}{
		{"category=sign_in", []string{audit.Login, audit.Login, audit.Login}}, // setup signs the first admin in
		{"category=security", []string{audit.CSRFRejected}},
		{"category=posture", []string{audit.VerdictsChanged}},
		{"category=admin&actor=BOB@example.com", []string{audit.ExceptionCreated, audit.CheckCreated}},
		{"action=" + audit.CheckCreated, []string{audit.CheckCreated}},
		{"target=low", []string{audit.CheckCreated}},
		{"from=2026-11-03&to=2026-11-04", []string{audit.VerdictsChanged, audit.ExceptionCreated}},
		{"outcome=denied", []string{audit.CSRFRejected}},
	} {
		got := column(parse(t, c.get("/audit?"+tc.query)), "Action")
		if !slices.Equal(got, tc.want) {
			t.Errorf("/audit?%s lists %q, want %q", tc.query, got, tc.want)
		}
	}
	f := parse(t, c.get("/audit?actor=bob%40example.com&from=2026-11-03&category=admin"))
	if v := f.Find("input#actor").AttrOr("value", ""); v != "bob@example.com" {
		t.Errorf("the actor filter shows %q", v)
	}
	if v := f.Find("input#from").AttrOr("value", ""); v != "2026-11-03" {
		t.Errorf("the from filter shows %q", v)
	}
	csvHref := f.Find(`a:contains("Export CSV")`).AttrOr("href", "")
	q, _ := url.ParseQuery(strings.TrimPrefix(csvHref, "/audit.csv?"))
	if q.Get("actor") != "bob@example.com" || q.Get("category") != "admin" {
		t.Fatalf("Export CSV links to %q, without the filters", csvHref)
	}
	rows, err := csv.NewReader(strings.NewReader(c.get(csvHref).body)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2 || rows[1][5] != audit.ExceptionCreated || rows[1][1] != "2026-11-03T09:30:00Z" {
		t.Errorf("filtered CSV = %q, want the header and bob's exception at its absolute time", rows)
	}
	// A summary that moved devices to pass is not shown as a failure, and
	// one without a link has none.
	sum := parse(t, c.get("/audit?category=posture"))
	if o := column(sum, "Outcome"); len(o) != 1 || o[0] != "To pass" {
		t.Errorf("the summary's outcome reads %q", o)
	}
}
