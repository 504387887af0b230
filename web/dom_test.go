package web

import (
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"
)

// Helpers for asserting on a page's structure rather than its bytes: a
// layout check finds elements by data-testid, id, role or aria attribute
// and compares their text or attributes. Byte-level checks (escaping,
// headers) stay with strings.Contains.

// dom parses an HTML body.
func dom(t testing.TB, body string) *goquery.Document {
	t.Helper()
	doc, err := goquery.NewDocumentFromReader(strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

// parse parses a response's body.
func parse(t *testing.T, res response) *goquery.Document {
	t.Helper()
	return dom(t, res.body)
}

// text is the words of a selection, with runs of white space made one.
func text(s *goquery.Selection) string { return strings.Join(strings.Fields(s.Text()), " ") }

// texts is the text of each element of a selection, in document order.
func texts(s *goquery.Selection) []string {
	return s.Map(func(_ int, e *goquery.Selection) string { return text(e) })
}

// testID selects the elements whose data-testid is id.
func testID(id string) string { return `[data-testid="` + id + `"]` }

// withText keeps the elements of s whose text is exactly want.
func withText(s *goquery.Selection, want string) *goquery.Selection {
	return s.FilterFunction(func(_ int, e *goquery.Selection) bool { return text(e) == want })
}

// described is the dd of each dt whose text is term.
func described(doc *goquery.Document, term string) *goquery.Selection {
	return withText(doc.Find("dt"), term).Next().Filter("dd")
}

// column is the text of the cells under the header label, row by row, in
// every table of the page that has such a column.
func column(doc *goquery.Document, label string) []string {
	var out []string
	doc.Find("table").Each(func(_ int, table *goquery.Selection) {
		i := withText(table.Find("thead th"), label).Index()
		if i < 0 {
			return
		}
		table.Find("tbody tr").Each(func(_ int, tr *goquery.Selection) {
			out = append(out, text(tr.Children().Eq(i)))
		})
	})
	return out
}

// withAttr keeps the elements of s whose attribute name is exactly value,
// however odd the value (no selector quoting involved).
func withAttr(s *goquery.Selection, name, value string) *goquery.Selection {
	return s.FilterFunction(func(_ int, e *goquery.Selection) bool {
		v, ok := e.Attr(name)
		return ok && v == value
	})
}
