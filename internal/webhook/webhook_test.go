package webhook_test

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"postern/internal/actor"
	"postern/internal/apperr"
	"postern/internal/audit"
	"postern/internal/model"
	"postern/internal/webhook"
	"postern/internal/webhook/events"
)

// A delivery carries the Standard Webhooks headers, and a receiver that
// verifies them with its own implementation of the specification accepts
// the signature; one with another secret does not.
func TestDeliverySignedAsStandardWebhooks(t *testing.T) {
	e := newEnv(t, webhook.Options{})
	r := newReceiver(t)
	ep, sec := e.add(r.srv.URL+"/hook", events.SyncFailed)
	if !strings.HasPrefix(sec, "whsec_") {
		t.Fatalf("secret %q does not start with whsec_", sec)
	}
	e.emit("msg_one", events.SyncFailed)
	e.deliver()
	got := r.requests()
	if len(got) != 1 {
		t.Fatalf("receiver got %d requests, want 1", len(got))
	}
	if got[0].ID != "msg_one" || !strings.Contains(string(got[0].Body), `"msg_one"`) {
		t.Errorf("request %+v", got[0])
	}
	if !verify(sec, got[0], e.clock.Now(), 5*time.Minute) {
		t.Errorf("signature %q does not verify", got[0].Signature)
	}
	if verify("whsec_"+strings.Repeat("A", 44), got[0], e.clock.Now(), 5*time.Minute) {
		t.Error("a signature verifies with another secret")
	}
	ds, err := e.svc.Deliveries(context.Background(), ep.ID, 10)
	if err != nil || len(ds) != 1 || !ds[0].OK || ds[0].Code != http.StatusNoContent || ds[0].Status != model.OutboxDelivered {
		t.Errorf("deliveries %+v, %v", ds, err)
	}
}

// A receiver that fails is tried again after 10 s, 20 s, 40 s …, up to
// 24 hours after the event was written, then the event is given up.
func TestRetriesBackOffForADay(t *testing.T) {
	e := newEnv(t, webhook.Options{})
	r := newReceiver(t, 500, 503)
	e.add(r.srv.URL, events.SyncFailed)
	e.emit("msg_retry", events.SyncFailed)
	e.deliver() // 500
	e.deliver() // not due yet
	if n := len(r.requests()); n != 1 {
		t.Fatalf("%d requests before the first retry is due, want 1", n)
	}
	e.clock.Advance(9 * time.Second)
	e.deliver()
	if n := len(r.requests()); n != 1 {
		t.Fatalf("retried after 9 s, want 10 s")
	}
	e.clock.Advance(time.Second)
	e.deliver() // 503
	e.clock.Advance(19 * time.Second)
	e.deliver()
	if n := len(r.requests()); n != 2 {
		t.Fatalf("%d requests 19 s after the second, want 2 (next after 20 s)", n)
	}
	e.clock.Advance(time.Second)
	e.deliver() // 204
	got := r.requests()
	if len(got) != 3 || got[2].ID != "msg_retry" || string(got[2].Body) != string(got[0].Body) {
		t.Fatalf("requests %+v: want the same id and body three times", got)
	}

	// A receiver that never answers 2xx: tried at each due time until
	// 24 h after the event was written, then given up.
	dead := newReceiver(t, repeat(http.StatusBadGateway, 100)...)
	ep, _ := e.add(dead.srv.URL, events.SyncHeld)
	e.emit("msg_dead", events.SyncHeld)
	start := e.clock.Now()
	var last model.OutboxItem
	for range 100 {
		e.deliver()
		ds, err := e.st.WebhookDeliveries(context.Background(), ep.ID, 1)
		if err != nil || len(ds) == 0 {
			t.Fatalf("no delivery recorded: %v", err)
		}
		if last, err = e.st.OutboxItem(context.Background(), ds[0].OutboxID); err != nil {
			t.Fatal(err)
		}
		if last.Status != model.OutboxPending {
			break
		}
		e.clock.Advance(last.NextAttemptAt.Sub(e.clock.Now()))
	}
	// 1 + 10 doublings from 10 s (to 2.8 h) + every 2 h to 22.8 h + the last at 24 h.
	if n := len(dead.requests()); last.Status != model.OutboxFailed || n != 22 || last.Attempts != n {
		t.Errorf("%d attempts, outbox %+v: want 22, then failed", n, last)
	}
	if end := e.clock.Now().Sub(start); end != 24*time.Hour {
		t.Errorf("last attempt %s after the event, want 24h", end)
	}
	if !strings.Contains(last.LastError, "502") {
		t.Errorf("error %q does not name the answer", last.LastError)
	}
}

func repeat(code, n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = code
	}
	return out
}

// With jitter, a retry comes between half the step and the step.
func TestJitterShortensTheWait(t *testing.T) {
	r := newReceiver(t, 500)
	e := newEnv(t, webhook.Options{Jitter: func(d time.Duration) time.Duration { return d / 2 }})
	e.add(r.srv.URL, events.SyncFailed)
	e.emit("msg_j", events.SyncFailed)
	e.deliver()
	e.clock.Advance(5 * time.Second)
	e.deliver()
	if n := len(r.requests()); n != 2 {
		t.Errorf("%d requests with a half-step jitter after 5 s, want 2", n)
	}
}

// A redelivery sends the same webhook-id and body; a disabled endpoint is
// sent nothing until enabled; a deleted one takes its events with it.
func TestRedeliverDisableDelete(t *testing.T) {
	e := newEnv(t, webhook.Options{})
	r := newReceiver(t)
	ep, sec := e.add(r.srv.URL, events.PostureCheckChanged)
	e.emit("msg_a", events.PostureCheckChanged)
	e.deliver()
	ds, _ := e.svc.Deliveries(context.Background(), ep.ID, 10)
	if err := e.svc.Redeliver(asAdmin(), ep.ID, ds[0].OutboxID); err != nil {
		t.Fatalf("Redeliver = %v", err)
	}
	e.clock.Advance(time.Minute)
	e.deliver()
	got := r.requests()
	if len(got) != 2 || got[1].ID != got[0].ID || string(got[1].Body) != string(got[0].Body) {
		t.Fatalf("redelivery %+v, want the same id and body", got)
	}
	if !verify(sec, got[1], e.clock.Now(), time.Minute) {
		t.Error("the redelivery's signature does not verify")
	}

	if err := e.svc.SetEnabled(asAdmin(), ep.ID, false); err != nil {
		t.Fatal(err)
	}
	e.emit("msg_off", events.PostureCheckChanged)
	e.deliver()
	if n := len(r.requests()); n != 2 {
		t.Errorf("a disabled endpoint got an event")
	}
	if err := e.svc.SetEnabled(asAdmin(), ep.ID, true); err != nil {
		t.Fatal(err)
	}
	e.emit("msg_on", events.PostureCheckChanged)
	e.deliver()
	if n := len(r.requests()); n != 3 || r.requests()[2].ID != "msg_on" {
		t.Errorf("after enabling: %+v", r.requests())
	}

	newSec, err := e.svc.Rotate(asAdmin(), ep.ID)
	if err != nil || newSec.Reveal() == sec {
		t.Fatalf("Rotate = %v", err)
	}
	e.emit("msg_rot", events.PostureCheckChanged)
	e.deliver()
	last := r.requests()[3]
	if !verify(newSec.Reveal(), last, e.clock.Now(), time.Minute) || verify(sec, last, e.clock.Now(), time.Minute) {
		t.Error("after rotation the event is not signed with the new secret alone")
	}
	if err := e.svc.Delete(asAdmin(), ep.ID); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.Delete(asAdmin(), ep.ID); !apperr.Is(err, apperr.NotFound) {
		t.Errorf("second Delete = %v, want NotFound", err)
	}
	for _, a := range []string{audit.WebhookCreated, audit.WebhookRedelivered, audit.WebhookDisabled, audit.WebhookEnabled,
		audit.WebhookRotated, audit.WebhookDeleted} {
		es, _, _ := e.st.AuditEntries(context.Background(), audit.Filter{Action: &a})
		if len(es) == 0 || es[len(es)-1].Actor != admin.Email {
			t.Errorf("no %s entry by the admin: %+v", a, es)
		}
	}
}

// Only HTTPS, or http:// to loopback; only known event types; only admins.
func TestCreateRefuses(t *testing.T) {
	e := newEnv(t, webhook.Options{})
	for _, c := range []struct {
		url   string
		types []string
		field string
	}{
		{"http://hooks.example.com/x", []string{events.SyncFailed}, webhook.FieldURL},
		{"ftp://hooks.example.com/x", []string{events.SyncFailed}, webhook.FieldURL},
		{"https://user:pw@hooks.example.com/x", []string{events.SyncFailed}, webhook.FieldURL},
		{"", []string{events.SyncFailed}, webhook.FieldURL},
		{"https://hooks.example.com/x", nil, webhook.FieldEvents},
		{"https://hooks.example.com/x", []string{"device.exploded"}, webhook.FieldEvents},
	} {
		_, _, err := e.svc.Create(asAdmin(), c.url, c.types)
		if _, ok := apperr.FieldsOf(err)[c.field]; !ok {
			t.Errorf("Create(%q, %v) = %v, want field %s refused", c.url, c.types, err, c.field)
		}
	}
	for _, ok := range []string{"https://hooks.example.com/x?token=abc", "http://127.0.0.1:9/x", "http://localhost:9/x", "http://[::1]:9/"} {
		if _, _, err := e.svc.Create(asAdmin(), ok, []string{events.SyncFailed}); err != nil {
			t.Errorf("Create(%q) = %v", ok, err)
		}
	}
	viewer := actor.NewContext(context.Background(), actor.Actor{Email: "v@example.com", Role: "viewer"})
	if _, _, err := e.svc.Create(viewer, "https://hooks.example.com/y", []string{events.SyncFailed}); !apperr.Is(err, apperr.Forbidden) {
		t.Errorf("a non-admin's Create = %v", err)
	}
	es, _, _ := e.st.AuditEntries(context.Background(), audit.Filter{})
	for _, a := range es {
		if strings.Contains(a.Target+a.Detail, "token=abc") {
			t.Errorf("audit entry %+v holds the URL's query", a)
		}
	}
}

// A receiver that hangs holds one slot until the timeout; the attempt is
// recorded as no answer, and other endpoints' events still go out.
func TestSlowReceiverTimesOut(t *testing.T) {
	e := newEnv(t, webhook.Options{Timeout: 200 * time.Millisecond})
	block := make(chan struct{})
	slow := newReceiver(t)
	slow.srv.Config.Handler = http.HandlerFunc(func(http.ResponseWriter, *http.Request) { <-block })
	t.Cleanup(func() { close(block) })
	fast := newReceiver(t)
	slowEP, _ := e.add(slow.srv.URL, events.SyncFailed)
	e.add(fast.srv.URL, events.SyncFailed)
	e.emit("msg_s", events.SyncFailed)
	start := time.Now()
	e.deliver()
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("a pass took %s with a hanging receiver", d)
	}
	if n := len(fast.requests()); n != 1 {
		t.Errorf("fast receiver got %d, want 1", n)
	}
	ds, _ := e.st.WebhookDeliveries(context.Background(), slowEP.ID, 10)
	if len(ds) != 1 || ds[0].OK || !strings.Contains(ds[0].Error, "no answer within") {
		t.Errorf("slow deliveries %+v", ds)
	}
}

// Stale data and an expiring credential are each one event, however often
// the worker notices them.
func TestWatchEmitsOnce(t *testing.T) {
	synced := time.Date(2026, 12, 6, 7, 0, 0, 0, time.UTC)
	e := newEnv(t, webhook.Options{Freshness: func() (bool, time.Time) { return true, synced }})
	r := newReceiver(t)
	e.add(r.srv.URL, events.IntegrationDataStale, events.IntegrationSecretExpiring)
	expires := e.clock.Now().Add(10 * 24 * time.Hour)
	in := model.Integration{Name: "defender", TenantID: "t", ClientID: "c", Enabled: true, SecretExpiresOn: &expires,
		Cloud: "commercial", Region: "global", ConfiguredBy: "a", OutageGraceHours: 0}
	if err := e.st.SaveIntegration(context.Background(), in, 0, audit.Entry{Action: audit.IntegrationConfigured, Actor: "a", Outcome: audit.Success}); err != nil {
		t.Fatalf("SaveIntegration: %v", err)
	}
	e.w.Watch(context.Background())
	e.w.Watch(context.Background())
	e.deliver()
	got := r.requests()
	if len(got) != 2 {
		t.Fatalf("%d events, want stale and expiring once each", len(got))
	}
	types := string(got[0].Body) + string(got[1].Body)
	if !strings.Contains(types, events.IntegrationDataStale) || !strings.Contains(types, events.IntegrationSecretExpiring) {
		t.Errorf("bodies %s", types)
	}
}

// A backlog drains as fast as the receiver answers, a free slot taking the
// next event at once, not one batch per poll.
func TestBacklogDrainsWithoutWaitingForThePoll(t *testing.T) {
	e := newEnv(t, webhook.Options{Concurrency: 2, Poll: time.Hour})
	r := newReceiver(t)
	e.add(r.srv.URL, events.SyncFailed)
	for i := range 40 {
		e.emit("msg_b"+strconv.Itoa(i), events.SyncFailed)
	}
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.w.Run(ctx) }()
	defer func() {
		stop()
		<-done
	}()
	deadline := time.Now().Add(10 * time.Second)
	for len(r.requests()) < 40 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := len(r.requests()); n != 40 {
		t.Fatalf("%d of 40 events delivered with the poll an hour away", n)
	}
}

// Events that waited longer than a day for a disabled endpoint are tried
// once more when it is enabled, then given up.
func TestEventsOfADisabledEndpointWait(t *testing.T) {
	e := newEnv(t, webhook.Options{})
	r := newReceiver(t, repeat(http.StatusInternalServerError, 10)...)
	ep, _ := e.add(r.srv.URL, events.SyncFailed)
	if err := e.svc.SetEnabled(asAdmin(), ep.ID, false); err != nil {
		t.Fatal(err)
	}
	e.emit("msg_before", events.SyncFailed) // written while disabled: not for this endpoint
	if err := e.svc.SetEnabled(asAdmin(), ep.ID, true); err != nil {
		t.Fatal(err)
	}
	e.emit("msg_wait", events.SyncFailed)
	if err := e.svc.SetEnabled(asAdmin(), ep.ID, false); err != nil {
		t.Fatal(err)
	}
	e.deliver()
	e.clock.Advance(25 * time.Hour)
	e.deliver()
	if n := len(r.requests()); n != 0 {
		t.Fatalf("a disabled endpoint got %d requests", n)
	}
	if err := e.svc.SetEnabled(asAdmin(), ep.ID, true); err != nil {
		t.Fatal(err)
	}
	e.deliver()
	e.clock.Advance(time.Hour)
	e.deliver()
	got := r.requests()
	if len(got) != 1 || got[0].ID != "msg_wait" {
		t.Fatalf("requests %+v: want msg_wait once", got)
	}
	ds, _ := e.svc.Deliveries(context.Background(), ep.ID, 10)
	if len(ds) != 1 || ds[0].Status != model.OutboxFailed {
		t.Errorf("deliveries %+v: want one, given up", ds)
	}
}

// A condition that lasts is one event, however long: over 40 days of a
// fake clock, with the outbox pruned after 7 as Run does, stale data and
// an expiring credential (expired on day 20) each reach the receiver once,
// and an id never comes back with another body.
func TestConditionEventsOnceOverWeeks(t *testing.T) {
	synced := time.Date(2026, 12, 6, 7, 0, 0, 0, time.UTC)
	e := newEnv(t, webhook.Options{Freshness: func() (bool, time.Time) { return true, synced }})
	r := newReceiver(t)
	e.add(r.srv.URL, events.IntegrationDataStale, events.IntegrationSecretExpiring)
	expires := e.clock.Now().Add(20 * 24 * time.Hour)
	in := model.Integration{Name: "defender", TenantID: "t", ClientID: "c", Enabled: true, SecretExpiresOn: &expires,
		Cloud: "commercial", Region: "global", ConfiguredBy: "a"}
	ctx := context.Background()
	if err := e.st.SaveIntegration(ctx, in, 0, audit.Entry{Action: audit.IntegrationConfigured, Actor: "a", Outcome: audit.Success}); err != nil {
		t.Fatalf("SaveIntegration: %v", err)
	}
	for range 40 * 4 { // every 6 hours for 40 days
		e.w.Watch(ctx)
		e.deliver()
		if _, err := e.st.PruneWebhookOutbox(ctx, e.clock.Now().Add(-webhook.DefaultRetention)); err != nil {
			t.Fatal(err)
		}
		e.clock.Advance(6 * time.Hour)
	}
	bodies := map[string]string{}
	byType := map[string]int{}
	for _, g := range r.requests() {
		if b, ok := bodies[g.ID]; ok && b != string(g.Body) {
			t.Errorf("id %s sent again with another body:\n%s\n%s", g.ID, b, g.Body)
		}
		bodies[g.ID] = string(g.Body)
		for _, typ := range []string{events.IntegrationDataStale, events.IntegrationSecretExpiring} {
			if strings.Contains(string(g.Body), `"`+typ+`"`) {
				byType[typ]++
			}
		}
	}
	if n := len(r.requests()); n != 2 || byType[events.IntegrationDataStale] != 1 || byType[events.IntegrationSecretExpiring] != 1 {
		t.Errorf("%d requests over 40 days (%v), want stale and expiring once each", n, byType)
	}
}

// Once the credential has expired, no warning is written at all.
func TestNoExpiryWarningAfterExpiry(t *testing.T) {
	e := newEnv(t, webhook.Options{})
	r := newReceiver(t)
	e.add(r.srv.URL, events.IntegrationSecretExpiring)
	expired := e.clock.Now().Add(-time.Hour)
	in := model.Integration{Name: "defender", TenantID: "t", ClientID: "c", Enabled: true, SecretExpiresOn: &expired,
		Cloud: "commercial", Region: "global", ConfiguredBy: "a"}
	if err := e.st.SaveIntegration(context.Background(), in, 0, audit.Entry{Action: audit.IntegrationConfigured, Actor: "a", Outcome: audit.Success}); err != nil {
		t.Fatalf("SaveIntegration: %v", err)
	}
	e.w.Watch(context.Background())
	e.deliver()
	if n := len(r.requests()); n != 0 {
		t.Errorf("%d warnings for a credential already expired, want none", n)
	}
}

// A receiver that hangs, with a backlog older than anything else, holds at
// most PerEndpoint requests: a healthy endpoint's events, written after
// that backlog, are delivered at once, not after it.
func TestHangingEndpointDoesNotStarveOthers(t *testing.T) {
	e := newEnv(t, webhook.Options{Timeout: time.Minute, Poll: 20 * time.Millisecond})
	block := make(chan struct{})
	hung := newReceiver(t)
	var hits atomic.Int32
	hung.srv.Config.Handler = http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		hits.Add(1)
		<-block
	})
	t.Cleanup(func() { close(block) }) // runs before the server closes
	healthy := newReceiver(t)
	e.add(hung.srv.URL, events.SyncFailed)
	for i := range 200 {
		e.emit("msg_dead"+strconv.Itoa(i), events.SyncFailed)
	}
	e.clock.Advance(time.Second)
	e.add(healthy.srv.URL, events.SyncHeld)
	for i := range 20 {
		e.emit("msg_ok"+strconv.Itoa(i), events.SyncHeld)
	}
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.w.Run(ctx) }()
	defer func() {
		stop()
		<-done
	}()
	deadline := time.Now().Add(10 * time.Second)
	for len(healthy.requests()) < 20 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := len(healthy.requests()); n != 20 {
		t.Fatalf("the healthy endpoint got %d of 20 events while another hung", n)
	}
	if n := hits.Load(); n > webhook.DefaultPerEndpoint {
		t.Errorf("%d requests in flight to the hanging endpoint, want at most %d", n, webhook.DefaultPerEndpoint)
	}
}
