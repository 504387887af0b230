package web

import (
	"context"
	"encoding/csv"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"

	"postern/internal/audit"
)

func TestAuditPageAndCSV(t *testing.T) {
	e := newAdminEnv(t)
	e.client().post("/login", url.Values{"email": {"=hyperlink@evil.example"}, "password": {"wrong-password-123"}})
	c := e.signedIn()

	page := c.get("/audit")
	wantStatus(t, page, http.StatusOK)
	for _, want := range []string{"admin.created", "auth.login", "Export CSV", "success", "failure"} {
		if !strings.Contains(page.body, want) {
			t.Errorf("audit page lacks %q", want)
		}
	}
	filtered := column(parse(t, c.get("/audit?outcome=failure")), "Action")
	if slices.Contains(filtered, "admin.created") || !slices.Contains(filtered, "auth.login") {
		t.Errorf("outcome filter did not filter: actions %q", filtered)
	}

	res := c.get("/audit.csv")
	wantStatus(t, res, http.StatusOK)
	if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/csv") {
		t.Fatalf("Content-Type = %q", ct)
	}
	if cd := res.Header.Get("Content-Disposition"); !strings.Contains(cd, "attachment") {
		t.Errorf("Content-Disposition = %q", cd)
	}
	rows, err := csv.NewReader(strings.NewReader(res.body)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) < 4 {
		t.Fatalf("CSV has %d rows, want header + 3", len(rows))
	}
	found := false
	for _, r := range rows[1:] {
		for _, cell := range r {
			if strings.HasPrefix(cell, "=") || strings.HasPrefix(cell, "+") || strings.HasPrefix(cell, "@") {
				t.Errorf("CSV cell begins with a formula character: %q", cell)
			}
			if cell == "'=hyperlink@evil.example" {
				found = true
			}
		}
	}
	if !found {
		t.Error("the formula-looking actor was not exported escaped")
	}
}

// No HTTP route changes or deletes audit rows.
func TestAuditHasNoWriteRoutes(t *testing.T) {
	e := newEnv(t)
	for _, r := range e.srv.Routes() {
		if strings.HasPrefix(r.Path, "/audit") && r.Method != http.MethodGet {
			t.Errorf("audit route %s %s changes state", r.Method, r.Path)
		}
	}
}

// The audit log pages by 50, and its page links keep the filters.
func TestAuditPaging(t *testing.T) {
	e := newAdminEnv(t)
	for i := range 60 {
		err := e.store.AppendAudit(context.Background(), audit.Entry{Actor: "paging@example.com", SourceIP: "192.0.2.1",
			Action: "test.paged", Target: "item " + strconv.Itoa(i), Outcome: audit.Success})
		if err != nil {
			t.Fatal(err)
		}
	}
	c := e.signedIn()
	const page2 = "/audit?action=test.paged&page=2"
	for _, tc := range []struct {
		path             string
		rows             int
		shown            string // the pager's range text; "" for no pager
		prev, next       string // the hrefs of Previous and Next; "" for none
		wantText, noText []string
	}{
		{"/audit?action=test.paged", 50, "Showing 1–50 of 60 entries", "", page2, nil, nil},
		{page2, 10, "Showing 51–60 of 60 entries", "/audit?action=test.paged", "", nil, nil},
		{"/audit?action=test.paged&page=9", 0, "Page 9 is past the end: there are 60 entries", page2, "",
			[]string{"Nothing on page 9", "The list ends on page 2."}, []string{"No matching entries"}},
		{"/audit?action=test.paged&page=nonsense", 50, "Showing 1–50 of 60 entries", "", page2, nil, nil},
		{"/audit?action=no.such.action", 0, "", "", "", []string{"No matching entries"}, nil},
	} {
		res := c.get(tc.path)
		wantStatus(t, res, http.StatusOK)
		doc := parse(t, res)
		actions := column(doc, "Action")
		if len(actions) != tc.rows || slices.ContainsFunc(actions, func(a string) bool { return a != "test.paged" }) {
			t.Errorf("%s lists %q, want %d entries of test.paged", tc.path, actions, tc.rows)
		}
		nav := doc.Find(`nav[aria-label="Pagination"]`)
		if tc.shown == "" && nav.Length() != 0 || tc.shown != "" && text(nav.Find(testID("range"))) != tc.shown {
			t.Errorf("%s: pager %q, want %q", tc.path, text(nav.Find(testID("range"))), tc.shown)
		}
		for rel, want := range map[string]string{"prev": tc.prev, "next": tc.next} {
			link := nav.Find(`a[rel="` + rel + `"]`)
			if got, ok := link.Attr("href"); ok != (want != "") || got != want {
				t.Errorf("%s: the %s link goes to %q, want %q", tc.path, rel, got, want)
			}
		}
		if back := withText(doc.Find("main a"), "Go to page 2"); tc.rows == 0 && tc.prev != "" && back.AttrOr("href", "") != tc.prev {
			t.Errorf("%s: the empty state does not link to the last page", tc.path)
		}
		for _, w := range tc.wantText {
			if !strings.Contains(res.body, w) {
				t.Errorf("%s lacks %s", tc.path, w)
			}
		}
		for _, l := range tc.noText {
			if strings.Contains(res.body, l) {
				t.Errorf("%s has %s", tc.path, l)
			}
		}
	}
}
