// Package views holds the console's templ components. Each page takes one
// view-model struct declared beside it; components do no I/O and import
// neither the store nor the web layer.
package views

import (
	"encoding/json"
	"time"

	"postern/views/components"
)

// Chrome is what every page's frame needs: title, who is signed in, the CSRF
// token for forms and htmx, the active navigation entry and flash messages.
type Chrome struct {
	Title string
	Admin string // signed-in admin's email; empty on public pages
	Role  string // the signed-in admin's role, as shown
	// Can reports whether the signed-in admin's role may use a route
	// ("POST", "/devices/:id/recheck": the path as registered); the web
	// layer's one route table answers. Pages ask Allows before showing a
	// button, a form or a navigation entry.
	Can     func(method, path string) bool
	CSRF    string
	Nav     string // key of the active navigation entry
	Flashes []Flash
	Now     time.Time // render time, for relative times
	// Outage is the banner shown while the Defender data's trouble
	// affects access; nil when all is well.
	Outage *Outage
}

// Allows reports whether the page may offer method on path (see Can);
// nothing is allowed on a page without a signed-in admin.
func (ch Chrome) Allows(method, path string) bool { return ch.Can != nil && ch.Can(method, path) }

// Flash is a one-time message shown at the top of the next page.
type Flash struct {
	Kind string // components.FlashSuccess, FlashInfo, FlashWarning or FlashError
	Text string
}

// NavItem is one entry of the left navigation.
type NavItem struct {
	Key, Label, Href string
}

// NavGroup is a titled group of entries; an empty Title renders the items at
// the top level.
type NavGroup struct {
	Title string
	Items []NavItem
}

// Navigation is the console's sitemap as the admin sees it.
var Navigation = []NavGroup{
	{Items: []NavItem{{"dashboard", "Dashboard", "/"}}},
	{Title: "Zero Trust Security", Items: []NavItem{{"posture-checks", "Device Posture Checks", "/zero-trust/posture-checks"},
		{"exceptions", "Exceptions", "/zero-trust/exceptions"},
		{"access-decisions", "Access decisions", "/zero-trust/access-decisions"}}},
	{Items: []NavItem{{"devices", "Devices", "/devices"}, {"access-changes", "Access changes", "/access-changes"}}},
	{Title: "Settings", Items: []NavItem{
		{"integrations", "Integrations", "/settings/integrations"},
		{"api-tokens", "API tokens", "/settings/api-tokens"},
		{"webhooks", "Webhooks", "/settings/webhooks"},
		{"admins", "Admins", "/settings/admins"},
		{"sign-in", "Sign-in", "/settings/sign-in"},
		{"sync-runs", "Sync runs", "/sync-runs"},
		{"help", "Setup guide", "/help/microsoft-defender"},
	}},
	{Items: []NavItem{{"audit", "Audit log", "/audit"}}},
}

// htmxConfig keeps htmx inside our CSP: no injected styles, no eval, no
// history cache of authenticated pages, and 422 validation answers swapped.
const htmxConfig = `{"includeIndicatorStyles":false,"allowEval":false,"allowScriptTags":false,` +
	`"historyCacheSize":0,"selfRequestsOnly":true,"responseHandling":[` +
	`{"code":"204","swap":false},{"code":"[23]..","swap":true},{"code":"422","swap":true},` +
	`{"code":"[45]..","swap":false,"error":true}]}`

// csrfHeaders is the hx-headers value that sends the CSRF token with every
// htmx request.
func csrfHeaders(token string) string {
	b, _ := json.Marshal(map[string]string{"X-CSRF-Token": token})
	return string(b)
}

// Ago renders a time relative to now in plain words; see components.Ago.
// Prefer components.RelTime, which computes it itself.
func Ago(t, now time.Time) string { return components.Ago(t, now) }

// DateTime writes t the console's one way: "2 Dec 2026, 10:05 UTC"; see
// components.DateTime.
func DateTime(t time.Time) string { return components.DateTime(t) }

// navigation is Navigation without the entries the signed-in admin's role
// may not open, and without groups left empty.
func (ch Chrome) navigation() []NavGroup {
	var out []NavGroup
	for _, g := range Navigation {
		items := make([]NavItem, 0, len(g.Items))
		for _, it := range g.Items {
			if ch.Can == nil || ch.Allows("GET", it.Href) {
				items = append(items, it)
			}
		}
		if len(items) > 0 {
			out = append(out, NavGroup{Title: g.Title, Items: items})
		}
	}
	return out
}
