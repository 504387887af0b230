package policy

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"postern/internal/actor"
	"postern/internal/audit"
	"postern/internal/fleet"
	"postern/internal/integration"
	"postern/internal/model"
	"postern/internal/posture"
)

// One check created over a fleet writes one summary in the audit log and
// one history row per device whose verdict moved, each with the check's
// creation as its cause; a sync that changes signals afterwards is one
// more summary, naming the run and the signals.
func TestOneCauseOneSummary(t *testing.T) {
	now := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	risks := []string{"None", "Low", "Medium", "High", ""}
	var devices []fleet.Device
	for i := range 2000 {
		devices = append(devices, fleet.Device{ID: fmt.Sprintf("%040x", i+1), Host: fmt.Sprintf("pc-%04d", i),
			OSPlatform: "Windows11", HealthStatus: "Active", RiskScore: risks[i%len(risks)], OnboardingStatus: "Onboarded"})
	}
	e, st, h := newTestEngine(t, now, devices)
	ctx := context.Background()
	if err := e.refresh(ctx); err != nil { // the baseline: everyone passes
		t.Fatal(err)
	}
	svc := NewService(st, e, e.log)
	alice := actor.NewContext(ctx, actor.Actor{ID: 1, Email: "alice@example.com", Role: actor.Owner})
	c, err := svc.SaveCheck(alice, CheckInput{Name: "Low risk", Source: posture.SourceDefender, Mode: posture.ModeEnforce,
		WhenUnavailable: posture.UnavailableDeny, Enabled: true, Spec: posture.Spec{MaxRisk: "Low"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.refresh(ctx); err != nil {
		t.Fatal(err)
	}

	// What the API would answer now, device by device.
	moves := map[string]int{}
	for i := range h.Load().Devices {
		d := &h.Load().Devices[i]
		if dec := e.DeviceDecision(d); !dec.Allowed {
			moves[string(dec.Checks[0].Result)]++
		}
	}
	changed := moves["fail"] + moves["unknown"]
	if moves["fail"] == 0 || moves["unknown"] == 0 {
		t.Fatalf("the fleet does not exercise both moves: %v", moves)
	}
	sums := auditOf(t, st, audit.VerdictsChanged)
	if len(sums) != 1 {
		t.Fatalf("%d summaries, want 1: %+v", len(sums), sums)
	}
	wantDetail := fmt.Sprintf("%s devices changed verdict (pass → fail %s, pass → unknown %s)",
		Thousands(changed), Thousands(moves["fail"]), Thousands(moves["unknown"]))
	if s := sums[0]; s.Target != "Posture check “Low risk” created by alice@example.com" || s.Detail != wantDetail ||
		s.Actor != actor.Posture.Email {
		t.Errorf("summary %q by %s: %q, want %q", s.Target, s.Actor, s.Detail, wantDetail)
	}
	causes, err := st.CausesOfAudit(ctx, []int64{sums[0].ID})
	if err != nil || causes[sums[0].ID] == 0 {
		t.Fatalf("the summary has no cause: %v %v", causes, err)
	}
	rows, total, err := st.HistoryPage(ctx, model.HistoryFilter{CauseID: causes[sums[0].ID]})
	if err != nil || total != changed || len(rows) != changed {
		t.Fatalf("%d history rows (total %d) of the cause, %v; want %d", len(rows), total, err, changed)
	}
	for _, r := range rows {
		if r.Cause.Kind != model.CauseCheckCreated || r.Cause.Ref != fmt.Sprint(c.ID) || r.CheckID != 0 || r.From != "pass" {
			t.Fatalf("row %+v", r)
		}
	}
	if n := len(auditOf(t, st, audit.CheckCreated)); n != 1 {
		t.Errorf("%d check created entries, want the admin's one", n)
	}

	// A sync: two devices go High.
	next := slices.Clone(h.Load().Devices)
	next[0].RiskScore, next[1].RiskScore = "High", "High"
	h.Store(fleet.NewSnapshot(next, now, 7))
	if err := e.refresh(ctx); err != nil {
		t.Fatal(err)
	}
	sums = auditOf(t, st, audit.VerdictsChanged)
	if len(sums) != 2 || sums[0].Target != "Sync run 7" ||
		sums[0].Detail != "2 devices changed verdict (pass → fail 2); signals changed: risk score" {
		t.Fatalf("after the sync: %+v", sums)
	}
	hist, err := st.History(ctx, next[0].ID, 10)
	if err != nil || len(hist) == 0 || hist[0].Cause.Kind != model.CauseSyncRun || hist[0].Cause.Ref != "7" {
		t.Errorf("device 0's history: %+v, %v", hist, err)
	}
}

// An edited check is audited as before → after per field, not as JSON.
func TestSaveCheckAuditsAReadableDiff(t *testing.T) {
	now := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	e, st, _ := newTestEngine(t, now, nil)
	svc := NewService(st, e, e.log)
	alice := actor.NewContext(context.Background(), actor.Actor{ID: 1, Email: "alice@example.com", Role: actor.Owner})
	in := CheckInput{Name: "Low risk", Source: posture.SourceDefender, Mode: posture.ModeMonitor,
		WhenUnavailable: posture.UnavailableDeny, Enabled: true, Spec: posture.Spec{MaxRisk: "Low", AVStatuses: []string{"Updated"}}}
	c, err := svc.SaveCheck(alice, in)
	if err != nil {
		t.Fatal(err)
	}
	if got := auditOf(t, st, audit.CheckCreated)[0].Detail; got != "Microsoft Defender, Monitor only, when data is unavailable: Deny; "+
		"maximum risk score: Low; antivirus status: Updated" {
		t.Errorf("creation detail %q", got)
	}
	in.ID, in.Mode, in.Spec.MaxRisk, in.Spec.AVStatuses = c.ID, posture.ModeEnforce, "Medium", nil
	if _, err := svc.SaveCheck(alice, in); err != nil {
		t.Fatal(err)
	}
	got := auditOf(t, st, audit.CheckUpdated)[0].Detail
	if want := "mode: Monitor only → Enforce; maximum risk score: Low → Medium; antivirus status: Updated → none"; got != want {
		t.Errorf("edit detail %q, want %q", got, want)
	}
	if strings.Contains(got, "{") {
		t.Errorf("edit detail holds JSON: %q", got)
	}
}

func auditOf(t *testing.T, st interface {
	AuditEntries(context.Context, audit.Filter) ([]audit.Entry, int, error)
}, action string) []audit.Entry {
	t.Helper()
	es, _, err := st.AuditEntries(context.Background(), audit.Filter{Action: &action})
	if err != nil {
		t.Fatal(err)
	}
	return es
}

// The integration's Disable, an exception added by an admin and one that
// expires are each the cause of the changes they make, and each one
// summary.
func TestCausesNamedByTheirOwners(t *testing.T) {
	now := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	devices := []fleet.Device{
		{ID: "a1", Host: "pc-a", HealthStatus: "Active", RiskScore: "High"},
		{ID: "b2", Host: "pc-b", HealthStatus: "Active", RiskScore: "Low"},
	}
	e, st, h := newTestEngine(t, now, devices, check(t, "Low risk", posture.ModeEnforce, posture.Spec{MaxRisk: "Low"}))
	enabled := true
	e.enabled = func(context.Context) (bool, error) { return enabled, nil }
	ctx := context.Background()
	alice := actor.NewContext(ctx, actor.Actor{ID: 1, Email: "alice@example.com", Role: actor.Owner})
	if err := e.refresh(ctx); err != nil {
		t.Fatal(err)
	}
	step := func(what string, do func()) model.Cause {
		t.Helper()
		do()
		if err := e.refresh(ctx); err != nil {
			t.Fatal(err)
		}
		h, err := st.History(ctx, "", 1)
		if err != nil || len(h) == 0 {
			t.Fatalf("%s: no history (%v)", what, err)
		}
		return h[0].Cause
	}
	svc := NewService(st, e, e.log)
	var x model.Exception
	c := step("exception", func() {
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
		x, err = svc.CreateException(alice, ExceptionInput{DeviceID: "a1", Reason: "CHG-1", ExpiresOn: "2026-11-26"})
		if err != nil {
			t.Fatal(err)
		}
	})
	if c.Kind != model.CauseExceptionCreated || c.Label != "Exception for pc-a added by alice@example.com" || c.Ref != "a1" {
		t.Errorf("exception added: cause %+v", c)
	}
	c = step("expiry", func() {
		e.now = func() time.Time { return now.Add(48 * time.Hour) }                             // past the end of 26 November
		h.Store(fleet.NewSnapshot(slices.Clone(devices), now.Add(48*time.Hour-time.Minute), 1)) // fresh, same run
		if err := e.Reload(ctx); err != nil {
			t.Fatal(err)
		}
	})
	if c.Kind != model.CauseExceptionExpired || c.Label != "Exception for pc-a expired" || c.Ref != "a1" {
		t.Errorf("exception %d expired: cause %+v", x.ID, c)
	}
	c = step("disable", func() {
		enabled = false
		e.IntegrationChanged(alice, integration.Disabled)
	})
	if c.Kind != model.CauseIntegrationDisabled || c.Label != "Microsoft Defender disabled by alice@example.com" {
		t.Errorf("disable: cause %+v", c)
	}
	sums := auditOf(t, st, audit.VerdictsChanged)
	if len(sums) != 3 || sums[0].Detail != "2 devices changed verdict (fail → unknown 1, pass → unknown 1)" {
		t.Errorf("summaries: %+v", sums)
	}
}

// Data going stale is the cause of the unknowns it makes; the sync that
// makes it fresh again is the cause of their return, though no signal of
// the devices changed.
func TestStaleAndFreshAgain(t *testing.T) {
	now := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	devices := []fleet.Device{{ID: "a1", Host: "pc-a", HealthStatus: "Active", RiskScore: "Low"}}
	e, st, h := newTestEngine(t, now, devices, check(t, "Low risk", posture.ModeEnforce, posture.Spec{MaxRisk: "Low"}))
	ctx := context.Background()
	if err := e.refresh(ctx); err != nil {
		t.Fatal(err)
	}
	later := now.Add(5 * time.Hour) // past 3 × the 5-minute interval and the 4-hour outage grace
	e.now = func() time.Time { return later }
	if err := e.refresh(ctx); err != nil {
		t.Fatal(err)
	}
	h.Store(fleet.NewSnapshot(slices.Clone(devices), later, 2))
	if err := e.refresh(ctx); err != nil {
		t.Fatal(err)
	}
	hist, err := st.History(ctx, "a1", 10)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, x := range hist {
		if x.CheckID == 0 {
			got = append(got, x.From+"→"+x.To+" "+x.Cause.Kind+" "+x.Cause.Label)
		}
	}
	want := []string{"unknown→pass sync_run Sync run 2",
		"pass→unknown data_stale Defender data became stale (no successful sync for 3 intervals)"}
	if !slices.Equal(got, want) {
		t.Errorf("overall history %q, want %q", got, want)
	}
}
