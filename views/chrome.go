// Package views holds the console's templ components. Each page takes one
// view-model struct declared beside it; components do no I/O and import
// neither the store nor the web layer.
package views

import (
	"encoding/json"
	"time"
)

// Chrome is what every page's frame needs: title, who is signed in, the CSRF
// token for forms and htmx, the active navigation entry and flash messages.
type Chrome struct {
	Title   string
	Admin   string // signed-in admin's email; empty on public pages
	CSRF    string
	Nav     string // key of the active navigation entry
	Flashes []Flash
	Now     time.Time // render time, for relative times
}

// Flash is a one-time message shown at the top of the next page.
type Flash struct {
	Kind string // success, info, warning, error
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
	{Title: "Zero Trust Security", Items: []NavItem{{"posture-checks", "Device Posture Checks", "/zero-trust/posture-checks"}}},
	{Items: []NavItem{{"devices", "Devices", "/devices"}}},
	{Title: "Settings", Items: []NavItem{
		{"integrations", "Integrations", "/settings/integrations"},
		{"api-tokens", "API tokens", "/settings/api-tokens"},
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

// Ago renders a time relative to now in plain words.
func Ago(t, now time.Time) string {
	d := now.Sub(t)
	future := d < 0
	if future {
		d = -d
	}
	var s string
	switch {
	case d < 45*time.Second:
		return "just now"
	case d < 90*time.Second:
		s = "1 minute"
	case d < time.Hour:
		s = plural(int(d.Round(time.Minute)/time.Minute), "minute")
	case d < 36*time.Hour:
		s = plural(int(d.Round(time.Hour)/time.Hour), "hour")
	default:
		s = plural(int(d.Round(24*time.Hour)/(24*time.Hour)), "day")
	}
	if future {
		return "in " + s
	}
	return s + " ago"
}

func plural(n int, unit string) string {
	if n == 1 {
		return "1 " + unit
	}
	return itoa(n) + " " + unit + "s"
}

// UTC formats t as the exact time shown on hover and in exports.
func UTC(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05 UTC") }
