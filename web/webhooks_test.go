package web

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

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
