package components

import (
	"context"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"
	"github.com/a-h/templ"
)

func renderString(t *testing.T, c templ.Component) string {
	t.Helper()
	var b strings.Builder
	if err := c.Render(context.Background(), &b); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func rowsOf(html string) templ.Component {
	return templ.ComponentFunc(func(_ context.Context, w io.Writer) error {
		_, err := io.WriteString(w, html)
		return err
	})
}

func TestDataTable(t *testing.T) {
	spec := TableSpec{Caption: "Things, newest first", Columns: []Column{{Label: "Name"}, {Label: "Count", Numeric: true}, {Label: "Actions", SROnly: true}},
		NoRows: Blank{Icon: "list", Title: "No things yet", Body: "Things appear here.", Action: LinkButton(Primary, "New thing", "/things/new")}}
	table := render(t, spec, `<tr data-testid="row"></tr>`)
	doc := parseHTML(t, table)
	if caption := doc.Find("table > caption.sr-only"); words(caption) != "Things, newest first" {
		t.Errorf("the table's caption for screen readers is %q:\n%s", words(caption), table)
	}
	th := doc.Find(`table > thead > tr > th[scope="col"]`)
	if got := th.Map(func(_ int, s *goquery.Selection) string { return words(s) }); !slices.Equal(got, []string{"Name", "Count", "Actions"}) {
		t.Errorf("the column headers are %q:\n%s", got, table)
	}
	if name := th.Eq(0); !name.HasClass("px-4") || !name.HasClass("text-left") || !th.Eq(1).HasClass("text-right") ||
		words(th.Eq(2).Find("span.sr-only")) != "Actions" {
		t.Errorf("a plain column is not left-aligned, a numeric one right-aligned, or an SROnly label visible:\n%s", table)
	}
	if rows := doc.Find(`table > tbody > tr`); rows.Length() != 1 || rows.AttrOr("data-testid", "") != "row" {
		t.Errorf("the rows are not the table's body:\n%s", table)
	}
	if strings.Contains(table, "No things yet") || doc.Find("table.table-fixed").Length() != 0 {
		t.Errorf("a table with rows shows its empty state or is fixed:\n%s", table)
	}

	spec.Empty = true
	empty := render(t, spec, `<tr data-testid="row"></tr>`)
	blank := parseHTML(t, empty)
	if blank.Find(`table, [data-testid="row"]`).Length() != 0 {
		t.Errorf("an empty table still renders:\n%s", empty)
	}
	if title, body := words(blank.Find("h2")), words(blank.Find("h2 + p")); title != "No things yet" || body != "Things appear here." {
		t.Errorf("empty state says %q, %q:\n%s", title, body, empty)
	}
	if action := blank.Find(`a[href="/things/new"]`); words(action) != "New thing" {
		t.Errorf("empty state lacks its New thing action:\n%s", empty)
	}

	dense := render(t, TableSpec{Caption: "c", Columns: Columns("A", "B"), Dense: true, Fixed: true}, "")
	if d := parseHTML(t, dense); d.Find("thead th.px-3.py-2.text-left").Length() != 2 || d.Find("table.table-fixed").Length() != 1 {
		t.Errorf("a dense fixed table:\n%s", dense)
	}
}

// parseHTML parses rendered markup, to assert on its structure.
func parseHTML(t *testing.T, markup string) *goquery.Document {
	t.Helper()
	doc, err := goquery.NewDocumentFromReader(strings.NewReader(markup))
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

// words is the text of a selection with runs of white space made one.
func words(s *goquery.Selection) string { return strings.Join(strings.Fields(s.Text()), " ") }

func render(t *testing.T, spec TableSpec, rows string) string {
	t.Helper()
	ctx := templ.WithChildren(context.Background(), rowsOf(rows))
	var b strings.Builder
	if err := DataTable(spec).Render(ctx, &b); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func TestRelTimeComputesItsWords(t *testing.T) {
	now := time.Date(2026, 3, 4, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		at   time.Time
		want string
	}{
		{now.Add(-10 * time.Second), "just now"},
		{now.Add(-5 * time.Minute), "5 minutes ago"},
		{now.Add(-3 * time.Hour), "3 hours ago"},
		{now.Add(-72 * time.Hour), "3 days ago"},
		{now.Add(90 * time.Minute), "in 2 hours"},
	} {
		got := renderString(t, RelTime(tc.at, now))
		want := `<time datetime="` + tc.at.Format(time.RFC3339) + `" title="` + tc.at.UTC().Format("2 Jan 2006, 15:04 UTC") + `">` + tc.want + `</time>`
		if got != want {
			t.Errorf("RelTime(now%+v) = %s, want %s", tc.at.Sub(now), got, want)
		}
	}
}

func TestPagerNav(t *testing.T) {
	nav := renderString(t, PagerNav(entries(2, 50, 120)))
	pager := parseHTML(t, nav).Find(`nav[aria-label="Pagination"]`)
	if shown := words(pager.Find(`[data-testid="range"]`)); shown != "Showing 51–100 of 120 entries" {
		t.Errorf("pager nav says %q:\n%s", shown, nav)
	}
	for rel, want := range map[string][2]string{"prev": {"Previous", "/audit?page=1"}, "next": {"Next", "/audit?page=3"}} {
		if a := pager.Find(`a[rel="` + rel + `"]`); a.Length() != 1 || words(a) != want[0] || a.AttrOr("href", "") != want[1] {
			t.Errorf("pager nav's %s link is not %s to %s:\n%s", rel, want[0], want[1], nav)
		}
	}
	if got := renderString(t, PagerNav(entries(1, 50, 0))); got != "" {
		t.Errorf("an empty list has a pager: %s", got)
	}
	if got := renderString(t, PagerNav(entries(1, 50, 3))); parseHTML(t, got).Find("a[rel]").Length() != 0 || !strings.Contains(got, "Showing 1–3 of 3 entries") {
		t.Errorf("a one-page list: %s", got)
	}
}
