package web

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"postern/internal/audit"
	"postern/internal/model"
	"postern/internal/webhook"
	"postern/internal/webhook/events"
)

// hookReceiver is a loopback receiver that records each webhook-id.
type hookReceiver struct {
	mu  sync.Mutex
	ids []string
	srv *httptest.Server
}

func newHookReceiver(t *testing.T) *hookReceiver {
	r := &hookReceiver{}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.mu.Lock()
		r.ids = append(r.ids, req.Header.Get("webhook-id"))
		r.mu.Unlock()
		w.WriteHeader(http.StatusAccepted)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *hookReceiver) got() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.ids...)
}

// An admin adds an endpoint, sees its secret once, sees a delivery with
// its status, code and latency, redelivers it with the same id, rotates
// the secret, disables and deletes the endpoint.
func TestWebhooksPageLifecycle(t *testing.T) {
	e := newAdminEnv(t)
	c := e.signedIn()
	r := newHookReceiver(t)

	list := parse(t, c.get("/settings/webhooks"))
	if nav := withText(list.Find(`nav[aria-label="Main"] a[aria-current="page"]`), "Webhooks"); nav.Length() != 1 {
		t.Error("the nav does not mark Webhooks as the current page")
	}
	// Webhooks has an icon of its own, not Integrations' plug; decorative,
	// as every nav icon.
	icon := func(label string) string {
		svg := withText(list.Find(`nav[aria-label="Main"] a`), label).Find("svg")
		if svg.Length() != 1 || svg.AttrOr("aria-hidden", "") != "true" {
			t.Fatalf("the %s nav link has %d icons, aria-hidden %q", label, svg.Length(), svg.AttrOr("aria-hidden", ""))
		}
		h, _ := svg.Html()
		return h
	}
	if hooks, plug := icon("Webhooks"), icon("Integrations"); hooks == plug {
		t.Errorf("Webhooks and Integrations share one nav icon: %s", hooks)
	}
	if list.Find(`input[type="checkbox"][name="events"]`).Length() != len(events.Types) {
		t.Error("the form does not offer every event type")
	}

	bad := c.post("/settings/webhooks", url.Values{"url": {"http://hooks.example.com/x"}, "events": {events.SyncFailed}})
	wantStatus(t, bad, http.StatusUnprocessableEntity)
	doc := parse(t, bad)
	if in := doc.Find(`input[name="url"][aria-invalid="true"]`); in.Length() != 1 || !strings.Contains(text(doc.Find("#webhook-url-error")), "https://") {
		t.Errorf("the refused URL is not marked with its reason:\n%.1500s", bad.body)
	}
	if !strings.Contains(bad.body, "http://hooks.example.com/x") {
		t.Error("the refused form loses what was typed")
	}
	noEvents := parse(t, c.post("/settings/webhooks", url.Values{"url": {r.srv.URL}}))
	if noEvents.Find(`[aria-describedby="events-error"]`).Length() == 0 {
		t.Error("an empty choice of events is not marked")
	}

	res := c.post("/settings/webhooks", url.Values{"url": {r.srv.URL + "/hook?token=abc"},
		"events": {events.SyncFailed, events.PostureCheckChanged}})
	wantStatus(t, res, http.StatusOK)
	secret := text(parse(t, res).Find(testID("new-secret")))
	if !strings.HasPrefix(secret, "whsec_") || len(secret) < 40 {
		t.Fatalf("the new secret is not shown (%q)", secret)
	}
	again := c.get("/settings/webhooks")
	if strings.Contains(again.body, secret) || strings.Contains(again.body, "token=abc") {
		t.Fatal("the list shows the secret or the URL's query")
	}
	eps, err := e.store.WebhookEndpoints(context.Background())
	if err != nil || len(eps) != 1 || strings.Contains(eps[0].Secret, secret) {
		t.Fatalf("stored endpoints %v, %v: want one, its secret sealed", eps, err)
	}
	id := eps[0].ID
	if urls := column(parse(t, again), "URL"); len(urls) != 1 || urls[0] != r.srv.URL+"/hook?…" {
		t.Errorf("URL column %q", urls)
	}
	if created := column(parse(t, again), "Created"); len(created) != 1 || created[0] != "just now by "+testEmail {
		t.Errorf("Created column %q, want the time, a space, and by whom", created)
	}

	// A posture check event, delivered by the worker.
	ctx := context.Background()
	if err := e.store.EmitWebhookEvents(ctx, []model.WebhookEvent{{ID: "msg_web", Type: events.PostureCheckChanged, Body: []byte(`{}`)}}); err != nil {
		t.Fatal(err)
	}
	w := webhook.NewWorker(e.store, e.kr, e.srv.log, webhook.Options{})
	if err := w.Deliver(ctx); err != nil {
		t.Fatal(err)
	}
	page := parse(t, c.get("/settings/webhooks/"+id))
	if res, code := column(page, "Result"), column(page, "Response code"); len(res) != 1 || res[0] != "Delivered" || code[0] != "202" {
		t.Errorf("deliveries: result %q, code %q", res, code)
	}
	if lat := column(page, "Latency"); len(lat) != 1 || !strings.HasSuffix(lat[0], " ms") {
		t.Errorf("latency %q", lat)
	}
	form := page.Find(`form[action$="/redeliver"]`)
	action, _ := form.Attr("action")
	wantRedirect(t, c.post(action, url.Values{}), "/settings/webhooks/"+id)
	if err := w.Deliver(ctx); err != nil {
		t.Fatal(err)
	}
	if got := r.got(); len(got) != 2 || got[0] != "msg_web" || got[1] != "msg_web" {
		t.Errorf("receiver got ids %q, want msg_web twice", got)
	}

	rot := c.post("/settings/webhooks/"+id+"/rotate", url.Values{})
	wantStatus(t, rot, http.StatusOK)
	if s2 := text(parse(t, rot).Find(testID("new-secret"))); !strings.HasPrefix(s2, "whsec_") || s2 == secret {
		t.Errorf("rotated secret %q", s2)
	}
	wantRedirect(t, c.post("/settings/webhooks/"+id+"/disable", url.Values{}), "/settings/webhooks/"+id)
	if st := text(described(parse(t, c.get("/settings/webhooks/"+id)), "Status")); st != "Disabled" {
		t.Errorf("status after Disable: %q", st)
	}
	wantRedirect(t, c.post("/settings/webhooks/"+id+"/delete", url.Values{}), "/settings/webhooks")
	wantStatus(t, c.get("/settings/webhooks/"+id), http.StatusNotFound)
	for _, a := range []string{audit.WebhookCreated, audit.WebhookRedelivered, audit.WebhookRotated, audit.WebhookDisabled, audit.WebhookDeleted} {
		if es := e.auditedAs(a); len(es) == 0 || es[0].Actor != testEmail {
			t.Errorf("%s not audited as the admin: %+v", a, es)
		}
	}
	if strings.Contains(e.logs.String(), secret) {
		t.Error("the log holds the secret")
	}
}

// /metrics counts webhook attempts by outcome after real deliveries to a
// receiver that answers 204 and one that answers 500, shows the outbox's
// backlog and the age of its oldest event, and the time receivers took.
func TestWebhookMetrics(t *testing.T) {
	e := newAdminEnv(t)
	c := e.signedIn()
	token := createToken(t, c, "Prometheus")
	ok := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		time.Sleep(30 * time.Millisecond)
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(ok.Close)
	var refused atomic.Int32
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		refused.Add(1)
		w.WriteHeader(http.StatusInternalServerError)
	}))
	t.Cleanup(down.Close)
	for _, u := range []string{ok.URL, down.URL} {
		wantStatus(t, c.post("/settings/webhooks", url.Values{"url": {u + "/hook"}, "events": {events.PostureCheckChanged}}), http.StatusOK)
	}
	w := webhook.NewWorker(e.store, e.kr, e.srv.log, webhook.Options{MaxAge: time.Hour,
		Jitter: func(d time.Duration) time.Duration { return d }})
	e.srv.metrics.Register(w)
	scrape := func(wants ...string) {
		t.Helper()
		m := e.client().do(http.MethodGet, "/metrics", nil, http.Header{"Authorization": {"Bearer " + token}})
		wantStatus(t, m, http.StatusOK)
		for _, want := range wants {
			if !slices.Contains(strings.Split(m.body, "\n"), want) {
				t.Errorf("/metrics lacks the line %q", want)
			}
		}
		if t.Failed() {
			t.Fatalf("/metrics:\n%s", grepLines(m.body, "postern_webhook_"))
		}
	}
	scrape(`postern_webhook_deliveries_total{outcome="delivered"} 0`, `postern_webhook_outbox_pending 0`,
		`postern_webhook_outbox_oldest_pending_age_seconds 0`, `postern_webhook_delivery_duration_seconds_count 0`)

	ctx := context.Background()
	// A posture check saved: one event for each endpoint.
	wantRedirect(t, c.post("/zero-trust/posture-checks", url.Values{"name": {"Firewall on"}, "source": {"device_report"},
		"report_firewall": {"on"}, "mode": {"monitor"}, "when_unavailable": {"allow"}, "enabled": {"on"}}), "/zero-trust/posture-checks")
	scrape(`postern_webhook_outbox_pending 2`, `postern_webhook_outbox_oldest_pending_age_seconds 0`)
	e.clock.Advance(90 * time.Second)
	scrape(`postern_webhook_outbox_pending 2`, `postern_webhook_outbox_oldest_pending_age_seconds 90`)
	if err := w.Deliver(ctx); err != nil {
		t.Fatal(err)
	}
	scrape(`postern_webhook_deliveries_total{outcome="delivered"} 1`, `postern_webhook_deliveries_total{outcome="retry"} 1`,
		`postern_webhook_deliveries_total{outcome="given_up"} 0`, `postern_webhook_outbox_pending 1`,
		`postern_webhook_outbox_oldest_pending_age_seconds 90`, `postern_webhook_delivery_duration_seconds_count 2`,
		// the 204 took 30 ms or more: one answer within 25 ms at most
		`postern_webhook_delivery_duration_seconds_bucket{le="0.025"} 1`)

	// The retries run out an hour after the event: the last one gives up.
	e.clock.Advance(2 * time.Hour)
	scrape(`postern_webhook_outbox_oldest_pending_age_seconds 7290`)
	if err := w.Deliver(ctx); err != nil {
		t.Fatal(err)
	}
	if n := refused.Load(); n != 2 {
		t.Fatalf("the failing receiver was asked %d times, want 2", n)
	}
	scrape(`postern_webhook_deliveries_total{outcome="delivered"} 1`, `postern_webhook_deliveries_total{outcome="retry"} 1`,
		`postern_webhook_deliveries_total{outcome="given_up"} 1`, `postern_webhook_outbox_pending 0`,
		`postern_webhook_outbox_oldest_pending_age_seconds 0`, `postern_webhook_delivery_duration_seconds_count 3`)
}

// grepLines keeps the lines of s that contain sub.
func grepLines(s, sub string) string {
	var out []string
	for l := range strings.SplitSeq(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
