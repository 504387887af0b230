package web

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// Without JavaScript the editor shows the chosen source's conditions after
// Show conditions, saving nothing; its source dropdown is not restored by
// the browser behind the server's back.
func TestCheckEditorShowsConditionsWithoutJavaScript(t *testing.T) {
	e := newEnv(t)
	e.setup()
	c := e.signedIn()
	page := c.get("/zero-trust/posture-checks/new")
	wantStatus(t, page, http.StatusOK)
	doc := parse(t, page)
	if v, _ := doc.Find("#source").Attr("autocomplete"); v != "off" {
		t.Errorf("the Data Source dropdown has autocomplete %q: a reload could show a source whose conditions are not there", v)
	}
	if !strings.Contains(doc.Find("noscript").Text(), "Show conditions") {
		t.Error("without JavaScript there is no Show conditions button")
	}
	res := c.post("/zero-trust/posture-checks", url.Values{"name": {"Report only"}, "source": {"device_report"}, "show": {"conditions"}})
	wantStatus(t, res, http.StatusOK)
	if got := text(parse(t, res).Find("#conditions-title").Parent()); strings.Contains(got, "Choose a data source") {
		t.Errorf("Show conditions did not show the Device report conditions:\n%.800s", got)
	}
	if n := len(e.policy.Checks()); n != 0 {
		t.Errorf("Show conditions saved %d checks", n)
	}
}

// No URL keeps a stray "?" (a GET form without fields, without JavaScript).
func TestNoStrayQuestionMark(t *testing.T) {
	e := newEnv(t)
	e.setup()
	c := e.signedIn()
	wantRedirect(t, c.get("/settings/integrations/defender?"), "/settings/integrations/defender")
	wantRedirect(t, c.get("/devices?"), "/devices")
	wantStatus(t, c.get("/devices?health=Active"), http.StatusOK)
}
