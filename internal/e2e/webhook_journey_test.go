package e2e

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"postern/internal/testkit"
)

// signedRequest is what a receiver got: the Standard Webhooks headers and
// the body.
type signedRequest struct{ id, ts, sig, body string }

// validSignature checks r as the specification says, independently of
// Postern's code: base64 HMAC-SHA256 of id.timestamp.body, keyed with the
// bytes of the secret after whsec_.
func validSignature(secret string, r signedRequest) bool {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil {
		return false
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(r.id + "." + r.ts + "." + r.body))
	return r.sig == "v1,"+base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// An admin adds an endpoint on Settings → Webhooks, copies its secret,
// sees the delivery of an event on the endpoint's page and redelivers it.
func TestWebhookJourney(t *testing.T) {
	var mu sync.Mutex
	var got []signedRequest
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		got = append(got, signedRequest{r.Header.Get("webhook-id"), r.Header.Get("webhook-timestamp"), r.Header.Get("webhook-signature"), string(body)})
		mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(recv.Close)
	received := func() []signedRequest {
		mu.Lock()
		defer mu.Unlock()
		return append([]signedRequest(nil), got...)
	}

	srv := StartServer(t)
	b := NewBrowser(t, srv)
	createFirstAdmin(t, b)
	signIn(b, adminEmail, adminPassword)
	b.WaitHeading("Dashboard")

	b.ClickLink("Webhooks", mainNav)
	b.WaitHeading("Webhooks")
	b.FillByLabel("Endpoint URL", recv.URL+"/hook")
	Eval[bool](b, `(() => { const el = document.querySelector('input[name="events"][value="posture_check.changed"]'); el.click(); return el.checked; })()`)
	b.ClickButton("Add endpoint")
	b.WaitText("Copy the signing secret now")
	secret := Eval[string](b, `document.querySelector('[data-testid="new-secret"]').innerText`)
	if !strings.HasPrefix(secret, "whsec_") {
		t.Fatalf("the secret shown is %q", secret)
	}
	b.CheckA11y(t)
	b.Screenshot("webhooks") // the nav's Webhooks icon is its own, not Integrations' plug

	// A posture check saved by the same admin on another connection.
	c := newConsole(t)
	if res := c.post(srv.URL, "/login", url.Values{"email": {adminEmail}, "password": {adminPassword}}); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign-in: %s", res.Status)
	}
	if res := c.post(srv.URL, "/zero-trust/posture-checks", url.Values{"name": {"Firewall on"}, "source": {"device_report"},
		"report_firewall": {"on"}, "mode": {"monitor"}, "when_unavailable": {"allow"}, "enabled": {"on"}}); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("saving a check: %s", res.Status)
	}
	testkit.WaitFor(t, 15*time.Second, "the event at the receiver", func() bool { return len(received()) == 1 })
	first := received()[0]
	if !validSignature(secret, first) || !strings.Contains(first.body, `"posture_check.changed"`) {
		t.Fatalf("the receiver got %+v: want a posture_check.changed event signed with the secret shown", first)
	}

	b.ClickLink("Webhooks", mainNav)
	b.ClickLink(recv.URL + "/hook")
	b.WaitHeading("Webhook endpoint")
	b.WaitText("Delivered")
	if code := Eval[string](b, `[...document.querySelectorAll("tbody td")].map(td => td.innerText.trim()).join("|")`); !strings.Contains(code, "|204|") {
		t.Errorf("the delivery row does not show the response code 204: %s", code)
	}
	b.CheckA11y(t)
	b.ClickButton("Redeliver")
	b.WaitFlash("queued to be sent again")
	testkit.WaitFor(t, 15*time.Second, "the redelivery", func() bool { return len(received()) == 2 })
	if again := received()[1]; again.id != first.id || again.body != first.body || !validSignature(secret, again) {
		t.Errorf("the redelivery %+v differs from the delivery %+v", again, first)
	}
}
