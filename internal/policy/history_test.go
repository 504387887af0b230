package policy

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"postern/internal/audit"
	"postern/internal/fleet"
	"postern/internal/model"
	"postern/internal/posture"
	"postern/internal/testkit/teststore"
	"postern/store"
)

// newTestEngine is an engine over a real SQLite file with the given checks
// saved and a snapshot of devices synced a minute before now.
func newTestEngine(t *testing.T, now time.Time, devices []fleet.Device, checks ...model.PostureCheck) (*Engine, *store.Store, *fleet.Holder) {
	t.Helper()
	ctx := context.Background()
	st := teststore.Open(t, store.Options{Now: func() time.Time { return now }})
	for _, c := range checks {
		if _, err := st.SavePostureCheck(ctx, c, "test", audit.Entry{Actor: "test", Action: "posture_check.saved",
			Outcome: audit.Success}); err != nil {
			t.Fatal(err)
		}
	}
	var h fleet.Holder
	h.Store(fleet.NewSnapshot(devices, now.Add(-time.Minute), 1))
	enabled := func(context.Context) (bool, error) { return true, nil }
	e := New(st, &h, enabled, 5*time.Minute, slog.New(slog.NewTextHandler(io.Discard, nil)), func() time.Time { return now })
	if err := e.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	return e, st, &h
}

func check(t *testing.T, name, mode string, spec posture.Spec) model.PostureCheck {
	t.Helper()
	raw, err := json.Marshal(spec)
	if err != nil {
		t.Fatal(err)
	}
	return model.PostureCheck{Name: name, DataSource: posture.SourceDefender, Mode: mode, Enabled: true,
		WhenUnavailable: posture.UnavailableDeny, Spec: string(raw)}
}

// The counts a refresh publishes are those of evaluating every active
// device in full, and a device whose signal changes between two refreshes
// gets history entries with the full evaluation's reasons and the signal.
func TestRefreshCountsAndHistory(t *testing.T) {
	now := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	risks := []string{"None", "Low", "Medium", "High", ""}
	var devices []fleet.Device
	for i := range 600 {
		devices = append(devices, fleet.Device{ID: fmt.Sprintf("%040x", i+1), Host: fmt.Sprintf("pc-%03d", i),
			OSPlatform: "Windows11", OSBuild: 22631 + int64(i%3), HealthStatus: []string{"Active", "Inactive"}[i%7/6],
			RiskScore: risks[i%len(risks)], OnboardingStatus: "Onboarded", LastSeen: now.Add(-time.Duration(i) * time.Hour / 10),
			Removed: i%50 == 49})
	}
	e, st, h := newTestEngine(t, now, devices,
		check(t, "Risk", posture.ModeEnforce, posture.Spec{MaxRisk: "Medium"}),
		check(t, "Healthy", posture.ModeEnforce, posture.Spec{HealthActive: true}),
		check(t, "Seen", posture.ModeMonitor, posture.Spec{LastSeenHours: 24}),
		check(t, "Build", posture.ModeEnforce, posture.Spec{MinOSBuild: map[string]int64{"Windows11": 22632}}))
	ctx := context.Background()
	if err := e.refresh(ctx); err != nil {
		t.Fatal(err)
	}

	wantCounts := map[int64]Counts{}
	var wantOverall Counts
	for i := range h.Load().Devices {
		d := &h.Load().Devices[i]
		if d.Removed {
			continue
		}
		dec := e.DeviceDecision(d)
		v := posture.Pass
		if !dec.Allowed {
			v = posture.Unknown
			for _, c := range dec.Checks {
				if c.Mode == posture.ModeEnforce && c.Result == posture.Fail {
					v = posture.Fail
				}
			}
		}
		tally(&wantOverall, v)
		for _, c := range dec.Checks {
			n := wantCounts[c.ID]
			tally(&n, c.Result)
			wantCounts[c.ID] = n
		}
	}
	tl := e.Tally()
	counts, overall, at := tl.PerCheck, tl.Overall, tl.At
	if !tl.Current || !at.Equal(now) || overall != wantOverall || len(counts) != 4 {
		t.Fatalf("overall %+v at %v over %d checks, want %+v at %v over 4", overall, at, len(counts), wantOverall, now)
	}
	for id, c := range wantCounts {
		if counts[id] != c {
			t.Errorf("check %d: counts %+v, want %+v", id, counts[id], c)
		}
	}
	if overall.Pass == 0 || overall.Fail == 0 || overall.Pass+overall.Fail+overall.Unknown != 588 {
		t.Fatalf("the fleet does not exercise the counts: %+v", overall)
	}

	// Device 0 (risk None, build 22631) fails only Build. It goes High: Risk
	// now fails too; its overall verdict stays fail.
	next := slices.Clone(h.Load().Devices)
	next[0].RiskScore = "High"
	// Device 2 (Medium, build 22633, Active) passes; it goes Inactive.
	next[2].HealthStatus = "Inactive"
	h.Store(fleet.NewSnapshot(next, now.Add(-time.Minute), 2))
	if err := e.refresh(ctx); err != nil {
		t.Fatal(err)
	}
	got, err := st.History(ctx, next[0].ID, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].CheckName != "Risk" || got[0].From != "pass" || got[0].To != "fail" ||
		got[0].Signal != "risk score" || len(got[0].Reasons) != 1 || !strings.Contains(got[0].Reasons[0], "risk score High exceeds") {
		t.Fatalf("device 0 history: %+v", got)
	}
	got, err = st.History(ctx, next[2].ID, 10)
	if err != nil {
		t.Fatal(err)
	}
	var overallEntry, healthy bool
	for _, h := range got {
		switch {
		case h.CheckID == 0 && h.From == "pass" && h.To == "fail" && h.Signal == "health status" && len(h.Reasons) > 0:
			overallEntry = true
		case h.CheckName == "Healthy" && h.To == "fail":
			healthy = true
		}
	}
	if len(got) != 2 || !overallEntry || !healthy {
		t.Fatalf("device 2 history: %+v", got)
	}
	if got, err := st.History(ctx, next[1].ID, 10); err != nil || len(got) != 0 {
		t.Fatalf("an unchanged device has history %+v (%v)", got, err)
	}
}
