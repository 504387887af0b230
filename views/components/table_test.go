package components

import (
	"context"
	"io"
	"strings"
	"testing"
	"time"

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
	for _, want := range []string{
		`<caption class="sr-only">Things, newest first</caption>`,
		`<th scope="col" class="whitespace-nowrap text-xs font-semibold uppercase tracking-wide text-slate-600 px-4 py-2.5 text-left">Name</th>`,
		`text-right">Count</th>`,
		`<span class="sr-only">Actions</span></th>`,
		`<tbody class="divide-y divide-slate-100"><tr data-testid="row"></tr></tbody>`,
	} {
		if !strings.Contains(table, want) {
			t.Errorf("table lacks %s:\n%s", want, table)
		}
	}
	if strings.Contains(table, "No things yet") || strings.Contains(table, "table-fixed") {
		t.Errorf("a table with rows shows its empty state or is fixed:\n%s", table)
	}

	spec.Empty = true
	empty := render(t, spec, `<tr data-testid="row"></tr>`)
	if strings.Contains(empty, "<table") || strings.Contains(empty, `data-testid="row"`) {
		t.Errorf("an empty table still renders:\n%s", empty)
	}
	for _, want := range []string{">No things yet<", ">Things appear here.<", `href="/things/new"`, ">New thing<"} {
		if !strings.Contains(empty, want) {
			t.Errorf("empty state lacks %s:\n%s", want, empty)
		}
	}

	dense := render(t, TableSpec{Caption: "c", Columns: Columns("A", "B"), Dense: true, Fixed: true}, "")
	if strings.Count(dense, "px-3 py-2 text-left") != 2 || !strings.Contains(dense, "table-fixed") {
		t.Errorf("a dense fixed table:\n%s", dense)
	}
}

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
		want := `<time datetime="` + tc.at.Format(time.RFC3339) + `" title="` + tc.at.Format("2006-01-02 15:04:05 UTC") + `">` + tc.want + `</time>`
		if got != want {
			t.Errorf("RelTime(now%+v) = %s, want %s", tc.at.Sub(now), got, want)
		}
	}
}

func TestPagerNav(t *testing.T) {
	nav := renderString(t, PagerNav(entries(2, 50, 120)))
	for _, want := range []string{`<nav aria-label="Pagination"`, `<p data-testid="range">Showing 51–100 of 120 entries</p>`,
		`rel="prev"`, `href="/audit?page=1">Previous</a>`, `rel="next"`, `href="/audit?page=3">Next</a>`} {
		if !strings.Contains(nav, want) {
			t.Errorf("pager nav lacks %s:\n%s", want, nav)
		}
	}
	if got := renderString(t, PagerNav(entries(1, 50, 0))); got != "" {
		t.Errorf("an empty list has a pager: %s", got)
	}
	if got := renderString(t, PagerNav(entries(1, 50, 3))); strings.Contains(got, "rel=") || !strings.Contains(got, "Showing 1–3 of 3 entries") {
		t.Errorf("a one-page list: %s", got)
	}
}
