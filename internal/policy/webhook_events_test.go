package policy

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"

	"postern/internal/actor"
	"postern/internal/audit"
	"postern/internal/fleet"
	"postern/internal/integration"
	"postern/internal/model"
	"postern/internal/posture"
	"postern/internal/webhook/events"
)

// A new check that flips thousands of devices reaches a webhook endpoint
// as a handful of device.verdict_changed events (MaxDevicesPerEvent
// devices each), written with the posture history of the change: every
// device that moved once, with its cause.
func TestBulkVerdictChangeIsAFewWebhookEvents(t *testing.T) {
	now := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	const n = 4500
	var devices []fleet.Device
	for i := range n {
		devices = append(devices, fleet.Device{ID: fmt.Sprintf("%040x", i+1), Host: fmt.Sprintf("pc-%04d", i),
			OSPlatform: "Windows11", HealthStatus: "Active", RiskScore: "High", OnboardingStatus: "Onboarded"})
	}
	e, st, _ := newTestEngine(t, now, devices)
	ctx := context.Background()
	if err := e.refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := st.CreateWebhookEndpoint(ctx, model.WebhookEndpoint{ID: "ep_v", URL: "https://hooks.example.com/v",
		EventTypes: []string{events.DeviceVerdictChanged}, Secret: "sealed", Enabled: true, CreatedBy: "alice@example.com"},
		audit.Entry{Actor: "alice@example.com", Action: audit.WebhookCreated, Outcome: audit.Success}); err != nil {
		t.Fatal(err)
	}
	svc := NewService(st, e, e.log)
	alice := actor.NewContext(ctx, actor.Actor{ID: 1, Email: "alice@example.com", Role: actor.Owner})
	if _, err := svc.SaveCheck(alice, CheckInput{Name: "Low risk", Source: posture.SourceDefender, Mode: posture.ModeEnforce,
		WhenUnavailable: posture.UnavailableDeny, Enabled: true, Spec: posture.Spec{MaxRisk: "Low"}}); err != nil {
		t.Fatal(err)
	}
	if err := e.refresh(ctx); err != nil {
		t.Fatal(err)
	}
	items, err := st.DueWebhooks(ctx, now.Add(time.Hour), 1000)
	if err != nil {
		t.Fatal(err)
	}
	if want := (n + events.MaxDevicesPerEvent - 1) / events.MaxDevicesPerEvent; len(items) != want {
		t.Fatalf("%d events for %d devices that changed, want %d", len(items), n, want)
	}
	seen := map[string]bool{}
	for _, it := range items {
		var body struct {
			Data struct {
				Cause   struct{ Kind, Label string }
				Devices []struct {
					DeviceID string `json:"device_id"`
					From, To string
				}
			}
		}
		if err := json.Unmarshal(it.Body, &body); err != nil {
			t.Fatal(err)
		}
		if body.Data.Cause.Kind != model.CauseCheckCreated || body.Data.Cause.Label != "Posture check “Low risk” created by alice@example.com" {
			t.Errorf("cause %+v", body.Data.Cause)
		}
		for _, d := range body.Data.Devices {
			if d.From != "pass" || d.To != "fail" {
				t.Fatalf("device %+v, want pass → fail", d)
			}
			seen[d.DeviceID] = true
		}
	}
	if len(seen) != n {
		t.Errorf("%d devices in the events, want %d", len(seen), n)
	}
}

// verdictEvent is the body of a device.verdict_changed event, as a
// receiver reads it.
type verdictEvent struct {
	Type string `json:"type"`
	Data struct {
		Cause struct {
			Kind, Ref, Label, Actor string
		} `json:"cause"`
		Devices []struct {
			DeviceID string `json:"device_id"`
			From     string `json:"from"`
			To       string `json:"to"`
			Checks   []struct {
				CheckName string   `json:"check_name"`
				From      string   `json:"from"`
				To        string   `json:"to"`
				Reasons   []string `json:"reasons"`
			} `json:"checks"`
		} `json:"devices"`
	} `json:"data"`
}

// Every cause of a verdict change reaches a webhook endpoint as
// device.verdict_changed naming it: a sync run (by its number), a check
// edited, an exception expired, the integration disabled; each event holds
// the devices that moved, from → to, with the check and its reasons.
func TestEachCauseIsAWebhookEvent(t *testing.T) {
	now := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	devices := []fleet.Device{
		{ID: "a1", Host: "pc-a", HealthStatus: "Active", RiskScore: "High"},
		{ID: "b2", Host: "pc-b", HealthStatus: "Active", RiskScore: "Low"},
		{ID: "c3", Host: "pc-c", HealthStatus: "Active", RiskScore: "Low"},
	}
	e, st, h := newTestEngine(t, now, devices, check(t, "Low risk", posture.ModeEnforce, posture.Spec{MaxRisk: "Low"}))
	enabled := true
	e.enabled = func(context.Context) (bool, error) { return enabled, nil }
	ctx := context.Background()
	alice := actor.NewContext(ctx, actor.Actor{ID: 1, Email: "alice@example.com", Role: actor.Owner})
	if _, err := st.CreateWebhookEndpoint(ctx, model.WebhookEndpoint{ID: "ep_c", URL: "https://hooks.example.com/c",
		EventTypes: []string{events.DeviceVerdictChanged}, Secret: "sealed", Enabled: true, CreatedBy: "alice@example.com"},
		audit.Entry{Actor: "alice@example.com", Action: audit.WebhookCreated, Outcome: audit.Success}); err != nil {
		t.Fatal(err)
	}
	if err := e.refresh(ctx); err != nil { // the baseline
		t.Fatal(err)
	}
	seen := map[string]bool{}
	// step does what, refreshes and returns the one new event it wrote.
	step := func(what string, do func()) verdictEvent {
		t.Helper()
		do()
		if err := e.refresh(ctx); err != nil {
			t.Fatal(err)
		}
		items, err := st.DueWebhooks(ctx, now.Add(1000*time.Hour), 1000)
		if err != nil {
			t.Fatal(err)
		}
		var out []verdictEvent
		for _, it := range items {
			if seen[it.EventID] {
				continue
			}
			seen[it.EventID] = true
			var ev verdictEvent
			if err := json.Unmarshal(it.Body, &ev); err != nil {
				t.Fatal(err)
			}
			out = append(out, ev)
		}
		if len(out) != 1 || out[0].Type != events.DeviceVerdictChanged {
			t.Fatalf("%s: %d new events %+v, want one device.verdict_changed", what, len(out), out)
		}
		return out[0]
	}
	moved := func(what string, ev verdictEvent, want map[string]string) {
		t.Helper()
		got := map[string]string{}
		for _, d := range ev.Data.Devices {
			got[d.DeviceID] = d.From + "→" + d.To
			if len(d.Checks) != 1 || d.Checks[0].CheckName != "Low risk" || d.Checks[0].From != d.From ||
				d.Checks[0].To != d.To || (d.To != "pass") != (len(d.Checks[0].Reasons) > 0) {
				t.Errorf("%s: device %s's checks %+v, want Low risk %s → %s, with reasons unless it passes", what, d.DeviceID, d.Checks, d.From, d.To)
			}
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s: devices %v, want %v", what, got, want)
		}
	}

	ev := step("sync run 7", func() {
		next := slices.Clone(devices)
		next[1].RiskScore = "High"
		h.Store(fleet.NewSnapshot(next, now.Add(-time.Minute), 7))
	})
	if c := ev.Data.Cause; c.Kind != model.CauseSyncRun || c.Ref != "7" || c.Label != "Sync run 7" {
		t.Errorf("sync: cause %+v", c)
	}
	moved("sync", ev, map[string]string{"b2": "pass→fail"})

	svc := NewService(st, e, e.log)
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
	step("exception added", func() {
		if _, err := svc.CreateException(alice, ExceptionInput{DeviceID: "a1", Reason: "CHG-1", ExpiresOn: "2026-11-26"}); err != nil {
			t.Fatal(err)
		}
	})
	ev = step("exception expired", func() {
		later := now.Add(48 * time.Hour)
		e.now = func() time.Time { return later } // past the end of 26 November
		next := slices.Clone(h.Load().Devices)
		h.Store(fleet.NewSnapshot(next, later.Add(-time.Minute), 7)) // fresh, same run
		if err := e.Reload(ctx); err != nil {
			t.Fatal(err)
		}
	})
	if c := ev.Data.Cause; c.Kind != model.CauseExceptionExpired || c.Ref != "a1" || c.Label != "Exception for pc-a expired" {
		t.Errorf("expiry: cause %+v", c)
	}
	moved("expiry", ev, map[string]string{"a1": "pass→fail"})

	ev = step("check edited", func() {
		id := e.Checks()[0].ID
		if _, err := svc.SaveCheck(alice, CheckInput{ID: id, Name: "Low risk", Source: posture.SourceDefender,
			Mode: posture.ModeEnforce, WhenUnavailable: posture.UnavailableDeny, Enabled: true,
			Spec: posture.Spec{MaxRisk: "High"}}); err != nil {
			t.Fatal(err)
		}
	})
	if c := ev.Data.Cause; c.Kind != model.CauseCheckUpdated || c.Label != "Posture check “Low risk” edited by alice@example.com" ||
		c.Actor != "alice@example.com" {
		t.Errorf("edit: cause %+v", c)
	}
	moved("edit", ev, map[string]string{"a1": "fail→pass", "b2": "fail→pass"})

	ev = step("integration disabled", func() {
		enabled = false
		e.IntegrationChanged(alice, integration.Disabled)
	})
	if c := ev.Data.Cause; c.Kind != model.CauseIntegrationDisabled || c.Label != "Microsoft Defender disabled by alice@example.com" {
		t.Errorf("disable: cause %+v", c)
	}
	moved("disable", ev, map[string]string{"a1": "pass→unknown", "b2": "pass→unknown", "c3": "pass→unknown"})
}
