package policy

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"postern/internal/actor"
	"postern/internal/audit"
	"postern/internal/fleet"
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
