package web

import (
	"bytes"
	"context"
	"errors"
	stdhtml "html"
	"io"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"

	"postern/views"
)

// fuzzDevice is the device detail page as the handler builds it, with every
// string Defender (or an admin, for an exception's reason) controls taken
// from the fuzzer.
func fuzzDevice(id, host, tag, text, url string) views.DeviceDetailPage {
	now := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	seen := now.Add(-time.Hour)
	p := views.DeviceDetailPage{
		Chrome: views.Chrome{Title: host, Admin: "admin@example.com", CSRF: "csrf-token", Nav: "devices", Now: now,
			Flashes: []views.Flash{{Kind: "info", Text: text}}},
		ID: id, Host: host, RecheckURL: deviceURL(id) + "/recheck",
		Health: text, Risk: text, Exposure: text, Onboarding: text, AV: text, EntraJoined: true,
		EntraDeviceID: text, DeviceValue: text, Excluded: true, ExclusionReason: text,
		OSPlatform: text, OSVersion: text, Release: text, OSBuild: text, Architecture: text, Processor: text,
		AgentVersion: text, ManagedBy: text, ManagedByStatus: text, RBACGroupID: text, RBACGroupName: text,
		LastIP: url, ExternalIP: url, IPs: []views.DeviceIP{{Address: url, MAC: text, Type: text, Status: text}},
		Tags: []string{tag, text}, VM: &views.DeviceVM{VMID: text, CloudProvider: text, ResourceID: url, SubscriptionID: text},
		MergedInto: url, MergedIntoHref: deviceURL(url), PotentialDuplicate: true,
		FirstSeen: &seen, LastSeen: &seen, FirstSynced: seen, Changed: seen, ChangedRunID: 3, MissedRuns: 1, RemovedAt: &seen,
	}
	p.Posture = &views.DevicePostureView{DeviceID: id, CSRF: "csrf-token", Now: now,
		Checks:       []views.PostureRow{{CheckID: 1, Name: tag, Mode: "enforce", Result: "fail", Reasons: []string{text}}},
		Exceptions:   []views.ExceptionRow{{ID: 2, DeviceID: id, Device: host, Check: tag, Reason: text, ExpiresAt: now.Add(time.Hour), CreatedBy: url, CreatedAt: seen}},
		History:      []views.HistoryRow{{At: seen, Check: tag, From: "pass", To: "fail", Reasons: []string{text}, Signal: url}},
		CheckOptions: []views.Option{{Value: "1", Label: tag}},
		FormCheck:    "1", FormReason: text, FormExpires: url, FormErrors: map[string]string{"reason": text},
	}
	return p
}

func renderDetailPage(t testing.TB, p views.DeviceDetailPage) string {
	t.Helper()
	var b bytes.Buffer
	if err := views.DeviceDetail(p).Render(context.Background(), &b); err != nil {
		t.Fatalf("render: %v", err)
	}
	return b.String()
}

// voidElements have no end tag.
var voidElements = map[string]bool{"area": true, "base": true, "br": true, "col": true, "embed": true, "hr": true,
	"img": true, "input": true, "link": true, "meta": true, "source": true, "track": true, "wbr": true,
	"path": true, "circle": true, "rect": true, "line": true, "polyline": true, "use": true} // SVG children templ self-closes

// htmlShape tokenizes a page and returns its element names with their
// attribute names, failing on a tokenizer error, an unbalanced tag, an event
// handler attribute or a script-capable URL.
func htmlShape(t testing.TB, page string) map[string]bool {
	t.Helper()
	shape := map[string]bool{}
	var stack []string
	z := html.NewTokenizer(strings.NewReader(page))
	for {
		tt := z.Next()
		if tt == html.ErrorToken {
			if !errors.Is(z.Err(), io.EOF) {
				t.Fatalf("tokenizer: %v", z.Err())
			}
			break
		}
		tok := z.Token()
		switch tt {
		case html.StartTagToken, html.SelfClosingTagToken:
			shape[tok.Data] = true
			for _, a := range tok.Attr {
				shape[tok.Data+"@"+a.Key] = true
				if strings.HasPrefix(a.Key, "on") {
					t.Errorf("<%s> has an event handler attribute %s=%q", tok.Data, a.Key, a.Val)
				}
				if urlAttr(a.Key) && scriptURL(a.Val) {
					t.Errorf("<%s %s=%q>: a script URL", tok.Data, a.Key, a.Val)
				}
			}
			if tt == html.StartTagToken && !voidElements[tok.Data] {
				stack = append(stack, tok.Data)
			}
		case html.EndTagToken:
			if voidElements[tok.Data] {
				continue
			}
			if len(stack) == 0 || stack[len(stack)-1] != tok.Data {
				t.Fatalf("</%s> does not close the open %v", tok.Data, stack[max(0, len(stack)-3):])
			}
			stack = stack[:len(stack)-1]
		}
	}
	if len(stack) != 0 {
		t.Fatalf("unclosed elements %v", stack)
	}
	return shape
}

func urlAttr(k string) bool {
	switch k {
	case "href", "src", "action", "formaction", "hx-get", "hx-post", "hx-put", "hx-delete", "hx-patch", "xlink:href":
		return true
	}
	return false
}

func scriptURL(v string) bool {
	v = strings.ToLower(strings.Join(strings.FieldsFunc(v, func(r rune) bool { return r <= ' ' }), ""))
	return strings.HasPrefix(v, "javascript:") || strings.HasPrefix(v, "vbscript:") || strings.HasPrefix(v, "data:")
}

// FuzzDeviceDetail is the device renderer's fuzz target (security item 40,
// docs/security.md#item-40): whatever Defender puts in a device's fields, the
// detail page is well-formed HTML with the elements and attributes of a
// benign device's page only (no injected tag, attribute or handler), no
// script URL, and no field that could open a tag or leave an attribute
// appears unescaped.
func FuzzDeviceDetail(f *testing.F) {
	for _, s := range []string{
		`"><script>alert(1)</script>`, `javascript:alert(1)`, `<img src=x onerror=alert(1)>`,
		`' onmouseover='alert(1)`, `</dd></dl><form action=//evil>`, "\x00<\u2028>&amp;", `{{.}}`, "", `"&`,
	} {
		f.Add("0123456789abcdef0123456789abcdef01234567", s, s, s, s)
	}
	f.Add("id/../../x?y#z", "laptop-ana.corp.example.com", "finance", "Active", "10.20.30.41")
	// A link path-escapes ";&" to "%3B&amp;", whose reference ends beside
	// the attribute's quote: ";\"" there is not the text field unescaped.
	f.Add("a1b2", "laptop", "vpn", `;"`, ";&")
	f.Add("0", "0", "0", `F"`, "\xff") // "/devices/%FF" beside its quote
	f.Add("%", "0", "0", `F"`, "\xff") // a field "%" in "%FF"
	// A benign device with every field set, and one with every field empty
	// (Defender's nulls), give the page's possible elements and attributes.
	baseline := renderDetailPage(f, fuzzDevice("a1b2", "laptop", "vpn", "Active", "10.0.0.1"))
	benign := htmlShape(f, baseline)
	for k := range htmlShape(f, renderDetailPage(f, fuzzDevice("a1b2", "", "", "", ""))) {
		benign[k] = true
	}
	f.Fuzz(func(t *testing.T, id, host, tag, text, url string) {
		page := renderDetailPage(t, fuzzDevice(id, host, tag, text, url))
		for k := range htmlShape(t, page) {
			if !benign[k] {
				t.Errorf("element or attribute %q is not on a benign device's page: injected", k)
			}
		}
		fields := []string{id, host, tag, text, url}
		rest, mark := withoutEscaped(page, fields)
		for _, v := range fields {
			if strings.ContainsAny(v, `<>"'`) && !strings.Contains(baseline, v) && strings.Contains(rest, charRef.ReplaceAllString(v, mark)) {
				t.Errorf("the field %q appears unescaped", v)
			}
		}
	})
}

// charRef is an HTML character reference (named, decimal or hexadecimal)
// or a URL's percent-escape: neither is a field's raw text.
var charRef = regexp.MustCompile(`&(#[0-9]+|#[xX][0-9a-fA-F]+|[A-Za-z][A-Za-z0-9]*);|%[0-9A-Fa-f]{2}`)

// withoutEscaped replaces with a mark no field contains, and returns with
// the mark: first every character reference and percent-escape in page,
// then every escaped occurrence of the fields (their own references
// marked alike), the longest first. A raw field found afterwards (its
// references marked alike) is a real one, not an attribute's quote meeting
// an escaped value: `"&` is in title="&#34;&amp;", `;"` ends
// href="/devices/%3B&amp;" (a field ";&" escaped for a path, then for
// HTML), `F"` ends href="/devices/%FF", and a field "0" beside a quote
// makes `0"`, without any field being unescaped anywhere. Escapes are
// marked first, so that a short field ("%", "amp") cannot break them up.
func withoutEscaped(page string, fields []string) (string, string) {
	mark := "\uFFFD"
	for strings.Contains(strings.Join(fields, "\x00"), mark) {
		mark += "\uFFFD"
	}
	page = charRef.ReplaceAllString(page, mark)
	escaped := make([]string, 0, len(fields))
	for _, v := range fields {
		if e := charRef.ReplaceAllString(stdhtml.EscapeString(v), mark); e != "" { // templ escapes with the standard library's html
			escaped = append(escaped, e)
		}
	}
	slices.SortFunc(escaped, func(a, b string) int { return len(b) - len(a) })
	for _, e := range escaped {
		page = strings.ReplaceAll(page, e, mark)
	}
	return page, mark
}
