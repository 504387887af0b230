package web

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"

	"postern/internal/defender"
	"postern/internal/emulator"
	"postern/views"
)

const guidePath = "/help/microsoft-defender"

func TestDefenderGuideRendersForAdmins(t *testing.T) {
	e := newAdminEnv(t)
	wantRedirect(t, e.client().get(guidePath), "/login")

	res := e.signedIn().get(guidePath)
	wantStatus(t, res, http.StatusOK)
	for _, want := range []string{
		"On this page",
		"Grant admin consent for",
		"AES-256-GCM",
		"AADSTS7000215",
		// Hosts come from the client's own table.
		"login.microsoftonline.us", "api-gov.securitycenter.microsoft.us", "eu.api.security.microsoft.com",
	} {
		if !strings.Contains(res.body, want) {
			t.Errorf("the guide lacks %q", want)
		}
	}
	doc := parse(t, res)
	if title, h1 := text(doc.Find("title")), texts(doc.Find("h1")); title != "Microsoft Defender setup guide · Postern" ||
		!slices.Equal(h1, []string{"Microsoft Defender setup guide"}) {
		t.Errorf("the guide is titled %q and headed %q", title, h1)
	}
	// The guide has its own navigation entry, marked as the current page.
	if current := texts(doc.Find(`nav [aria-current="page"]`)); !slices.Equal(current, []string{"Setup guide"}) {
		t.Errorf("the navigation marks %q as the current page, want Setup guide", current)
	}
}

// The values an admin pastes into the Entra admin center have copy buttons
// whose accessible names say what they copy.
func TestDefenderGuideCopyButtons(t *testing.T) {
	e := newAdminEnv(t)
	var copied []string
	parse(t, e.signedIn().get(guidePath)).Find("button[data-copy]").Each(func(_ int, b *goquery.Selection) {
		value := b.AttrOr("data-copy", "")
		copied = append(copied, value)
		if name := text(b); name != "Copy "+value {
			t.Errorf("the copy button of %q is named %q, want %q", value, name, "Copy "+value)
		}
	})
	for _, want := range []string{"WindowsDefenderATP", "Machine.Read.All", "Postern"} {
		if !slices.Contains(copied, want) {
			t.Errorf("no copy button for %q; buttons copy %q", want, copied)
		}
	}
}

// ids returns the element ids of a page, failing on a duplicate.
func ids(t *testing.T, path, body string) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	dom(t, body).Find("[id]").Each(func(_ int, e *goquery.Selection) {
		id := e.AttrOr("id", "")
		if out[id] {
			t.Errorf("%s: the id %q appears twice", path, id)
		}
		out[id] = true
	})
	return out
}

// internalLinks returns the hrefs of a page that start with # or /help/.
func internalLinks(t *testing.T, body string) []string {
	var out []string
	for _, h := range dom(t, body).Find("a[href]").Map(func(_ int, a *goquery.Selection) string { return a.AttrOr("href", "") }) {
		if strings.HasPrefix(h, "#") || strings.HasPrefix(h, "/help/") {
			out = append(out, h)
		}
	}
	return out
}

// No internal link of the guide, or of the pages that link to it, is
// broken: each /help/ page answers 200 and each fragment names an element.
func TestDefenderGuideHasNoBrokenLinks(t *testing.T) {
	e := newAdminEnv(t)
	c := e.signedIn()
	pages := map[string]map[string]bool{} // path → its ids
	load := func(path string) map[string]bool {
		if got, ok := pages[path]; ok {
			return got
		}
		res := c.get(path)
		wantStatus(t, res, http.StatusOK)
		pages[path] = ids(t, path, res.body)
		return pages[path]
	}
	queue := []string{guidePath, "/settings/integrations/defender", "/settings/integrations"}
	checked := 0
	for len(queue) > 0 {
		page := queue[0]
		queue = queue[1:]
		if _, seen := pages[page]; seen {
			continue
		}
		res := c.get(page)
		wantStatus(t, res, http.StatusOK)
		pages[page] = ids(t, page, res.body)
		for _, href := range internalLinks(t, res.body) {
			u, err := url.Parse(href)
			if err != nil {
				t.Errorf("%s: bad href %q", page, href)
				continue
			}
			target := page
			if u.Path != "" {
				target = u.Path
				if _, seen := pages[target]; !seen {
					queue = append(queue, target)
				}
			}
			checked++
			if u.Fragment != "" && !load(target)[u.Fragment] {
				t.Errorf("%s links to %s, which has no element with the id %q", page, href, u.Fragment)
			}
		}
	}
	if checked < 20 {
		t.Fatalf("checked %d links; the crawl looks broken", checked)
	}
}

// Every section an error can send an admin to exists in the guide.
func TestDefenderGuideHasEveryErrorAnchor(t *testing.T) {
	e := newAdminEnv(t)
	got := ids(t, guidePath, e.signedIn().get(guidePath).body)
	anchors := slices.Clone(defender.HelpAnchors)
	for _, a := range fieldHelp {
		anchors = append(anchors, a)
	}
	for _, a := range anchors {
		if !got[a] {
			t.Errorf("the guide has no section %q, which errors link to", a)
		}
		if !strings.HasSuffix(views.DefenderGuideURL(a), guidePath+"#"+a) {
			t.Errorf("DefenderGuideURL(%q) = %q", a, views.DefenderGuideURL(a))
		}
	}
}

// newTabLinks are the words of the links of a page to href that open in
// a new tab.
func newTabLinks(t *testing.T, body, href string) []string {
	return texts(withAttr(dom(t, body).Find(`a[target="_blank"][rel="noopener"]`), "href", href))
}

// fixLink is the words of the link that follows an error with its fix.
const fixLink = "How to fix this (opens in a new tab)"

// Each error of the Manage dialog, from Microsoft or Postern's own checks,
// links to the section of the guide that fixes it, in a new tab; the dialog
// itself links to the guide.
func TestManageErrorsLinkToTheGuide(t *testing.T) {
	const sec = "Good~secret.value-0123456789abcdefghijklm"
	d := newDefenderEnv(t, sec)
	c := d.signedIn()
	for _, page := range []string{"/settings/integrations/defender"} {
		for _, hx := range []bool{false, true} {
			h := http.Header{}
			if hx {
				h.Set("HX-Request", "true")
			}
			body := c.do(http.MethodGet, page, nil, h).body
			if !slices.Contains(newTabLinks(t, body, guidePath), "Setup guide (opens in a new tab)") {
				t.Errorf("Manage (htmx %v) has no Setup guide link", hx)
			}
		}
	}
	cases := []struct {
		name   string
		edit   func(url.Values)
		faults emulator.Faults
		anchor string
	}{
		{name: "wrong secret", edit: func(f url.Values) { f.Set("client_secret", "Wrong~secret.value-0123456789abcdefghijk") }, anchor: "secret-value"},
		{name: "unknown tenant", edit: func(f url.Values) { f.Set("tenant_id", "11111111-2222-3333-4444-555555555555") }, anchor: "tenant-id"},
		{name: "unknown client", edit: func(f url.Values) { f.Set("client_id", "99999999-2222-3333-4444-555555555555") }, anchor: "register-app"},
		{name: "expired secret", faults: emulator.Faults{ExpiredSecret: true}, anchor: "client-secret"},
		{name: "missing consent", faults: emulator.Faults{NoConsent: true}, anchor: "permission"},
		{name: "secret ID pasted", edit: func(f url.Values) { f.Set("client_secret", "0b7e6f4a-1c2d-4e5f-8a9b-0c1d2e3f4a5b") }, anchor: "secret-value"},
		{name: "malformed tenant", edit: func(f url.Values) { f.Set("tenant_id", "not a tenant") }, anchor: "tenant-id"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d.emu.SetFaults(tc.faults)
			defer d.emu.SetFaults(emulator.Faults{})
			form := d.goodForm(sec)
			if tc.edit != nil {
				tc.edit(form)
			}
			res := c.post("/settings/integrations/defender", form)
			wantStatus(t, res, http.StatusUnprocessableEntity)
			if !slices.Contains(newTabLinks(t, res.body, guidePath+"#"+tc.anchor), fixLink) {
				t.Errorf("the error does not link to #%s:\n%.3000s", tc.anchor, res.body)
			}
		})
	}
}

// The card's last error links to the guide too, from its stored code.
func TestCardLastErrorLinksToTheGuide(t *testing.T) {
	d, c := connected(t)
	wantRedirect(t, c.post("/settings/integrations/defender/disable", url.Values{}), "/settings/integrations")
	d.emu.SetFaults(emulator.Faults{ExpiredSecret: true})
	wantRedirect(t, c.post("/settings/integrations/defender/enable", url.Values{}), "/settings/integrations")
	page := c.get("/settings/integrations").body
	if !strings.Contains(page, "AADSTS7000222") || !slices.Contains(newTabLinks(t, page, guidePath+"#client-secret"), fixLink) {
		t.Fatalf("the card's last error does not link to #client-secret:\n%.3000s", page)
	}
}

func TestDefenderHostsCoverEveryChoice(t *testing.T) {
	hosts := defenderHosts()
	want := len(defender.Regions) + len(defender.Clouds) - 1
	if len(hosts) != want {
		t.Fatalf("%d rows, want %d: %+v", len(hosts), want, hosts)
	}
	for _, h := range hosts {
		if h.LoginHost == "" || h.APIHost == "" || strings.Contains(h.APIHost, "/") {
			t.Errorf("bad row %+v", h)
		}
	}
}
