package views

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"
)

func renderDevices(t *testing.T, p DevicesPage) *goquery.Document {
	t.Helper()
	var buf bytes.Buffer
	if err := Devices(p).Render(context.Background(), &buf); err != nil {
		t.Fatal(err)
	}
	doc, err := goquery.NewDocumentFromReader(&buf)
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

func squash(s *goquery.Selection) string { return strings.Join(strings.Fields(s.Text()), " ") }

// The Verdict column speaks of access in the dashboard's words and tones;
// while the verdicts are not current it says "recalculating…" instead, and
// the Verdict filter lists nothing but says why.
func TestDevicesVerdictColumn(t *testing.T) {
	now := time.Date(2026, 12, 2, 10, 5, 0, 0, time.UTC)
	rows := []DeviceRow{{ID: "a", Host: "alpha", Verdict: "pass"}, {ID: "b", Host: "bravo", Verdict: "fail"},
		{ID: "c", Host: "charlie", Verdict: "unknown"}, {ID: "d", Host: "delta", Removed: true}}
	p := DevicesPage{Chrome: Chrome{Title: "Devices", Now: now}, Rows: rows, Choices: DeviceFilterChoices{Platforms: []string{"Windows11"}}}
	p.Pager.Total, p.Pager.PerPage = len(rows), 50
	doc := renderDevices(t, p)
	cells := doc.Find(`[data-testid="verdict"]`)
	var got []string
	cells.Each(func(_ int, s *goquery.Selection) { got = append(got, squash(s)) })
	if want := []string{"Allowed", "Denied", "Unknown", "—"}; strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("verdict cells %q, want %q", got, want)
	}
	for i, tone := range []string{"green", "red", "slate"} {
		if class, _ := cells.Eq(i).Find("span").Attr("class"); !strings.Contains(class, tone) {
			t.Errorf("%s badge has class %q, want the dashboard's %s tone", got[i], class, tone)
		}
	}
	if doc.Find(`select[name="verdict"] option`).Length() != 4 {
		t.Error("the Verdict filter does not offer Any, Allowed, Denied, Unknown")
	}

	p.Recalculating = true
	doc = renderDevices(t, p)
	if n := doc.Find(`[data-testid="verdict"]:contains("recalculating…")`).Length(); n != 3 {
		t.Errorf("%d rows say recalculating…, want the 3 active ones", n)
	}
	if strings.Contains(squash(doc.Find("table")), "Allowed") {
		t.Error("a stale verdict shows while recalculating")
	}
	p.Query.Verdict, p.Rows = VerdictDenied, nil
	doc = renderDevices(t, p)
	if body := squash(doc.Find("main")); !strings.Contains(body, "Verdicts are recalculating…") || strings.Contains(body, "No device matches") {
		t.Errorf("the Verdict filter while recalculating says %q", body)
	}
}
