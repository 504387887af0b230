package web

import (
	"encoding/csv"
	"net/http"
	"slices"
	"strings"
	"testing"
)

// The search box finds a device by any part of its host name.
func TestDevicesSearchAnyPartOfHostName(t *testing.T) {
	e := newEnv(t)
	e.setup()
	fleetFixture(t, e.store)
	c := e.signedIn()
	res := c.get("/devices?q=LAPTOP")
	wantStatus(t, res, http.StatusOK)
	if got := hosts(t, res.body); !slices.Equal(got, []string{"alpha-laptop"}) {
		t.Errorf("search LAPTOP lists %q, want alpha-laptop", got)
	}
	if got := hosts(t, c.get("/devices?q=pha-d").body); !slices.Equal(got, []string{"alpha-desktop"}) {
		t.Errorf("search pha-d lists %q, want alpha-desktop", got)
	}
}

// The inventory filter is not named like the health status Active, the
// page size and page number can be chosen, and every control keeps the
// others.
func TestDevicesInventoryPageSizeAndJump(t *testing.T) {
	e := newEnv(t)
	e.setup()
	fleetFixture(t, e.store)
	c := e.signedIn()
	doc := parse(t, c.get("/devices"))
	if got := texts(doc.Find(`label[for="show"]`)); !slices.Equal(got, []string{"Inventory"}) {
		t.Errorf("the removed-devices filter is labelled %q, want Inventory", got)
	}
	for _, o := range texts(doc.Find(`#show option`)) {
		if o == "Active" {
			t.Error("the inventory filter offers Active, the health status's word")
		}
	}
	if got := texts(doc.Find(`#per_page option`)); !slices.Equal(got, []string{"25 per page", "50 per page", "100 per page", "200 per page"}) {
		t.Errorf("page sizes %q", got)
	}
	// Page size 25 over 11 devices is one page; a jump past it shows the last.
	res := c.get("/devices?per_page=25&page=9&health=Active")
	wantStatus(t, res, http.StatusOK)
	jump := parse(t, res).Find(`form[aria-label="Page and page size"]`)
	if v, _ := jump.Find(`#page-jump`).Attr("value"); v != "1" {
		t.Errorf("page field holds %q, want 1 (the last page)", v)
	}
	if v, _ := jump.Find(`input[type="hidden"][name="health"]`).Attr("value"); v != "Active" {
		t.Errorf("the page form does not keep the health filter (%q)", v)
	}
	if sel := jump.Find(`#per_page option[selected]`); text(sel) != "25 per page" {
		t.Errorf("page size selected %q, want 25 per page", text(sel))
	}
	// A page size outside the offer is the default.
	if n := rowCount(t, c.get("/devices?per_page=3&kind=all").body); n != 11 {
		t.Errorf("per_page=3 lists %d devices, want all 11 on the default page", n)
	}
	if n := rowCount(t, c.get("/devices?per_page=25&kind=all").body); n != 11 {
		t.Errorf("per_page=25 lists %d devices", n)
	}
}

// Export CSV exports the filtered list, every page, with formula-like
// cells neutralised.
func TestDevicesExportCSV(t *testing.T) {
	e := newEnv(t)
	e.setup()
	fleetFixture(t, e.store)
	c := e.signedIn()
	doc := parse(t, c.get("/devices?risk=High&per_page=25"))
	link := withText(doc.Find("a"), "Export CSV")
	href, _ := link.Attr("href")
	if href != "/devices.csv?risk=High" {
		t.Fatalf("Export CSV links to %q, want the filtered export", href)
	}
	res := c.get(href)
	wantStatus(t, res, http.StatusOK)
	if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/csv") {
		t.Errorf("content type %q", ct)
	}
	rows, err := csv.NewReader(strings.NewReader(res.body)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 4 || rows[0][0] != "host_name" {
		t.Fatalf("export has %d rows (want a header and 3 devices): %q", len(rows), rows)
	}
	var got []string
	for _, r := range rows[1:] {
		got = append(got, r[0])
		if r[3] != "High" {
			t.Errorf("%s exported with risk %q", r[0], r[3])
		}
	}
	if !slices.Equal(got, []string{"alpha-desktop", "foxtrot", "juliet"}) {
		t.Errorf("export lists %q", got)
	}
	all := c.get("/devices.csv?show=all&kind=all")
	if n := strings.Count(all.body, "\n"); n != 13 {
		t.Errorf("export of every device has %d lines, want a header and 12 devices", n)
	}
}
