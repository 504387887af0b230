package policy

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"testing"
	"time"

	"postern/internal/actor"
	"postern/internal/audit"
	"postern/internal/fleet"
	"postern/internal/model"
	"postern/internal/posture"
	"postern/internal/testkit/teststore"
	"postern/internal/webhook/events"
	"postern/store"
)

var _ BaselineStore = (*store.Store)(nil)

// startEngine opens the store at path, as a new Postern process would,
// with a snapshot of devices synced a minute before now as run runID, and
// returns its engine, reloaded.
func startEngine(t *testing.T, path string, now time.Time, devices []fleet.Device, runID int64) (*Engine, *store.Store) {
	t.Helper()
	st := teststore.OpenAt(t, path, store.Options{Now: func() time.Time { return now }})
	var h fleet.Holder
	h.Store(fleet.NewSnapshot(devices, now.Add(-time.Minute), runID))
	e := New(st, &h, func(context.Context) (bool, error) { return true, nil }, 5*time.Minute,
		slog.New(slog.NewTextHandler(io.Discard, nil)), func() time.Time { return now })
	if err := e.Reload(context.Background()); err != nil {
		t.Fatal(err)
	}
	return e, st
}

// verdictEvents reads every device.verdict_changed event in the outbox:
// device id → the causes it was sent under, in order.
func verdictEvents(t *testing.T, st *store.Store) map[string][]string {
	t.Helper()
	items, err := st.DueWebhooks(context.Background(), time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC), 10000)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{}
	for _, it := range items {
		var ev verdictEvent
		if err := json.Unmarshal(it.Body, &ev); err != nil {
			t.Fatal(err)
		}
		for _, d := range ev.Data.Devices {
			out[d.DeviceID] = append(out[d.DeviceID], ev.Data.Cause.Kind+" "+d.From+"→"+d.To+" "+ev.Data.Cause.Label)
		}
	}
	return out
}

// A change committed and then the process killed before its recompute, or
// made while Postern was stopped, is recorded and sent once by the next
// start on the same database file, under its cause: a check created (the
// cause was kept with the change), an exception that expired while
// stopped, a sync applied before the kill. A further start sends nothing
// more.
func TestChangesBeforeAStartAreSentOnce(t *testing.T) {
	now := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	path := teststore.Path(t)
	devices := []fleet.Device{
		{ID: "a1", Host: "pc-a", HealthStatus: "Active", RiskScore: "High"},
		{ID: "b2", Host: "pc-b", HealthStatus: "Active", RiskScore: "Low"},
		{ID: "c3", Host: "pc-c", HealthStatus: "Active", RiskScore: "Medium"},
	}
	ctx := context.Background()
	alice := actor.NewContext(ctx, actor.Actor{ID: 1, Email: "alice@example.com", Role: actor.Owner})

	// First process: an endpoint, a device synced, an exception for a1 that
	// ends with 26 November, and the verdicts recorded.
	e, st := startEngine(t, path, now, devices, 1)
	if _, err := st.CreateWebhookEndpoint(ctx, model.WebhookEndpoint{ID: "ep_r", URL: "https://hooks.example.com/r",
		EventTypes: []string{events.DeviceVerdictChanged}, Secret: "sealed", Enabled: true, CreatedBy: "alice@example.com"},
		audit.Entry{Actor: "alice@example.com", Action: audit.WebhookCreated, Outcome: audit.Success}); err != nil {
		t.Fatal(err)
	}
	run, err := st.StartRun(ctx, "defender", "manual")
	if err != nil {
		t.Fatal(err)
	}
	if err := st.StageDevices(ctx, run.ID, []model.Device{{ID: "a1", Host: "pc-a", ContentHash: []byte("h")}}); err != nil {
		t.Fatal(err)
	}
	run.Outcome, run.Seen, run.Pages = model.RunSuccess, 1, 1
	if _, err := st.FinishRun(ctx, run, audit.Entry{Actor: "sync", Action: audit.SyncRun, Outcome: audit.Success}); err != nil {
		t.Fatal(err)
	}
	svc := NewService(st, e, e.log)
	if _, err := svc.SaveCheck(alice, CheckInput{Name: "Low risk", Source: posture.SourceDefender, Mode: posture.ModeEnforce,
		WhenUnavailable: posture.UnavailableDeny, Enabled: true, Spec: posture.Spec{MaxRisk: "Low"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.CreateException(alice, ExceptionInput{DeviceID: "a1", Reason: "CHG-1", ExpiresOn: "2026-11-26"}); err != nil {
		t.Fatal(err)
	}
	if err := e.refresh(ctx); err != nil { // the first pass ever: the baseline, no events
		t.Fatal(err)
	}
	if got := verdictEvents(t, st); len(got) != 0 {
		t.Fatalf("events after the first pass: %v", got)
	}
	// A check created (committed, its cause kept), then kill -9: no
	// recompute.
	if _, err := svc.SaveCheck(alice, CheckInput{Name: "No risk", Source: posture.SourceDefender, Mode: posture.ModeEnforce,
		WhenUnavailable: posture.UnavailableDeny, Enabled: true, Spec: posture.Spec{MaxRisk: "None"}}); err != nil {
		t.Fatal(err)
	}
	st.Close()

	// Second process, two days later: the exception has expired, and a
	// sync applied run 2 in which c3's risk went to None.
	later := now.Add(48 * time.Hour)
	next := []fleet.Device{devices[0], devices[1], devices[2]}
	next[2].RiskScore = "None"
	e2, st2 := startEngine(t, path, later, next, 2)
	if err := e2.refresh(ctx); err != nil {
		t.Fatal(err)
	}
	got := verdictEvents(t, st2)
	want := map[string]string{
		"a1": model.CauseExceptionExpired + " pass→fail Exception for pc-a expired",
		"b2": model.CauseCheckCreated + " pass→fail Posture check “No risk” created by alice@example.com",
		"c3": model.CauseSyncRun + " fail→pass Sync run 2",
	}
	for id, w := range want {
		if len(got[id]) != 1 || got[id][0] != w {
			t.Errorf("device %s after the restart: %q, want once %q", id, got[id], w)
		}
	}
	if len(got) != len(want) {
		t.Errorf("events for %d devices, want %d: %v", len(got), len(want), got)
	}
	pend, err := st2.PendingCauses(ctx)
	if err != nil || len(pend) != 0 {
		t.Errorf("pending causes left after the pass that filed them: %+v, %v", pend, err)
	}
	st2.Close()

	// Third process: nothing new, nothing sent again.
	e3, st3 := startEngine(t, path, later.Add(time.Minute), next, 2)
	if err := e3.refresh(ctx); err != nil {
		t.Fatal(err)
	}
	again := verdictEvents(t, st3)
	for id, causes := range again {
		if len(causes) != len(got[id]) {
			t.Errorf("device %s: %v after a third start, %v before", id, causes, got[id])
		}
	}
}
