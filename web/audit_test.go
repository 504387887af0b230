package web

import (
	"encoding/csv"
	"net/http"
	"net/url"
	"strings"
	"testing"
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
