package web

import (
	"net/http"
	"strings"
	"testing"

	"golang.org/x/net/html"

	"postern/internal/emulator"
)

// htmlNodes parses body and returns every element for which keep is true.
func htmlNodes(t *testing.T, body string, keep func(*html.Node) bool) []*html.Node {
	t.Helper()
	doc, err := html.Parse(strings.NewReader(body))
	if err != nil {
		t.Fatalf("parse HTML: %v", err)
	}
	var out []*html.Node
	for n := range doc.Descendants() {
		if n.Type == html.ElementNode && keep(n) {
			out = append(out, n)
		}
	}
	return out
}

func htmlAttr(n *html.Node, key string) string {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val
		}
	}
	return ""
}

// htmlText is the text inside n, whitespace collapsed.
func htmlText(n *html.Node) string {
	var b strings.Builder
	for d := range n.Descendants() {
		if d.Type == html.TextNode {
			b.WriteString(d.Data)
			b.WriteByte(' ')
		}
	}
	return strings.Join(strings.Fields(b.String()), " ")
}

// TestDefenderFormErrorsNameTheirCode holds security item 10 for the failures
// that concern no single field (docs/security.md#item-10): missing consent
// or a missing role (API 403) and Microsoft unreachable each get their own
// message in the form's alert, with the code beside it in a <code> element.
// (The AADSTS cases are TestDefenderBadCredentials.)
func TestDefenderFormErrorsNameTheirCode(t *testing.T) {
	const sec = "Good~secret.value-0123456789abcdefghijklm"
	cases := []struct {
		name    string
		faults  emulator.Faults
		down    bool
		message string
		code    string
	}{
		{name: "missing consent", faults: emulator.Faults{NoConsent: true},
			message: "Grant admin consent", code: "403 Forbidden"},
		{name: "role missing", faults: emulator.Faults{Roles: []string{"Alert.Read.All"}},
			message: "Machine.Read.All", code: "403 Forbidden"},
		{name: "unreachable", down: true,
			message: "Could not reach Microsoft", code: "network"},
	}
	messages := map[string]string{}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := newDefenderEnv(t, sec)
			d.emu.SetFaults(tc.faults)
			if tc.down {
				d.emuSrv.Close()
			}
			res := d.signedIn().post("/settings/integrations/defender", d.goodForm(sec))
			wantStatus(t, res, http.StatusUnprocessableEntity)
			alerts := htmlNodes(t, res.body, func(n *html.Node) bool {
				return htmlAttr(n, "role") == "alert" && htmlAncestorID(n, "manage-form")
			})
			if len(alerts) != 1 {
				t.Fatalf("%d alerts in the Manage form, want 1:\n%.2000s", len(alerts), res.body)
			}
			text := htmlText(alerts[0])
			if !strings.Contains(text, tc.message) {
				t.Errorf("alert %q lacks %q", text, tc.message)
			}
			var codes []*html.Node
			for n := range alerts[0].Descendants() {
				if n.Type == html.ElementNode && n.Data == "code" {
					codes = append(codes, n)
				}
			}
			if len(codes) != 1 || htmlText(codes[0]) != tc.code {
				t.Errorf("alert codes %v, want one <code>%s</code>", htmlTexts(codes), tc.code)
			}
			messages[tc.name] = strings.Replace(text, tc.code, "", 1)
		})
	}
	if messages["missing consent"] == messages["unreachable"] {
		t.Error("a 403 and an unreachable Microsoft show the same message")
	}
}

func htmlAncestorID(n *html.Node, id string) bool {
	for p := n.Parent; p != nil; p = p.Parent {
		if htmlAttr(p, "id") == id {
			return true
		}
	}
	return false
}

func htmlTexts(ns []*html.Node) []string {
	out := make([]string, len(ns))
	for i, n := range ns {
		out[i] = htmlText(n)
	}
	return out
}
