package policy

import (
	"context"
	"testing"
	"time"

	"postern/internal/actor"
	"postern/internal/audit"
	"postern/internal/fleet"
	"postern/internal/model"
	"postern/internal/posture"
	"postern/internal/testkit"
	"postern/internal/testkit/teststore"
	"postern/internal/webhook/events"
)

// lead makes e lead until the returned function ends its term.
func lead(t *testing.T, e *Engine) func() {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { e.Lead(ctx); close(done) }()
	t.Cleanup(cancel)
	testkit.WaitFor(t, 5*time.Second, "the engine to lead", func() bool { _, ok := e.recorder(context.Background()); return ok })
	return func() { cancel(); <-done }
}

// Two replicas on one database: each computes its own counts, only the
// leader records a verdict change, once, under the cause an admin named
// on the other replica; after a handover the new leader carries on from
// the verdicts the old one recorded and sends nothing twice.
func TestOnlyTheLeaderRecords(t *testing.T) {
	now := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	path := teststore.Path(t)
	devices := []fleet.Device{
		{ID: "a1", Host: "pc-a", HealthStatus: "Active", RiskScore: "None"},
		{ID: "b2", Host: "pc-b", HealthStatus: "Active", RiskScore: "Low"},
		{ID: "c3", Host: "pc-c", HealthStatus: "Active", RiskScore: "Medium"},
	}
	ctx := context.Background()
	alice := actor.NewContext(ctx, actor.Actor{ID: 1, Email: "alice@example.com", Role: actor.Owner})
	a, stA := startEngine(t, path, now, devices, 1)
	b, _ := startEngine(t, path, now, devices, 1)
	a.Follow()
	b.Follow()
	if _, err := stA.CreateWebhookEndpoint(ctx, model.WebhookEndpoint{ID: "ep_r", URL: "https://hooks.example.com/r",
		EventTypes: []string{events.DeviceVerdictChanged}, Secret: "sealed", Enabled: true, CreatedBy: "alice@example.com"},
		audit.Entry{Actor: "alice@example.com", Action: audit.WebhookCreated, Outcome: audit.Success}); err != nil {
		t.Fatal(err)
	}
	svcA := NewService(stA, a, a.log)
	if _, err := svcA.SaveCheck(alice, CheckInput{Name: "Low risk", Source: posture.SourceDefender, Mode: posture.ModeEnforce,
		WhenUnavailable: posture.UnavailableDeny, Enabled: true, Spec: posture.Spec{MaxRisk: "Low"}}); err != nil {
		t.Fatal(err)
	}
	endB := lead(t, b)
	for _, e := range []*Engine{a, b} {
		if err := e.Reload(ctx); err != nil {
			t.Fatal(err)
		}
		if err := e.refresh(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if got := verdictEvents(t, stA); len(got) != 0 {
		t.Fatalf("events after the first passes: %v", got)
	}
	if _, found, _ := stA.VerdictBaseline(ctx); !found {
		t.Fatal("the leader's first pass recorded no verdicts")
	}

	// An admin on the follower creates a check: the follower's own pass
	// records nothing; the leader, told the policy changed, records b2's
	// change once, named after the admin's change.
	if _, err := svcA.SaveCheck(alice, CheckInput{Name: "No risk", Source: posture.SourceDefender, Mode: posture.ModeEnforce,
		WhenUnavailable: posture.UnavailableDeny, Enabled: true, Spec: posture.Spec{MaxRisk: "None"}}); err != nil {
		t.Fatal(err)
	}
	if err := a.refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if got := verdictEvents(t, stA); len(got) != 0 {
		t.Fatalf("the follower recorded: %v", got)
	}
	if tally := a.Tally(); tally.Overall.Fail != 2 {
		t.Errorf("the follower counts %d failing devices, want 2 (b2 and c3)", tally.Overall.Fail)
	}
	if err := b.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	if err := b.refresh(ctx); err != nil {
		t.Fatal(err)
	}
	want := "check_created pass→fail Posture check “No risk” created by alice@example.com"
	if got := verdictEvents(t, stA); len(got) != 1 || len(got["b2"]) != 1 || got["b2"][0] != want {
		t.Fatalf("events after the leader's pass: %v, want b2 once: %q", got, want)
	}

	// Handover: a leads from what b recorded. Nothing is sent again; a
	// sync that lowers c3's risk is sent once, by a only.
	endB()
	endA := lead(t, a)
	defer endA()
	if err := a.refresh(ctx); err != nil {
		t.Fatal(err)
	}
	next := append([]fleet.Device(nil), devices...)
	next[2].RiskScore = "None"
	for _, e := range []*Engine{a, b} {
		e.fleet.Store(fleet.NewSnapshot(next, now, 2))
		if err := e.refresh(ctx); err != nil {
			t.Fatal(err)
		}
	}
	got := verdictEvents(t, stA)
	if len(got) != 2 || len(got["b2"]) != 1 || len(got["c3"]) != 1 || got["c3"][0] != "sync_run fail→pass Sync run 2" {
		t.Fatalf("events after the handover and a sync: %v, want b2 once and c3 once by sync run 2", got)
	}
}
