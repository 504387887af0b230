package storetest

import (
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"

	"postern/internal/apperr"
	"postern/internal/audit"
	"postern/internal/model"
	"postern/internal/webhook/events"
)

func testWebhooks(t *testing.T, open Opener) {
	cases(t, open,
		tcase{"EndpointLifecycle", webhookEndpoints},
		tcase{"EventsFollowTheirChange", webhookEmit},
		tcase{"BulkVerdictChangeIsBatched", webhookBatched},
		tcase{"AttemptsAndRedelivery", webhookAttempts},
		tcase{"EmitOnceByID", webhookEmitOnce},
		tcase{"EmitOnceAfterPrune", webhookEmitOnceAfterPrune},
		tcase{"DuePerEndpoint", webhookDuePerEndpoint},
		tcase{"Backlog", webhookBacklog},
	)
}

func newEndpoint(t *testing.T, s Store, id string, types ...string) model.WebhookEndpoint {
	t.Helper()
	ep, err := s.CreateWebhookEndpoint(t.Context(), model.WebhookEndpoint{ID: id, URL: "https://hooks.example.com/" + id,
		EventTypes: types, Secret: "pst:v1:sealed-" + id, Enabled: true, CreatedBy: "alice"}, entry(audit.WebhookCreated, id))
	must(t, err, "CreateWebhookEndpoint")
	return ep
}

func outboxOf(t *testing.T, s Store, endpoint string) []model.OutboxItem {
	t.Helper()
	items, err := s.DueWebhooks(t.Context(), s.Now().Add(time.Hour), 100000)
	must(t, err, "DueWebhooks")
	var out []model.OutboxItem
	for _, it := range items {
		if it.EndpointID == endpoint {
			out = append(out, it)
		}
	}
	return out
}

func webhookEndpoints(t *testing.T, s Store) {
	ctx := t.Context()
	ep := newEndpoint(t, s, "ep_a", events.SyncFailed)
	if !recent(s, ep.CreatedAt) || !sameTime(ep.CreatedAt, ep.RotatedAt) {
		t.Errorf("created %+v", ep)
	}
	wantAudit(t, s, audit.WebhookCreated, 1)
	_, err := s.CreateWebhookEndpoint(ctx, model.WebhookEndpoint{ID: "ep_a", URL: "https://x.example", Secret: "s"}, entry(audit.WebhookCreated, "ep_a"))
	wantKind(t, err, apperr.Conflict, "a second endpoint with the same id")
	wantAudit(t, s, audit.WebhookCreated, 1)

	got, err := s.UpdateWebhookEndpoint(ctx, "ep_a", func(e *model.WebhookEndpoint) { e.Secret = "pst:v1:new"; e.Enabled = false },
		entry(audit.WebhookRotated, "ep_a"))
	must(t, err, "UpdateWebhookEndpoint")
	if got.Secret != "pst:v1:new" || got.Enabled {
		t.Errorf("updated %+v", got)
	}
	read, err := s.WebhookEndpoint(ctx, "ep_a")
	must(t, err, "WebhookEndpoint")
	if read.Secret != "pst:v1:new" || read.Enabled || !slices.Equal(read.EventTypes, []string{events.SyncFailed}) || read.URL != ep.URL {
		t.Errorf("read back %+v", read)
	}
	_, err = s.UpdateWebhookEndpoint(ctx, "ep_missing", func(*model.WebhookEndpoint) {}, entry(audit.WebhookRotated, "x"))
	wantKind(t, err, apperr.NotFound, "updating a missing endpoint")
	wantAudit(t, s, audit.WebhookRotated, 1)

	newEndpoint(t, s, "ep_b")
	all, err := s.WebhookEndpoints(ctx)
	must(t, err, "WebhookEndpoints")
	if len(all) != 2 {
		t.Fatalf("%d endpoints, want 2", len(all))
	}
	must(t, s.DeleteWebhookEndpoint(ctx, "ep_a", entry(audit.WebhookDeleted, "ep_a")), "DeleteWebhookEndpoint")
	wantKind(t, s.DeleteWebhookEndpoint(ctx, "ep_a", entry(audit.WebhookDeleted, "ep_a")), apperr.NotFound, "deleting twice")
	wantAudit(t, s, audit.WebhookDeleted, 1)
	_, err = s.WebhookEndpoint(ctx, "ep_a")
	wantKind(t, err, apperr.NotFound, "a deleted endpoint")
}

func webhookEmit(t *testing.T, s Store) {
	ctx := t.Context()
	newEndpoint(t, s, "ep_sync", events.SyncFailed, events.SyncHeld)
	newEndpoint(t, s, "ep_checks", events.PostureCheckChanged)
	off := newEndpoint(t, s, "ep_off", events.SyncFailed, events.PostureCheckChanged)
	_, err := s.UpdateWebhookEndpoint(ctx, off.ID, func(e *model.WebhookEndpoint) { e.Enabled = false }, entry(audit.WebhookDisabled, off.ID))
	must(t, err, "disable")

	run, err := s.StartRun(ctx, "defender", "manual")
	must(t, err, "StartRun")
	run.Error = "Microsoft answered 503"
	failed := finish(t, s, run, model.RunFailed)
	ok := syncRun(t, s, devices(0, 2, "v1"))
	_ = ok
	items := outboxOf(t, s, "ep_sync")
	if len(items) != 1 || items[0].EventType != events.SyncFailed || items[0].Attempts != 0 || items[0].Status != model.OutboxPending {
		t.Fatalf("sync endpoint's outbox %+v, want one pending sync.failed", items)
	}
	var body struct {
		Type string
		Data struct {
			RunID int64 `json:"run_id"`
			Error string
		}
	}
	must(t, json.Unmarshal(items[0].Body, &body), "decode body")
	if body.Type != events.SyncFailed || body.Data.RunID != failed.ID || body.Data.Error != run.Error {
		t.Errorf("body %s", items[0].Body)
	}
	c := saveCheck(t, s, "Firewall")
	_, err = s.DeletePostureCheck(ctx, c.ID, entry(audit.CheckDeleted, ""))
	must(t, err, "DeletePostureCheck")
	checks := outboxOf(t, s, "ep_checks")
	if len(checks) != 2 || !json.Valid(checks[0].Body) {
		t.Fatalf("checks endpoint's outbox %+v, want created and deleted", checks)
	}
	if len(outboxOf(t, s, "ep_off")) != 0 {
		t.Error("a disabled endpoint was given events")
	}
	// A failed change writes no event.
	saveCheck(t, s, "Keep")
	_, err = s.SavePostureCheck(ctx, newCheck("Keep"), "bob", entry(audit.CheckCreated, ""))
	wantKind(t, err, apperr.Conflict, "a check name in use")
	if n := len(outboxOf(t, s, "ep_checks")); n != 3 {
		t.Errorf("%d check events after a refused save, want 3", n)
	}
}

func webhookBatched(t *testing.T, s Store) {
	newEndpoint(t, s, "ep_v", events.DeviceVerdictChanged)
	var entries []model.HistoryEntry
	const n = 2500
	for i := range n {
		id := fmt.Sprintf("dev-%05d", i)
		entries = append(entries,
			model.HistoryEntry{DeviceID: id, At: at(3, 0), From: "allowed", To: "denied"},
			model.HistoryEntry{DeviceID: id, CheckID: 7, CheckName: "Firewall", At: at(3, 0), From: "pass", To: "fail", Reasons: []string{"firewall off"}})
	}
	_, err := s.AppendHistory(t.Context(), model.Cause{Kind: model.CauseCheckCreated, Ref: "7", Label: "Posture check “Firewall” created"},
		entries, entry(audit.VerdictsChanged, "x"))
	must(t, err, "AppendHistory")
	items := outboxOf(t, s, "ep_v")
	if want := (n + events.MaxDevicesPerEvent - 1) / events.MaxDevicesPerEvent; len(items) != want {
		t.Fatalf("%d events for %d devices, want %d", len(items), n, want)
	}
	seen := map[string]bool{}
	for _, it := range items {
		var body struct {
			Data struct {
				Devices []struct {
					DeviceID string `json:"device_id"`
					From, To string
					Checks   []struct{ Reasons []string }
				}
			}
		}
		must(t, json.Unmarshal(it.Body, &body), "decode")
		for _, d := range body.Data.Devices {
			if d.From != "allowed" || d.To != "denied" || len(d.Checks) != 1 || d.Checks[0].Reasons[0] != "firewall off" {
				t.Fatalf("device %+v", d)
			}
			seen[d.DeviceID] = true
		}
	}
	if len(seen) != n {
		t.Errorf("%d devices in the events, want %d", len(seen), n)
	}
}

func webhookAttempts(t *testing.T, s Store) {
	ctx := t.Context()
	newEndpoint(t, s, "ep_r", events.SyncFailed)
	ev := model.WebhookEvent{ID: "msg_1", Type: events.SyncFailed, Body: []byte(`{"type":"sync.failed"}`)}
	must(t, s.EmitWebhookEvents(ctx, []model.WebhookEvent{ev}), "EmitWebhookEvents")
	items := outboxOf(t, s, "ep_r")
	if len(items) != 1 {
		t.Fatalf("%d items", len(items))
	}
	it := items[0]
	now := s.Now()
	must(t, s.RecordWebhookAttempt(ctx, it.ID, model.WebhookAttempt{At: now, Code: 500, Latency: 12 * time.Millisecond,
		Error: "answered 500", Next: now.Add(time.Hour)}), "RecordWebhookAttempt")
	if due, _ := s.DueWebhooks(ctx, now.Add(time.Minute), 10); len(due) != 0 {
		t.Errorf("due before its next attempt: %+v", due)
	}
	due, err := s.DueWebhooks(ctx, now.Add(2*time.Hour), 10)
	must(t, err, "DueWebhooks")
	if len(due) != 1 || due[0].Attempts != 1 || due[0].LastCode != 500 || due[0].LastLatency != 12*time.Millisecond {
		t.Fatalf("due %+v", due)
	}
	must(t, s.RecordWebhookAttempt(ctx, it.ID, model.WebhookAttempt{At: now, Code: 204, Latency: time.Millisecond, OK: true}), "delivered")
	got, err := s.OutboxItem(ctx, it.ID)
	must(t, err, "OutboxItem")
	if got.Status != model.OutboxDelivered || got.Attempts != 2 {
		t.Errorf("after delivery %+v", got)
	}
	ds, err := s.WebhookDeliveries(ctx, "ep_r", 10)
	must(t, err, "WebhookDeliveries")
	if len(ds) != 2 || !ds[0].OK || ds[0].Code != 204 || ds[1].OK || ds[1].Error != "answered 500" || ds[0].Status != model.OutboxDelivered {
		t.Errorf("deliveries %+v", ds)
	}
	if n, _ := s.PendingWebhooks(ctx, "ep_r"); n != 0 {
		t.Errorf("%d pending", n)
	}
	again, err := s.RedeliverWebhook(ctx, "ep_r", it.ID, entry(audit.WebhookRedelivered, "ep_r"))
	must(t, err, "RedeliverWebhook")
	if again.EventID != "msg_1" || string(again.Body) != string(ev.Body) || again.Status != model.OutboxPending || again.Attempts != 0 {
		t.Errorf("redelivered %+v", again)
	}
	wantAudit(t, s, audit.WebhookRedelivered, 1)
	_, err = s.RedeliverWebhook(ctx, "ep_other", it.ID, entry(audit.WebhookRedelivered, "x"))
	wantKind(t, err, apperr.NotFound, "redelivering another endpoint's event")
	// Given up: failed, not due.
	must(t, s.RecordWebhookAttempt(ctx, it.ID, model.WebhookAttempt{At: now, Error: "timeout"}), "give up")
	if got, _ := s.OutboxItem(ctx, it.ID); got.Status != model.OutboxFailed {
		t.Errorf("given up: %+v", got)
	}
	n, err := s.PruneWebhookOutbox(ctx, now.Add(time.Second))
	must(t, err, "PruneWebhookOutbox")
	if n != 1 {
		t.Errorf("pruned %d, want 1", n)
	}
	if ds, _ := s.WebhookDeliveries(ctx, "ep_r", 10); len(ds) != 0 {
		t.Errorf("deliveries of a pruned event remain: %+v", ds)
	}
}

func webhookEmitOnce(t *testing.T, s Store) {
	newEndpoint(t, s, "ep_o", events.IntegrationDataStale)
	ev := events.StaleEvent("defender", at(1, 0), at(5, 0))
	must(t, s.EmitWebhookEvents(t.Context(), []model.WebhookEvent{ev}), "emit")
	must(t, s.EmitWebhookEvents(t.Context(), []model.WebhookEvent{ev}), "emit again")
	if n := len(outboxOf(t, s, "ep_o")); n != 1 {
		t.Errorf("%d events for one staleness, want 1", n)
	}
}

func webhookBacklog(t *testing.T, s Store) {
	ctx := t.Context()
	backlog := func() model.WebhookBacklog {
		t.Helper()
		b, err := s.WebhookBacklog(ctx)
		must(t, err, "WebhookBacklog")
		return b
	}
	if b := backlog(); b.Pending != 0 || !b.Oldest.IsZero() {
		t.Errorf("an empty outbox's backlog is %+v", b)
	}
	newEndpoint(t, s, "ep_on", events.SyncFailed)
	off := newEndpoint(t, s, "ep_off", events.SyncFailed)
	first := s.Now()
	must(t, s.EmitWebhookEvents(ctx, []model.WebhookEvent{{ID: "msg_1", Type: events.SyncFailed, Body: []byte(`{}`)}}), "emit")
	must(t, s.EmitWebhookEvents(ctx, []model.WebhookEvent{{ID: "msg_2", Type: events.SyncFailed, Body: []byte(`{}`)}}), "emit")
	if b := backlog(); b.Pending != 4 || b.Oldest.Before(first.Add(-time.Second)) || b.Oldest.After(s.Now()) {
		t.Errorf("backlog %+v, want 4 pending, the oldest written at about %s", b, first)
	}
	// A disabled endpoint's events wait for it: not in the backlog.
	_, err := s.UpdateWebhookEndpoint(ctx, off.ID, func(e *model.WebhookEndpoint) { e.Enabled = false }, entry(audit.WebhookDisabled, off.ID))
	must(t, err, "disable")
	items := outboxOf(t, s, "ep_on")
	if len(items) != 2 {
		t.Fatalf("%d items", len(items))
	}
	if b := backlog(); b.Pending != 2 {
		t.Errorf("backlog %+v with one endpoint disabled, want 2 pending", b)
	}
	// Delivered and given up are no longer pending; a retry still is.
	now := s.Now()
	must(t, s.RecordWebhookAttempt(ctx, items[0].ID, model.WebhookAttempt{At: now, Code: 204, OK: true}), "delivered")
	if b := backlog(); b.Pending != 1 || !sameTime(b.Oldest, items[1].CreatedAt) {
		t.Errorf("backlog %+v after a delivery, want the other event (written %s)", b, items[1].CreatedAt)
	}
	must(t, s.RecordWebhookAttempt(ctx, items[1].ID, model.WebhookAttempt{At: now, Code: 500, Next: now.Add(time.Hour)}), "retry")
	if b := backlog(); b.Pending != 1 {
		t.Errorf("backlog %+v with a retry waiting, want 1 pending", b)
	}
	must(t, s.RecordWebhookAttempt(ctx, items[1].ID, model.WebhookAttempt{At: now, Error: "timeout"}), "give up")
	if b := backlog(); b.Pending != 0 || !b.Oldest.IsZero() {
		t.Errorf("backlog %+v after the last was given up, want none", b)
	}
}

// A condition event delivered and pruned is not written again under its id.
func webhookEmitOnceAfterPrune(t *testing.T, s Store) {
	ctx := t.Context()
	newEndpoint(t, s, "ep_p", events.IntegrationDataStale)
	ev := events.StaleEvent("defender", at(1, 0), at(5, 0))
	must(t, s.EmitWebhookEvents(ctx, []model.WebhookEvent{ev}), "emit")
	items := outboxOf(t, s, "ep_p")
	if len(items) != 1 {
		t.Fatalf("%d events, want 1", len(items))
	}
	must(t, s.RecordWebhookAttempt(ctx, items[0].ID, model.WebhookAttempt{At: s.Now(), OK: true, Code: 204}), "RecordWebhookAttempt")
	n, err := s.PruneWebhookOutbox(ctx, s.Now().Add(time.Hour))
	must(t, err, "PruneWebhookOutbox")
	if n != 1 {
		t.Fatalf("pruned %d, want 1", n)
	}
	must(t, s.EmitWebhookEvents(ctx, []model.WebhookEvent{events.StaleEvent("defender", at(1, 0), at(9, 0))}), "emit again")
	if n := len(outboxOf(t, s, "ep_p")); n != 0 {
		t.Errorf("%d events written again after the first was pruned, want none", n)
	}
}

// Each endpoint's due events are read on their own: a backlog of one
// does not hide another's.
func webhookDuePerEndpoint(t *testing.T, s Store) {
	ctx := t.Context()
	newEndpoint(t, s, "ep_1", events.SyncFailed)
	for i := range 5 {
		must(t, s.EmitWebhookEvents(ctx, []model.WebhookEvent{{ID: fmt.Sprint("msg_f", i), Type: events.SyncFailed, Body: []byte(`{}`)}}), "emit")
	}
	newEndpoint(t, s, "ep_2", events.SyncHeld)
	must(t, s.EmitWebhookEvents(ctx, []model.WebhookEvent{{ID: "msg_h", Type: events.SyncHeld, Body: []byte(`{}`)}}), "emit")
	items, err := s.DueWebhooksPerEndpoint(ctx, s.Now().Add(time.Minute), 2)
	must(t, err, "DueWebhooksPerEndpoint")
	var got []string
	for _, it := range items {
		got = append(got, it.EndpointID+" "+it.EventID)
	}
	if !slices.Equal(got, []string{"ep_1 msg_f0", "ep_1 msg_f1", "ep_2 msg_h"}) {
		t.Errorf("due %v, want two of ep_1's, oldest first, and ep_2's", got)
	}
}
