package e2e

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"postern/internal/emulator"
)

// microsoft is the Defender emulator behind a switch that can make it
// unreachable, as a network outage would.
type microsoft struct {
	emu  *emulator.Emulator
	down atomic.Bool
	srv  *httptest.Server
}

func startMicrosoft(t *testing.T, secretValue string) *microsoft {
	t.Helper()
	return startMicrosoftWith(t, emulator.Config{ClientSecret: secretValue, Machines: 40, Seed: 7})
}

// startMicrosoftWith is startMicrosoft over an emulator of cfg.
func startMicrosoftWith(t *testing.T, cfg emulator.Config) *microsoft {
	t.Helper()
	m := &microsoft{emu: emulator.New(cfg)}
	backend := httptest.NewServer(m.emu)
	target, _ := url.Parse(backend.URL)
	proxy := httputil.NewSingleHostReverseProxy(target)
	m.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if m.down.Load() {
			if conn, _, err := w.(http.Hijacker).Hijack(); err == nil {
				conn.Close() // the connection drops without an answer
			}
			return
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(func() {
		m.srv.Close()
		backend.Close()
	})
	return m
}

func (m *microsoft) args() []string {
	return []string{"--defender-login-url", m.srv.URL, "--defender-api-url", m.srv.URL}
}

// waitInnerText waits until the element matched by selector shows want.
func waitInnerText(t *testing.T, b *Browser, selector, want string) {
	t.Helper()
	waitInnerTextWithin(t, b, selector, want, 20*time.Second)
}

// waitInnerTextWithin is waitInnerText with its own limit.
func waitInnerTextWithin(t *testing.T, b *Browser, selector, want string, limit time.Duration) {
	t.Helper()
	deadline := time.Now().Add(limit)
	js := fmt.Sprintf(`(document.querySelector(%q) || {innerText: ""}).innerText`, selector)
	for {
		got := Eval[string](b, js)
		if strings.Contains(got, want) {
			return
		}
		if time.Now().After(deadline) {
			b.Screenshot(strings.NewReplacer("#", "", " ", "-").Replace(selector))
			t.Fatalf("%s shows %q, want it to contain %q", selector, got, want)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func fillCredentials(b *Browser, tenant, client, secretValue string) {
	b.FillByLabel("Tenant ID", tenant)
	b.FillByLabel("Client ID", client)
	b.FillByLabel("Client Secret", secretValue)
}

func TestDefenderIntegrationJourney(t *testing.T) {
	const goodSecret = "Jr8Q~journey.Secret-Value_0123456789abcd"
	ms := startMicrosoft(t, goodSecret)
	_, b := signedInAdmin(t, ms.args()...)
	openManageDialog(b)
	checkA11y(t, b, "Manage dialog")

	bad := []struct {
		name                   string
		tenant, client, secret string
		faults                 emulator.Faults
		down                   bool
		where, want            string
	}{
		{name: "unknown tenant", tenant: "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d", where: "#tenant_id-error", want: "AADSTS90002"},
		{name: "unknown client", client: "0a1b2c3d-4e5f-4a6b-8c7d-000000000000", where: "#client_id-error", want: "AADSTS700016"},
		{name: "wrong secret", secret: "Wr0ng~secret.Value_0123456789abcdefghij", where: "#client_secret-error", want: "AADSTS7000215"},
		{name: "secret ID pasted", secret: "4f3c2b1a-0d9e-4c8b-a7f6-e5d4c3b2a190", where: "#client_secret-error", want: "secret's ID"},
		{name: "expired secret", faults: emulator.Faults{ExpiredSecret: true}, where: "#client_secret-error", want: "AADSTS7000222"},
		{name: "missing consent", faults: emulator.Faults{NoConsent: true}, where: "#manage-form [role=alert]", want: "Grant admin consent"},
		{name: "Microsoft unreachable", down: true, where: "#manage-form [role=alert]", want: "Could not reach Microsoft"},
	}
	for i, tc := range bad {
		tenant, client, sec := emulator.DemoTenantID, emulator.DemoClientID, goodSecret
		if tc.tenant != "" {
			tenant = tc.tenant
		}
		if tc.client != "" {
			client = tc.client
		}
		if tc.secret != "" {
			sec = tc.secret
		}
		ms.emu.SetFaults(tc.faults)
		ms.down.Store(tc.down)
		fillCredentials(b, tenant, client, sec)
		b.ClickButton("Save")
		waitInnerText(t, b, tc.where, tc.want)
		if i == 0 {
			b.Screenshot("manage-error")
			if got := activeID(b); got != "tenant_id" {
				t.Errorf("after a failed save the focus is on %q, want the invalid Tenant ID", got)
			}
		}
		if got := Eval[string](b, `document.querySelector("#client_secret").value`); got != "" {
			t.Errorf("%s: the secret field was refilled after a failure", tc.name)
		}
	}
	ms.emu.SetFaults(emulator.Faults{})
	ms.down.Store(false)

	// Nothing was stored: closing the dialog shows the card unchanged.
	b.ClickButton("Cancel")
	b.WaitText("Not configured")

	b.ClickButton("Manage")
	b.WaitText("Manage Microsoft Defender")
	fillCredentials(b, emulator.DemoTenantID, emulator.DemoClientID, goodSecret)
	b.FillByLabel("Secret expires on", time.Now().AddDate(0, 0, 20).Format("2006-01-02"))
	b.ClickButton("Save")
	b.WaitDialogClosed()
	b.WaitFlash("Microsoft Defender is connected")
	waitInnerText(t, b, "#defender-card", "Connected")
	waitInnerText(t, b, "#defender-card", "expires in")
	b.Screenshot("connected")

	// Re-open: the secret is write-only.
	b.ClickButton("Manage")
	b.WaitText("A secret is set")
	if got := Eval[string](b, `document.querySelector("#client_secret").value`); got != "" {
		t.Fatalf("the secret field holds %d characters, want it empty", len(got))
	}
	b.ClickButton("Save") // blank secret keeps the stored one, which Microsoft accepts again
	// The flash of the first save is still showing: wait for this answer.
	b.WaitDialogClosed()
	b.WaitFlash("Microsoft Defender is connected")
	waitInnerText(t, b, "#defender-card", "Connected") // the sync it started has finished

	b.OpenMenu("Microsoft Defender actions") // Disable is in the ⚙️ menu only
	b.ClickButton("Disable")
	b.WaitText("Disable Microsoft Defender?")
	checkA11y(t, b, "Disable dialog")
	b.ClickButton("Disable")
	waitInnerText(t, b, "#defender-card", "Disabled")
	b.WaitFlash("Microsoft Defender is disabled")

	b.ClickButton("Enable")
	waitInnerText(t, b, "#defender-card", "Connected")
	b.WaitFlash("enabled and connected")

	// The page after a reload agrees with what htmx showed.
	b.Navigate("/settings/integrations")
	waitInnerText(t, b, "#defender-card", "Connected")
	checkA11y(t, b, "Integrations connected")
	b.Navigate("/audit")
	b.WaitRow("integration.configured")
	b.WaitRow("integration.disabled")
	b.WaitRow("integration.enabled")
}

// activeID is the id of the focused element.
func activeID(b *Browser) string {
	return Eval[string](b, `document.activeElement ? document.activeElement.id : ""`)
}
