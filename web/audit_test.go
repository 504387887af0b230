package web

import (
	"context"
	"encoding/csv"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"postern/internal/audit"
)

func TestAuditPageAndCSV(t *testing.T) {
	e := newEnv(t)
	e.setup()
	e.client().post("/login", url.Values{"email": {"=hyperlink@evil.example"}, "password": {"wrong-password-123"}})
	c := e.signedIn()

	page := c.get("/audit")
	wantStatus(t, page, http.StatusOK)
	for _, want := range []string{"admin.created", "auth.login", "Export CSV", "success", "failure"} {
		if !strings.Contains(page.body, want) {
			t.Errorf("audit page lacks %q", want)
		}
	}
	filtered := c.get("/audit?outcome=failure")
	if strings.Contains(filtered.body, ">admin.created<") || !strings.Contains(filtered.body, ">auth.login<") {
		t.Error("outcome filter did not filter")
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
	e := newEnv(t)
	e.setup()
	for i := range 60 {
		err := e.store.AppendAudit(context.Background(), audit.Entry{Actor: "paging@example.com", SourceIP: "192.0.2.1",
			Action: "test.paged", Target: "item " + strconv.Itoa(i), Outcome: audit.Success})
		if err != nil {
			t.Fatal(err)
		}
	}
	c := e.signedIn()
	for _, tc := range []struct {
		path       string
		rows       int
		want, lack []string
	}{
		{"/audit?action=test.paged", 50,
			[]string{`data-testid="range">Showing 1–50 of 60 entries<`, `rel="next"`, `href="/audit?action=test.paged&amp;page=2"`},
			[]string{`rel="prev"`}},
		{"/audit?action=test.paged&page=2", 10,
			[]string{`data-testid="range">Showing 51–60 of 60 entries<`, `rel="prev"`, `href="/audit?action=test.paged"`},
			[]string{`rel="next"`}},
		{"/audit?action=test.paged&page=9", 0,
			[]string{"Nothing on page 9", "The list ends on page 2.", `href="/audit?action=test.paged&amp;page=2"`, `rel="prev"`},
			[]string{`rel="next"`, "No matching entries"}},
		{"/audit?action=test.paged&page=nonsense", 50, []string{"Showing 1–50 of 60 entries"}, nil},
		{"/audit?action=no.such.action", 0, []string{"No matching entries"}, []string{`aria-label="Pagination"`}},
	} {
		res := c.get(tc.path)
		wantStatus(t, res, http.StatusOK)
		if n := strings.Count(res.body, ">test.paged<"); n != tc.rows {
			t.Errorf("%s lists %d entries, want %d", tc.path, n, tc.rows)
		}
		for _, w := range tc.want {
			if !strings.Contains(res.body, w) {
				t.Errorf("%s lacks %s", tc.path, w)
			}
		}
		for _, l := range tc.lack {
			if strings.Contains(res.body, l) {
				t.Errorf("%s has %s", tc.path, l)
			}
		}
	}
}
