package e2e

import (
	"net/url"
	"strings"
	"testing"
)

// Sign-in returns to the page that was asked for, never to another site;
// the Manage dialog opens with the keyboard on Tenant ID.
func TestSignInReturnAndManageFocus(t *testing.T) {
	srv := StartServer(t)
	b := NewBrowser(t, srv)
	createFirstAdmin(t, b)

	b.Navigate("/devices?risk=High")
	b.WaitPath("/login")
	signIn(b, adminEmail, adminPassword)
	b.WaitPath("/devices")
	if got := Eval[string](b, `location.search`); got != "?risk=High" {
		t.Errorf("sign-in returned to /devices%s, want /devices?risk=High", got)
	}

	for _, evil := range []string{"https://evil.example/", "//evil.example", "/\\evil.example"} {
		b.ClickButton("Sign out")
		b.WaitPath("/login")
		b.Navigate("/login?next=" + urlQueryEscape(evil))
		signIn(b, adminEmail, adminPassword)
		b.WaitHeading("Dashboard")
		if origin, path := Eval[string](b, `location.origin`), Eval[string](b, `location.pathname`); origin != strings.TrimSuffix(srv.URL, "/") || path != "/" {
			t.Errorf("next=%q led to %s%s", evil, origin, path)
		}
	}

	b.ClickLink("Integrations", mainNav)
	b.ClickButton("Manage")
	b.WaitText("Manage Microsoft Defender")
	if _, err := poll[struct{}](b, pollScript(`const id = document.activeElement ? document.activeElement.id : "";
		return id === "tenant_id" ? {ok: true} : {ok: false, why: "focus is on " + q(id)};`)); err != nil {
		t.Errorf("the Manage dialog does not focus Tenant ID: %v", err)
	}
}

func urlQueryEscape(s string) string { return url.QueryEscape(s) }
