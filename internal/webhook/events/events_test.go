package events_test

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"postern/internal/model"
	"postern/internal/webhook/events"
)

// A new check that flips 20,000 devices is 20 events, not 20,000: every
// device once, with its overall change and each check's reasons, and the
// cause.
func TestBulkVerdictChangeIsAHandfulOfEvents(t *testing.T) {
	const n = 20000
	at := time.Date(2026, 12, 6, 9, 0, 0, 0, time.UTC)
	var entries []model.HistoryEntry
	for i := range n {
		id := fmt.Sprintf("m%05d", i)
		entries = append(entries,
			model.HistoryEntry{DeviceID: id, CheckID: 3, CheckName: "Risk", From: "pass", To: "fail", Reasons: []string{"risk score High"}},
			model.HistoryEntry{DeviceID: id, From: "allowed", To: "denied"})
	}
	cause := model.Cause{Kind: model.CauseCheckCreated, Ref: "3", Label: "Posture check “Risk” created by a@example.com", At: at}
	evs := events.VerdictEvents(cause, entries, 0)
	if len(evs) != n/events.MaxDevicesPerEvent {
		t.Fatalf("%d events for %d devices, want %d", len(evs), n, n/events.MaxDevicesPerEvent)
	}
	ids := map[string]bool{}
	devices := map[string]bool{}
	for i, ev := range evs {
		var body struct {
			Type      string
			Timestamp time.Time
			Data      struct {
				Cause          struct{ Kind, Ref, Label string }
				Batch, Batches int
				Devices        []struct {
					DeviceID string `json:"device_id"`
					From, To string
					Checks   []struct {
						CheckID int64 `json:"check_id"`
						Reasons []string
					}
				}
			}
		}
		if err := json.Unmarshal(ev.Body, &body); err != nil {
			t.Fatal(err)
		}
		if ev.Type != events.DeviceVerdictChanged || body.Type != ev.Type || !body.Timestamp.Equal(at) ||
			body.Data.Batch != i+1 || body.Data.Batches != len(evs) || body.Data.Cause.Kind != model.CauseCheckCreated {
			t.Fatalf("event %d: %s", i, ev.Body[:200])
		}
		ids[ev.ID] = true
		for _, d := range body.Data.Devices {
			if d.From != "allowed" || d.To != "denied" || len(d.Checks) != 1 || d.Checks[0].CheckID != 3 || d.Checks[0].Reasons[0] != "risk score High" {
				t.Fatalf("device %+v", d)
			}
			devices[d.DeviceID] = true
		}
	}
	if len(ids) != len(evs) || len(devices) != n {
		t.Errorf("%d distinct ids, %d devices", len(ids), len(devices))
	}
}

// The events of a condition (stale data, an expiring credential) have ids
// of their own condition; a run's events follow its outcome.
func TestEventIDs(t *testing.T) {
	at := time.Date(2026, 12, 6, 9, 0, 0, 0, time.UTC)
	if events.StaleEvent("defender", at, at).ID != events.StaleEvent("defender", at, at.Add(time.Hour)).ID {
		t.Error("one staleness has two ids")
	}
	if events.StaleEvent("defender", at, at).ID == events.StaleEvent("defender", at.Add(time.Hour), at).ID {
		t.Error("two stalenesses share an id")
	}
	if a, b := events.NewID(), events.NewID(); a == b || len(a) != len("msg_")+26 {
		t.Errorf("random ids %q and %q", a, b)
	}
	for outcome, want := range map[string]int{model.RunFailed: 1, model.RunSuccess: 0, model.RunHeld: 1, model.RunCancelled: 0} {
		if got := len(events.RunEvents(model.SyncRun{ID: 1, Outcome: outcome}, at)); got != want {
			t.Errorf("%s run: %d events, want %d", outcome, got, want)
		}
	}
}
