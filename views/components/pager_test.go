package components

import (
	"strconv"
	"testing"
)

func entries(page, perPage, total int) Pager {
	return Pager{Page: page, PerPage: perPage, Total: total, One: "entry", Many: "entries",
		URL: func(n int) string { return "/audit?page=" + strconv.Itoa(n) }}
}

func TestPagerArithmetic(t *testing.T) {
	for _, tc := range []struct {
		name                        string
		p                           Pager
		offset, pages, first, last  int
		prev, next                  int
		rangeText, prevURL, nextURL string
	}{
		{"empty list", entries(1, 50, 0), 0, 1, 0, 0, 0, 0, "No entries", "", ""},
		{"one item", entries(1, 50, 1), 0, 1, 1, 1, 0, 0, "Showing 1–1 of 1 entry", "", ""},
		{"exactly one page", entries(1, 50, 50), 0, 1, 1, 50, 0, 0, "Showing 1–50 of 50 entries", "", ""},
		{"first of several", entries(1, 50, 1234), 0, 25, 1, 50, 0, 2, "Showing 1–50 of 1,234 entries", "", "/audit?page=2"},
		{"middle page", entries(2, 50, 1234), 50, 25, 51, 100, 1, 3, "Showing 51–100 of 1,234 entries", "/audit?page=1", "/audit?page=3"},
		{"last, partial page", entries(25, 50, 1234), 1200, 25, 1201, 1234, 24, 0, "Showing 1,201–1,234 of 1,234 entries", "/audit?page=24", ""},
		{"last, full page", entries(2, 50, 100), 50, 2, 51, 100, 1, 0, "Showing 51–100 of 100 entries", "/audit?page=1", ""},
		{"one past the end", entries(3, 50, 100), 100, 2, 0, 0, 2, 0, "Page 3 is past the end: there are 100 entries", "/audit?page=2", ""},
		{"far past the end", entries(99, 50, 120), 4900, 3, 0, 0, 3, 0, "Page 99 is past the end: there are 120 entries", "/audit?page=3", ""},
		{"past the end of nothing", entries(4, 50, 0), 150, 1, 0, 0, 1, 0, "No entries", "/audit?page=1", ""},
		{"page zero reads as the first", entries(0, 50, 120), 0, 3, 1, 50, 0, 2, "Showing 1–50 of 120 entries", "", "/audit?page=2"},
		{"a negative page reads as the first", entries(-4, 50, 120), 0, 3, 1, 50, 0, 2, "Showing 1–50 of 120 entries", "", "/audit?page=2"},
		{"unpaged", entries(1, 0, 7), 0, 1, 1, 7, 0, 0, "Showing 1–7 of 7 entries", "", ""},
		{"no noun", Pager{Page: 1, PerPage: 10, Total: 1}, 0, 1, 1, 1, 0, 0, "Showing 1–1 of 1", "", ""},
		{"no noun, empty", Pager{Page: 1, PerPage: 10}, 0, 1, 0, 0, 0, 0, "Nothing to show", "", ""},
		{"no URL", Pager{Page: 2, PerPage: 1, Total: 3}, 1, 3, 2, 2, 1, 3, "Showing 2–2 of 3", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := tc.p
			if got := p.Offset(); got != tc.offset {
				t.Errorf("Offset = %d, want %d", got, tc.offset)
			}
			if got := p.Pages(); got != tc.pages {
				t.Errorf("Pages = %d, want %d", got, tc.pages)
			}
			if first, last := p.Span(); first != tc.first || last != tc.last {
				t.Errorf("Span = %d, %d, want %d, %d", first, last, tc.first, tc.last)
			}
			if got := p.Prev(); got != tc.prev {
				t.Errorf("Prev = %d, want %d", got, tc.prev)
			}
			if got := p.Next(); got != tc.next {
				t.Errorf("Next = %d, want %d", got, tc.next)
			}
			if got := p.RangeText(); got != tc.rangeText {
				t.Errorf("RangeText = %q, want %q", got, tc.rangeText)
			}
			if got := p.PrevURL(); got != tc.prevURL {
				t.Errorf("PrevURL = %q, want %q", got, tc.prevURL)
			}
			if got := p.NextURL(); got != tc.nextURL {
				t.Errorf("NextURL = %q, want %q", got, tc.nextURL)
			}
		})
	}
}

// Every item is on exactly one page: the spans of pages 1..Pages tile
// 1..Total without gap or overlap, whatever the sizes.
func TestPagerSpansTileTheList(t *testing.T) {
	for _, perPage := range []int{1, 2, 3, 7, 50} {
		for total := 0; total <= 23; total++ {
			next := 1
			for page := 1; page <= entries(1, perPage, total).Pages(); page++ {
				first, last := entries(page, perPage, total).Span()
				if total == 0 {
					continue
				}
				if first != next || last < first || last-first+1 > perPage {
					t.Fatalf("perPage %d, total %d, page %d: span %d–%d, want it to start at %d", perPage, total, page, first, last, next)
				}
				next = last + 1
			}
			if total > 0 && next != total+1 {
				t.Errorf("perPage %d, total %d: pages cover 1–%d", perPage, total, next-1)
			}
		}
	}
}

func TestPagerClamp(t *testing.T) {
	for _, tc := range []struct{ page, total, want int }{
		{-3, 120, 1}, {0, 120, 1}, {1, 120, 1}, {3, 120, 3}, {4, 120, 3}, {99, 120, 3}, {5, 0, 1},
	} {
		if got := entries(tc.page, 50, tc.total).Clamp().Page; got != tc.want {
			t.Errorf("page %d of %d items clamps to %d, want %d", tc.page, tc.total, got, tc.want)
		}
	}
}

func TestParsePage(t *testing.T) {
	for in, want := range map[string]int{"": 1, "1": 1, "7": 7, "0": 1, "-2": 1, "x": 1, "2.5": 1, " 3": 1, "99999999999999999999": 1} {
		if got := ParsePage(in); got != want {
			t.Errorf("ParsePage(%q) = %d, want %d", in, got, want)
		}
	}
}

func TestPagerBlank(t *testing.T) {
	empty := Blank{Icon: "list", Title: "No matching entries", Body: "Clear the filters."}
	if got := entries(1, 50, 0).Blank(empty); got != empty {
		t.Errorf("an empty list's blank = %+v, want %+v", got, empty)
	}
	past := entries(9, 50, 120).Blank(empty)
	if past.Title != "Nothing on page 9" || past.Body != "The list ends on page 3." || past.Icon != "list" || past.Action == nil {
		t.Fatalf("past the end: %+v", past)
	}
	if got := renderString(t, past.Action); parseHTML(t, got).Find(`a[href="/audit?page=3"]`).Text() != "Go to page 3" {
		t.Errorf("past the end, the action is %s", got)
	}
	if noURL := (Pager{Page: 9, PerPage: 50, Total: 120}).Blank(empty); noURL.Action != nil {
		t.Error("a pager without URLs links to the last page")
	}
}
