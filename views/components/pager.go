package components

import "strconv"

// Pager is where a paged list stands: the page shown, how many items a page
// holds, how many match in all, and how to link to another page. Handlers
// fill it (and ask the store for Offset and PerPage); views show it with
// PagerNav. Pages count from 1.
type Pager struct {
	Page    int // the page asked for; less than 1 reads as 1
	PerPage int // items on a full page; 0 or less shows every item on one page
	Total   int // items matching, on all pages together
	// One and Many name what is counted ("entry", "entries"); the range
	// text ends with one of them, or with neither when both are empty.
	One, Many string
	// URL links to page n; nil leaves Previous and Next out.
	URL func(n int) string
}

// ParsePage reads a page number from a query parameter: a positive number,
// or 1 for anything else (missing, zero, negative, not a number).
func ParsePage(s string) int {
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		return 1
	}
	return n
}

// Offset is how many matching items come before this page: what the store
// skips.
func (p Pager) Offset() int {
	if p.PerPage <= 0 {
		return 0
	}
	return (p.cur() - 1) * p.PerPage
}

func (p Pager) cur() int { return max(p.Page, 1) }

// Pages is the number of the last page; an empty list has one, empty, page.
func (p Pager) Pages() int {
	if p.PerPage <= 0 || p.Total <= 0 {
		return 1
	}
	return (p.Total + p.PerPage - 1) / p.PerPage
}

// Clamp brings a page before the first to the first and a page past the
// end to the last.
func (p Pager) Clamp() Pager {
	p.Page = min(p.cur(), p.Pages())
	return p
}

// Span is the position, counted from 1, of the first and the last item
// this page shows; 0, 0 when it shows none (an empty list, or a page past
// the end).
func (p Pager) Span() (first, last int) {
	if p.Total <= 0 || p.cur() > p.Pages() {
		return 0, 0
	}
	last = p.Total
	if p.PerPage > 0 {
		last = min(p.Offset()+p.PerPage, p.Total)
	}
	return p.Offset() + 1, last
}

// RangeText says what the page shows: "Showing 1–50 of 1,234 entries".
func (p Pager) RangeText() string {
	first, last := p.Span()
	switch {
	case p.Total <= 0:
		if p.Many == "" {
			return "Nothing to show"
		}
		return "No " + p.Many
	case first == 0:
		return "Page " + Count(p.Page) + " is past the end: there are " + Count(p.Total) + p.noun()
	}
	return "Showing " + Count(first) + "–" + Count(last) + " of " + Count(p.Total) + p.noun()
}

// noun is " entry" or " entries" as Total asks, or "".
func (p Pager) noun() string {
	w := p.Many
	if p.Total == 1 {
		w = p.One
	}
	if w == "" {
		return ""
	}
	return " " + w
}

// Prev is the page Previous leads to, 0 when there is none. From a page
// past the end it leads to the last page, so the reader is never stuck.
func (p Pager) Prev() int {
	if p.Page <= 1 {
		return 0
	}
	return min(p.Page-1, p.Pages())
}

// Next is the page Next leads to, 0 when this is the last page.
func (p Pager) Next() int {
	if p.cur() >= p.Pages() {
		return 0
	}
	return p.cur() + 1
}

// PrevURL and NextURL link to Prev and Next, or are empty.
func (p Pager) PrevURL() string { return p.link(p.Prev()) }

// NextURL: see PrevURL.
func (p Pager) NextURL() string { return p.link(p.Next()) }

func (p Pager) link(n int) string {
	if n == 0 || p.URL == nil {
		return ""
	}
	return p.URL(n)
}

// Blank is the empty state of a page without rows: empty itself when the
// list has none, or, for a page past the end, one that leads to the last.
func (p Pager) Blank(empty Blank) Blank {
	if p.Total <= 0 {
		return empty
	}
	last := p.Pages()
	b := Blank{Icon: empty.Icon, Title: "Nothing on page " + Count(p.cur()),
		Body: "The list ends on page " + Count(last) + "."}
	if p.URL != nil {
		b.Action = LinkButton(Secondary, "Go to page "+Count(last), p.URL(last))
	}
	return b
}
